// Random draws at an explicit Philox key: the eager factories (frontend) and the
// compiled-graph executor share this, so a compiled call draws exactly the numbers eager
// code would.
#pragma once

#include <cstdint>

#include "tl/tensor.h"

namespace tl {
namespace trace {
// What a draw samples (a graph's random node stores it in attrs.count, with a and b in
// attrs.scalar/scalar2). kUniform: U[a, b); kNormal: N(a, b^2); kBernoulli: 1 with
// probability a; kRandint: [a, b) int64.
enum class RandomKind : int64_t { kUniform = 0, kNormal = 1, kBernoulli = 2, kRandint = 3 };
}  // namespace trace

// A new CPU tensor of `shape` and `dtype` (int64 for kRandint, else floating) whose element
// i is drawn from Philox counter `offset + i` under `seed`, so the values do not depend on
// how the fill is split across threads. No autograd, no tracing.
Tensor random_from_key(trace::RandomKind kind, const Shape& shape, DType dtype, double a, double b, uint64_t seed,
                       uint64_t offset);
}  // namespace tl
