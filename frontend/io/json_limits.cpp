// Nesting-depth and UTF-8 checks shared by every JSON reader and writer in tl.
#include "frontend/io/json_limits.h"

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "tl/error.h"

namespace tl::detail {

void check_json_nesting(std::string_view text, const std::string& what, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          throw IoError(what + ": JSON nested deeper than " + std::to_string(max_depth) + " levels at byte " +
                        std::to_string(i) + " (no document tl writes nests that deep)");
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;  // unbalanced brackets are the parser's to report
        break;
      default: break;
    }
  }
}

std::optional<size_t> first_invalid_utf8(std::string_view text, std::string* why, bool nul_is_invalid) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  auto bad = [&](size_t at, std::string reason) -> std::optional<size_t> {
    if (why) *why = std::move(reason);
    return at;
  };
  size_t i = 0;
  while (i < n) {
    // Most text is ASCII: 8 bytes at a time are checked for a high bit or a zero byte first.
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      constexpr uint64_t kLow = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
      bool has_zero = ((w - kLow) & ~w & kHigh) != 0;
      if (!has_zero && (w & kHigh) == 0) {
        i += 8;
        continue;
      }
    }
    unsigned char c = s[i];
    if (c == 0 && nul_is_invalid) return bad(i, "NUL byte");
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) len = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000;
    else {
      return bad(i, "invalid UTF-8 (byte 0x" + std::string(1, "0123456789abcdef"[c >> 4]) +
                        std::string(1, "0123456789abcdef"[c & 15]) + " cannot start a character)");
    }
    if (i + len > n) return bad(i, "invalid UTF-8 (character cut off by the end of the file)");
    uint32_t cp = c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80)
        return bad(i, "invalid UTF-8 (expected a continuation byte at offset " + std::to_string(i + k) + ")");
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return bad(i, "invalid UTF-8 (overlong, surrogate or out-of-range encoding)");
    i += len;
  }
  return std::nullopt;
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      // Keep a valid multi-byte character; escape the bytes of an invalid one.
      size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
      if (len > 1 && i + len <= s.size() && !first_invalid_utf8(s.substr(i, len))) {
        out.append(s.substr(i, len));
        i += len;
        continue;
      }
    }
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", c);
    out += buf;
    ++i;
  }
  return out;
}

}  // namespace tl::detail
