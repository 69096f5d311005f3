#include "optim_test_util.h"

using namespace tl;
using namespace optim_test;

// Expected values: d = g + wd p; buf = d (first step) or momentum buf + (1 - dampening) d;
// Nesterov d += momentum buf; p -= lr d. Step 1 of the first case, by hand:
// d = [0.51, 0.98, -0.245], d + 0.9 d = [0.969, 1.862, -0.4655], p = [0.9031, -2.1862, 0.54655].
TEST_CASE("SGD with Nesterov momentum and weight decay matches hand-computed updates", "[optim][sgd]") {
  Tensor p = param({1.0, -2.0, 0.5});
  optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  p.set_grad(grad_at(0));
  opt.step();
  check_values(p, {0.9031, -2.1862, 0.54655});
  p.set_grad(grad_at(1));
  opt.step();
  check_values(p, {0.71757411, -2.54642622, 0.636606555});
}

TEST_CASE("SGD dampening scales new gradients into the momentum buffer after the first step", "[optim][sgd]") {
  Tensor p = param({1.0, -2.0, 0.5});
  optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  p.set_grad(grad_at(0));
  opt.step();
  // The first step stores the gradient undamped: buf = g.
  check_values(p, {0.95, -2.1, 0.525});
  p.set_grad(grad_at(1));
  opt.step();
  // buf = 0.9 g0 + 0.5 (1.5 g0) = 1.65 g0.
  check_values(p, {0.8675, -2.265, 0.56625});
}

TEST_CASE("plain SGD subtracts lr times the gradient and skips parameters without a grad", "[optim][sgd]") {
  Tensor a = param({1.0, 2.0, 3.0}, kFloat32);
  Tensor b = param({5.0});
  optim::SGD opt({a, b}, {.lr = 0.5});
  a.set_grad(from_vector(std::vector<float>{1, -2, 0.5f}));
  opt.step();
  check_values(a, {0.5, 3.0, 2.75});
  check_values(b, {5.0});
  CHECK(opt.state().size() == 1);  // only the optimizer tag: no momentum buffers
}

TEST_CASE("SGD refuses Nesterov without momentum and names the caller's line", "[optim][sgd][errors]") {
  Tensor p = param({1.0});
  try {
    optim::SGD opt({p}, {.lr = 0.1, .nesterov = true});
    FAIL("no error");
  } catch (const ValueError& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("tl::optim::SGD: momentum must be > 0 with nesterov, got 0"));
    CHECK_THAT(msg, Catch::Contains("sgd_test.cpp:"));
  }
  CHECK_THROWS_AS(optim::SGD({}, {}), ValueError);
  CHECK_THROWS_AS(optim::SGD({param({1.0}) * 2.0}, {}), ValueError);  // not a leaf
  CHECK_THROWS_AS(optim::SGD({p}, {.lr = -1}), ValueError);
}

TEST_CASE("a grad whose shape differs from its parameter is refused", "[optim][sgd][errors]") {
  Tensor p = param({1.0, 2.0});
  optim::SGD opt({p}, {.lr = 0.1});
  // Refused where it is set, before any step could use it.
  CHECK_THROWS_WITH(p.set_grad(zeros({3}, {.dtype = kFloat64})),
                    Catch::Contains("the gradient is [3] float64 on cpu but the tensor is [2] float64"));
  opt.step();  // no gradient: nothing moves
  check_values(p, {1.0, 2.0});
}

TEST_CASE("zero_grad drops or zeroes gradients", "[optim][sgd]") {
  Tensor p = param({1.0, 2.0});
  optim::SGD opt({p}, {.lr = 0.1});
  p.set_grad(ones({2}, {.dtype = kFloat64}));
  opt.zero_grad(false);
  REQUIRE(p.grad().defined());
  check_values(p.grad(), {0.0, 0.0});
  opt.zero_grad();
  CHECK_FALSE(p.grad().defined());
}

TEST_CASE("optimizer steps work on the parameters of a real backward pass", "[optim][sgd]") {
  // Minimizes sum((w - 3)^2) from w = 0; the fixed point is w = 3.
  Tensor w = zeros({4}, {.requires_grad = true});
  optim::SGD opt({w}, {.lr = 0.1, .momentum = 0.5});
  for (int i = 0; i < 200; ++i) {
    opt.zero_grad();
    Tensor loss = ((w - 3.0) * (w - 3.0)).sum();
    loss.backward();
    opt.step();
  }
  for (float v : w.to_vector<float>()) CHECK(v == Approx(3.0f).epsilon(1e-5));
}
