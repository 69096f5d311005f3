// Internal helpers of anomaly detection (tl/debug.h), used by ops::call and the backward engine.
#pragma once

#include <optional>
#include <string>

#include "tl/tensor.h"

namespace tl::autograd {

struct NonFinite {
  int64_t index;     // row-major linear index of the first bad element
  const char* what;  // "NaN" or "Inf"
};

std::optional<NonFinite> find_non_finite(const Tensor& t);
// "[2, 1]" for linear index 5 of shape [3, 2].
std::string index_str(const Shape& shape, int64_t linear);

}  // namespace tl::autograd
