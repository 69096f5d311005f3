#include "tests/runtime/cuda_emulation.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/driver.h"
#include "runtime/cuda/launch.h"
#include "runtime/cuda/pinned_allocator.h"
#include "runtime/device_backend.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tl/error.h"

namespace tl::test {

namespace {

// Host memory as the caching allocator's blocks: the emulated device runs the GPU's allocator.
class HostBlocks : public rt::cuda::BlockSource {
 public:
  rt::cuda::DevicePtr allocate(size_t bytes) override {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (p == nullptr) throw DeviceError("tl test: the emulated CUDA device is out of host memory");
    return reinterpret_cast<rt::cuda::DevicePtr>(p);
  }
  void free(rt::cuda::DevicePtr p) override { std::free(reinterpret_cast<void*>(p)); }
  void synchronize() override {}
};

// Pinned memory is host memory here, and a copy a memcpy that has finished when queued: an
// event recorded behind it is done at once, unless a test holds copies in flight
// (hold_emulated_copies), when it is done after the release or once waited for.
std::atomic<uint64_t> releases{0};
std::atomic<bool> holding{false};

class HostPinned : public rt::cuda::PinnedSource {
 public:
  void* allocate(size_t bytes) override {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (p == nullptr) throw DeviceError("tl test: the emulated CUDA device is out of pinned host memory");
    return p;
  }
  void free(void* p) override { std::free(p); }
  struct Event {
    std::atomic<uint64_t> done_after{0};  // done once `releases` reaches this
  };
  void* create_event() override { return new Event(); }
  void destroy_event(void* event) override { delete static_cast<Event*>(event); }
  void record_event(void* event, void*) override {
    static_cast<Event*>(event)->done_after = holding ? releases + 1 : 0;
  }
  bool event_done(void* event) override { return static_cast<Event*>(event)->done_after <= releases; }
  void synchronize_event(void* event) override { static_cast<Event*>(event)->done_after = 0; }
};

HostKernelRunner* the_runner = nullptr;

class EmulatedCuda : public rt::DeviceBackend {
 public:
  DeviceType type() const override { return DeviceType::kCUDA; }
  rt::Allocator& allocator(int index) override {
    if (index != 0) throw DeviceError("tl: cuda:" + std::to_string(index) + " is not available (emulated cuda:0 only)");
    return memory_;
  }
  // As on a GPU, a capture fails when its work copies through the host or waits for the device.
  void copy(void* dst, Device, const void* src, Device, size_t nbytes) override {
    refuse_while_capturing("a copy through the host");
    if (nbytes > 0) std::memcpy(dst, src, nbytes);
  }
  rt::Allocator* pinned_allocator() override { return &pinned_; }
  void copy_async(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) override {
    const bool to_device = dst_device.type == DeviceType::kCUDA;
    if (to_device != (src_device.type == DeviceType::kCUDA) &&
        pinned_.queue_copy(to_device ? src : dst, nbytes, [&](void*) { std::memcpy(dst, src, nbytes); }))
      return;
    copy(dst, dst_device, src, src_device, nbytes);
  }
  void synchronize(int) override { refuse_while_capturing("a synchronization"); }
  std::unique_ptr<rt::CapturedWork> capture(int, const std::function<void()>& work) override {
    static int stream;  // the capture's stream: a handle only the allocator and the runner see
    return rt::cuda::capture_work(memory_, &stream, [] {}, work);
  }

 private:
  static void refuse_while_capturing(const char* what) {
    if (the_runner != nullptr && the_runner->capturing())
      throw DeviceError(std::string("tl: ") + what + " during CUDA stream capture (the capture is invalidated)");
  }
  HostBlocks blocks_;
  rt::cuda::CachingAllocator memory_{blocks_};
  HostPinned pinned_source_;
  rt::cuda::PinnedAllocator pinned_{pinned_source_};

 public:
  rt::cuda::AllocatorStats stats() const { return memory_.stats(); }
};
EmulatedCuda* the_device = nullptr;

}  // namespace

const HostKernelRunner* emulated_runner() { return the_runner; }

void set_emulated_device_arch(const std::string& arch) {
  if (the_runner != nullptr) the_runner->set_device_arch(arch);
}

rt::cuda::AllocatorStats emulated_allocator_stats() {
  return the_device != nullptr ? the_device->stats() : rt::cuda::AllocatorStats{};
}

void hold_emulated_copies(bool hold) {
  if (!hold && holding) ++releases;
  holding = hold;
}

bool emulate_cuda_device() {
  static const bool emulated = [] {
    if (rt::cuda::Driver::get() != nullptr) return false;  // a real GPU: use it
    rt::cuda::install_op_kernels();
    the_runner = new HostKernelRunner();  // lives for the process
    rt::cuda::set_runner(the_runner);
    the_device = new EmulatedCuda();  // lives for the process
    rt::register_backend(the_device);
    return true;
  }();
  return emulated;
}

}  // namespace tl::test
