// The CPU device: a caching allocator (freed blocks are kept by size class and reused, so
// steady-state training never calls malloc/munmap for tensors) and memcpy copies.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "runtime/device_backend.h"
#include "runtime/logging.h"
#include "tl/error.h"

namespace tl::rt {
namespace {

constexpr size_t kAlignment = 64;

std::atomic<uint64_t> g_allocation_calls{0};
std::atomic<uint64_t> g_allocation_fail_at{0};
// Blocks above this are returned to the system instead of cached.
constexpr size_t kMaxCachedBlock = size_t{1} << 30;
constexpr size_t kMaxCachedTotal = size_t{2} << 30;

size_t size_class(size_t nbytes) {
  if (nbytes <= 512) return (nbytes + 63) & ~size_t{63};
  // Round up to a quarter of the next power of two: at most 25% waste.
  size_t p = 1;
  while (p < nbytes) p <<= 1;
  size_t quarter = p / 4;
  return (nbytes + quarter - 1) / quarter * quarter;
}

class CachingCpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
    uint64_t call = g_allocation_calls.fetch_add(1, std::memory_order_relaxed) + 1;
    if (uint64_t fail = g_allocation_fail_at.load(std::memory_order_relaxed); fail != 0 && call == fail) [[unlikely]] {
      throw Error("tl: CPU out of memory: failed to allocate " + std::to_string(nbytes) + " bytes (injected)");
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= cls;
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, cls);
    if (p == nullptr) {
      logger("tl.runtime")->info("allocation of {} bytes failed; releasing {} cached bytes and retrying",
                                 nbytes, cached_bytes());
      empty_cache();
      p = std::aligned_alloc(kAlignment, cls);
    }
    if (p == nullptr) {
      throw Error("tl: CPU out of memory: failed to allocate " + std::to_string(nbytes) +
                  " bytes");
    }
    return p;
  }

  void deallocate(void* ptr, size_t nbytes) override {
    size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
    if (cls <= kMaxCachedBlock) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + cls <= kMaxCachedTotal) {
        free_[cls].push_back(ptr);
        cached_ += cls;
        return;
      }
    }
    std::free(ptr);
  }

  size_t cached_bytes() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [cls, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_ = 0;
  }

 private:
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

class CpuBackend final : public DeviceBackend {
 public:
  DeviceType type() const override { return DeviceType::kCPU; }
  Allocator& allocator(int) override { return allocator_; }
  void copy(void* dst, Device, const void* src, Device, size_t nbytes) override {
    if (nbytes) std::memcpy(dst, src, nbytes);
  }
  void synchronize(int) override {}

 private:
  CachingCpuAllocator allocator_;
};

// Never destroyed: tensors with static storage duration may outlive other statics.
struct Registrar {
  Registrar() { register_backend(new CpuBackend()); }
} registrar;

}  // namespace

void allocation_fail_at(uint64_t call) {
  g_allocation_calls.store(0);
  g_allocation_fail_at.store(call);
}
uint64_t allocation_calls() { return g_allocation_calls.load(); }

}  // namespace tl::rt
