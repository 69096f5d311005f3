// A layer and a loss of your own: a residual block written as a plain Module subclass and a
// Huber loss written as a function of tensors, trained with Adam to fit y = sin(3x).
#include <tl/tl.h>

#include <cstdio>
#include <iostream>

// y = x + outer(tanh(inner(x))). Registered members train, print and save with no extra code.
struct Residual : tl::nn::Module {
  tl::nn::Linear inner, outer;
  Residual(int64_t width, int64_t hidden) : inner(width, hidden), outer(hidden, width) {
    register_module("inner", inner);
    register_module("outer", outer);
  }
  tl::Tensor forward(const tl::Tensor& x) override { return x + outer(tl::tanh(inner(x))); }
};

// Quadratic within `delta` of the target, linear beyond it; autograd differentiates it.
tl::Tensor huber_loss(const tl::Tensor& pred, const tl::Tensor& target, double delta = 1.0) {
  tl::Tensor err = tl::abs(pred - target);
  return tl::where(err <= delta, 0.5 * err * err, delta * (err - 0.5 * delta)).mean();
}

int main() {
  tl::manual_seed(0);
  tl::Tensor x = tl::linspace(-2.0, 2.0, 200).reshape({200, 1});
  tl::Tensor y = tl::sin(3.0 * x);

  tl::nn::Sequential model(tl::nn::Linear(1, 16), Residual(16, 16), tl::nn::Linear(16, 1));
  std::cout << model << "\n" << model.num_parameters() << " parameters\n";
  tl::optim::Adam opt(model.parameters(), {.lr = 1e-2});
  float loss = 0;
  for (int step = 0; step <= 500; ++step) {
    tl::Tensor l = huber_loss(model(x), y);
    opt.zero_grad();
    l.backward();
    opt.step();
    loss = l.item<float>();
    if (step % 50 == 0) std::printf("step %4d  loss %.6f\n", step, loss);
  }
  return loss < 1e-3f ? 0 : 1;
}
