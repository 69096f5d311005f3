// Higher-order gradients: tl::grad with create_graph gives gradients that carry their own
// graph, so they can be differentiated again (Hessian-vector products, gradient penalties,
// MAML-style inner loops). The op-table sweep (op_sweep_test.cpp) runs gradgradcheck over
// every op; these cases check the engine's behaviour around it.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

#include "tl/autograd.h"
#include "tl/nn.h"
#include "tl/ops.h"
#include "tl/random.h"

using namespace tl;

namespace {

Tensor f64(std::vector<double> v) { return from_vector<double>(v); }

void check_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expected[i]).epsilon(tol).margin(tol));
}

}  // namespace

TEST_CASE("create_graph gives gradients that differentiate again, to any order", "[autograd][double_backward]") {
  Tensor x = f64({0.5, -1.5, 2.0}).requires_grad_();
  Tensor y = pow(x, 4.0).sum();
  Tensor d1 = grad(y, {x}, {.create_graph = true})[0];
  check_values(d1, {4 * 0.125, 4 * -3.375, 4 * 8.0});
  CHECK(d1.requires_grad());
  Tensor d2 = grad(d1.sum(), {x}, {.create_graph = true})[0];
  check_values(d2, {12 * 0.25, 12 * 2.25, 12 * 4.0});
  Tensor d3 = grad(d2.sum(), {x}, {.create_graph = true})[0];
  check_values(d3, {24 * 0.5, 24 * -1.5, 24 * 2.0});
  Tensor d4 = grad(d3.sum(), {x})[0];
  check_values(d4, {24, 24, 24});
  CHECK_FALSE(d4.requires_grad());  // without create_graph a gradient is a constant
}

TEST_CASE("a Hessian-vector product equals the analytic Hessian applied to v", "[autograd][double_backward]") {
  // f(x) = sum(exp(a . x) * x0) style coupling: f = sum_i x_i^2 * x_{i+1} (cyclic), whose
  // Hessian has both diagonal and off-diagonal terms.
  Tensor x = f64({0.3, -0.7, 1.1, 0.4}).requires_grad_();
  Tensor v = f64({1.0, 2.0, -1.0, 0.5});
  Tensor shifted = cat({x.slice(0, 1, 4), x.slice(0, 0, 1)}, 0);
  Tensor f = (x * x * shifted).sum();
  Tensor g = grad(f, {x}, {.create_graph = true})[0];
  Tensor hv = grad((g * v).sum(), {x})[0];
  // H[i][i] = 2 x_{i+1}; H[i][i+1] = H[i+1][i] = 2 x_i (indices cyclic).
  std::vector<double> xs = x.to_vector<double>(), vs = v.to_vector<double>(), expected(4, 0.0);
  for (int i = 0; i < 4; ++i) {
    int next = (i + 1) % 4, prev = (i + 3) % 4;
    expected[i] = 2 * xs[next] * vs[i] + 2 * xs[i] * vs[next] + 2 * xs[prev] * vs[prev];
  }
  check_values(hv, expected);
}

TEST_CASE("a gradient penalty trains through backward() into the parameters", "[autograd][double_backward]") {
  // WGAN-GP style: penalty = (||d critic(x) / dx|| - 1)^2, differentiated w.r.t. the critic's weights.
  manual_seed(7);
  nn::Linear first(3, 5), second(5, 1);
  first.to(kFloat64);
  second.to(kFloat64);
  auto critic = [&](const Tensor& in) { return second(tanh(first(in))); };
  Tensor x = randn({4, 3}, {.dtype = kFloat64}).requires_grad_();
  Tensor dx = grad(critic(x).sum(), {x}, {.create_graph = true})[0];
  Tensor penalty = (dx.pow(2.0).sum(1).sqrt() - 1.0).pow(2.0).mean();
  penalty.backward();
  REQUIRE(first.weight.grad().defined());
  REQUIRE(second.weight.grad().defined());

  // The same gradient, checked by finite differences of the penalty in the first weight.
  std::function<Tensor(const std::vector<Tensor>&)> penalty_of = [&](const std::vector<Tensor>& in) {
    auto c = [&](const Tensor& v) { return add(matmul(tanh(add(matmul(v, in[0].t()), first.bias)), second.weight.t()), second.bias); };
    EnableGradGuard grad_mode;  // gradcheck probes under NoGradGuard; this function takes a gradient itself
    Tensor xi = x.detach().requires_grad_();
    Tensor d = grad(c(xi).sum(), {xi}, {.create_graph = true})[0];
    return (d.pow(2.0).sum(1).sqrt() - 1.0).pow(2.0).mean();
  };
  Tensor w = first.weight.detach().clone().requires_grad_();
  auto result = gradcheck(penalty_of, {w});
  INFO(result.message);
  CHECK(result.ok);
  Tensor expected = grad(penalty_of({w}), {w})[0];
  CHECK(allclose(first.weight.grad(), expected, 1e-12, 1e-12));
}

