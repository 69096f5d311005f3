// The CUDA device backend (runtime/device_backend.h): a caching allocator over the driver's
// memory, copies between host and device, and eager elementwise ops as kernels generated from
// the op table (cuda_source.h), compiled by NVRTC through the kernel cache and launched on
// the device. Registered the first time a CUDA device is asked for, when a driver and a device
// are present. Nothing here has run on a GPU yet (docs/cuda.md).
#pragma once

#include <span>

#include "runtime/ops/registry.h"

namespace tl::rt::cuda {

// What the caching allocator holds and has done (tl::cuda_device::MemoryStats without the
// driver's figures).
struct AllocatorStats {
  size_t in_use = 0, cached = 0, peak_in_use = 0;
  int64_t allocations = 0, cache_hits = 0, driver_allocations = 0, cache_releases = 0;
};
AllocatorStats allocator_stats();  // zeros before the backend registers
void reset_peak_in_use();
void release_cache();

// Registers the backend when a driver and a device are present; returns whether it is.
bool ensure_backend();

// Runs elementwise `op` on CUDA tensors `inputs` into `out` (allocated on the device, the
// broadcast shape): its kernel for the inputs' dtype and `attrs`, compiled on first use.
void run_elementwise(const ops::OpDef& op, std::span<const Tensor> inputs, Tensor& out, const ops::Attrs& attrs);

}  // namespace tl::rt::cuda
