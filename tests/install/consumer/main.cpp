// Fits y = 3x + 1 with tl, exports the model, and prints tl's version.
#include <cstdio>

#include <tl/tl.h>

int main() {
  tl::manual_seed(0);
  tl::Tensor x = tl::randn({64, 1});
  tl::Tensor y = x * 3.0 + 1.0;
  tl::nn::Linear model(1, 1);
  tl::optim::SGD opt(model.parameters(), {.lr = 0.1});
  for (int step = 0; step < 200; ++step) {
    tl::Tensor loss = tl::mean((model(x) - y) * (model(x) - y));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  const float w = model.weight.item<float>(), b = model.bias.item<float>();
  std::printf("tl %s: w %.3f b %.3f\n", tl::version(), w, b);
  tl::export_program([&](const tl::Tensor& in) { return model(in); }, x, "line.tlart");
  return (w > 2.99f && w < 3.01f && b > 0.99f && b < 1.01f) ? 0 : 1;
}
