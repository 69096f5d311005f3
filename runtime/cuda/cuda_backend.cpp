#include "runtime/cuda/cuda_backend.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>
#include <unordered_map>
#include <vector>

#include "runtime/cuda/caching_allocator.h"
#include "runtime/cuda/cuda_source.h"
#include "runtime/cuda/driver.h"
#include "runtime/cuda/launch.h"
#include "runtime/cuda/pinned_allocator.h"
#include "runtime/device_backend.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

// The driver as the caching allocator's source of device memory.
class DriverBlocks : public BlockSource {
 public:
  explicit DriverBlocks(const Driver& driver) : driver_(driver) {}
  DevicePtr allocate(size_t bytes) override { return driver_.allocate(bytes); }
  void free(DevicePtr p) override { driver_.free(p); }
  void synchronize() override { driver_.synchronize(); }

 private:
  const Driver& driver_;
};

class CudaBackend : public DeviceBackend {
 public:
  explicit CudaBackend(const Driver& driver) : driver_(driver), blocks_(driver), allocator_(blocks_) {}
  DeviceType type() const override { return DeviceType::kCUDA; }
  Allocator& allocator(int index) override {
    if (index != 0) throw DeviceError("tl: cuda:" + std::to_string(index) + " is not available (tl uses cuda:0 only)");
    return allocator_;
  }
  // Copies are synchronous: the host may read or reuse its memory when they return.
  void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) override {
    const Driver& d = *Driver::get();  // makes the context current on this thread
    const bool to_device = dst_device.type == DeviceType::kCUDA, from_device = src_device.type == DeviceType::kCUDA;
    if (to_device && from_device) {
      d.copy_on_device(reinterpret_cast<DevicePtr>(dst), reinterpret_cast<DevicePtr>(src), nbytes);
      d.synchronize();
    } else if (to_device) {
      d.copy_to_device(reinterpret_cast<DevicePtr>(dst), src, nbytes);
    } else {
      d.copy_to_host(dst, reinterpret_cast<DevicePtr>(src), nbytes);
    }
  }
  Allocator* pinned_allocator() override { return &pinned_; }
  // From or to pinned memory: queued on the current stream (the pinned allocator keeps the
  // block until the copy is done). Anything else: synchronous.
  void copy_async(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) override {
    const bool to_device = dst_device.type == DeviceType::kCUDA;
    if (to_device != (src_device.type == DeviceType::kCUDA)) {
      const Driver& d = *Driver::get();  // makes the context current on this thread
      auto queue = [&](void* stream) {
        if (to_device) d.copy_to_device_async(reinterpret_cast<DevicePtr>(dst), src, nbytes, stream);
        else d.copy_to_host_async(dst, reinterpret_cast<DevicePtr>(src), nbytes, stream);
      };
      if (pinned_.queue_copy(to_device ? src : dst, nbytes, queue)) return;
    }
    copy(dst, dst_device, src, src_device, nbytes);
  }
  void synchronize(int) override { Driver::get()->synchronize(); }
  std::unique_ptr<CapturedWork> capture(int, const std::function<void()>& work) override {
    {
      std::lock_guard<std::mutex> lock(capture_mutex_);
      // Kept for the process. Non-blocking: a data loader's worker copying on the default
      // stream while a step is captured would otherwise invalidate the capture (and fail).
      if (capture_stream_ == nullptr) capture_stream_ = Driver::get()->create_stream(/*non_blocking=*/true);
    }
    return capture_work(allocator_, capture_stream_, [] { Driver::get()->synchronize(); }, work);
  }
  CachingAllocator& caching_allocator() { return allocator_; }

 private:
  const Driver& driver_;
  DriverBlocks blocks_;
  CachingAllocator allocator_;
  std::unique_ptr<PinnedSource> pinned_source_ = driver_pinned_source();
  PinnedAllocator pinned_{*pinned_source_};
  std::mutex capture_mutex_;
  void* capture_stream_ = nullptr;  // graphs are recorded on a stream of their own
};

}  // namespace

namespace {
class CapturedKernels : public CapturedWork {
 public:
  CapturedKernels(CachingAllocator& allocator, std::function<void()> synchronize)
      : allocator_(allocator), synchronize_(std::move(synchronize)) {}
  ~CapturedKernels() override {
    if (pool_ != 0) allocator_.release_pool(pool_);  // waits for the device first
    graph_.reset();
  }
  void replay() override {
    void* stream = current_stream();
    // The graph's memory is one set of buffers: a replay on another stream than the last one
    // must not overlap it.
    if (replayed_ && stream != last_stream_) synchronize_();
    graph_->launch(stream);
    replayed_ = true;
    last_stream_ = stream;
    if (!checks_.empty()) checks_.run();
  }

  CachingAllocator& allocator_;
  std::function<void()> synchronize_;
  uint64_t pool_ = 0;
  std::unique_ptr<KernelRunner::Graph> graph_;
  DeferredChecks checks_;
  bool replayed_ = false;
  void* last_stream_ = nullptr;
};
}  // namespace

