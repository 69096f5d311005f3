// Runs tl's CUDA op kernels on the host, for tests without a GPU: the runner finds a kernel's
// host build (cuda_host_dump.cpp compiled every source of rt::cuda::all_op_kernel_sources();
// a source made at run time, such as a compiled program's fused group, is compiled with the
// host compiler when first launched) and launches it with one host thread per CUDA thread, block after block, on host memory.
// With HostCudaKernels in scope, every op that has a CUDA kernel runs it on CPU tensors in
// place of its CPU kernel: the op's whole CUDA path (parameters, grid, scratch tensors, the
// kernel's text) runs through ops::call, and the op samples compare it with the CPU kernel.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "runtime/cuda/launch.h"
#include "tl/tensor.h"

namespace tl::test {

class HostKernelRunner : public rt::cuda::KernelRunner {
 public:
  void* function(const std::string& source, const std::string& entry, const std::string& label) override;
  void launch(void* function, const rt::cuda::LaunchShape& shape, rt::cuda::KernelArgs& args) override;
  bool on_device() const override { return false; }
  int64_t launches() const { return launches_; }
  int64_t jit_compiles() const { return jit_compiles_; }

  // The architecture this runner claims, for which a compiled program's load chooses (and
  // decompresses) prebuilt images: sm_90 unless set. It still runs each kernel's source.
  std::string device_arch() const override;
  void set_device_arch(std::string arch);
  // Records the images it is given, then uses the source.
  void* function_from_images(const std::string& source, const std::string& entry, const std::string& label,
                             std::span<const rt::cuda::KernelImage> images) override;
  struct GivenImage {
    std::string arch, bytes;
  };
  std::vector<GivenImage> given_images() const;  // every image given so far, in order

  // Capture records the capturing thread's launches (launches of other threads run, as on a
  // GPU where they go to other streams); a graph replays them with their recorded arguments.
  void begin_capture(void* stream) override;
  std::unique_ptr<Graph> end_capture(void* stream) override;
  void abort_capture(void* stream) override;
  bool capturing() const;  // on the calling thread
  int64_t captures() const { return captures_; }
  int64_t graph_launches() const { return graph_launches_; }

 private:
  struct Recorded {
    void* function;
    rt::cuda::LaunchShape shape;
    rt::cuda::KernelArgs args;
  };
  class HostGraph;
  void run(void* function, const rt::cuda::LaunchShape& shape, rt::cuda::KernelArgs& args);
  std::thread::id capturing_thread_;
  bool capturing_ = false;
  std::vector<Recorded> recording_;
  int64_t captures_ = 0, graph_launches_ = 0;

  // Compiles a source the host build does not hold with the host's C++ compiler (the shim
  // included) into a loaded library; cached by source in the temp folder.
  void* jit_compile(const std::string& source, const std::string& entry);
  int64_t launches_ = 0;
  int64_t jit_compiles_ = 0;

  mutable std::mutex images_mutex_;
  std::string device_arch_ = "sm_90";
  std::vector<GivenImage> given_images_;
};

// While alive: the host runner is installed and each op with a CUDA kernel runs it as its CPU
// kernel. Not reentrant; one at a time.
class HostCudaKernels {
 public:
  HostCudaKernels();
  ~HostCudaKernels();
  HostCudaKernels(const HostCudaKernels&) = delete;
  HostCudaKernels& operator=(const HostCudaKernels&) = delete;
  const HostKernelRunner& runner() const { return runner_; }

 private:
  HostKernelRunner runner_;
  std::vector<std::pair<std::string, ops::KernelFn>> saved_;  // each op's CPU kernel
};

}  // namespace tl::test
