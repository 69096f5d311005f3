#include "runtime/cuda/launch.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "runtime/base/sha256.h"
#include "runtime/cuda/kernel_cache.h"
#include "runtime/device_backend.h"
#include "runtime/logging.h"
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

// The GPU's runner: NVRTC through the kernel cache for the device's architecture (or an
// artifact's prebuilt image), one module per distinct source, kept for the process.
class DeviceRunner : public KernelRunner {
 public:
  explicit DeviceRunner(const Driver& driver) : driver_(driver), arch_(driver.arch()) {}

  void* function(const std::string& source, const std::string& entry, const std::string& label) override {
    return function_from_images(source, entry, label, {});
  }

  void* function_from_images(const std::string& source, const std::string& entry, const std::string& label,
                             std::span<const KernelImage> images) override {
    const std::string digest = to_hex(sha256(source.data(), source.size()));
    std::lock_guard<std::mutex> lock(mutex_);
    Loaded& k = loaded_[digest];
    if (k.module == nullptr) k.module = load(source, label, images);
    void*& function = k.functions[entry];
    if (function == nullptr) function = k.module->function(entry);
    return function;
  }

  void launch(void* function, const LaunchShape& shape, KernelArgs& args) override {
    const Driver& d = *Driver::get();  // the context current on this thread
    const unsigned grid[3] = {shape.grid.x, shape.grid.y, shape.grid.z};
    const unsigned block[3] = {shape.block.x, shape.block.y, shape.block.z};
    d.launch(function, grid, block, 0, current_stream(), args.pointers());
  }

  bool on_device() const override { return true; }
  std::string device_arch() const override { return arch_; }

  class DeviceGraph : public Graph {
   public:
    DeviceGraph(const Driver& driver, void* exec, void* graph) : driver_(driver), exec_(exec), graph_(graph) {}
    ~DeviceGraph() override { driver_.destroy_graph(exec_, graph_); }
    void launch(void* stream) override { driver_.launch_graph(exec_, stream); }

   private:
    const Driver& driver_;
    void* exec_;
    void* graph_;
  };
  void begin_capture(void* stream) override { Driver::get()->begin_capture(stream); }
  std::unique_ptr<Graph> end_capture(void* stream) override {
    void* graph = nullptr;
    void* exec = Driver::get()->end_capture(stream, &graph);
    return std::make_unique<DeviceGraph>(driver_, exec, graph);
  }
  void abort_capture(void* stream) override {
    void* graph = nullptr;
    try {
      driver_.destroy_graph(Driver::get()->end_capture(stream, &graph), graph);
    } catch (const DeviceError&) {
      // The capture was already invalidated: nothing was instantiated.
    }
  }

 private:
  // `source` as a module: from the image of `images` this GPU runs, else compiled by NVRTC (also
  // when the driver refuses that image, as one older than the PTX it holds does).
  std::unique_ptr<Driver::Module> load(const std::string& source, const std::string& label,
                                       std::span<const KernelImage> images) {
    std::vector<std::string> archs;
    for (const KernelImage& image : images) archs.push_back(image.arch);
    if (const int chosen = choose_image(archs, arch_); chosen >= 0) {
      try {
        return driver_.load_module(std::string(images[chosen].bytes));
      } catch (const DeviceError& e) {
        logger("tl.cuda")->warn("{}: the driver does not load its prebuilt {} code ({}); compiling its source for {}",
                                label, images[chosen].arch, e.what(), arch_);
      }
    }
    return driver_.load_module(*compile_cached(source, label, arch_).binary);
  }

  struct Loaded {
    std::unique_ptr<Driver::Module> module;
    std::unordered_map<std::string, void*> functions;  // by entry
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

thread_local DeferredChecks* thread_checks = nullptr;

DeferredChecks* capturing_checks() { return thread_checks; }
void set_capturing_checks(DeferredChecks* checks) { thread_checks = checks; }

void DeferredChecks::run() const {
  for (const Entry& e : checks_) {
    std::vector<int64_t> host(static_cast<size_t>(e.verdict.numel()));
    backend_for(e.verdict.device(), "a deferred check")
        .copy(host.data(), kCPU, e.verdict.data_ptr(), e.verdict.device(), e.verdict.nbytes());
    e.check(host);
  }
}

void* current_stream() { return thread_stream; }
void set_current_stream(void* stream) { thread_stream = stream; }

void set_runner(KernelRunner* r) { installed_runner.store(r); }

namespace {
std::atomic<uint64_t> next_runner_id{1};

struct LoadedFunctions {
  std::mutex mutex;
  std::unordered_map<uint64_t, std::unordered_map<std::string, void*>> by_runner;
};
LoadedFunctions& loaded_functions() {
  static auto* loaded = new LoadedFunctions();  // lives for the process, as loaded modules do
  return *loaded;
}
}  // namespace

KernelRunner::KernelRunner() : id_(next_runner_id++) {}

void* cached_function(const std::string& entry, const std::function<std::string()>& source, const std::string& label) {
  KernelRunner& r = runner();
  LoadedFunctions& loaded = loaded_functions();
  {
    std::lock_guard<std::mutex> lock(loaded.mutex);
    auto& functions = loaded.by_runner[r.id()];
    if (auto hit = functions.find(entry); hit != functions.end()) return hit->second;
  }
  // Compiled outside the lock: NVRTC takes long, and the runner serializes its own loading.
  void* f = r.function(source(), entry, label);
  std::lock_guard<std::mutex> lock(loaded.mutex);
  loaded.by_runner[r.id()].emplace(entry, f);
  return f;
}

void launch_kernel(const std::string& entry, DType dtype, const std::function<std::string()>& source,
                   const LaunchShape& shape, KernelArgs& args) {
  void* f = cached_function(entry, [&] { return kernel_preamble_for(dtype) + source(); }, entry);
  if (shape.grid.x == 0 || shape.grid.y == 0 || shape.grid.z == 0) return;
  runner().launch(f, shape, args);
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
    register_random_draws();
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
