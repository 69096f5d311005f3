// Eager-mode benchmarks, run side by side with bench/torch_peer.py by bench/run.sh.
// Each workload prints one JSON line with the median over timed repetitions (after warm-up).
//
//   eager_bench --workload add|mlp_tiny|mlp_784|sgemm|cnn|<mlp_tiny|mlp_784|cnn>_compiled|compile_time
//               [--threads N] [--reps N] [--budget-s S]
//
// compile_time prints two lines, cold and warm disk cache (compile_time_warm), each measured
// in fresh processes (compile_time_once, one measurement in this process, prints seconds).
//
// --threads N calls tl::set_num_threads(N) before the workload; without it tl uses its default.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include "tl/nn.h"
#include "tl/optim.h"
#include "tl/tl.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median seconds per call of `body`. After `warmup` calls, one calibration call sizes the
// repetitions: each timed repetition runs enough calls to last about 0.2 s, and the number of
// repetitions (at most `reps`) keeps the whole measurement near `budget_s`. A call slower
// than half the budget is timed once. `reps_done` gets the number of timed repetitions.
double time_per_call(int warmup, int reps, double budget_s, const std::function<void()>& body,
                     int& reps_done) {
  auto seconds = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  auto t0 = Clock::now();
  body();
  double first = seconds(t0);
  if (first > budget_s / 2) {  // too slow to repeat within the budget: report this call
    reps_done = 1;
    return first;
  }
  for (int i = 1; i < warmup && seconds(t0) < budget_s / 4; ++i) body();
  t0 = Clock::now();
  body();
  double one = std::max(seconds(t0), 1e-9);
  int inner = std::max(1, static_cast<int>(0.2 / one));
  int max_reps = static_cast<int>(budget_s / (inner * one));
  reps = std::clamp(max_reps, 1, reps);
  if (reps == 1 && inner == 1) {  // too slow to repeat: report the faster of two calls
    reps_done = 1;
    return std::min(one, first);
  }
  std::vector<double> per_call;
  for (int r = 0; r < reps; ++r) {
    t0 = Clock::now();
    for (int i = 0; i < inner; ++i) body();
    per_call.push_back(seconds(t0) / inner);
  }
  reps_done = reps;
  return median(per_call);
}

void report(const char* workload, const char* metric, double value, int reps, const char* note) {
  std::printf(
      "{\"side\": \"tl\", \"workload\": \"%s\", \"metric\": \"%s\", \"median\": %.6g, "
      "\"reps\": %d, \"threads\": \"%d\", \"note\": \"%s\"}\n",
      workload, metric, value, reps, tl::get_num_threads(), note);
  std::fflush(stdout);
}

// (a) Per-op overhead: one add of two 8-element float32 tensors. A repetition is 10,000 adds.
void bench_add(int reps) {
  tl::NoGradGuard no_grad;
  auto a = tl::rand({8});
  auto b = tl::rand({8});
  constexpr int kAdds = 10000;
  tl::Tensor c;
  for (int i = 0; i < kAdds; ++i) c = tl::add(a, b);  // warm-up
  std::vector<double> per_add;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    for (int i = 0; i < kAdds; ++i) c = tl::add(a, b);
    per_add.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / kAdds);
  }
  report("add", "us_per_op", median(per_add) * 1e6, reps, "");
}

// Forward, cross-entropy, zero_grad, backward, optimizer step (as in torch_peer.py).
tl::Tensor train_step(tl::nn::Sequential& model, tl::optim::Optimizer& opt, const tl::Tensor& x,
                      const tl::Tensor& y) {
  tl::Tensor loss = tl::nn::cross_entropy(model(x), y);
  opt.zero_grad();
  loss.backward();
  opt.step();
  return loss;
}

// The same train step, eager or under tl::compile (the `_compiled` workloads).
struct Step {
  tl::nn::Sequential& model;
  tl::optim::Optimizer& opt;
  bool compiled;
  std::function<tl::Tensor(tl::Tensor, tl::Tensor)> fn;
  Step(tl::nn::Sequential& m, tl::optim::Optimizer& o, bool c) : model(m), opt(o), compiled(c) {
    if (compiled) {
      auto step = tl::compile([this](tl::Tensor x, tl::Tensor y) { return train_step(model, opt, x, y); });
      fn = [step](tl::Tensor x, tl::Tensor y) mutable { return step(x, y); };
    } else {
      fn = [this](tl::Tensor x, tl::Tensor y) { return train_step(model, opt, x, y); };
    }
  }
};

