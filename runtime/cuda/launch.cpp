#include "runtime/cuda/launch.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "runtime/base/sha256.h"
#include "runtime/cuda/kernel_cache.h"
#include "tl/error.h"

namespace tl::rt::cuda {

KernelShape kernel_shape(const Shape& shape) {
  if (shape.size() > kMaxKernelRank)
    throw ShapeError("tl: CUDA kernels index at most " + std::to_string(kMaxKernelRank) + " dims; got " +
                     shape.str());
  KernelShape s;
  s.rank = static_cast<int>(shape.size());
  for (int64_t d = 0; d < shape.size(); ++d) s.size[d] = shape[d];
  return s;
}

KernelStrides kernel_strides(const Tensor& t, int64_t rank) {
  KernelStrides s;
  const int64_t pad = rank - t.dim();
  for (int64_t d = 0; d < rank && d < kMaxKernelRank; ++d)
    s.stride[d] = d < pad || t.shape()[d - pad] == 1 ? 0 : t.strides()[d - pad];
  return s;
}

LaunchShape launch_1d(int64_t n, unsigned threads) {
  LaunchShape shape;
  shape.block.x = threads;
  const int64_t blocks = (std::max<int64_t>(n, 1) + threads - 1) / threads;
  shape.grid.x = static_cast<unsigned>(std::min<int64_t>(blocks, 65535));
  return shape;
}

namespace {

// The GPU's runner: NVRTC through the kernel cache for the device's architecture, one module
// per distinct source, kept for the process.
class DeviceRunner : public KernelRunner {
 public:
  explicit DeviceRunner(const Driver& driver) : driver_(driver), arch_(driver.arch()) {}

  void* function(const std::string& source, const std::string& entry, const std::string& label) override {
    const std::string key = to_hex(sha256(source.data(), source.size())) + "/" + entry;
    std::lock_guard<std::mutex> lock(mutex_);
    Loaded& k = loaded_[key];
    if (k.function == nullptr) {
      CompiledKernel image = compile_cached(source, label, arch_);
      k.module = driver_.load_module(*image.binary);
      k.function = k.module->function(entry);
    }
    return k.function;
  }

  void launch(void* function, const LaunchShape& shape, KernelArgs& args) override {
    const Driver& d = *Driver::get();  // the context current on this thread
    const unsigned grid[3] = {shape.grid.x, shape.grid.y, shape.grid.z};
    const unsigned block[3] = {shape.block.x, shape.block.y, shape.block.z};
    d.launch(function, grid, block, 0, current_stream(), args.pointers());
  }

  bool on_device() const override { return true; }

 private:
  struct Loaded {
    std::unique_ptr<Driver::Module> module;
    void* function = nullptr;
  };
  const Driver& driver_;
  const std::string arch_;
  std::mutex mutex_;
  std::unordered_map<std::string, Loaded> loaded_;
};

std::atomic<KernelRunner*> installed_runner{nullptr};
thread_local void* thread_stream = nullptr;

}  // namespace

KernelRunner& runner() {
  if (KernelRunner* r = installed_runner.load()) return *r;
  std::string why;
  const Driver* driver = Driver::get(&why);
  if (driver == nullptr) throw DeviceError("tl: no CUDA kernel can run: " + why);
  static DeviceRunner* device = new DeviceRunner(*driver);  // lives for the process
  return *device;
}

void* current_stream() { return thread_stream; }
void set_current_stream(void* stream) { thread_stream = stream; }

void set_runner(KernelRunner* r) { installed_runner.store(r); }

void launch_kernel(const std::string& source, DType dtype, const std::string& entry, const LaunchShape& shape,
                   KernelArgs& args) {
  KernelRunner& r = runner();
  void* f = r.function(kernel_preamble_for(dtype) + source, entry, entry);
  if (shape.grid.x == 0 || shape.grid.y == 0 || shape.grid.z == 0) return;
  r.launch(f, shape, args);
}

// ---- registration ----

namespace {

std::vector<std::pair<const char*, KernelSourceLister>>& families() {
  static auto* f = new std::vector<std::pair<const char*, KernelSourceLister>>();
  return *f;
}

std::vector<std::pair<const char*, ops::KernelFn>>& cuda_kernels() {
  static auto* k = new std::vector<std::pair<const char*, ops::KernelFn>>();
  return *k;
}

}  // namespace

KernelSourceFamily::KernelSourceFamily(const char* family, KernelSourceLister list) {
  families().emplace_back(family, list);
}

std::vector<KernelSource> all_op_kernel_sources() {
  std::vector<KernelSource> all;
  for (const auto& [family, list] : families())
    for (KernelSource& k : list()) all.push_back(std::move(k));
  return all;
}

CudaKernel::CudaKernel(const char* op, ops::KernelFn fn) { cuda_kernels().emplace_back(op, fn); }

void install_op_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const auto& [name, fn] : cuda_kernels()) {
      ops::KernelFn kernel = fn;
      ops::extend_op(name, [kernel](ops::OpDef& def) { def.kernels[static_cast<int>(DeviceType::kCUDA)] = kernel; });
    }
  });
}

std::vector<std::string> ops_with_cuda_kernels() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : cuda_kernels()) names.emplace_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace tl::rt::cuda
