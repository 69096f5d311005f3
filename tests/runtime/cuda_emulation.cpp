#include "tests/runtime/cuda_emulation.h"

#include <cstdlib>
#include <cstring>

#include "runtime/cuda/driver.h"
#include "runtime/cuda/launch.h"
#include "runtime/device_backend.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tl/error.h"

namespace tl::test {

namespace {

class HostMemory : public rt::Allocator {
 public:
  void* allocate(size_t nbytes) override {
    void* p = std::aligned_alloc(64, (nbytes + 63) / 64 * 64 + 64);
    if (p == nullptr) throw DeviceError("tl test: the emulated CUDA device is out of host memory");
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
  size_t cached_bytes() const override { return 0; }
  void empty_cache() override {}
};

class EmulatedCuda : public rt::DeviceBackend {
 public:
  DeviceType type() const override { return DeviceType::kCUDA; }
  rt::Allocator& allocator(int index) override {
    if (index != 0) throw DeviceError("tl: cuda:" + std::to_string(index) + " is not available (emulated cuda:0 only)");
    return memory_;
  }
  void copy(void* dst, Device, const void* src, Device, size_t nbytes) override {
    if (nbytes > 0) std::memcpy(dst, src, nbytes);
  }
  void synchronize(int) override {}

 private:
  HostMemory memory_;
};

HostKernelRunner* the_runner = nullptr;

}  // namespace

const HostKernelRunner* emulated_runner() { return the_runner; }

bool emulate_cuda_device() {
  static const bool emulated = [] {
    if (rt::cuda::Driver::get() != nullptr) return false;  // a real GPU: use it
    rt::cuda::install_op_kernels();
    the_runner = new HostKernelRunner();  // lives for the process
    rt::cuda::set_runner(the_runner);
    rt::register_backend(new EmulatedCuda());
    return true;
  }();
  return emulated;
}

}  // namespace tl::test
