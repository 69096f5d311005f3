// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
// a counter-based generator, so element i of a draw depends only on (key, counter + i).
#pragma once

#include <cmath>
#include <cstdint>

namespace tl::rt {

struct Philox4x32 {
  static void round(uint32_t ctr[4], const uint32_t key[2]) {
    constexpr uint64_t kM0 = 0xD2511F53, kM1 = 0xCD9E8D57;
    uint64_t p0 = kM0 * ctr[0];
    uint64_t p1 = kM1 * ctr[2];
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    uint32_t n0 = hi1 ^ ctr[1] ^ key[0];
    uint32_t n2 = hi0 ^ ctr[3] ^ key[1];
    ctr[0] = n0;
    ctr[1] = lo1;
    ctr[2] = n2;
    ctr[3] = lo0;
  }
  // Four 32-bit random words for (seed, counter).
  static void generate(uint64_t seed, uint64_t counter, uint32_t out[4]) {
    uint32_t key[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
    uint32_t ctr[4] = {static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0, 0};
    for (int i = 0; i < 10; ++i) {
      round(ctr, key);
      key[0] += 0x9E3779B9u;
      key[1] += 0xBB67AE85u;
    }
    out[0] = ctr[0];
    out[1] = ctr[1];
    out[2] = ctr[2];
    out[3] = ctr[3];
  }
};

// Uniform in [0, 1) with 24 (float) or 53 (double) random bits.
inline float uniform_float(uint32_t x) { return static_cast<float>(x >> 8) * 0x1.0p-24f; }
inline double uniform_double(uint32_t a, uint32_t b) {
  uint64_t v = (static_cast<uint64_t>(a) << 21) ^ (b >> 11);
  return static_cast<double>(v & ((uint64_t{1} << 53) - 1)) * 0x1.0p-53;
}

}  // namespace tl::rt
