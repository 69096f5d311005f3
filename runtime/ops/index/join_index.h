// What the integer-indexing ops' kernels (runtime/ops/index/join_index.cpp) share with the
// public functions that validate index values (frontend/ops/index/join_index.cpp).
#pragma once

#include <cstdint>

#include "runtime/ops/dispatch.h"
#include "tl/tensor.h"

namespace tl::ops {

// Calls f(p) with p the int32_t* or int64_t* data of the contiguous integer tensor `index`.
template <class F>
void with_index(const Tensor& index, const F& f) {
  if (index.dtype() == kInt32) f(index.data<int32_t>());
  else if (index.dtype() == kInt64) f(index.data<int64_t>());
  else unsupported_dtype("index", index.dtype());
}

}  // namespace tl::ops
