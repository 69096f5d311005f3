// A tensor a derivative reads (an op's saved input or saved result) changed in place after
// the forward must make backward() refuse, naming the op, the tensor and the write's line;
// otherwise the gradient is silently wrong. Derivatives that do not read it must still run.
#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "tl/autograd.h"
#include "tl/ops.h"

using namespace tl;

namespace {

struct SavedOutputOp {
  const char* name;
  std::function<Tensor(const Tensor&)> fn;
};

std::vector<SavedOutputOp> ops_that_read_their_result() {
  return {{"exp", [](const Tensor& x) { return exp(x); }},
          {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
          {"tanh", [](const Tensor& x) { return tanh(x); }},
          {"sqrt", [](const Tensor& x) { return sqrt(x); }},
          {"rsqrt", [](const Tensor& x) { return rsqrt(x); }},
          {"relu", [](const Tensor& x) { return relu(x); }},
          {"softmax", [](const Tensor& x) { return softmax(x, 0); }},
          // log_softmax is the softmax op in its log form.
          {"softmax", [](const Tensor& x) { return log_softmax(x, 0); }}};
}

Tensor leaf() { return from_vector<float>({1.0f, 2.0f}).requires_grad_(); }

}  // namespace

TEST_CASE("backward refuses a saved result modified in place through detach()", "[autograd][inplace]") {
  for (const auto& op : ops_that_read_their_result()) {
    INFO(op.name);
    Tensor x = leaf();
    Tensor y = op.fn(x);
    y.detach().mul_(10.0); int write_line = __LINE__;
    try {
      y.sum().backward();
      FAIL("backward accepted a stale saved result of " << op.name << "; x.grad = " << to_string(x.grad()));
    } catch (const AutogradError& e) {
      std::string msg = e.what();
      CHECK_THAT(msg, Catch::Contains(std::string("the output of ") + op.name));
      CHECK_THAT(msg, Catch::Contains("mul_ at inplace_saved_test.cpp:" + std::to_string(write_line)));
      CHECK_THAT(msg, Catch::Contains("[2] float32"));
    }
    CHECK_FALSE(x.grad().defined());
  }
}

TEST_CASE("backward refuses a saved result modified in place under NoGradGuard or through a view",
          "[autograd][inplace]") {
  {
    Tensor x = leaf();
    Tensor y = exp(x);
    {
      NoGradGuard no_grad;
      y.mul_(10.0);
    }
    CHECK_THROWS_WITH(y.sum().backward(), Catch::Contains("the output of exp") && Catch::Contains("by mul_ at"));
  }
  {
    Tensor x = from_vector<float>({1, 2, 3, 4}, {2, 2}).requires_grad_();
    Tensor y = tanh(x);
    y.detach().select(0, 1).fill_(0.0);
    CHECK_THROWS_WITH(y.sum().backward(), Catch::Contains("the output of tanh") && Catch::Contains("by fill_ at"));
  }
}

TEST_CASE("derivatives that do not read the result accept an in-place write to it", "[autograd][inplace]") {
  // log's derivative reads its input, add's reads nothing: PyTorch accepts both, and so do we.
  Tensor x = leaf();
  Tensor y = log(x);
  y.detach().mul_(10.0);
  y.sum().backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{1.0f, 0.5f});

  Tensor a = leaf();
  Tensor b = a + 1.0;
  b.detach().mul_(3.0);
  b.sum().backward();
  CHECK(a.grad().to_vector<float>() == std::vector<float>{1.0f, 1.0f});

  // mean reads only the result's size.
  Tensor c = leaf();
  Tensor m = c.mean();
  m.detach().fill_(7.0);
  m.backward();
  CHECK(c.grad().to_vector<float>() == std::vector<float>{0.5f, 0.5f});
}

TEST_CASE("a saved result left unchanged gives the exact gradient", "[autograd][inplace]") {
  Tensor x = leaf();
  Tensor y = exp(x);
  y.detach().clone().mul_(10.0);  // a copy, not the saved result
  y.sum().backward();
  auto g = x.grad().to_vector<float>();
  CHECK(g[0] == Approx(2.7182817f));
  CHECK(g[1] == Approx(7.389056f));
}

TEST_CASE("backward refuses a saved input modified in place, naming the write", "[autograd][inplace]") {
  Tensor x = leaf();
  Tensor h = x * 2.0;
  Tensor y = h * h;
  h.detach().add_(ones({2})); int write_line = __LINE__;
  CHECK_THROWS_WITH(y.sum().backward(),
                    Catch::Contains("input 0 of mul") &&
                        Catch::Contains("add_ at inplace_saved_test.cpp:" + std::to_string(write_line)));
}

TEST_CASE("a custom op's backward refuses its result modified in place", "[autograd][inplace]") {
  Tensor x = leaf();
  Tensor y = custom_op(
      "square", {x}, [](const std::vector<Tensor>& in) { return in[0] * in[0]; },
      [](const std::vector<Tensor>& in, const Tensor&, const Tensor& dout) {
        return std::vector<Tensor>{dout * in[0] * 2.0};
      });
  y.detach().mul_(2.0);
  CHECK_THROWS_WITH(y.sum().backward(), Catch::Contains("the output of square"));
}
