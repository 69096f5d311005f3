// Shape helpers of the reductions (runtime/ops/reduce/reductions.cpp) that the frontend's
// derivatives also use (frontend/ops/reduce/reductions.cpp).
#pragma once

#include "tl/shape.h"

namespace tl::ops {

// The shape of `in` reduced over `dims` (normalized): each reduced dim is dropped, or kept
// with size 1 when `keepdim`.
Shape reduced_shape(const Shape& in, const Shape& dims, bool keepdim);

}  // namespace tl::ops
