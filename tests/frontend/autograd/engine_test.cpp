#include <catch2/catch.hpp>

#include "tl/autograd.h"
#include "tl/ops.h"

using namespace tl;

TEST_CASE("backward accumulates gradients of a small expression", "[autograd]") {
  Tensor x = from_vector<float>({1, 2, 3}).requires_grad_();
  Tensor w = from_vector<float>({0.5f, -1, 2}).requires_grad_();
  Tensor y = (x * w + x).sum();
  y.backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{1.5f, 0, 3});
  CHECK(w.grad().to_vector<float>() == std::vector<float>{1, 2, 3});
  (x * 2.0).sum().backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{3.5f, 2, 5});
}

TEST_CASE("broadcast gradients are summed back to the input shape", "[autograd][broadcast]") {
  Tensor a = ones({3, 1}).requires_grad_();
  Tensor b = ones({4}).requires_grad_();
  (a * b).sum().backward();
  CHECK(a.grad().shape() == Shape{3, 1});
  CHECK(a.grad().to_vector<float>() == std::vector<float>{4, 4, 4});
  CHECK(b.grad().to_vector<float>() == std::vector<float>{3, 3, 3, 3});
}

TEST_CASE("hooks can inspect and replace a gradient", "[autograd][hooks]") {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  Tensor y = x * 3.0;
  Tensor seen;
  y.register_hook([&](const Tensor& g) {
    seen = g;
    return g * 10.0;
  });
  y.sum().backward();
  CHECK(seen.to_vector<float>() == std::vector<float>{1, 1});
  CHECK(x.grad().to_vector<float>() == std::vector<float>{30, 30});
}

TEST_CASE("backward twice without retain_graph is a clear error", "[autograd][errors]") {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = (x * x).sum();
  y.backward(Tensor(), true);
  y.backward();
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("retain_graph"));
}

TEST_CASE("NoGradGuard records no graph", "[autograd]") {
  Tensor x = ones({2}).requires_grad_();
  NoGradGuard guard;
  Tensor y = x * 2.0;
  CHECK_FALSE(y.requires_grad());
}
