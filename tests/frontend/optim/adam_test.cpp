#include <cmath>

#include "optim_test_util.h"

using namespace tl;
using namespace optim_test;

// With bias correction, Adam's first step is lr * g / (|g| + eps'), i.e. about lr * sign(g).
TEST_CASE("Adam's first step moves each parameter by lr against its gradient's sign", "[optim][adam]") {
  Tensor p = param({1.0, -2.0, 0.5});
  optim::Adam opt({p}, {.lr = 0.1});
  p.set_grad(grad_at(0));
  opt.step();
  check_values(p, {0.900000002, -2.099999999, 0.5999999960000002});
  p.set_grad(grad_at(1));
  opt.step();
  check_values(p, {0.8009192771006926, -2.199080724676486, 0.699080719344951});
}

TEST_CASE("Adam's second step matches the bias-corrected moments computed by hand", "[optim][adam]") {
  Tensor p = param({1.0});
  optim::Adam opt({p}, {.lr = 0.1});
  p.set_grad(from_vector(std::vector<double>{0.5}));
  opt.step();
  p.set_grad(from_vector(std::vector<double>{0.75}));
  opt.step();
  double m = 0.9 * 0.05 + 0.1 * 0.75;               // m1 = 0.05
  double v = 0.999 * 0.00025 + 0.001 * 0.75 * 0.75;  // v1 = 0.001 * 0.25
  double step_size = 0.1 / (1 - 0.9 * 0.9);
  double denom = std::sqrt(v) / std::sqrt(1 - 0.999 * 0.999) + 1e-8;
  double p1 = 1.0 - (0.1 / (1 - 0.9)) * 0.05 / (std::sqrt(0.00025) / std::sqrt(0.001) + 1e-8);
  check_values(p, {p1 - step_size * m / denom});
}

TEST_CASE("Adam with L2 weight decay and AMSGrad matches PyTorch's updates", "[optim][adam]") {
  Tensor p = param({1.0, -2.0, 0.5});
  optim::Adam opt({p}, {.lr = 0.1, .weight_decay = 0.1, .amsgrad = true});
  std::vector<std::vector<double>> expected = {
      {0.9000000016666666, -2.09999999875, 0.5999999950000002},
      {0.8005034238180904, -2.1985504261171194, 0.6987328650510884},
      {0.7011856900085519, -2.2965825931829063, 0.7969944827791818}};
  for (int k = 0; k < 3; ++k) {
    p.set_grad(grad_at(k));
    opt.step();
    check_values(p, expected[k]);
  }
}

TEST_CASE("AMSGrad keeps the running maximum of the second moment", "[optim][adam]") {
  Tensor p = param({0.0});
  optim::Adam opt({p}, {.lr = 0.1, .amsgrad = true});
  p.set_grad(from_vector(std::vector<double>{10.0}));
  opt.step();
  p.set_grad(from_vector(std::vector<double>{0.0}));
  opt.step();
  auto s = opt.state();
  double v = s.at("0.exp_avg_sq").item<double>();
  double vmax = s.at("0.max_exp_avg_sq").item<double>();
  CHECK(v == Approx(0.999 * 0.1));
  CHECK(vmax == Approx(0.1));  // the first step's 0.001 * 100
  CHECK(s.at("0.step").item<int64_t>() == 2);
}

TEST_CASE("AdamW decays parameters by lr * weight_decay independently of the gradient", "[optim][adamw]") {
  Tensor p = param({1.0, -2.0, 0.5});
  optim::AdamW opt({p}, {.lr = 0.1, .weight_decay = 0.1});
  CHECK(opt.name() == "AdamW");
  // A zero gradient leaves the moments at zero, so only the decay p *= 1 - 0.01 acts.
  p.set_grad(zeros({3}, {.dtype = kFloat64}));
  opt.step();
  check_values(p, {0.99, -1.98, 0.495});
}

TEST_CASE("AdamW matches PyTorch's updates", "[optim][adamw]") {
  Tensor p = param({1.0, -2.0, 0.5});
  optim::AdamW opt({p}, {.lr = 0.1, .weight_decay = 0.1});
  p.set_grad(grad_at(0));
  opt.step();
  check_values(p, {0.890000002, -2.079999999, 0.5949999960000002});
  p.set_grad(grad_at(1));
  opt.step();
  check_values(p, {0.7820192770806924, -2.158280724686486, 0.688130719384951});
}

TEST_CASE("AdamW's default weight decay is 1e-2", "[optim][adamw]") {
  Tensor p = param({1.0});
  optim::AdamW opt({p});
  p.set_grad(zeros_like(p));
  opt.step();
  check_values(p, {1.0 - 1e-3 * 1e-2});
}

TEST_CASE("Adam counts steps per parameter, as PyTorch does", "[optim][adam]") {
  Tensor a = param({1.0});
  Tensor b = param({1.0});
  optim::Adam opt({a, b}, {.lr = 0.1});
  a.set_grad(from_vector(std::vector<double>{1.0}));
  opt.step();
  b.set_grad(from_vector(std::vector<double>{1.0}));
  opt.step();
  auto s = opt.state();
  CHECK(s.at("0.step").item<int64_t>() == 2);
  CHECK(s.at("1.step").item<int64_t>() == 1);
  // b's first step is bias corrected as a first step: it moves by about lr.
  check_values(b, {0.9}, 1e-7);
}

TEST_CASE("Adam refuses betas outside the unit interval", "[optim][adam][errors]") {
  Tensor p = param({1.0});
  CHECK_THROWS_WITH(optim::Adam({p}, {.beta1 = 1.0}),
                    Catch::Contains("tl::optim::Adam: beta1 must be in [0, 1), got 1") &&
                        Catch::Contains("adam_test.cpp:"));
  CHECK_THROWS_AS(optim::AdamW({p}, {.beta2 = -0.5}), ValueError);
}
