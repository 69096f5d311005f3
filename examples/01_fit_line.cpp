// Fits y = 3x + 2 from noisy samples with one Linear layer, SGD and the mean squared error.
// The training step is compiled (tl::compile); TL_COMPILE=0 runs it eagerly, same numbers.
#include <tl/tl.h>

#include <cmath>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  // --device cuda fits on the GPU (the same code; the compiled step then runs eagerly there).
  const tl::Device device = argc > 2 && std::string(argv[1]) == "--device" && std::string(argv[2]) == "cuda" ? tl::kCUDA : tl::kCPU;
  tl::manual_seed(0);
  tl::Tensor x = tl::uniform({256, 1}, -1.0, 1.0);
  tl::Tensor y = 3.0 * x + 2.0 + 0.1 * tl::randn({256, 1});

  x = x.to(device);
  y = y.to(device);
  tl::nn::Linear model(1, 1);
  model.to(device);
  tl::optim::SGD opt(model.parameters(), {.lr = 0.1});
  auto train_step = tl::compile([&](tl::Tensor x, tl::Tensor y) {
    tl::Tensor l = tl::nn::mse_loss(model(x), y);
    opt.zero_grad();
    l.backward();
    opt.step();
    return l;
  });
  float loss = 0;
  for (int step = 0; step <= 200; ++step) {
    loss = train_step(x, y).item<float>();
    if (step % 20 == 0) std::printf("step %3d  loss %.5f\n", step, loss);
  }
  float w = model.weight.item<float>(), b = model.bias.item<float>();
  std::printf("learned y = %.3f x + %.3f (truth: y = 3x + 2, noise variance 0.01)\n", w, b);
  bool ok = std::abs(w - 3.0f) < 0.05f && std::abs(b - 2.0f) < 0.05f && loss < 0.02f;
  return ok ? 0 : 1;
}
