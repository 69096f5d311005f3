// Byte counts as people write and read them: tlc's --max-memory SIZE, and its reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tl::tlc {

// Parses "10MB", "1.5 GiB", "4096", "512 b": a non-negative decimal number, optional spaces, and
// an optional unit (case-insensitive): B; KB, MB, GB (powers of 1000); KiB, MiB, GiB (powers of
// 1024). A fraction is rounded down to whole bytes. Returns nullopt and sets `*why` for
// anything else (no number, a sign, an unknown unit, more than 2^64 - 1 bytes).
std::optional<uint64_t> parse_byte_size(std::string_view text, std::string* why);

// "205,928 bytes (201.1 KiB)"; under 1 KiB just "320 bytes".
std::string format_bytes(uint64_t bytes);

}  // namespace tl::tlc