TEST_CASE("a MAML inner step differentiates through the updated weights", "[autograd][double_backward]") {
  // loss(w) = sum((w * a - b)^2); w' = w - lr * dloss/dw; outer = loss(w').
  // dw'/dw = 1 - lr * 2 a^2, so d outer / dw = 2 (w' a - b) a (1 - 2 lr a^2).
  Tensor a = f64({1.0, -2.0, 0.5});
  Tensor b = f64({0.3, 0.1, -0.4});
  Tensor w = f64({0.2, 0.7, -1.0}).requires_grad_();
  const double lr = 0.1;
  auto loss = [&](const Tensor& weights) { return (weights * a - b).pow(2.0).sum(); };
  Tensor g = grad(loss(w), {w}, {.create_graph = true})[0];
  Tensor adapted = w - g * lr;
  loss(adapted).backward();
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), wv = w.to_vector<double>(), expected;
  for (int i = 0; i < 3; ++i) {
    double w1 = wv[i] - lr * 2 * (wv[i] * av[i] - bv[i]) * av[i];
    expected.push_back(2 * (w1 * av[i] - bv[i]) * av[i] * (1 - 2 * lr * av[i] * av[i]));
  }
  check_values(w.grad(), expected);
}

TEST_CASE("double backward through layers and losses passes gradgradcheck", "[autograd][double_backward]") {
  manual_seed(3);
  Tensor x = randn({3, 4}, {.dtype = kFloat64}).requires_grad_();
  Tensor w = randn({5, 4}, {.dtype = kFloat64}).requires_grad_();
  Tensor target = from_vector<int64_t>({1, 4, 0});
  std::function<Tensor(const std::vector<Tensor>&)> model = [&](const std::vector<Tensor>& in) {
    Tensor h = gelu(matmul(in[0], in[1].t()));
    return nn::cross_entropy(nn::functional::layer_norm(h, {5}), target);
  };
  GradcheckResult result = gradgradcheck(model, {x, w});
  INFO(result.message);
  CHECK(result.ok);

  Tensor image = randn({1, 2, 6, 6}, {.dtype = kFloat64}).requires_grad_();
  Tensor kernel = randn({3, 2, 3, 3}, {.dtype = kFloat64}).requires_grad_();
  std::function<Tensor(const std::vector<Tensor>&)> cnn = [](const std::vector<Tensor>& in) {
    return softmax(max_pool2d(relu(conv2d(in[0], in[1], Tensor(), {1, 1}, {1, 1})), {2, 2}).reshape({1, -1}), 1);
  };
  result = gradgradcheck(cnn, {image, kernel});
  INFO(result.message);
  CHECK(result.ok);
}

TEST_CASE("gradgradcheck finds a custom op whose backward is not differentiable in its input", "[autograd][double_backward]") {
  // The backward reads x through a detach(): first derivatives are right, second ones are not.
  std::function<Tensor(const std::vector<Tensor>&)> cube = [](const std::vector<Tensor>& in) {
    return custom_op(
        "cube", in, [](const std::vector<Tensor>& v) { return pow(v[0], 3.0); },
        [](const std::vector<Tensor>& v, const Tensor&, const Tensor& dout) {
          return std::vector<Tensor>{dout * v[0].detach().pow(2.0) * 3.0};
        });
  };
  Tensor x = f64({0.5, -1.0}).requires_grad_();
  CHECK(gradcheck(cube, {x}).ok);
  GradcheckResult second = gradgradcheck(cube, {x});
  CHECK_FALSE(second.ok);
  CHECK_THAT(second.message, Catch::Contains("second derivatives") && Catch::Contains("input 0"));
}

TEST_CASE("tl::grad names a missing or mis-shaped grad_output", "[autograd][double_backward][errors]") {
  Tensor x = f64({1.0, 2.0}).requires_grad_();
  Tensor y = x * x;
  CHECK_THROWS_AS(grad(y, {x}, {.create_graph = true}), AutogradError);
  CHECK_THROWS_WITH(grad(y, {x}, {.create_graph = true}), Catch::Contains("one-element output") &&
                                                             Catch::Contains("double_backward_test.cpp"));
  CHECK_THROWS_AS(grad(y, {x}, {.grad_output = f64({1.0, 2.0, 3.0})}), ShapeError);
  // A grad_output that requires grad stays in the graph with create_graph: d/dv (x^2 . v) = x^2.
  Tensor v = f64({3.0, -1.0}).requires_grad_();
  Tensor g = grad(y, {x}, {.grad_output = v, .create_graph = true})[0];
  check_values(g, {6.0, -4.0});
  check_values(grad(g.sum(), {v})[0], {2.0, 4.0});
}

TEST_CASE("create_graph keeps the graph by default and frees nothing it still needs", "[autograd][double_backward]") {
  Tensor x = f64({0.2, 0.4}).requires_grad_();
  std::weak_ptr<Storage> intermediate;
  {
    Tensor h = tanh(x);
    intermediate = h.impl()->storage;
    Tensor y = (h * h).sum();
    Tensor g = grad(y, {x}, {.create_graph = true})[0];
    // retain_graph defaults to create_graph: a second pass over the same graph works.
    Tensor again = grad(y, {x}, {.retain_graph = true})[0];
    CHECK(allclose(again, g.detach(), 0, 0));
    Tensor g2 = grad(g.sum(), {x})[0];
    std::vector<double> xs = x.to_vector<double>(), expected;
    for (double xi : xs) {
      double t = std::tanh(xi), s = 1 - t * t;
      expected.push_back(2 * s * s - 4 * t * t * s);  // d/dx (2 t (1 - t^2))
    }
    check_values(g2, expected);
  }
  // The first and second graphs reference each other only one way: nothing leaks.
  CHECK(intermediate.expired());
}
