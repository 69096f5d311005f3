#include <catch2/catch.hpp>

#include <limits>

#include "tl/debug.h"
#include "tl/tl.h"

using namespace tl;

TEST_CASE("anomaly mode names the forward op, the first bad index and the user's line", "[autograd][anomaly]") {
  DetectAnomalyGuard guard;
  Tensor x = from_vector<float>({1, 2, 0, 4}, {2, 2});
  try {
    Tensor y = tl::log(x);  // log(0) = -inf
    FAIL("no error");
  } catch (const NumericsError& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("log produced Inf at index [1, 0]"));
    CHECK_THAT(msg, Catch::Contains("[2, 2] float32"));
    CHECK_THAT(msg, Catch::Contains("anomaly_test.cpp:14"));
  }
}

TEST_CASE("anomaly mode names the backward op and the line of its forward call", "[autograd][anomaly]") {
  DetectAnomalyGuard guard;
  Tensor x = from_vector<float>({4, 0, 1}).requires_grad_();
  Tensor y = tl::sqrt(x);  // finite forward; d/dx sqrt at 0 is inf
  Tensor loss = y.sum();
  try {
    loss.backward();
    FAIL("no error");
  } catch (const NumericsError& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("the backward of sqrt produced Inf at index [1]"));
    CHECK_THAT(msg, Catch::Contains("anomaly_test.cpp:27"));
  }
}

TEST_CASE("anomaly mode is off by default and NaN then flows silently", "[autograd][anomaly]") {
  REQUIRE_FALSE(is_anomaly_enabled());
  Tensor y = tl::log(from_vector<float>({-1.0f}));
  CHECK(std::isnan(y.item<float>()));
}

TEST_CASE("use_deterministic_algorithms never raises", "[determinism]") {
  use_deterministic_algorithms(true);
  CHECK(are_deterministic_algorithms_enabled());
  Tensor x = randn({8, 3, 6, 6});
  Tensor w = randn({4, 3, 3, 3}).requires_grad_();
  tl::conv2d(x, w).sum().backward();
  CHECK(w.grad().defined());
  use_deterministic_algorithms(false);
}
