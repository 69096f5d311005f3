// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum checkpoints store per
// tensor. Uses SSE4.2's crc32 instruction when the CPU has it, else slicing-by-8 tables.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tl::detail {

// Extends `crc` (0 for a fresh checksum) over `n` bytes: crc32c(b, crc32c(a)) == crc32c(a ++ b).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// The table-driven version alone (what crc32c uses without SSE4.2), for tests.
uint32_t crc32c_portable(const void* data, size_t n, uint32_t crc = 0);

}  // namespace tl::detail
