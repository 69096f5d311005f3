#include "runtime/cuda/cuda_backend.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>
#include <unordered_map>
#include <vector>

#include "runtime/cuda/cuda_source.h"
#include "runtime/cuda/driver.h"
#include "runtime/cuda/launch.h"
#include "runtime/device_backend.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

// Freed blocks are kept by stream and size class (multiples of 512 bytes up to 1 MiB, then of
// 2 MiB) and reused by work on the same stream only: work queued on another stream could
// still be using a block its last tensor freed. When the driver is out of memory, every
// stream's cached blocks are released (after waiting for the device, so none is in use) and
// the allocation tried once more.
class CachingAllocator : public Allocator {
 public:
  explicit CachingAllocator(const Driver& driver) : driver_(driver) {}

  static size_t size_class(size_t n) {
    const size_t step = n <= (size_t{1} << 20) ? 512 : (size_t{2} << 20);
    return std::max<size_t>(step, (n + step - 1) / step * step);
  }

  void* allocate(size_t nbytes) override {
    const size_t size = size_class(nbytes);
    void* stream = current_stream();
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    auto it = free_.find({stream, size});
    if (it != free_.end() && !it->second.empty()) {
      DevicePtr p = it->second.back();
      it->second.pop_back();
      stats_.cached -= size;
      ++stats_.cache_hits;
      note_in_use(p, size, stream);
      return reinterpret_cast<void*>(p);
    }
    DevicePtr p = 0;
    try {
      p = driver_.allocate(size);
    } catch (const DeviceError&) {
      release_cached();
      try {
        p = driver_.allocate(size);
      } catch (const DeviceError& e) {
        throw DeviceError(std::string(e.what()) + ": out of memory on cuda:0 allocating " + std::to_string(nbytes) +
                          " bytes; tl's allocator holds " + std::to_string(stats_.in_use) +
                          " bytes in use by tensors (its cache was released; tl::cuda_device::memory_stats() has more)");
      }
    }
    ++stats_.driver_allocations;
    note_in_use(p, size, stream);
    return reinterpret_cast<void*>(p);
  }

  void deallocate(void* ptr, size_t nbytes) override {
    if (ptr == nullptr) return;
    const size_t size = size_class(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    const auto p = reinterpret_cast<DevicePtr>(ptr);
    auto owner = stream_of_.find(p);
    void* stream = owner == stream_of_.end() ? nullptr : owner->second;
    if (owner != stream_of_.end()) stream_of_.erase(owner);
    free_[{stream, size}].push_back(p);
    stats_.in_use -= size;
    stats_.cached += size;
  }

  size_t cached_bytes() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_.cached;
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached();
  }

  AllocatorStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_in_use = stats_.in_use;
  }

 private:
  void note_in_use(DevicePtr p, size_t size, void* stream) {  // with mutex_ held
    stats_.in_use += size;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
    if (stream != nullptr) stream_of_[p] = stream;
  }
  void release_cached() {  // with mutex_ held
    if (free_.empty()) return;
    driver_.synchronize();  // a cached block may still be read by queued work
    for (auto& [key, blocks] : free_)
      for (DevicePtr p : blocks) driver_.free(p);
    free_.clear();
    stats_.cached = 0;
    ++stats_.cache_releases;
  }

  const Driver& driver_;
  mutable std::mutex mutex_;
  std::map<std::pair<void*, size_t>, std::vector<DevicePtr>> free_;  // by (stream, size class)
  std::unordered_map<DevicePtr, void*> stream_of_;  // live blocks not on the default stream
  AllocatorStats stats_;
};

class CudaBackend : public DeviceBackend {
 public:
  explicit CudaBackend(const Driver& driver) : driver_(driver), allocator_(driver) {}
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
  void synchronize(int) override { Driver::get()->synchronize(); }
  CachingAllocator& caching_allocator() { return allocator_; }

 private:
  const Driver& driver_;
  CachingAllocator allocator_;
};

}  // namespace

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
  std::string key = std::to_string(reinterpret_cast<uintptr_t>(&r)) + '/' + op.name + '/' + dtype_name(input_dtype) +
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
