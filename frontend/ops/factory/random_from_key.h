// Random draws at an explicit Philox key: the eager factories and the compiled-graph
// executor share this, so a compiled call draws exactly the numbers eager code would.
#pragma once

#include <cstdint>

#include "frontend/trace/graph.h"

namespace tl {
Tensor random_from_key(trace::RandomKind kind, const Shape& shape, DType dtype, double a, double b, uint64_t seed,
                       uint64_t offset);
}  // namespace tl
