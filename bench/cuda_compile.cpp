// NVRTC compile times of tl's CUDA kernels (no GPU needed): each elementwise op's float32
// kernel compiled cold for sm_90, then read from the disk cache by a fresh memory cache, then
// found in memory. Targets (issue of the CUDA backend): a cold compile <= 100 ms per kernel, a
// cache hit <= 1 ms. Prints medians over the kernels.
//
//   build/bench/bench_cuda_compile [--kernels N]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/cuda/cuda_source.h"
#include "runtime/cuda/kernel_cache.h"
#include "runtime/cuda/nvrtc.h"

namespace fs = std::filesystem;
using namespace tl;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  size_t limit = 40;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--kernels") limit = std::strtoul(argv[i + 1], nullptr, 10);
  std::string why;
  const rt::cuda::Nvrtc* nvrtc = rt::cuda::Nvrtc::get(&why);
  if (nvrtc == nullptr) {
    std::printf("skipped: %s\n", why.c_str());
    return 0;
  }
  // A fresh cache folder: every first compile is cold.
  const fs::path dir = fs::temp_directory_path() / ("tl_bench_cuda_cache_" + std::to_string(::getpid()));
  ::setenv("TL_CACHE_DIR", dir.c_str(), 1);
  std::vector<rt::cuda::KernelSource> kernels;
  for (rt::cuda::KernelSource& k : rt::cuda::all_elementwise_kernels())
    if (k.dtype == kFloat32 && kernels.size() < limit) kernels.push_back(std::move(k));
  std::vector<double> cold, disk, memory;
  for (const rt::cuda::KernelSource& k : kernels)
    cold.push_back(rt::cuda::compile_cached(rt::cuda::kernel_preamble_for(k.dtype) + k.source, k.name, "sm_90").seconds);
  rt::cuda::clear_kernel_memory_cache();
  for (const rt::cuda::KernelSource& k : kernels)
    disk.push_back(rt::cuda::compile_cached(rt::cuda::kernel_preamble_for(k.dtype) + k.source, k.name, "sm_90").seconds);
  for (const rt::cuda::KernelSource& k : kernels)
    memory.push_back(rt::cuda::compile_cached(rt::cuda::kernel_preamble_for(k.dtype) + k.source, k.name, "sm_90").seconds);
  fs::remove_all(dir);
  std::printf("NVRTC %s, %zu float32 elementwise kernels for sm_90, one at a time\n", nvrtc->version().c_str(),
              kernels.size());
  std::printf("cold compile   median %8.2f ms  max %8.2f ms   (target <= 100 ms)\n", 1e3 * median(cold),
              1e3 * *std::max_element(cold.begin(), cold.end()));
  std::printf("disk cache hit median %8.3f ms  max %8.3f ms   (target <= 1 ms)\n", 1e3 * median(disk),
              1e3 * *std::max_element(disk.begin(), disk.end()));
  std::printf("memory hit     median %8.4f ms\n", 1e3 * median(memory));
  return 0;
}