// Times the train step of `model` on (x, y), eager or compiled, and reports it as `workload`
// (with "_compiled" appended when compiled), scaled to `metric`'s unit (1e6: us, 1e3: ms).
void time_train_step(const std::string& workload, const char* metric, double scale, int warmup,
                     tl::nn::Sequential& model, tl::optim::Optimizer& opt, const tl::Tensor& x, const tl::Tensor& y,
                     int reps, double budget_s, bool compiled, const char* eager_note) {
  Step step(model, opt, compiled);
  int done = 0;
  double s = time_per_call(warmup, reps, budget_s, [&] { step.fn(x, y); }, done);
  const std::string name = compiled ? workload + "_compiled" : workload;
  report(name.c_str(), metric, s * scale, done, compiled ? "tl::compile" : eager_note);
}

// (b) 4-16-3 tanh MLP, batch 32, cross-entropy, Adam: one full train step.
void bench_mlp_tiny(int reps, double budget_s, bool compiled) {
  tl::manual_seed(0);
  tl::nn::Sequential model(tl::nn::Linear(4, 16), tl::nn::Tanh(), tl::nn::Linear(16, 3));
  tl::optim::Adam opt(model.parameters(), {.lr = 1e-3});
  auto x = tl::randn({32, 4});
  auto y = tl::randint(0, 3, {32});
  time_train_step("mlp_tiny", "us_per_step", 1e6, 50, model, opt, x, y, reps, budget_s, compiled,
                  "tl::nn + tl::optim::Adam");
}

// (c) 784-512-512-10 ReLU MLP, batch 128, cross-entropy, SGD momentum 0.9: one train step.
void bench_mlp_784(int reps, double budget_s, bool compiled) {
  tl::manual_seed(0);
  tl::nn::Sequential model(tl::nn::Linear(784, 512), tl::nn::ReLU(), tl::nn::Linear(512, 512),
                           tl::nn::ReLU(), tl::nn::Linear(512, 10));
  tl::optim::SGD opt(model.parameters(), {.lr = 1e-2, .momentum = 0.9});
  auto x = tl::randn({128, 784});
  auto y = tl::randint(0, 10, {128});
  time_train_step("mlp_784", "ms_per_step", 1e3, 5, model, opt, x, y, reps, budget_s, compiled,
                  "tl::nn + tl::optim::SGD");
}

// Small CNN on 1x28x28, batch 64: conv32-relu-pool-conv64-relu-pool-linear10, SGD momentum.
void bench_cnn(int reps, double budget_s, bool compiled) {
  tl::manual_seed(0);
  namespace nn = tl::nn;
  nn::Sequential model(nn::Conv2d(1, 32, 3, {.padding = 1}), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(32, 64, 3, {.padding = 1}), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                       nn::Linear(64 * 7 * 7, 10));
  tl::optim::SGD opt(model.parameters(), {.lr = 1e-2, .momentum = 0.9});
  auto x = tl::randn({64, 1, 28, 28});
  auto y = tl::randint(0, 10, {64});
  time_train_step("cnn", "ms_per_step", 1e3, 3, model, opt, x, y, reps, budget_s, compiled, "");
}

// Seconds from the call that traces the 784-512-512-10 step to its return (trace, IR
// pipeline, code generation or a disk cache hit, first run), in this process. Prints the
// number alone, for bench_compile_time.
void bench_compile_time_once() {
  tl::manual_seed(0);
  tl::nn::Sequential model(tl::nn::Linear(784, 512), tl::nn::ReLU(), tl::nn::Linear(512, 512),
                           tl::nn::ReLU(), tl::nn::Linear(512, 10));
  tl::optim::SGD opt(model.parameters(), {.lr = 1e-2, .momentum = 0.9});
  auto x = tl::randn({128, 784});
  auto y = tl::randint(0, 10, {128});
  auto step = tl::compile([&](tl::Tensor a, tl::Tensor b) { return train_step(model, opt, a, b); });
  step(x, y);  // warm-up call, eager
  auto t0 = Clock::now();
  step(x, y);  // traces and compiles
  double traced = std::chrono::duration<double>(Clock::now() - t0).count();
  t0 = Clock::now();
  step(x, y);  // first compiled call
  double first = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("%.6f\n", traced + first);
}

