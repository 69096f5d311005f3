// Compiled CUDA kernels by their source: NVRTC compiles a source once per process (kept in
// memory) and once per machine (kept in the disk cache, runtime/base/disk_cache.h, under
// cache_root/cuda), keyed by the source, the target architecture, NVRTC's version and this
// build of tl. Eager CUDA kernels and compiled programs' fused groups both come through here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace tl::rt::cuda {

struct CompiledKernel {
  std::shared_ptr<const std::string> binary;  // the cubin (sm_XX) or PTX (compute_XX)
  bool from_memory = false;                   // compiled or loaded earlier in this process
  bool from_disk = false;                     // read from the disk cache
  double seconds = 0;                         // what getting it took
};

struct KernelCacheStats {
  int64_t compiled = 0;
  int64_t disk_hits = 0;
  int64_t memory_hits = 0;
};

// `source` compiled for `arch` ("sm_90", "compute_80"). Throws DeviceError when NVRTC is not
// available, and CompileError with NVRTC's log when the source does not compile, naming `name`.
CompiledKernel compile_cached(const std::string& source, const std::string& name, const std::string& arch);

KernelCacheStats kernel_cache_stats();
// Forgets the kernels kept in memory (the next call reads the disk cache, as a new process
// would). For tests and benchmarks.
void clear_kernel_memory_cache();

}  // namespace tl::rt::cuda
