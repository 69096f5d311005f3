// zstd frames as artifacts store device code: a round trip, and every frame that does not hold
// exactly the declared bytes refused with the reason, judged from the headers where they tell.
#include <catch2/catch.hpp>

#include <string>

#include "runtime/base/zstd_frame.h"
#include "tests/support/zstd_frames.h"

using tl::rt::zstd_compress;
using tl::rt::zstd_decompress;
using tl::rt::zstd_frame_mismatch;
using tl::test::frame_without_size;

namespace {

// 20 KB of repetitive, cubin-like bytes: byte i is (i mod 97) xor (i / 512).
std::string sample() {
  std::string bytes(20000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i % 97) ^ (i / 512));
  return bytes;
}

std::string refusal(const std::string& frame, uint64_t size) {
  std::string why;
  CHECK_FALSE(zstd_decompress(frame, size, &why));
  return why;
}

}  // namespace

TEST_CASE("zstd frames round-trip, record their size and their checksum", "[runtime][zstd]") {
  const std::string bytes = sample();
  const std::string frame = zstd_compress(bytes);
  CHECK(frame.size() < bytes.size() / 4);
  CHECK(ZSTD_getFrameContentSize(frame.data(), frame.size()) == bytes.size());
  CHECK(zstd_frame_mismatch(frame, bytes.size()).empty());
  std::string why;
  const std::optional<std::string> back = zstd_decompress(frame, bytes.size(), &why);
  REQUIRE(back);
  CHECK(*back == bytes);
  // A bit flipped in the compressed content (not its headers) fails the checksum at least.
  std::string damaged = frame;
  damaged[damaged.size() / 2] ^= 0x10;
  CHECK(zstd_frame_mismatch(damaged, bytes.size()).empty());
  CHECK_THAT(refusal(damaged, bytes.size()), Catch::StartsWith("does not decompress ("));
}

TEST_CASE("zstd frames that are not exactly one frame of the declared size are refused from their headers",
          "[runtime][zstd]") {
  const std::string bytes = sample();
  const std::string frame = zstd_compress(bytes);
  const uint64_t n = bytes.size();
  CHECK_THAT(zstd_frame_mismatch(frame.substr(0, frame.size() - 1), n), Catch::StartsWith("is not one whole zstd frame ("));
  CHECK_THAT(zstd_frame_mismatch(frame.substr(0, 3), n), Catch::StartsWith("is not one whole zstd frame ("));
  CHECK_THAT(zstd_frame_mismatch("", n), Catch::StartsWith("is not one whole zstd frame ("));
  CHECK_THAT(zstd_frame_mismatch(bytes, n), Catch::StartsWith("is not one whole zstd frame ("));
  CHECK(zstd_frame_mismatch(frame + frame, n) == "has " + std::to_string(frame.size()) + " bytes after its zstd frame");
  CHECK(zstd_frame_mismatch(frame + "x", n) == "has 1 bytes after its zstd frame");
  CHECK(zstd_frame_mismatch(frame, n + 1) == "is a zstd frame of 20000 bytes, not the 20001 it declares");
  CHECK(zstd_frame_mismatch(frame, n - 1) == "is a zstd frame of 20000 bytes, not the 19999 it declares");
  // A skippable frame (magic 0x184D2A50, a 4-byte length, that many bytes) holds nothing.
  const std::string skippable("\x50\x2a\x4d\x18\x04\x00\x00\x00" "abcd", 12);
  CHECK(zstd_frame_mismatch(skippable, n) == "is a zstd frame of 0 bytes, not the 20000 it declares");
  // decompress refuses them all for the same reasons, before decompressing.
  CHECK(refusal(frame, n + 1) == "is a zstd frame of 20000 bytes, not the 20001 it declares");
  CHECK(refusal(frame + "x", n) == "has 1 bytes after its zstd frame");
}

TEST_CASE("zstd frames that do not record their size decompress only to exactly the declared size",
          "[runtime][zstd]") {
  const std::string bytes = sample();
  const std::string frame = frame_without_size(bytes);
  const uint64_t n = bytes.size();
  REQUIRE(ZSTD_getFrameContentSize(frame.data(), frame.size()) == ZSTD_CONTENTSIZE_UNKNOWN);
  CHECK(zstd_frame_mismatch(frame, 1).empty());  // the headers cannot tell
  std::string why;
  const std::optional<std::string> back = zstd_decompress(frame, n, &why);
  REQUIRE(back);
  CHECK(*back == bytes);
  CHECK(refusal(frame, n - 1) == "decompresses to more than the 19999 bytes it declares");
  CHECK(refusal(frame, 1) == "decompresses to more than the 1 bytes it declares");
  CHECK(refusal(frame, n + 1) == "decompresses to 20000 bytes, not the 20001 it declares");
  CHECK(refusal(frame, 64 << 20) == "decompresses to 20000 bytes, not the 67108864 it declares");
}
