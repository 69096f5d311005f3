// Helpers shared by the optimizer tests: a float64 parameter fed a fixed gradient sequence.
#pragma once

#include <catch2/catch.hpp>

#include <vector>

#include "tl/tl.h"
#include "tl/optim.h"

namespace optim_test {

inline tl::Tensor param(std::vector<double> values, tl::DType dtype = tl::kFloat64) {
  return tl::from_vector(values).to(dtype).requires_grad_();
}

// The gradient the tests feed at step k (0-based): [0.5, 1.0, -0.25] * (1 + 0.5 k).
inline tl::Tensor grad_at(int k, tl::DType dtype = tl::kFloat64) {
  double s = 1 + 0.5 * k;
  return tl::from_vector(std::vector<double>{0.5 * s, 1.0 * s, -0.25 * s}).to(dtype);
}

// Checks `t` (any float dtype) against `expected` elementwise to a relative `tol`.
inline void check_values(const tl::Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(expected[i]).epsilon(tol).margin(tol));
  }
}

}  // namespace optim_test
