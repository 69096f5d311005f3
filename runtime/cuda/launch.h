// What every CUDA op kernel needs on the host side: its parameters in cuLaunchKernel's
// convention, a launch shape, and a runner that compiles, loads and launches it. Op kernels
// (runtime/cuda/ops/*.cpp) are written once against this: on a GPU the runner is the driver's;
// in tests without a GPU, a runner that executes the same CUDA C compiled for the host
// (tests/support/cuda_host_runner.h), on host memory, with one host thread per CUDA thread.
// So an op's whole CUDA path (its source, its parameters, its grid) is exercised by CI.
//
// Kernel sources of op kernels depend only on what they enumerate (dtype, a variant), never on
// run-time values: sizes, strides and attributes are parameters. all_op_kernel_sources() lists
// every one, so NVRTC's test compiles each and the host build can contain each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/cuda/cuda_source.h"
#include "runtime/cuda/driver.h"
#include "runtime/cuda/kernel_image.h"
#include "runtime/ops/registry.h"

namespace tl::rt::cuda {

// As kernel_preamble() declares TlShape and TlStrides.
struct KernelShape {
  int rank = 0;
  long long size[kMaxKernelRank] = {};
};
struct KernelStrides {
  long long stride[kMaxKernelRank] = {};
};
KernelShape kernel_shape(const Shape& shape);  // throws ShapeError past kMaxKernelRank dims
// `t`'s strides right-aligned to a result of `rank` dims, 0 along dims it broadcasts
// (missing, or of size 1).
KernelStrides kernel_strides(const Tensor& t, int64_t rank);

// A tensor's data as a kernel parameter.
inline DevicePtr device_ptr(const Tensor& t) { return reinterpret_cast<DevicePtr>(t.data_ptr()); }

// A kernel's parameters, in order: add(v) keeps a copy of v and hands the launch a pointer to
// it, as cuLaunchKernel's kernelParams expect.
class KernelArgs {
 public:
  template <class T>
  KernelArgs& add(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::string& slot = storage_.emplace_back(sizeof(T) + alignof(std::max_align_t), '\0');
    void* p = align(slot.data());
    std::memcpy(p, &value, sizeof(T));
    pointers_.push_back(p);
    return *this;
  }
  KernelArgs& add(const Tensor& t) { return add(device_ptr(t)); }
  std::vector<void*>& pointers() { return pointers_; }

  KernelArgs() = default;
  // A copy points at its own values (a recorded launch outlives the caller's arguments).
  KernelArgs(const KernelArgs& other) {
    for (size_t i = 0; i < other.pointers_.size(); ++i) {
      const size_t bytes = other.storage_[i].size() - alignof(std::max_align_t);
      void* p = align(storage_.emplace_back(other.storage_[i].size(), '\0').data());
      std::memcpy(p, other.pointers_[i], bytes);
      pointers_.push_back(p);
    }
  }
  KernelArgs& operator=(const KernelArgs&) = delete;

 private:
  static void* align(char* p) {
    const auto v = reinterpret_cast<uintptr_t>(p);
    const uintptr_t a = alignof(std::max_align_t);
    return reinterpret_cast<void*>((v + a - 1) / a * a);
  }
  std::deque<std::string> storage_;  // stable addresses
  std::vector<void*> pointers_;
};

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
struct LaunchShape {
  Dim3 grid, block;
};
// A 1-D launch covering n elements with `threads` per block (a grid-stride kernel covers the
// rest when n needs more than the grid's limit of blocks).
LaunchShape launch_1d(int64_t n, unsigned threads = 256);

// Where op kernels run.
class KernelRunner {
 public:
  KernelRunner();
  virtual ~KernelRunner() = default;
  // Unique in the process (a runner made where another was destroyed gets a new one): what
  // loaded functions are cached under.
  uint64_t id() const { return id_; }
  // `entry` of `source` (complete: preamble included), compiled and loaded once; `label` names
  // it in compile errors.
  virtual void* function(const std::string& source, const std::string& entry, const std::string& label) = 0;
  virtual void launch(void* function, const LaunchShape& shape, KernelArgs& args) = 0;
  // True for the GPU (cuBLAS and the like may be used); false for the host runner of tests.
  virtual bool on_device() const = 0;
  // The architecture prebuilt images are chosen for (choose_image): the GPU's ("sm_90"). Empty:
  // none is chosen, and each source is compiled.
  virtual std::string device_arch() const { return {}; }
  // As function(), loading `source` from the one of `images` (prebuilt from it) that this
  // runner's device runs (choose_image) when there is one: no NVRTC. Every later function()
  // call for an entry of `source` finds it loaded. A runner without a device (the host runner
  // of tests) uses the source.
  virtual void* function_from_images(const std::string& source, const std::string& entry, const std::string& label,
                                     std::span<const KernelImage> images) {
    (void)images;
    return function(source, entry, label);
  }

