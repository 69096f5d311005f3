// Inference from compiled artifacts (tl::export_program -> tl::load_program -> Program::run),
// side by side with bench/artifact_peer.py (PyTorch eager and TorchScript frozen on the same
// models). Also measures this machine's fp32 FMA peak in the same run, so the MLP's matmul
// rate can be stated as a fraction of it.
//
//   artifact_bench --threads N [--budget-s S]
//
// Prints one line per figure: "artifact <model> batch=<B> threads=<N> <metric>=<value>".
#include <immintrin.h>
#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "bench/timing.h"
#include "tl/tl.h"

using namespace tl;

namespace {

// fp32 FMA peak of one core: 12 independent 8-wide FMA chains (enough to cover the FMA
// latency on two ports), in GFLOP/s, over all `threads` cores.
double fma_peak_gflops(int threads) {
  const int64_t iters = 20'000'000;
  double best = 0;
  for (int trial = 0; trial < 3; ++trial) {
    auto t0 = std::chrono::steady_clock::now();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
      __m256 acc[12];
      for (auto& a : acc) a = _mm256_set1_ps(0.0f);
      const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
      for (int64_t i = 0; i < iters; ++i) {
        for (auto& a : acc) a = _mm256_fmadd_ps(a, m, c);
      }
      __m256 s = acc[0];
      for (int k = 1; k < 12; ++k) s = _mm256_add_ps(s, acc[k]);
      float lanes[8];
      _mm256_storeu_ps(lanes, s);
      for (float v : lanes) sink += v;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (sink == 12345.0f) std::puts("");  // keep the loop
    best = std::max(best, 2.0 * 8 * 12 * static_cast<double>(iters) * threads / secs / 1e9);
  }
  return best;
}

std::shared_ptr<nn::Module> mlp() {
  return std::make_shared<nn::Sequential>(nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 512), nn::ReLU(),
                                          nn::Linear(512, 10));
}

std::shared_ptr<nn::Module> cnn() {
  return std::make_shared<nn::Sequential>(nn::Conv2d(1, 32, 3, {.padding = 1}), nn::ReLU(), nn::MaxPool2d(2),
                                          nn::Conv2d(32, 64, 3, {.padding = 1}), nn::ReLU(), nn::MaxPool2d(2),
                                          nn::Flatten(), nn::Linear(64 * 7 * 7, 10));
}

// Median seconds per run of `p` at `x`, repeated for about `budget_s`.
double time_program(const Program& p, const Tensor& x, double budget_s) {
  Tensor y = zeros(p.outputs()[0].shape);
  const Tensor in[] = {x};
  Tensor out[] = {y};
  auto t0 = std::chrono::steady_clock::now();
  p.run(in, out);
  double once = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int reps = static_cast<int>(std::clamp(budget_s / std::max(once, 1e-6), 20.0, 20000.0));
  return bench::median_seconds(reps, [&] { p.run(in, out); });
}

void bench_model(const std::string& name, const std::shared_ptr<nn::Module>& model, const Shape& item, int threads,
                 double budget_s) {
  model->eval();
  for (int64_t batch : {int64_t{1}, int64_t{64}}) {
    Shape shape = item;
    shape.insert(0, batch);
    Tensor x = randn(shape);
    auto file = std::filesystem::temp_directory_path() /
                ("tl_artifact_bench_" + std::to_string(::getpid()) + "_" + name + std::to_string(batch) + ".tlart");
    export_program([&](const Tensor& in) { return model->forward(in); }, x, file.string());
    Program p = load_program(file.string());
    double s = time_program(p, x, budget_s);
    std::printf("artifact %s batch=%lld threads=%d ms=%.4f items_per_s=%.1f\n", name.c_str(),
                static_cast<long long>(batch), threads, s * 1e3, static_cast<double>(batch) / s);
    if (name == "mlp" && batch == 64) {
      const double flops = 2.0 * 64 * (784.0 * 512 + 512.0 * 512 + 512.0 * 10);
      std::printf("artifact mlp batch=64 threads=%d program_gflops=%.2f\n", threads, flops / s / 1e9);
      // The three matmuls alone, as the program runs them (eager matmul kernels, same shapes).
      Tensor a = randn({64, 784}), w1 = randn({784, 512}), h = randn({64, 512}), w2 = randn({512, 512}),
             w3 = randn({512, 10});
      double m = bench::median_seconds(200, [&] {
        NoGradGuard g;
        (void)matmul(a, w1);
        (void)matmul(h, w2);
        (void)matmul(h, w3);
      });
      std::printf("artifact mlp batch=64 threads=%d matmul_gflops=%.2f\n", threads, flops / m / 1e9);
    }
    std::filesystem::remove(file);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  double budget_s = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--budget-s")) budget_s = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: artifact_bench --threads N [--budget-s S]\n");
      return 1;
    }
  }
  set_num_threads(threads);
  manual_seed(0);
  std::printf("artifact peak threads=%d fma_gflops=%.2f\n", threads, fma_peak_gflops(threads));
  bench_model("mlp", mlp(), Shape{784}, threads, budget_s);
  bench_model("cnn", cnn(), Shape{1, 28, 28}, threads, budget_s);
  return 0;
}
