// The fused update loops against the tensor-op versions: a non-contiguous grad sends a
// parameter down the tensor-op path, so two copies of one problem exercise both.
#include <functional>
#include <memory>

#include "optim_test_util.h"

using namespace tl;
using namespace optim_test;

namespace {
using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(Tensor)>;

void check_paths_agree(const MakeOptimizer& make, DType dtype, double tol) {
  const int64_t R = 37, C = 1500;  // 55500 elements: more than one parallel chunk
  Tensor init = randn({R, C}).to(dtype);
  Tensor fast = init.clone().requires_grad_();
  Tensor slow = init.clone().requires_grad_();
  auto fast_opt = make(fast);
  auto slow_opt = make(slow);
  for (int k = 0; k < 4; ++k) {
    Tensor g = randn({C, R}).to(dtype);
    fast.set_grad(g.t().contiguous());
    slow.set_grad(g.t());  // same values, transposed strides
    REQUIRE_FALSE(slow.grad().is_contiguous());
    fast_opt->step();
    slow_opt->step();
  }
  CHECK(allclose(fast, slow, tol, tol));
  CHECK_FALSE(allclose(fast, init, tol, tol));
}
}  // namespace

TEST_CASE("fused and tensor-op updates agree", "[optim][fused]") {
  std::vector<std::pair<const char*, MakeOptimizer>> cases = {
      {"SGD", [](Tensor p) { return std::make_unique<optim::SGD>(std::vector<Tensor>{p}, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01}); }},
      {"SGD nesterov", [](Tensor p) { return std::make_unique<optim::SGD>(std::vector<Tensor>{p}, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}); }},
      {"Adam", [](Tensor p) { return std::make_unique<optim::Adam>(std::vector<Tensor>{p}, optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1}); }},
      {"Adam amsgrad", [](Tensor p) { return std::make_unique<optim::Adam>(std::vector<Tensor>{p}, optim::AdamOptions{.lr = 0.01, .amsgrad = true}); }},
      {"AdamW", [](Tensor p) { return std::make_unique<optim::AdamW>(std::vector<Tensor>{p}, optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true}); }},
      {"RMSprop", [](Tensor p) { return std::make_unique<optim::RMSprop>(std::vector<Tensor>{p}, optim::RMSpropOptions{.lr = 0.01, .weight_decay = 0.1}); }},
      {"RMSprop centered momentum", [](Tensor p) { return std::make_unique<optim::RMSprop>(std::vector<Tensor>{p}, optim::RMSpropOptions{.lr = 0.01, .momentum = 0.9, .centered = true}); }},
  };
  for (const auto& [name, make] : cases) {
    INFO(name);
    check_paths_agree(make, kFloat64, 1e-12);
    check_paths_agree(make, kFloat32, 1e-5);
  }
}

TEST_CASE("an optimizer step bumps the parameter's version so stale saved tensors are caught", "[optim][fused]") {
  Tensor w = ones({3}, {.requires_grad = true});
  optim::Adam opt({w}, {.lr = 0.1});
  uint64_t before = w.impl()->storage->version;
  w.set_grad(ones({3}));
  opt.step();
  CHECK(w.impl()->storage->version > before);
}
