// Helpers shared by the tl::nn tests.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "tl/tl.h"

namespace tl::test {

// The message of the exception of type E that `fn` throws; fails the test when it throws none.
template <class E>
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  FAIL("no exception of the expected type");
  return {};
}

// max |a - b| in float64, for tensors of one shape.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return amax(abs(a.to(kFloat64) - b.to(kFloat64))).item<double>();
}

// A module's parameter names, in named_parameters() order.
inline std::vector<std::string> parameter_names(const nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, t] : m.named_parameters()) names.push_back(name);
  return names;
}

}  // namespace tl::test
