// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
// a counter-based generator, so element i of a draw depends only on (key, counter + i), and
// the maps from its words to each distribution tl draws. This file is also CUDA C: the CUDA
// kernels' source embeds its text (runtime/cuda/cuda_source.h) with TL_HD defined as
// __device__, so a GPU draws exactly the CPU's numbers. Keep it to plain arithmetic.
#pragma once
// A classic guard too: CUDA sources embed this text, where #pragma once cannot see a file.
#ifndef TL_RT_CPU_PHILOX_H
#define TL_RT_CPU_PHILOX_H

#ifndef __CUDACC_RTC__
#include <cmath>
#include <cstdint>
#endif

#ifndef TL_HD
#define TL_HD
#endif

namespace tl::rt {

struct Philox4x32 {
  TL_HD static void round(uint32_t ctr[4], const uint32_t key[2]) {
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
  TL_HD static void generate(uint64_t seed, uint64_t counter, uint32_t out[4]) {
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
TL_HD inline float uniform_float(uint32_t x) { return static_cast<float>(x >> 8) * 0x1.0p-24f; }
TL_HD inline double uniform_double(uint32_t a, uint32_t b) {
  uint64_t v = (static_cast<uint64_t>(a) << 21) ^ (b >> 11);
  return static_cast<double>(v & ((uint64_t{1} << 53) - 1)) * 0x1.0p-53;
}

// The draws of tl's random ops from one element's four words (w = generate(seed, offset + i)).
// U[a, b):
TL_HD inline double random_uniform(const uint32_t* w, double a, double b) { return a + (b - a) * uniform_double(w[0], w[1]); }
// N(a, b^2): Box-Muller on two 53-bit uniforms; 1 - u keeps the log argument in (0, 1].
TL_HD inline double random_normal(const uint32_t* w, double a, double b) {
  const double u1 = 1.0 - uniform_double(w[0], w[1]);
  const double u2 = uniform_double(w[2], w[3]);
  return a + b * (::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586476925 * u2));
}
// 1 with probability a, else 0:
TL_HD inline double random_bernoulli(const uint32_t* w, double a) { return uniform_double(w[0], w[1]) < a ? 1.0 : 0.0; }
// An integer in [low, low + range), range > 0 (the bias, < range / 2^64, is negligible):
TL_HD inline int64_t random_int(const uint32_t* w, int64_t low, uint64_t range) {
  const uint64_t r = (static_cast<uint64_t>(w[0]) << 32) | w[1];
  return low + static_cast<int64_t>(r % range);
}

}  // namespace tl::rt

#endif  // TL_RT_CPU_PHILOX_H
