// GPU workloads of docs/benchmarks.md ("CUDA"), side by side with bench/cuda_peer.py
// (PyTorch on the same GPU): device-to-device copy bandwidth, a gelu(x * a + b) chain on
// 8192 x 8192 float32, the eager per-op overhead (a tiny add, queued back to back), and an
// MLP 784-512-512-10 SGD-momentum training step at batch 128 (eager, and compiled with and
// without its CUDA graph), and resnet18 inference at batch 32 (eager, and as an exported
// artifact loaded onto CUDA). Each figure is the median of
// repeated runs, the GPU synchronized around each. Prints one JSON object per line;
// bench/cuda_report.py puts them beside the peer's. Without a GPU it says so and exits 0.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "examples/resnet18.h"
#include "tl/tl.h"

using namespace tl;

namespace {

double gpu_median(int reps, const std::function<void()>& body) {
  return bench::median_seconds(reps, [&] {
    body();
    cuda_device::synchronize();
  });
}

void emit(const char* name, double seconds, const std::string& extra = "") {
  std::printf("{\"side\": \"tl\", \"workload\": \"%s\", \"ms\": %.5f%s}\n", name, seconds * 1e3, extra.c_str());
  std::fflush(stdout);
}

}  // namespace

int main() {
  if (!cuda_device::is_available()) {
    std::printf("{\"side\": \"tl\", \"skipped\": \"no CUDA device\"}\n");
    return 0;
  }
  std::printf("{\"side\": \"tl\", \"device\": \"%s\", \"arch\": \"%s\"}\n", cuda_device::name().c_str(),
              cuda_device::arch().c_str());
  manual_seed(0);
  const int64_t n = 8192;
  Tensor x = randn({n, n}).to(kCUDA);
  const double bytes = static_cast<double>(x.nbytes());

  // Copy: a contiguous copy kernel reads and writes every byte once.
  const double copy_s = gpu_median(20, [&] { (void)x.clone(); });
  emit("copy_8192x8192_f32", copy_s, ", \"tb_per_s\": " + std::to_string(2 * bytes / copy_s / 1e12));

  // gelu(x * a + b): eager, three kernels, each reading and writing the whole tensor.
  Tensor a = full({n}, 0.5).to(kCUDA), b = full({n}, 0.25).to(kCUDA);
  const double gelu_s = gpu_median(20, [&] { (void)gelu(add(mul(x, a), b)); });
  emit("gelu_chain_eager", gelu_s, ", \"tb_per_s_min_traffic\": " + std::to_string(2 * bytes / gelu_s / 1e12));
  // The same chain compiled: one fused kernel (and, on CUDA, one graph launch per call).
  auto gelu_compiled = compile([&](Tensor t) { return gelu(add(mul(t, a), b)); });
  for (int i = 0; i < 4; ++i) (void)gelu_compiled(x);  // eager, trace, warm-up, capture
  const double gelu_c = gpu_median(20, [&] { (void)gelu_compiled(x); });
  emit("gelu_chain_compiled", gelu_c, ", \"tb_per_s_min_traffic\": " + std::to_string(2 * bytes / gelu_c / 1e12));

  // Per-op overhead: many tiny adds queued back to back, then one wait.
  Tensor small = ones({16}).to(kCUDA);
  const int ops_per_rep = 1000;
  const double launch_s = gpu_median(5, [&] {
    Tensor y = small;
    for (int i = 0; i < ops_per_rep; ++i) y = add(y, small);
  });
  emit("eager_op_overhead", launch_s / ops_per_rep);

  // MLP training step, eager.
  nn::Sequential mlp(nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 512), nn::ReLU(), nn::Linear(512, 10));
  mlp.to(kCUDA);
  optim::SGD opt(mlp.parameters(), {.lr = 0.01, .momentum = 0.9});
  Tensor images = randn({128, 784}).to(kCUDA);
  Tensor labels = randint(0, 10, {128}).to(kCUDA);
  const double step_s = gpu_median(50, [&] {
    Tensor loss = nn::cross_entropy(mlp(images), labels);
    opt.zero_grad();
    loss.backward();
    opt.step();
  });
  emit("mlp_train_step_eager", step_s);
  // Compiled: the whole step (forward, autodiff's backward, the optimizer) as one program,
  // replayed as one CUDA graph; and the same program launched node by node.
  for (const bool graphs : {true, false}) {
    auto step = compile(
        [&](Tensor xb, Tensor yb) {
          Tensor loss = nn::cross_entropy(mlp(xb), yb);
          opt.zero_grad();
          loss.backward();
          opt.step();
          return loss;
        },
        {.cuda_graphs = graphs});
    for (int i = 0; i < 4; ++i) (void)step(images, labels);
    const double s = gpu_median(50, [&] { (void)step(images, labels); });
    emit(graphs ? "mlp_train_step_compiled" : "mlp_train_step_compiled_no_graph", s,
         ", \"graph_calls\": " + std::to_string(step.stats().graph_calls));
  }
  // resnet18 inference at batch 32: eager on CUDA, and exported to an artifact (what tlc
  // compiles) loaded onto CUDA, each fused group a CUDA kernel.
  try {
    NoGradGuard no_grad;
    resnet::ResNet18 net;
    net.eval();
    const Tensor images_cpu = randn({32, 3, 224, 224});
    const auto file = std::filesystem::temp_directory_path() / ("tl_cuda_bench_" + std::to_string(::getpid()) + ".tlart");
    export_program([&](const Tensor& in) { return net.forward(in); }, images_cpu, file.string());
    net.to(kCUDA);
    const Tensor images32 = images_cpu.to(kCUDA);
    for (int i = 0; i < 3; ++i) (void)net.forward(images32);
    emit("resnet18_b32_eager", gpu_median(20, [&] { (void)net.forward(images32); }));
    Program program = load_program(file.string(), {.device = kCUDA});
    std::vector<Tensor> outputs(1);
    const std::vector<Tensor> inputs{images32};
    for (int i = 0; i < 3; ++i) program.run(inputs, outputs);
    emit("resnet18_b32_artifact", gpu_median(20, [&] { program.run(inputs, outputs); }));
    std::filesystem::remove(file);
  } catch (const Error& e) {
    std::string why = e.what();
    for (char& c : why)
      if (c == '"' || c == '\\' || c == '\n') c = ' ';  // stays one JSON string
    std::printf("{\"side\": \"tl\", \"error\": \"resnet18: %s\"}\n", why.c_str());
  }
  const cuda_device::MemoryStats m = cuda_device::memory_stats();
  std::printf("{\"side\": \"tl\", \"peak_in_use_mib\": %.1f, \"cache_hits\": %lld, \"driver_allocations\": %lld}\n",
              static_cast<double>(m.peak_in_use_bytes) / (1 << 20), static_cast<long long>(m.cache_hits),
              static_cast<long long>(m.driver_allocations));
  return 0;
}
