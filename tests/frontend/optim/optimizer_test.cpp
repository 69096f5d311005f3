#include <cmath>

#include "optim_test_util.h"

using namespace tl;
using namespace optim_test;

TEST_CASE("clip_grad_norm_ scales all grads by max_norm / (norm + 1e-6) and returns the norm", "[optim][clip]") {
  Tensor a = param({0.0, 0.0}, kFloat32);
  Tensor b = param({0.0}, kFloat32);
  Tensor c = param({0.0}, kFloat32);  // no grad: skipped
  a.set_grad(from_vector(std::vector<float>{3, 0}));
  b.set_grad(from_vector(std::vector<float>{4}));
  Tensor norm = optim::clip_grad_norm_({a, b, c}, 1.0);
  CHECK(norm.dtype() == kFloat32);
  CHECK(norm.numel() == 1);
  CHECK(norm.item<double>() == Approx(5.0));
  double coef = 1.0 / (5.0 + 1e-6);
  check_values(a.grad(), {3 * coef, 0.0}, 1e-6);
  check_values(b.grad(), {4 * coef}, 1e-6);
  CHECK_FALSE(c.grad().defined());
}

TEST_CASE("clip_grad_norm_ leaves grads below max_norm unchanged", "[optim][clip]") {
  Tensor a = param({0.0, 0.0});
  a.set_grad(from_vector(std::vector<double>{0.3, -0.4}));
  Tensor norm = optim::clip_grad_norm_({a}, 1.0);
  CHECK(norm.dtype() == kFloat64);
  CHECK(norm.item<double>() == Approx(0.5));
  check_values(a.grad(), {0.3, -0.4});
}

TEST_CASE("clip_grad_norm_ sums over large and non-contiguous grads", "[optim][clip]") {
  // 100000 elements spans several parallel chunks; the transposed grad takes the tensor-op path.
  Tensor big = param(std::vector<double>(100000, 0.0), kFloat32);
  big.set_grad(full({100000}, 0.01));
  Tensor m = zeros({3, 2}, {.requires_grad = true});
  m.set_grad(full({2, 3}, 2.0).t());
  Tensor norm = optim::clip_grad_norm_({big, m}, 2.0);
  double expected = std::sqrt(100000 * 1e-4 + 6 * 4.0);  // sqrt(34)
  CHECK(norm.item<double>() == Approx(expected).epsilon(1e-6));
  double coef = 2.0 / (expected + 1e-6);
  CHECK(big.grad().item_at<float>({777}) == Approx(0.01 * coef).epsilon(1e-5));
  CHECK(m.grad().item_at<float>({2, 1}) == Approx(2.0 * coef).epsilon(1e-5));
}

TEST_CASE("clip_grad_norm_ refuses a negative max_norm", "[optim][clip][errors]") {
  CHECK_THROWS_WITH(optim::clip_grad_norm_({}, -1.0),
                    Catch::Contains("max_norm must be >= 0") && Catch::Contains("optimizer_test.cpp:"));
}

TEST_CASE("set_lr changes every group's lr", "[optim]") {
  optim::RMSprop opt({param({1.0})});
  opt.set_lr(0.5);
  CHECK(opt.lr() == 0.5);
  CHECK(opt.param_groups()[0].lr == 0.5);
}
