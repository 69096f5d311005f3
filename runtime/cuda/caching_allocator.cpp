#include "runtime/cuda/caching_allocator.h"

#include <algorithm>
#include <string>

#include "runtime/cuda/launch.h"
#include "tl/error.h"

namespace tl::rt::cuda {

size_t CachingAllocator::size_class(size_t n) {
  const size_t step = n <= (size_t{1} << 20) ? 512 : (size_t{2} << 20);
  return std::max<size_t>(step, (n + step - 1) / step * step);
}

// Work queued on another stream could still be using a block its last tensor freed, so a
// freed block is reused by work on the same stream only. When the source is out of memory,
// every stream's cached blocks are released (after waiting for the device, so none is in use)
// and the allocation tried once more.
DevicePtr CachingAllocator::fresh_block(size_t size, size_t nbytes) {
  DevicePtr p = 0;
  try {
    p = source_.allocate(size);
  } catch (const DeviceError&) {
    release_cached();
    try {
      p = source_.allocate(size);
    } catch (const DeviceError& e) {
      throw DeviceError(std::string(e.what()) + ": out of memory on cuda:0 allocating " + std::to_string(nbytes) +
                        " bytes; tl's allocator holds " + std::to_string(stats_.in_use) +
                        " bytes in use by tensors and " + std::to_string(stats_.private_pools) +
                        " reserved by CUDA graphs (its cache was released; tl::cuda_device::memory_stats() has more)");
    }
  }
  ++stats_.driver_allocations;
  return p;
}

void* CachingAllocator::allocate(size_t nbytes) {
  const size_t size = size_class(nbytes);
  void* stream = current_stream();
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  if (auto captured = pool_of_stream_.find(stream); captured != pool_of_stream_.end()) {
    Pool& pool = pools_.at(captured->second);
    std::vector<DevicePtr>& blocks = pool.free[size];
    DevicePtr p = 0;
    if (!blocks.empty()) {
      p = blocks.back();
      blocks.pop_back();
      ++stats_.cache_hits;
    } else {
      p = fresh_block(size, nbytes);
      pool.reserved += size;
      stats_.private_pools += size;
    }
    pool_of_block_[p] = captured->second;
    note_in_use(p, size, nullptr);
    return reinterpret_cast<void*>(p);
  }
  auto it = free_.find({stream, size});
  if (it != free_.end() && !it->second.empty()) {
    DevicePtr p = it->second.back();
    it->second.pop_back();
    stats_.cached -= size;
    ++stats_.cache_hits;
    note_in_use(p, size, stream);
    return reinterpret_cast<void*>(p);
  }
  DevicePtr p = fresh_block(size, nbytes);
  note_in_use(p, size, stream);
  return reinterpret_cast<void*>(p);
}

void CachingAllocator::deallocate(void* ptr, size_t nbytes) {
  if (ptr == nullptr) return;
  const size_t size = size_class(nbytes);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto p = reinterpret_cast<DevicePtr>(ptr);
  stats_.in_use -= size;
  if (auto owned = pool_of_block_.find(p); owned != pool_of_block_.end()) {
    auto pool = pools_.find(owned->second);
    if (!pool->second.released) {
      pool->second.free[size].push_back(p);
      return;
    }
    // Its pool was released while a tensor held it: it joins the shared cache now.
    pool_of_block_.erase(owned);
    pool->second.reserved -= size;
    stats_.private_pools -= size;
    if (pool->second.reserved == 0) pools_.erase(pool);
    free_[{nullptr, size}].push_back(p);
    stats_.cached += size;
    return;
  }
  auto owner = stream_of_.find(p);
  void* stream = owner == stream_of_.end() ? nullptr : owner->second;
  if (owner != stream_of_.end()) stream_of_.erase(owner);
  free_[{stream, size}].push_back(p);
  stats_.cached += size;
}

size_t CachingAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_.cached;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_in_use = stats_.in_use;
}

uint64_t CachingAllocator::begin_pool(void* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pool_of_stream_.count(stream))
    throw DeviceError("tl: a CUDA stream is already being captured into a graph; captures do not nest");
  const uint64_t id = next_pool_++;
  pools_[id];
  pool_of_stream_[stream] = id;
  return id;
}

void CachingAllocator::end_pool(void* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  pool_of_stream_.erase(stream);
}

void CachingAllocator::release_pool(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto pool = pools_.find(id);
  if (pool == pools_.end() || pool->second.released) return;
  for (auto it = pool_of_stream_.begin(); it != pool_of_stream_.end();)
    it = it->second == id ? pool_of_stream_.erase(it) : std::next(it);
  source_.synchronize();  // a replay may still be using the pool's memory
  for (auto& [size, blocks] : pool->second.free) {
    for (DevicePtr p : blocks) {
      pool_of_block_.erase(p);
      free_[{nullptr, size}].push_back(p);
      pool->second.reserved -= size;
      stats_.private_pools -= size;
      stats_.cached += size;
    }
  }
  pool->second.free.clear();
  pool->second.released = true;
  if (pool->second.reserved == 0) pools_.erase(pool);
}

void CachingAllocator::note_in_use(DevicePtr p, size_t size, void* stream) {
  stats_.in_use += size;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  if (stream != nullptr) stream_of_[p] = stream;
}

void CachingAllocator::release_cached() {
  if (free_.empty()) return;
  source_.synchronize();  // a cached block may still be read by queued work
  for (auto& [key, blocks] : free_)
    for (DevicePtr p : blocks) source_.free(p);
  free_.clear();
  stats_.cached = 0;
  ++stats_.cache_releases;
}

}  // namespace tl::rt::cuda