std::unique_ptr<CapturedWork> capture_work(CachingAllocator& allocator, void* stream, std::function<void()> synchronize,
                                           const std::function<void()>& work) {
  auto captured = std::make_unique<CapturedKernels>(allocator, std::move(synchronize));
  KernelRunner& r = runner();
  void* const caller_stream = current_stream();
  captured->pool_ = allocator.begin_pool(stream);
  set_current_stream(stream);
  set_capturing_checks(&captured->checks_);
  auto restore = [&] {
    set_capturing_checks(nullptr);
    set_current_stream(caller_stream);
    allocator.end_pool(stream);
  };
  bool began = false;
  try {
    r.begin_capture(stream);
    began = true;
    work();
    captured->graph_ = r.end_capture(stream);
  } catch (...) {
    if (began && !captured->graph_) r.abort_capture(stream);
    restore();
    throw;  // `captured` releases its pool
  }
  restore();
  return captured;
}

static CudaBackend* the_backend = nullptr;

bool ensure_backend() {
  static const bool registered = [] {
    const Driver* driver = Driver::get();
    if (driver == nullptr) return false;
    install_op_kernels();
    the_backend = new CudaBackend(*driver);  // lives for the process
    register_backend(the_backend);
    return true;
  }();
  return registered;
}

AllocatorStats allocator_stats() {
  return ensure_backend() ? the_backend->caching_allocator().stats() : AllocatorStats{};
}

void reset_peak_in_use() {
  if (ensure_backend()) the_backend->caching_allocator().reset_peak();
}

void release_cache() {
  if (ensure_backend()) the_backend->caching_allocator().empty_cache();
}

void run_elementwise(const ops::OpDef& op, std::span<const Tensor> inputs, Tensor& out, const ops::Attrs& attrs) {
  KernelRunner& r = runner();
  const int64_t rank = out.dim();
  if (rank > kMaxKernelRank) throw ShapeError("tl::" + op.name + ": CUDA kernels index at most 8 dims");
  const DType input_dtype = inputs[op.arity == 3 ? 1 : 0].dtype();
  // A 0-d host tensor (a C++ scalar) is passed by value with the launch: no copy to the device.
  unsigned by_value = 0;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].dim() == 0 && inputs[i].device().type == DeviceType::kCPU) by_value |= 1u << i;
  // The loaded kernel by (runner, op, dtype, scalars, attributes): looked up without writing
  // the source, which costs more than the launch itself.
  std::string key = std::to_string(r.id()) + '/' + op.name + '/' + dtype_name(input_dtype) +
                    '/' + std::to_string(by_value);
  for (const ops::AttrSpec& spec : op.attrs) {
    const ops::AttrValue v = ops::get_attr(attrs, spec.field);
    key += '/';
    if (const double* d = std::get_if<double>(&v)) key.append(reinterpret_cast<const char*>(d), sizeof *d);
    else if (const int64_t* i = std::get_if<int64_t>(&v)) key += std::to_string(*i);
    else if (const bool* b = std::get_if<bool>(&v)) key += *b ? '1' : '0';
    else if (const DType* t = std::get_if<DType>(&v)) key += dtype_name(*t);
    else key += std::get<Shape>(v).str();
    if (spec.present != ops::AttrField::kNone) key += std::get<bool>(ops::get_attr(attrs, spec.present)) ? '+' : '-';
  }
  static std::mutex mutex;
  static auto* by_key = new std::unordered_map<std::string, void*>();
  void* function = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto hit = by_key->find(key);
    if (hit != by_key->end()) {
      function = hit->second;
    } else {
      // Named by op and dtype: the host runner and NVRTC's logs show which kernel it is.
      const std::string entry = "tl_" + op.name + "_" + dtype_name(input_dtype) + "_s" + std::to_string(by_value);
      std::optional<std::string> body = elementwise_kernel(op, input_dtype, attrs, entry, by_value);
      if (!body) throw DeviceError("tl::" + op.name + ": no CUDA kernel for " + dtype_name(input_dtype));
      function = r.function(kernel_preamble_for(input_dtype) + *body, entry, "tl_" + op.name);
      (*by_key)[key] = function;
    }
  }
  // The kernel's parameters: inputs (pointers, or scalars by value), out, the shape, the
  // inputs' strides (right-aligned to the result, 0 where broadcast), the result's, n.
  KernelArgs args;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!(by_value & (1u << i))) {
      args.add(t);
      continue;
    }
    switch (t.dtype()) {
      case kFloat32: args.add(*t.data<float>()); break;
      case kFloat64: args.add(*t.data<double>()); break;
      case kFloat16: args.add(*t.data<Half>()); break;
      case kBFloat16: args.add(*t.data<BFloat16>()); break;
      case kInt32: args.add(*t.data<int32_t>()); break;
      case kInt64: args.add(static_cast<long long>(*t.data<int64_t>())); break;
      case kBool: args.add(*t.data<bool>()); break;
    }
  }
  args.add(out).add(kernel_shape(out.shape()));
  for (const Tensor& t : inputs) args.add(kernel_strides(t, rank));
  args.add(kernel_strides(out, rank));
  const int64_t n = out.numel();
  args.add<long long>(n);
  if (n > 0) r.launch(function, launch_1d(n), args);
}

}  // namespace tl::rt::cuda
