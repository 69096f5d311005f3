#include "runtime/cuda/kernel_cache.h"

#include <chrono>
#include <mutex>
#include <unordered_map>

#include "runtime/base/disk_cache.h"
#include "runtime/base/sha256.h"
#include "runtime/cuda/nvrtc.h"
#include "tl/error.h"
#include "tl/version.h"

namespace tl::rt::cuda {

namespace {

struct MemoryCache {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> binaries;  // by key digest
  KernelCacheStats stats;
};

MemoryCache& memory() {
  static MemoryCache* cache = new MemoryCache();  // kernels may be looked up during exit
  return *cache;
}

}  // namespace

CompiledKernel compile_cached(const std::string& source, const std::string& name, const std::string& arch) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  std::string why;
  const Nvrtc* nvrtc = Nvrtc::get(&why);
  if (nvrtc == nullptr) throw DeviceError("tl: cannot compile CUDA kernel '" + name + "': " + why);
  // Everything that decides the binary: the compiler, the target, the source, tl's build.
  const std::string key = "tl cuda kernel\nnvrtc " + nvrtc->version() + "\narch " + arch + "\ntl " +
                          std::string(version()) + "\n" + source;
  const std::string digest = to_hex(sha256(key.data(), key.size()));
  MemoryCache& m = memory();
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    auto it = m.binaries.find(digest);
    if (it != m.binaries.end()) {
      ++m.stats.memory_hits;
      return {it->second, true, false, elapsed()};
    }
  }
  CompiledKernel result;
  std::shared_ptr<DiskCache> disk = disk_cache_in("cuda");
  if (disk) {
    if (std::optional<std::string> binary = disk->load(key)) {
      result.binary = std::make_shared<const std::string>(std::move(*binary));
      result.from_disk = true;
    }
  }
  if (!result.binary) {
    NvrtcOutput out = nvrtc->compile(source, name + ".cu", arch);
    if (!out.ok) throw CompileError("tl: CUDA kernel '" + name + "' does not compile for " + arch + ":\n" + out.log);
    result.binary = std::make_shared<const std::string>(std::move(out.binary));
    if (disk) disk->store(key, *result.binary);  // a failed store is logged by the cache
  }
  std::lock_guard<std::mutex> lock(m.mutex);
  ++(result.from_disk ? m.stats.disk_hits : m.stats.compiled);
  m.binaries.emplace(digest, result.binary);
  result.seconds = elapsed();
  return result;
}

KernelCacheStats kernel_cache_stats() {
  std::lock_guard<std::mutex> lock(memory().mutex);
  return memory().stats;
}

void clear_kernel_memory_cache() {
  std::lock_guard<std::mutex> lock(memory().mutex);
  memory().binaries.clear();
}

}  // namespace tl::rt::cuda
