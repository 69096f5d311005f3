// tl's side of bench/train_models.sh: one TransformerEncoderLayer(256, 4, dim_feedforward 1024,
// dropout 0, post-norm, batch_first) on x (8, 128, 256) float32, eager and under tl::compile:
//   forward  eval mode, no autograd: y = layer(x)
//   train    mse_loss(layer(x), target), zero_grad, backward, Adam step
// The peer is bench/transformer_train_peer.py. Also measures the fp32 FMA peak per thread count.
//
//   transformer_train [--threads 1 2] [--iters N] [--phases forward,train] [--variants eager,compiled]
//
// Prints one line per figure, as bench/train_models.sh reads them:
//   tl transformer <phase> variant=<eager|compiled> threads=<T> ms=<median> iters=<N>
//   tl transformer <phase> gflop=<matmul GFLOP per call>
//   tl peak threads=<T> fma_gflops=<G>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "tl/tl.h"
#include "tools/tlc/machine_peak.h"

namespace {

constexpr int64_t B = 8, T = 128, E = 256, H = 4, F = 1024;

// Multiply-adds x 2 of the layer's matrix products: in-projection, scores, weights x values,
// out-projection and the two feed-forward layers. Training counts the backward pass as twice
// the forward (the input and the weight gradient of each product).
double forward_gflop() {
  const double tokens = B * T;
  const double projections = 2 * tokens * E * (3 * E) + 2 * tokens * E * E + 2 * (2 * tokens * E * F);
  const double attention = 2 * (2.0 * B * T * T * E);  // q k^T and p v over all heads
  return (projections + attention) / 1e9;
}

void report(const char* phase, const char* variant, int threads, double seconds, int iters) {
  std::printf("tl transformer %s variant=%s threads=%d ms=%.4f iters=%d\n", phase, variant, threads, seconds * 1e3,
              iters);
  std::fflush(stdout);
}

// Which variants to time (--variants), e.g. only the compiled ones under a profiler.
std::string variants = "eager,compiled";
bool wanted(const char* variant) { return variants.find(variant) != std::string::npos; }

void bench_forward(tl::nn::TransformerEncoderLayer& layer, const tl::Tensor& x, int threads, int iters) {
  tl::NoGradGuard no_grad;
  layer.eval();
  if (wanted("eager")) report("forward", "eager", threads, tl::bench::median_seconds(iters, [&] { layer(x); }), iters);
  if (wanted("compiled")) {
    auto forward = tl::compile([&](tl::Tensor in) { return layer(in); }, {.name = "transformer_forward"});
    forward(x);  // the eager warm-up call; median_seconds' two warm-ups then trace and run compiled
    report("forward", "compiled", threads, tl::bench::median_seconds(iters, [&] { forward(x); }), iters);
  }
  layer.train();
}

void bench_train(tl::nn::TransformerEncoderLayer& layer, const tl::Tensor& x, const tl::Tensor& target, int threads,
                 int iters) {
  tl::optim::Adam opt(layer.parameters(), {.lr = 1e-4});
  auto step = [&](const tl::Tensor& in, const tl::Tensor& want) {
    tl::Tensor loss = tl::nn::mse_loss(layer(in), want);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  };
  if (wanted("eager")) {
    report("train", "eager", threads, tl::bench::median_seconds(iters, [&] { step(x, target); }), iters);
  }
  if (!wanted("compiled")) return;
  auto compiled = tl::compile([&](tl::Tensor in, tl::Tensor want) { return step(in, want); },
                              {.name = "transformer_train"});
  compiled(x, target);
  report("train", "compiled", threads, tl::bench::median_seconds(iters, [&] { compiled(x, target); }), iters);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  int iters = 20;
  std::string phases = "forward,train";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--threads") {
      while (i + 1 < argc && argv[i + 1][0] != '-') thread_counts.push_back(std::atoi(argv[++i]));
    } else if (arg == "--iters" && i + 1 < argc) {
      iters = std::atoi(argv[++i]);
    } else if (arg == "--phases" && i + 1 < argc) {
      phases = argv[++i];
    } else if (arg == "--variants" && i + 1 < argc) {
      variants = argv[++i];
    } else {
      std::fprintf(stderr, "usage: transformer_train [--threads 1 2] [--iters N] [--phases forward,train] "
                           "[--variants eager,compiled]\n");
      return 2;
    }
  }
  if (thread_counts.empty()) thread_counts = {tl::get_num_threads()};

  tl::manual_seed(0);
  tl::nn::TransformerEncoderLayer layer(E, H, {.dim_feedforward = F, .dropout = 0.0});
  tl::Tensor x = tl::randn({B, T, E});
  tl::Tensor target = tl::randn({B, T, E});
  std::printf("tl transformer forward gflop=%.4f\n", forward_gflop());
  std::printf("tl transformer train gflop=%.4f\n", 3 * forward_gflop());
  for (int threads : thread_counts) {
    tl::set_num_threads(threads);
    std::printf("tl peak threads=%d fma_gflops=%.2f\n", threads, tl::tlc::fma_peak_gflops(threads));
    if (phases.find("forward") != std::string::npos) bench_forward(layer, x, threads, iters);
    if (phases.find("train") != std::string::npos) bench_train(layer, x, target, threads, iters);
  }
  return 0;
}
