// resnet18 (He et al. 2015) from tl layers, with torchvision's module and parameter names so
// torchvision's state dict loads by name. Trains a few compiled SGD steps on a fixed batch of
// random images and exits nonzero unless the loss falls below half its first value. Given
// torchvision resnet18 weights (safetensors) and an input with torchvision's output for it
// (.npy), it also checks the forward pass in eval mode: exit 1 above 1e-4 relative error.
// Usage: 12_resnet [weights.safetensors input.npy expected.npy]
//        (tests/interop/resnet_reference.py writes the three files with torchvision)
#include <tl/tl.h>

#include "resnet18.h"

#include <chrono>
#include <cstdio>
#include <string>

namespace nn = tl::nn;
using resnet::ResNet18;

// Loads torchvision's weights, runs `input_path` in eval mode and compares with `expected_path`:
// max |y - y_torch| / max |y_torch|.
bool matches_torchvision(const std::string& weights_path, const std::string& input_path,
                         const std::string& expected_path) {
  ResNet18 model;
  // strict: every parameter and buffer (running statistics, num_batches_tracked) by name.
  model.load_state_dict(tl::io::load_safetensors(weights_path).tensors);
  model.eval();
  tl::NoGradGuard no_grad;
  tl::Tensor x = tl::load_npy(input_path);
  tl::Tensor want = tl::load_npy(expected_path);
  tl::Tensor y = model(x);
  if (y.shape() != want.shape()) {
    std::printf("output shape %s, torchvision's %s\n", y.shape().str().c_str(),
                want.shape().str().c_str());
    return false;
  }
  const double error = (tl::amax(tl::abs(y - want)) / tl::amax(tl::abs(want))).item<double>();
  std::printf("torchvision weights from %s: output %s, relative error %.2e (limit 1e-4)\n", weights_path.c_str(),
              y.shape().str().c_str(), error);
  return error <= 1e-4;
}

int main(int argc, char** argv) {
  if (argc != 1 && argc != 4) {
    std::fprintf(stderr, "usage: %s [weights.safetensors input.npy expected.npy]\n", argv[0]);
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  tl::manual_seed(0);

  // Memorize 16 random 64x64 images with random labels among 10 classes: a check that every
  // layer's gradient flows, not a task worth learning.
  ResNet18 model(10);
  std::printf("resnet18: %lld parameters\n", static_cast<long long>(model.num_parameters()));
  tl::Tensor images = tl::randn({16, 3, 64, 64});
  tl::Tensor labels = tl::randint(0, 10, {16});
  tl::optim::SGD opt(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  auto train_step = tl::compile([&](tl::Tensor x, tl::Tensor y) {
    tl::Tensor loss = nn::cross_entropy(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  });
  float first = 0, last = 0;
  for (int step = 0; step < 8; ++step) {
    last = train_step(images, labels).item<float>();
    if (step == 0) first = last;
    std::printf("step %d  loss %.4f\n", step, last);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("loss %.4f -> %.4f (%.1f s)\n", first, last, seconds);
  bool ok = last < 0.5f * first;

  if (argc == 4) ok = matches_torchvision(argv[1], argv[2], argv[3]) && ok;
  return ok ? 0 : 1;
}
