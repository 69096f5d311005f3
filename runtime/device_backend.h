// Devices behind one interface: an allocator, copies, synchronization. The CPU backend is
// always present; a CUDA backend registers itself when a driver is found at run time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "tl/device.h"

namespace tl::rt {

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns memory for `nbytes` (64-byte aligned), or throws tl::Error naming the bytes.
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual size_t cached_bytes() const = 0;
  virtual void empty_cache() = 0;
  // Page-locked host memory, which a device copies asynchronously (Tensor::is_pinned).
  virtual bool is_pinned() const { return false; }
};

// Work recorded once and replayed (a CUDA graph): replay() queues it again on the calling
// thread's current stream, on the same memory.
class CapturedWork {
 public:
  virtual ~CapturedWork() = default;
  virtual void replay() = 0;
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual DeviceType type() const = 0;
  virtual Allocator& allocator(int index) = 0;
  // Copies `nbytes` between any two devices one of which is this backend's.
  virtual void copy(void* dst, Device dst_device, const void* src, Device src_device,
                    size_t nbytes) = 0;
  // Host memory this device copies asynchronously; null when it has none.
  virtual Allocator* pinned_allocator() { return nullptr; }
  // As copy(), but when the host side lies in this backend's pinned memory the copy is queued
  // on the calling thread's current stream and this returns at once: the host memory must not
  // be written (nor, for a copy to the host, read) until the stream reaches the copy. Any
  // other copy is synchronous.
  virtual void copy_async(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
    copy(dst, dst_device, src, src_device, nbytes);
  }
  virtual void synchronize(int index) = 0;
  // Records what `work` queues on device `index` (kernels, and the memory it allocates, which
  // stays reserved for the replays) instead of running it. Null where the device cannot
  // capture (the CPU). Throws DeviceError when the capture fails: `work` did something a
  // graph cannot hold, such as waiting for the device or copying from the host.
  virtual std::unique_ptr<CapturedWork> capture(int index, const std::function<void()>& work) {
    (void)index, (void)work;
    return nullptr;
  }
};

// Test hook: the `call`-th CPU allocation from now (1-based) fails as if the system were out
// of memory; 0 disables injection. allocation_calls() counts CPU allocations since the last
// allocation_fail_at (or process start), so a test can fail each allocation of a workload in
// turn (RELIABILITY.md H1).
void allocation_fail_at(uint64_t call);
uint64_t allocation_calls();

void register_backend(DeviceBackend* backend);
// The backend for `device`; throws DeviceError naming `op` when it is not available.
DeviceBackend& backend_for(Device device, const char* op);
bool has_backend(DeviceType type);

}  // namespace tl::rt
