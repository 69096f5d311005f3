// The CUDA device backend (runtime/device_backend.h): a caching allocator over the driver's
// memory, copies between host and device, and eager elementwise ops as kernels generated from
// the op table (cuda_source.h), compiled by NVRTC through the kernel cache and launched on
// the device. Registered the first time a CUDA device is asked for, when a driver and a device
// are present. Nothing here has run on a GPU yet (docs/cuda.md).
#pragma once

#include <span>

#include "runtime/cuda/caching_allocator.h"
#include "runtime/ops/registry.h"

namespace tl::rt::cuda {

AllocatorStats allocator_stats();  // zeros before the backend registers
void reset_peak_in_use();
void release_cache();

// DeviceBackend::capture for a CUDA device whose memory comes from `allocator`: `work` runs
// on `stream` (where its allocations come from a private pool of the graph) while the runner
// records it. Replays run the index checks the capture deferred (reading their verdicts back).
// `synchronize` waits for the device. Shared by the GPU's backend and the emulated device.
std::unique_ptr<CapturedWork> capture_work(CachingAllocator& allocator, void* stream, std::function<void()> synchronize,
                                           const std::function<void()>& work);

// Registers the backend when a driver and a device are present; returns whether it is.
bool ensure_backend();

// Runs elementwise `op` on CUDA tensors `inputs` into `out` (allocated on the device, the
// broadcast shape): its kernel for the inputs' dtype and `attrs`, compiled on first use.
void run_elementwise(const ops::OpDef& op, std::span<const Tensor> inputs, Tensor& out, const ops::Attrs& attrs);

}  // namespace tl::rt::cuda