  // Stream capture (CUDA graphs). Between begin_capture and end_capture, work queued on
  // `stream` is recorded instead of run; end_capture returns it as a graph that replays it
  // with the same parameters (the same memory: the caller keeps it alive). Capture fails
  // (end_capture throws DeviceError) if anything waits for the device while it lasts.
  class Graph {
   public:
    virtual ~Graph() = default;
    virtual void launch(void* stream) = 0;
  };
  virtual void begin_capture(void* stream) = 0;
  virtual std::unique_ptr<Graph> end_capture(void* stream) = 0;
  // Ends a capture that is being abandoned (an exception), discarding what it recorded.
  virtual void abort_capture(void* stream) = 0;

 private:
  uint64_t id_;
};

// Host reads that stream capture postpones: a kernel whose verdict the host must read (an
// index check) registers the verdict's buffer here while the calling thread captures, and the
// graph's owner calls run() after each replay has finished (reading back, throwing on a bad
// verdict). Null when the thread is not capturing: verdicts are read at once.
class DeferredChecks {
 public:
  using Check = std::function<void(const std::vector<int64_t>& verdict)>;
  void add(Tensor verdict, Check check) { checks_.push_back({std::move(verdict), std::move(check)}); }
  bool empty() const { return checks_.empty(); }
  // Reads every verdict back (waiting for the device) and runs its check.
  void run() const;

 private:
  struct Entry {
    Tensor verdict;  // int64, on the device; kept alive with the graph that writes it
    Check check;
  };
  std::vector<Entry> checks_;
};
DeferredChecks* capturing_checks();
void set_capturing_checks(DeferredChecks* checks);

// The calling thread's current stream (the driver's CUstream; null: the default stream), where
// kernels and the allocator's blocks go. tl::cuda_device::StreamGuard sets it.
void* current_stream();
void set_current_stream(void* stream);

// The runner op kernels use: the GPU's, unless a test installed another. Throws DeviceError
// (with the reason) when there is no GPU and no other runner.
KernelRunner& runner();
// Installs `r` for the process (null: the GPU's again). For tests.
void set_runner(KernelRunner* r);

// The loaded function `entry` of the current runner. `entry` names one source in the program
// (op kernel entries are unique across families; fused kernels are named by their source's
// digest), so after the first call the function is found by (runner, entry) alone: the
// source is neither written nor hashed again, which would cost more than the launch.
// `source` (complete, its preamble included) is called on the first use only.
void* cached_function(const std::string& entry, const std::function<std::string()>& source, const std::string& label);

// Compiles (once) and launches `entry` of the source `source()` returns, which lacks its
// preamble: the preamble for `dtype` (kernel_preamble_for) is prepended.
void launch_kernel(const std::string& entry, DType dtype, const std::function<std::string()>& source,
                   const LaunchShape& shape, KernelArgs& args);

// ---- registration ----

// Every op kernel source of one family (reductions, indexing, ...), for the NVRTC test and the
// host build: a family registers its lister at static initialization.
using KernelSourceLister = std::vector<KernelSource> (*)();
struct KernelSourceFamily {
  KernelSourceFamily(const char* family, KernelSourceLister list);
};
std::vector<KernelSource> all_op_kernel_sources();

// `fn` becomes op `op`'s CUDA kernel (OpDef::kernels[kCUDA]) when install_op_kernels() runs.
struct CudaKernel {
  CudaKernel(const char* op, ops::KernelFn fn);
};
// Registers the Philox kernels as CUDA's random draws (runtime/ops/factory/random.h).
void register_random_draws();
// Installs every registered CUDA kernel into the op table (once; thread-safe), and the random
// draws. The CUDA
// backend calls it when it registers; tests call it to run kernels on the host runner.
void install_op_kernels();
// The ops that have a registered CUDA kernel (elementwise ops run generated kernels instead).
std::vector<std::string> ops_with_cuda_kernels();

}  // namespace tl::rt::cuda
