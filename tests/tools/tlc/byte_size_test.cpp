// tlc's SIZE parser (--max-memory) and its byte counts in reports.
#include <catch2/catch.hpp>

#include "tools/tlc/byte_size.h"

using tl::tlc::format_bytes;
using tl::tlc::parse_byte_size;

namespace {

uint64_t parsed(const std::string& text) {
  std::string why;
  std::optional<uint64_t> n = parse_byte_size(text, &why);
  INFO(text << ": " << why);
  REQUIRE(n.has_value());
  return *n;
}

std::string refused(const std::string& text) {
  std::string why;
  CHECK_FALSE(parse_byte_size(text, &why).has_value());
  return why;
}

}  // namespace

TEST_CASE("tlc's SIZE parser reads decimal and binary units, case-insensitively", "[tools][tlc]") {
  CHECK(parsed("0") == 0);
  CHECK(parsed("4096") == 4096);
  CHECK(parsed("512B") == 512);
  CHECK(parsed("1KB") == 1000);
  CHECK(parsed("10MB") == 10'000'000);
  CHECK(parsed("2GB") == 2'000'000'000);
  CHECK(parsed("1KiB") == 1024);
  CHECK(parsed("10MiB") == 10ull << 20);
  CHECK(parsed("3GiB") == 3ull << 30);
  CHECK(parsed("10 mb") == 10'000'000);
  CHECK(parsed("1.5GiB") == 3ull << 29);
  CHECK(parsed("0.5KB") == 500);
  CHECK(parsed("1.0001KB") == 1000);  // rounded down to whole bytes
  CHECK(parsed(".5MiB") == 1ull << 19);
  CHECK(parsed("17179869183GiB") == 17179869183ull << 30);  // 2^64 - 2^30: the largest whole GiB count
}

TEST_CASE("tlc's SIZE parser refuses what is not a size and says why", "[tools][tlc]") {
  CHECK_THAT(refused(""), Catch::Contains("must start with a number"));
  CHECK_THAT(refused("MB"), Catch::Contains("'MB' is not a size: it must start with a number"));
  CHECK_THAT(refused("-1KB"), Catch::Contains("must start with a number"));
  CHECK_THAT(refused("10K"), Catch::Contains("'10K' has an unknown unit 'K' (use B, KB, MB, GB"));
  CHECK_THAT(refused("10 TB"), Catch::Contains("unknown unit 'TB'"));
  CHECK_THAT(refused("1e6"), Catch::Contains("unknown unit 'e6'"));
  CHECK_THAT(refused("17179869184GiB"), Catch::Contains("more bytes than tlc can count"));  // 2^64
  CHECK_THAT(refused("99999999999999999999"), Catch::Contains("more bytes than tlc can count"));
}

TEST_CASE("tlc prints byte counts with thousands separators and a binary unit", "[tools][tlc]") {
  CHECK(format_bytes(0) == "0 bytes");
  CHECK(format_bytes(1) == "1 byte");
  CHECK(format_bytes(1023) == "1,023 bytes");
  CHECK(format_bytes(200704) == "200,704 bytes (196.0 KiB)");
  CHECK(format_bytes(3ull << 30) == "3,221,225,472 bytes (3.0 GiB)");
}
