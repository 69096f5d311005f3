// Parsing and printing byte counts (byte_size.h).
#include "tools/tlc/byte_size.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace tl::tlc {
namespace {

struct Unit {
  const char* name;
  uint64_t bytes;
};
constexpr Unit kUnits[] = {{"b", 1},           {"kb", 1000},          {"mb", 1000'000},          {"gb", 1000'000'000},
                           {"kib", 1ull << 10}, {"mib", 1ull << 20}, {"gib", 1ull << 30}};
constexpr const char* kUnitList = "B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)";

}  // namespace

std::optional<uint64_t> parse_byte_size(std::string_view text, std::string* why) {
  const std::string quoted = "'" + std::string(text.substr(0, 64)) + "'";
  size_t i = 0;
  uint64_t whole = 0;
  size_t digits = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
    if (__builtin_mul_overflow(whole, 10, &whole) || __builtin_add_overflow(whole, text[i] - '0', &whole)) {
      *why = quoted + " is more bytes than tlc can count";
      return std::nullopt;
    }
  }
  // The fraction, kept as digits so "1.5GB" is exact: numerator / 10^fraction_digits.
  uint64_t fraction = 0, scale = 1;
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
      if (scale >= 1000'000'000'000'000'000ull) continue;  // digits past 10^-18 cannot change whole bytes of any unit here
      fraction = fraction * 10 + (text[i] - '0');
      scale *= 10;
    }
  }
  if (digits == 0) {
    *why = quoted + " is not a size: it must start with a number (a size is a number and an optional unit: " +
           kUnitList + ", e.g. 10MB)";
    return std::nullopt;
  }
  while (i < text.size() && text[i] == ' ') ++i;
  std::string unit;
  size_t end = text.size();
  while (end > i && text[end - 1] == ' ') --end;
  for (; i < end; ++i) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  uint64_t multiplier = unit.empty() ? 1 : 0;
  for (const Unit& u : kUnits)
    if (unit == u.name) multiplier = u.bytes;
  if (multiplier == 0) {
    *why = quoted + " has an unknown unit '" + std::string(text.substr(end - unit.size(), 16)) + "' (use " +
           kUnitList + ")";
    return std::nullopt;
  }
  uint64_t bytes = 0;
  // fraction * multiplier < 10^18 * 2^30 can overflow u64: divide in 128 bits.
  const unsigned __int128 part = static_cast<unsigned __int128>(fraction) * multiplier / scale;
  if (__builtin_mul_overflow(whole, multiplier, &bytes) || __builtin_add_overflow(bytes, static_cast<uint64_t>(part), &bytes)) {
    *why = quoted + " is more bytes than tlc can count";
    return std::nullopt;
  }
  return bytes;
}

std::string format_bytes(uint64_t bytes) {
  std::string digits = std::to_string(bytes), grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  std::string out = grouped + (bytes == 1 ? " byte" : " bytes");
  if (bytes < 1024) return out;
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof(buf), " (%.1f %s)", v, units[u]);
  return out + buf;
}

}  // namespace tl::tlc
