// An emulated CUDA device for tests on machines without a GPU: CUDA tensors live in host
// memory, copies are memcpy, and every kernel (elementwise, op, fused) runs its CUDA C through
// the host runner (cuda_host_runner.h). Only the driver is replaced: dispatch to kCUDA, the
// op kernels' launches, the compiled-program path on CUDA, the allocator-facing code and the
// frontend's device handling all run as they would on a GPU. What it cannot show: the
// device's memory model, timing, CUDA's math library, and the library paths (cuBLASLt).
#pragma once

#include <string>

#include "runtime/cuda/caching_allocator.h"

namespace tl::test {

// Registers the emulated device as the CUDA backend for the rest of the process (once), and
// installs the host runner and the op kernels. Refused (returns false) where a real GPU is
// present: tests then use it.
bool emulate_cuda_device();

// The emulated device's allocator (the GPU's caching allocator over host memory).
rt::cuda::AllocatorStats emulated_allocator_stats();

class HostKernelRunner;
// The emulated device's runner (its launch count), or null when it is not emulated.
const HostKernelRunner* emulated_runner();

// The GPU architecture the emulated device claims (sm_90 until set; empty: none), for which a
// compiled program's load chooses and decompresses prebuilt images (the runner records them,
// and still runs each kernel's source).
void set_emulated_device_arch(const std::string& arch);

// While held, the emulated device's asynchronous copies count as still in flight: an event
// recorded behind one (as the pinned allocator records) is not done until the hold is released
// or the event is waited for. A test sees the pinned allocator's reuse rule end to end.
void hold_emulated_copies(bool hold);

}  // namespace tl::test
