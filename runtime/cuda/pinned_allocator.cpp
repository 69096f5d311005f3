#include "runtime/cuda/pinned_allocator.h"

#include <algorithm>
#include <bit>

#include "runtime/cuda/driver.h"
#include "runtime/cuda/launch.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

// Each call makes the context current first: pinned tensors are freed on whatever thread drops
// them last (a data loader's worker, say), which may never have touched CUDA.
class DriverPinnedSource : public PinnedSource {
 public:
  void* allocate(size_t bytes) override { return driver().allocate_host(bytes); }
  void free(void* p) override { driver().free_host(p); }
  void* create_event() override { return driver().create_event(false); }
  void destroy_event(void* event) override { driver().destroy_event(event); }
  void record_event(void* event, void* stream) override { driver().record_event(event, stream); }
  bool event_done(void* event) override { return driver().event_done(event); }
  void synchronize_event(void* event) override { driver().synchronize_event(event); }

 private:
  static const Driver& driver() {
    const Driver* d = Driver::get();
    TL_ASSERT(d != nullptr, "pinned memory used without a CUDA driver");
    return *d;
  }
};

}  // namespace

std::unique_ptr<PinnedSource> driver_pinned_source() {
  if (Driver::get() == nullptr) return nullptr;
  return std::make_unique<DriverPinnedSource>();
}

size_t PinnedAllocator::size_class(size_t n) { return std::bit_ceil(std::max<size_t>(n, 4096)); }

PinnedAllocator::~PinnedAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    release_cached();
  } catch (const Error&) {
    // A failing device at exit: the process ends anyway, and a destructor must not throw.
  }
  for (void* event : spare_events_) source_.destroy_event(event);
}

void* PinnedAllocator::allocate(size_t nbytes) {
  if (nbytes > (size_t{1} << 62))
    throw DeviceError("tl: cannot allocate " + std::to_string(nbytes) + " bytes of pinned host memory");
  const size_t size = size_class(nbytes);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  collect_finished();
  void* p = nullptr;
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    stats_.cached -= size;
    ++stats_.cache_hits;
  } else {
    try {
      p = source_.allocate(size);
    } catch (const DeviceError&) {
      release_cached();
      try {
        p = source_.allocate(size);
      } catch (const DeviceError& e) {
        throw DeviceError(std::string(e.what()) + ": out of pinned host memory allocating " + std::to_string(nbytes) +
                          " bytes; tl's pinned allocator holds " + std::to_string(stats_.in_use) +
                          " bytes in use by tensors (its cache was released; "
                          "tl::cuda_device::pinned_memory_stats() has more)");
      }
    }
    try {
      blocks_[reinterpret_cast<uintptr_t>(p)].size = size;
    } catch (...) {
      source_.free(p);
      throw;
    }
    ++stats_.host_allocations;
  }
  blocks_[reinterpret_cast<uintptr_t>(p)].in_use = true;
  stats_.in_use += size;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  return p;
}

void PinnedAllocator::deallocate(void* ptr, size_t) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(reinterpret_cast<uintptr_t>(ptr));
  TL_ASSERT(it != blocks_.end() && it->second.in_use, "a pointer freed to the pinned allocator that it did not hand out");
  Block& block = it->second;
  block.in_use = false;
  stats_.in_use -= block.size;
  if (block.retired) {
    blocks_.erase(it);
    return;
  }
  stats_.cached += block.size;
  if (block.uses.empty()) {
    free_[block.size].push_back(ptr);
  } else {
    pending_.push_back(ptr);
    stats_.pending += block.size;
  }
}

size_t PinnedAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_.cached;
}

void PinnedAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached();
}

bool PinnedAllocator::owns(const void* p, size_t bytes) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return const_cast<PinnedAllocator*>(this)->block_at(p, bytes) != nullptr;
}

void PinnedAllocator::record_use(const void* p, void* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  Block* block = block_at(p, 0);
  TL_ASSERT(block != nullptr, "a copy recorded against memory the pinned allocator does not hold");
  try {
    auto use = std::find_if(block->uses.begin(), block->uses.end(), [&](const auto& u) { return u.first == stream; });
    if (use == block->uses.end()) {
      void* event = nullptr;
      if (!spare_events_.empty()) {
        event = spare_events_.back();
        spare_events_.pop_back();
      } else {
        event = source_.create_event();
      }
      block->uses.emplace_back(stream, event);
      use = block->uses.end() - 1;
    }
    source_.record_event(use->second, stream);
  } catch (...) {
    block->retired = true;
    throw;
  }
  ++stats_.async_copies;
}

bool PinnedAllocator::queue_copy(const void* host, size_t bytes, const std::function<void(void* stream)>& queue) {
  if (bytes == 0 || capturing_checks() != nullptr || !owns(host, bytes)) return false;
  // The caller holds the tensor, so the block stays live between owns() and record_use().
  void* const stream = current_stream();
  queue(stream);
  record_use(host, stream);
  return true;
}

PinnedStats PinnedAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

PinnedAllocator::Block* PinnedAllocator::block_at(const void* p, size_t bytes) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  auto it = blocks_.upper_bound(address);  // the first block after p; the one before may hold it
  if (it == blocks_.begin()) return nullptr;
  --it;
  Block& block = it->second;
  const size_t offset = address - it->first;
  if (!block.in_use || offset >= block.size || bytes > block.size - offset) return nullptr;
  return &block;
}

void PinnedAllocator::collect_finished() {
  // One block at a time, so an event query that throws leaves every block listed once.
  for (size_t i = 0; i < pending_.size();) {
    void* p = pending_[i];
    Block& block = blocks_.at(reinterpret_cast<uintptr_t>(p));
    bool done = true;
    for (const auto& [stream, event] : block.uses) done = done && source_.event_done(event);
    if (!done) {
      ++i;
      continue;
    }
    pending_[i] = pending_.back();
    pending_.pop_back();
    recycle_events(block);
    free_[block.size].push_back(p);
    stats_.pending -= block.size;
  }
}

void PinnedAllocator::release_cached() {
  // A pending block may still be read by a queued copy: wait for it before freeing.
  while (!pending_.empty()) {
    void* p = pending_.back();
    Block& block = blocks_.at(reinterpret_cast<uintptr_t>(p));
    for (const auto& [stream, event] : block.uses) source_.synchronize_event(event);  // may throw: p stays pending
    pending_.pop_back();
    stats_.pending -= block.size;
    recycle_events(block);
    free_[block.size].push_back(p);
  }
  if (std::all_of(free_.begin(), free_.end(), [](const auto& entry) { return entry.second.empty(); })) return;
  for (auto& [size, list] : free_)
    for (void* p : list) {
      source_.free(p);
      blocks_.erase(reinterpret_cast<uintptr_t>(p));
      stats_.cached -= size;
    }
  free_.clear();
  ++stats_.cache_releases;
}

void PinnedAllocator::recycle_events(Block& block) {
  for (const auto& [stream, event] : block.uses) spare_events_.push_back(event);
  block.uses.clear();
}

}  // namespace tl::rt::cuda
