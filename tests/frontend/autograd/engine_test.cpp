#include <catch2/catch.hpp>

#include "tl/autograd.h"
#include "tl/ops.h"
#include "tl/optim.h"

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

TEST_CASE("set_grad refuses a gradient of another shape, dtype or device, naming the tensor and the line", "[autograd]") {
  Tensor w = zeros({4}, {.requires_grad = true});
  w.impl()->name = "fc.bias";
  const int line = __LINE__ + 1;
  auto wrong_shape = [&] { w.set_grad(ones({1})); };
  CHECK_THROWS_AS(wrong_shape(), ShapeError);
  CHECK_THROWS_WITH(wrong_shape(), Catch::Contains("the gradient is [1] float32 on cpu but tensor 'fc.bias' is [4] float32") &&
                                       Catch::Contains("engine_test.cpp:" + std::to_string(line)));
  CHECK_FALSE(w.grad().defined());  // nothing was set
  CHECK_THROWS_AS(w.set_grad(ones({4}, {.dtype = kFloat64})), DTypeError);
  CHECK_THROWS_WITH(w.set_grad(ones({4}, {.dtype = kFloat64})), Catch::Contains("[4] float64"));
  CHECK_THROWS_AS(w.set_grad(ones({2, 2})), ShapeError);  // same count, other shape
  // The right gradient is taken, an undefined one clears it.
  w.set_grad(full({4}, 2.0));
  CHECK(w.grad().to_vector<float>() == std::vector<float>{2, 2, 2, 2});
  w.set_grad(Tensor());
  CHECK_FALSE(w.grad().defined());
  // And a step with it updates the parameter by the gradient it was given, nothing else.
  w.set_grad(full({4}, 0.5));
  optim::SGD sgd({w}, {.lr = 1.0});
  sgd.step();
  CHECK(w.to_vector<float>() == std::vector<float>{-0.5f, -0.5f, -0.5f, -0.5f});
}

TEST_CASE("an op without a derivative rule gives a constant that backward passes over", "[autograd]") {
  // sign has no derivative rule (zero almost everywhere); its result used to record a node whose
  // backward called the missing rule.
  Tensor x = from_vector<double>({-2.0, 0.5, 3.0}).requires_grad_();
  Tensor y = from_vector<double>({1.0, 2.0, 3.0}).requires_grad_();
  Tensor s = sign(x);
  CHECK_FALSE(s.requires_grad());
  (s * y + x).sum().backward();
  CHECK(y.grad().to_vector<double>() == std::vector<double>{-1.0, 1.0, 1.0});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1.0, 1.0, 1.0});
}