// The compile time of the step in fresh processes sharing a new TL_CACHE_DIR: cold (empty
// cache: the kernels are compiled and stored) then warm (a second process links them from the
// disk cache). Medians of 3 such pairs, each with its own empty folder.
void bench_compile_time() {
  char self[4096] = {};
  if (readlink("/proc/self/exe", self, sizeof self - 1) <= 0) {
    std::fprintf(stderr, "eager_bench: cannot find its own executable\n");
    std::exit(1);
  }
  const std::string command =
      "'" + std::string(self) + "' --workload compile_time_once --threads " + std::to_string(tl::get_num_threads());
  auto run_once = [&] {
    FILE* child = popen(command.c_str(), "r");
    double seconds = -1;
    if (child == nullptr || std::fscanf(child, "%lf", &seconds) != 1 || pclose(child) != 0 || seconds < 0) {
      std::fprintf(stderr, "eager_bench: '%s' failed\n", command.c_str());
      std::exit(1);
    }
    return seconds;
  };
  std::vector<double> cold, warm;
  for (int r = 0; r < 3; ++r) {
    std::string dir = (std::filesystem::temp_directory_path() / "tl_bench_cache.XXXXXX").string();
    if (mkdtemp(dir.data()) == nullptr) {
      std::fprintf(stderr, "eager_bench: cannot create a temporary cache folder\n");
      std::exit(1);
    }
    setenv("TL_CACHE_DIR", dir.c_str(), 1);
    cold.push_back(run_once());
    warm.push_back(run_once());
    std::filesystem::remove_all(dir);
  }
  report("compile_time", "s", median(cold), 3, "cold: trace + pipeline + codegen + first compiled call, empty disk cache");
  report("compile_time_warm", "s", median(warm), 3, "warm: the same in a second process, kernels from the disk cache");
}

// (d) float32 matmul 1024 x 1024 x 1024, out of place.
void bench_sgemm(int reps, double budget_s) {
  tl::NoGradGuard no_grad;
  constexpr int64_t M = 1024, N = 1024, K = 1024;
  auto a = tl::randn({M, K});
  auto b = tl::randn({K, N});
  tl::Tensor c;
  int done = 0;
  double s = time_per_call(3, reps, budget_s, [&] { c = tl::matmul(a, b); }, done);
  report("sgemm", "gflops", 2.0 * M * N * K / s / 1e9, done, "");
}

}  // namespace

int main(int argc, char** argv) {
  std::string workload;
  int reps = 15;
  double budget_s = 10;  // per workload, beyond warm-up
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--workload" && i + 1 < argc) workload = argv[++i];
    else if (arg == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--threads" && i + 1 < argc) tl::set_num_threads(std::atoi(argv[++i]));
    else if (arg == "--budget-s" && i + 1 < argc) budget_s = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "usage: eager_bench --workload add|mlp_tiny|mlp_784|sgemm|cnn|mlp_tiny_compiled|mlp_784_compiled|cnn_compiled|compile_time [--threads N] [--reps N] [--budget-s S]\n");
      return 2;
    }
  }
  if (workload == "add") bench_add(reps);
  else if (workload == "mlp_tiny") bench_mlp_tiny(reps, budget_s, false);
  else if (workload == "mlp_tiny_compiled") bench_mlp_tiny(reps, budget_s, true);
  else if (workload == "mlp_784") bench_mlp_784(reps, budget_s, false);
  else if (workload == "mlp_784_compiled") bench_mlp_784(reps, budget_s, true);
  else if (workload == "cnn") bench_cnn(reps, budget_s, false);
  else if (workload == "cnn_compiled") bench_cnn(reps, budget_s, true);
  else if (workload == "compile_time") bench_compile_time();
  else if (workload == "compile_time_once") bench_compile_time_once();
  else if (workload == "sgemm") bench_sgemm(reps, budget_s);
  else {
    std::fprintf(stderr, "eager_bench: unknown workload '%s'\n", workload.c_str());
    return 2;
  }
  return 0;
}
