#include <cmath>

#include "optim_test_util.h"

using namespace tl;
using namespace optim_test;

// First step: square_avg = (1 - alpha) g^2, so p -= lr * g / (sqrt(1 - alpha) |g| + eps).
TEST_CASE("RMSprop's first step is lr / sqrt(1 - alpha) against the gradient's sign", "[optim][rmsprop]") {
  Tensor p = param({1.0, -2.0, 0.5});
  optim::RMSprop opt({p}, {.lr = 0.01, .alpha = 0.9});
  p.set_grad(grad_at(0));
  opt.step();
  double d = 0.01 / std::sqrt(0.1);
  check_values(p, {1.0 - d, -2.0 - d, 0.5 + d}, 1e-7);
  check_values(p, {0.968377225398316, -2.031622775601684, 0.5316227726016843});
  p.set_grad(grad_at(1));
  opt.step();
  check_values(p, {0.9416511021594546, -2.058348899316736, 0.558348894888165});
}

TEST_CASE("centered RMSprop with momentum and weight decay matches PyTorch's updates", "[optim][rmsprop]") {
  Tensor p = param({1.0, -2.0, 0.5});
  optim::RMSprop opt({p}, {.lr = 0.01, .alpha = 0.9, .weight_decay = 0.1, .momentum = 0.5, .centered = true});
  p.set_grad(grad_at(0));
  opt.step();
  check_values(p, {0.9666666685185185, -2.0333333319444447, 0.5333333277777788});
  p.set_grad(grad_at(1));
  opt.step();
  check_values(p, {0.920934946440221, -2.0801415901846494, 0.5800869409206494});
  auto s = opt.state();
  CHECK(s.count("0.square_avg") == 1);
  CHECK(s.count("0.grad_avg") == 1);
  CHECK(s.count("0.momentum_buffer") == 1);
}

TEST_CASE("centered RMSprop divides by the gradient's running standard deviation", "[optim][rmsprop]") {
  // One step by hand: g' = g + wd p = 2.2, sq = 0.1 * 4.84, ga = 0.1 * 2.2,
  // avg = sqrt(0.484 - 0.0484) + eps, p -= lr * g' / avg.
  Tensor p = param({2.0});
  optim::RMSprop opt({p}, {.lr = 0.01, .alpha = 0.9, .eps = 1e-8, .weight_decay = 0.1, .centered = true});
  p.set_grad(from_vector(std::vector<double>{2.0}));
  opt.step();
  check_values(p, {2.0 - 0.01 * 2.2 / (std::sqrt(0.484 - 0.0484) + 1e-8)});
}
