// tl's side of bench/train_models.sh: one resnet18 training step (torchvision's architecture, as
// examples/12_resnet.cpp builds it; batch norm in training mode, 1000 classes) on a batch of
// 16 random 224x224 images: cross_entropy, zero_grad, backward, SGD with momentum 0.9; eager and
// under tl::compile. The peer is bench/resnet_train_peer.py. Also measures the fp32 FMA peak.
//
//   resnet_train [--threads 1 2] [--iters N] [--batch 16] [--size 224] [--variants eager,compiled]
//
// Prints one line per figure, as bench/train_models.sh reads them:
//   tl resnet18 train variant=<eager|compiled> threads=<T> ms=<median> iters=<N>
//   tl resnet18 train gflop=<convolution and linear GFLOP per step>
//   tl peak threads=<T> fma_gflops=<G>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "examples/resnet18.h"
#include "tl/tl.h"
#include "tools/tlc/machine_peak.h"

namespace {

namespace nn = tl::nn;

using resnet::ResNet18;  // the model of examples/12_resnet.cpp

// 2 x the multiply-adds of the convolutions and the classifier for one image of `size` x
// `size` (1.814 G multiply-adds at 224, as torchvision states), found by walking the layers.
double forward_gflop_per_image(int64_t size) {
  double macs = 0;
  auto conv = [&](int64_t in, int64_t out, int64_t k, int64_t stride, int64_t& s) {
    s = (s + 2 * (k / 2) - k) / stride + 1;
    macs += static_cast<double>(in) * out * k * k * s * s;
  };
  int64_t s = size;
  conv(3, 64, 7, 2, s);
  s = (s + 2 - 3) / 2 + 1;  // max pool 3x3, stride 2, padding 1
  const int64_t widths[] = {64, 128, 256, 512};
  for (int i = 0; i < 4; ++i) {
    const int64_t in = widths[i > 0 ? i - 1 : 0], stride = i == 0 ? 1 : 2;
    int64_t shortcut = s;
    if (stride != 1 || in != widths[i]) conv(in, widths[i], 1, stride, shortcut);
    conv(in, widths[i], 3, stride, s);
    conv(widths[i], widths[i], 3, 1, s);
    conv(widths[i], widths[i], 3, 1, s);
    conv(widths[i], widths[i], 3, 1, s);
  }
  macs += 512.0 * 1000;
  return 2 * macs / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  int iters = 5;
  int64_t batch = 16, size = 224;
  std::string variants = "eager,compiled";  // e.g. only the compiled one under a profiler
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--threads") {
      while (i + 1 < argc && argv[i + 1][0] != '-') thread_counts.push_back(std::atoi(argv[++i]));
    } else if (arg == "--iters" && i + 1 < argc) {
      iters = std::atoi(argv[++i]);
    } else if (arg == "--batch" && i + 1 < argc) {
      batch = std::atoll(argv[++i]);
    } else if (arg == "--size" && i + 1 < argc) {
      size = std::atoll(argv[++i]);
    } else if (arg == "--variants" && i + 1 < argc) {
      variants = argv[++i];
    } else {
      std::fprintf(stderr, "usage: resnet_train [--threads 1 2] [--iters N] [--batch 16] [--size 224] "
                           "[--variants eager,compiled]\n");
      return 2;
    }
  }
  if (thread_counts.empty()) thread_counts = {tl::get_num_threads()};

  tl::manual_seed(0);
  ResNet18 model;
  tl::Tensor x = tl::randn({batch, 3, size, size});
  tl::Tensor y = tl::randint(0, 1000, {batch});
  tl::optim::SGD opt(model.parameters(), {.lr = 1e-3, .momentum = 0.9});
  auto step = [&](const tl::Tensor& images, const tl::Tensor& labels) {
    tl::Tensor loss = nn::cross_entropy(model(images), labels);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  };
  auto compiled = tl::compile([&](tl::Tensor images, tl::Tensor labels) { return step(images, labels); },
                              {.name = "resnet18_train"});
  // The backward pass counted as twice the forward (input and weight gradients).
  std::printf("tl resnet18 train gflop=%.4f\n", 3 * forward_gflop_per_image(size) * static_cast<double>(batch));
  for (int threads : thread_counts) {
    tl::set_num_threads(threads);
    std::printf("tl peak threads=%d fma_gflops=%.2f\n", threads, tl::tlc::fma_peak_gflops(threads));
    if (variants.find("eager") != std::string::npos) {
      const double s = tl::bench::median_seconds(iters, [&] { step(x, y); });
      std::printf("tl resnet18 train variant=eager threads=%d ms=%.4f iters=%d\n", threads, s * 1e3, iters);
      std::fflush(stdout);
    }
    if (variants.find("compiled") != std::string::npos) {
      compiled(x, y);  // the eager warm-up call; median_seconds' two warm-ups then trace and run compiled
      const double s = tl::bench::median_seconds(iters, [&] { compiled(x, y); });
      std::printf("tl resnet18 train variant=compiled threads=%d ms=%.4f iters=%d\n", threads, s * 1e3, iters);
      std::fflush(stdout);
    }
  }
  return 0;
}
