// Inputs for the op table's samples, shared by the sweeps that loop over every op (eager
// gradcheck, compiled vs eager): deterministic per (op, sample), independent of the default
// generator.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "frontend/ops/registry.h"
#include "tl/ops.h"

namespace tl::test {

using ops::Sample;

// Deterministic values per (op, sample, input), independent of the default generator.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform(double low, double high) {
    return low + (high - low) * (static_cast<double>(next() >> 11) * 0x1.0p-53);
  }
};

// Finite-difference step: a power of two, so that perturbed inputs are exact.
constexpr double kSweepEps = 0x1.0p-20;

inline bool is_integer_input(const Sample& s, size_t i) {
  return std::find(s.integer_inputs.begin(), s.integer_inputs.end(), static_cast<int>(i)) != s.integer_inputs.end();
}

inline int64_t integer_high(const Sample& s, size_t i) {
  for (size_t k = 0; k < s.integer_inputs.size(); ++k)
    if (s.integer_inputs[k] == static_cast<int>(i)) return k < s.integer_high.size() ? s.integer_high[k] : 1;
  return 1;
}

inline uint64_t seed_for(const std::string& op, size_t sample) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the op name, mixed with the sample index
  for (char c : op) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h ^ (sample * 0x9e3779b97f4a7c15ull);
}

// Contiguous inputs for `s`: floats uniform in [low, high] (float64), integer inputs int64 in
// [0, integer_high). Float inputs require grad when `requires_grad`.
inline std::vector<Tensor> make_inputs(const Sample& s, uint64_t seed, bool requires_grad) {
  SplitMix rng{seed};
  std::vector<Tensor> in;
  for (size_t i = 0; i < s.shapes.size(); ++i) {
    int64_t n = s.shapes[i].numel();
    if (is_integer_input(s, i)) {
      int64_t high = std::max<int64_t>(integer_high(s, i), 1);
      std::vector<int64_t> v(static_cast<size_t>(n));
      for (auto& x : v) x = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(high));
      in.push_back(from_vector<int64_t>(v, s.shapes[i]));
    } else {
      std::vector<double> v(static_cast<size_t>(n));
      // On a grid of 2^-16 so that x +- kSweepEps is exact in float32 too (for |x| < 4):
      // samples that round through float32 (casts) then difference exactly.
      for (auto& x : v) x = std::clamp(std::round(rng.uniform(s.low, s.high) * 65536.0) / 65536.0, s.low, s.high);
      Tensor t = from_vector<double>(v, s.shapes[i]);
      if (requires_grad) t.requires_grad_();
      in.push_back(t);
    }
  }
  return in;
}

}  // namespace tl::test
