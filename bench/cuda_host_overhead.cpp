// The host's share of running CUDA work, measurable without a GPU: tl's CUDA path (dispatch,
// shape rules, the allocator, kernel lookup, argument packing, compiled programs' executor and
// CUDA graph replay) against a device whose kernels are never run. The backend keeps tensors
// in host memory through the GPU's caching allocator; the runner counts launches and drops
// them. So each figure is what the host spends per op or per step before the driver's launch
// call, which a GPU adds (bench/cuda_bench.cpp measures the whole on a GPU).
//
//   bench_cuda_host_overhead
//
// Prints one JSON object per line.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/timing.h"
#include "runtime/cuda/caching_allocator.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/launch.h"
#include "runtime/device_backend.h"
#include "tl/tl.h"

using namespace tl;

namespace {

class DroppingRunner : public rt::cuda::KernelRunner {
 public:
  void* function(const std::string&, const std::string&, const std::string&) override { return this; }
  void launch(void*, const rt::cuda::LaunchShape&, rt::cuda::KernelArgs&) override {
    if (!capturing_) ++launches;
  }
  bool on_device() const override { return false; }
  class Replay : public Graph {
   public:
    explicit Replay(DroppingRunner& r) : runner_(r) {}
    void launch(void*) override { ++runner_.launches; }

   private:
    DroppingRunner& runner_;
  };
  void begin_capture(void*) override { capturing_ = true; }
  std::unique_ptr<Graph> end_capture(void*) override {
    capturing_ = false;
    return std::make_unique<Replay>(*this);
  }
  void abort_capture(void*) override { capturing_ = false; }
  int64_t launches = 0;

 private:
  bool capturing_ = false;
};

class HostBlocks : public rt::cuda::BlockSource {
 public:
  rt::cuda::DevicePtr allocate(size_t bytes) override {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (p == nullptr) throw DeviceError("out of host memory");
    std::memset(p, 0, bytes);  // index checks' verdicts read as "no bad index" (never written)
    return reinterpret_cast<rt::cuda::DevicePtr>(p);
  }
  void free(rt::cuda::DevicePtr p) override { std::free(reinterpret_cast<void*>(p)); }
  void synchronize() override {}
};

class HostOnlyCuda : public rt::DeviceBackend {
 public:
  DeviceType type() const override { return DeviceType::kCUDA; }
  rt::Allocator& allocator(int) override { return memory_; }
  void copy(void* dst, Device, const void* src, Device, size_t n) override { std::memcpy(dst, src, n); }
  void synchronize(int) override {}
  std::unique_ptr<rt::CapturedWork> capture(int, const std::function<void()>& work) override {
    static int stream;
    return rt::cuda::capture_work(memory_, &stream, [] {}, work);
  }

 private:
  HostBlocks blocks_;
  rt::cuda::CachingAllocator memory_{blocks_};
};

void emit(const char* name, double us, int64_t launches) {
  std::printf("{\"workload\": \"%s\", \"host_us\": %.2f, \"launches\": %lld}\n", name, us,
              static_cast<long long>(launches));
  std::fflush(stdout);
}

}  // namespace

int main() {
  if (rt::cuda::Driver::get() != nullptr) {
    std::printf("{\"skipped\": \"a GPU is present: bench_cuda measures it\"}\n");
    return 0;
  }
  static DroppingRunner runner;
  rt::cuda::install_op_kernels();
  rt::cuda::set_runner(&runner);
  rt::register_backend(new HostOnlyCuda());

  Tensor small = ones({16}).to(kCUDA);
  const int ops = 1000;
  int64_t before = runner.launches;
  const double add_s = bench::median_seconds(21, [&] {
    Tensor y = small;
    for (int i = 0; i < ops; ++i) y = add(y, small);
  });
  emit("eager_add_per_op", add_s / ops * 1e6, (runner.launches - before) / (23 * ops));

  // The MLP of bench/cuda_bench.cpp (784-512-512-10, batch 128, SGD with momentum), with a
  // squared-error loss against one-hot targets.
  nn::Sequential mlp(nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 512), nn::ReLU(), nn::Linear(512, 10));
  mlp.to(kCUDA);
  optim::SGD opt(mlp.parameters(), {.lr = 0.01, .momentum = 0.9});
  Tensor images = zeros({128, 784}).to(kCUDA);
  Tensor targets = zeros({128, 10}).to(kCUDA);
  auto step = [&](const Tensor& x, const Tensor& y) {
    Tensor loss = nn::mse_loss(mlp(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  };
  auto measure = [&](const char* name, const std::function<void()>& body) {
    for (int i = 0; i < 4; ++i) body();  // eager, trace, node by node, capture
    const int64_t start = runner.launches;
    const double s = bench::median_seconds(51, body);
    emit(name, s * 1e6, (runner.launches - start) / 53);
  };
  measure("mlp_step_eager", [&] { step(images, targets); });
  for (const bool graphs : {false, true}) {
    auto compiled = compile([&](Tensor x, Tensor y) { return step(x, y); }, {.cuda_graphs = graphs});
    measure(graphs ? "mlp_step_compiled_graph" : "mlp_step_compiled_node_by_node", [&] { compiled(images, targets); });
  }
  return 0;
}
