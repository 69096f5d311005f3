// Element-by-element comparison for kernel tests, saying where two results differ.
#pragma once

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "tl/tensor.h"

namespace tl::test {

// "" when `got` matches `want` element by element (|got - want| <= rtol * (1 + |want|), NaN
// for NaN, infinities exactly), else the first element that does not.
inline std::string first_mismatch(const Tensor& got, const Tensor& want, double rtol) {
  if (got.shape() != want.shape() || got.dtype() != want.dtype())
    return "got " + got.shape().str() + " " + dtype_name(got.dtype()) + ", want " + want.shape().str() + " " +
           dtype_name(want.dtype());
  const std::vector<double> g = got.to(kFloat64).contiguous().to_vector<double>();
  const std::vector<double> w = want.to(kFloat64).contiguous().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    const bool same = std::isnan(w[i])   ? std::isnan(g[i])
                      : std::isinf(w[i]) ? g[i] == w[i]
                                         : std::abs(g[i] - w[i]) <= rtol * (1 + std::abs(w[i]));
    if (!same) {
      std::ostringstream s;
      s << "element " << i << " of " << want.shape().str() << ": got " << g[i] << ", want " << w[i];
      return s.str();
    }
  }
  return "";
}

}  // namespace tl::test
