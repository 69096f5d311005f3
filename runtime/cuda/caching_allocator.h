// The CUDA caching allocator: device memory in size classes, kept per stream after tensors
// free it and reused by later work on the same stream, with statistics. It asks a BlockSource
// for memory (the driver on a GPU; host memory on the emulated device of tests), so its rules
// are the same, and tested, on both.
//
// Private pools serve stream capture (CUDA graphs): while a stream is captured, its
// allocations come from a pool that belongs to the graph being recorded. Memory the recorded
// kernels use, scratch freed during the capture included, stays reserved for the graph's
// replays until the pool is released; without this, a block freed during capture would be
// handed to other tensors while every replay still writes to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "runtime/cuda/driver.h"
#include "runtime/device_backend.h"

namespace tl::rt::cuda {

// What the caching allocator holds and has done (tl::cuda_device::MemoryStats without the
// driver's figures).
struct AllocatorStats {
  size_t in_use = 0, cached = 0, peak_in_use = 0;
  int64_t allocations = 0, cache_hits = 0, driver_allocations = 0, cache_releases = 0;
  size_t private_pools = 0;  // bytes reserved by live private pools (free or in use)
};

class BlockSource {
 public:
  virtual ~BlockSource() = default;
  virtual DevicePtr allocate(size_t bytes) = 0;  // throws DeviceError when out of memory
  virtual void free(DevicePtr p) = 0;
  virtual void synchronize() = 0;  // waits until no queued work uses any block
};

class CachingAllocator : public Allocator {
 public:
  explicit CachingAllocator(BlockSource& source) : source_(source) {}

  // Freed blocks are kept by size class: multiples of 512 bytes up to 1 MiB, then of 2 MiB.
  static size_t size_class(size_t n);

  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  size_t cached_bytes() const override;
  void empty_cache() override;

  AllocatorStats stats() const;
  void reset_peak();

  // From now until end_pool(stream), allocations on `stream` come from a new private pool,
  // whose id is returned. Blocks freed meanwhile return to the pool, for later allocations of
  // the same capture (the graph's kernels run in their recorded order).
  uint64_t begin_pool(void* stream);
  void end_pool(void* stream);
  // The pool's blocks return to the shared cache once the device is idle (a replay may still be
  // running); blocks still held by tensors return when those are freed.
  void release_pool(uint64_t pool);

 private:
  struct Pool {
    std::map<size_t, std::vector<DevicePtr>> free;  // by size class
    size_t reserved = 0;
    bool released = false;
  };
  void note_in_use(DevicePtr p, size_t size, void* stream);  // with mutex_ held
  void release_cached();                                    // with mutex_ held
  DevicePtr fresh_block(size_t size, size_t nbytes);          // with mutex_ held

  BlockSource& source_;
  mutable std::mutex mutex_;
  std::map<std::pair<void*, size_t>, std::vector<DevicePtr>> free_;  // by (stream, size class)
  std::unordered_map<DevicePtr, void*> stream_of_;  // live blocks not on the default stream
  std::unordered_map<void*, uint64_t> pool_of_stream_;  // streams being captured
  std::unordered_map<DevicePtr, uint64_t> pool_of_block_;
  std::map<uint64_t, Pool> pools_;
  uint64_t next_pool_ = 1;
  AllocatorStats stats_;
};

}  // namespace tl::rt::cuda
