// Devices behind one interface: an allocator, copies, synchronization. The CPU backend is
// always present; a CUDA backend registers itself when a driver is found at run time.
#pragma once

#include <cstddef>
#include <cstdint>

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
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual DeviceType type() const = 0;
  virtual Allocator& allocator(int index) = 0;
  // Copies `nbytes` between any two devices one of which is this backend's.
  virtual void copy(void* dst, Device dst_device, const void* src, Device src_device,
                    size_t nbytes) = 0;
  virtual void synchronize(int index) = 0;
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
