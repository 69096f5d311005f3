// The CUDA backend's pinned (page-locked) host allocator, after PyTorch's CachingHostAllocator.
// The device copies pinned memory by DMA, so copies between it and the device can be queued
// on a stream and overlap other work; page-locking is slow, so freed blocks are kept and
// reused. It asks a PinnedSource for memory and events (the driver on a GPU; host memory on
// the emulated device of tests), so the reuse rule below is the same, and tested, on both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/device_backend.h"

namespace tl::rt::cuda {

// What the pinned allocator holds and has done (tl::cuda_device::PinnedMemoryStats).
struct PinnedStats {
  size_t in_use = 0;   // held by live tensors
  size_t cached = 0;   // freed, kept for reuse (pending included)
  size_t pending = 0;  // freed while a queued copy may still use them (as last checked)
  size_t peak_in_use = 0;
  int64_t allocations = 0, cache_hits = 0, host_allocations = 0, cache_releases = 0;
  int64_t async_copies = 0;  // asynchronous copies recorded against a block
};

// Page-locked memory and the events that say when queued copies have finished. Handles are
// the driver's (CUevent, CUstream; a null stream is the default stream).
class PinnedSource {
 public:
  virtual ~PinnedSource() = default;
  virtual void* allocate(size_t bytes) = 0;  // throws DeviceError when out of memory
  virtual void free(void* p) = 0;
  virtual void* create_event() = 0;
  virtual void destroy_event(void* event) = 0;
  virtual void record_event(void* event, void* stream) = 0;
  virtual bool event_done(void* event) = 0;
  virtual void synchronize_event(void* event) = 0;
};

// The driver's page-locked memory (cuMemHostAlloc) and events; null without a driver.
std::unique_ptr<PinnedSource> driver_pinned_source();

// The reuse rule: a block that an asynchronous copy used (record_use) is handed out again
// only after the event recorded behind that copy has completed, since the copy may still be
// reading (or writing) the block when its tensor is freed. Blocks no copy used are reused at
// once. Thread-safe.
class PinnedAllocator : public Allocator {
 public:
  explicit PinnedAllocator(PinnedSource& source) : source_(source) {}
  // Waits for pending copies and returns every block not held by a tensor to the source.
  ~PinnedAllocator() override;
  PinnedAllocator(const PinnedAllocator&) = delete;
  PinnedAllocator& operator=(const PinnedAllocator&) = delete;

  // Blocks are powers of two from 4 KiB (a page): page-locking costs far more than the memory
  // it wastes, and rounding up lets batches of nearby sizes share blocks.
  static size_t size_class(size_t n);

  void* allocate(size_t nbytes) override;  // DeviceError naming the bytes when out of memory
  void deallocate(void* ptr, size_t nbytes) override;
  size_t cached_bytes() const override;
  // Waits for the copies that still use freed blocks, then returns every free block.
  void empty_cache() override;
  bool is_pinned() const override { return true; }

  // Whether [p, p + bytes) lies inside one block held by a tensor.
  bool owns(const void* p, size_t bytes) const;
  // Notes that work queued on `stream` uses the block holding `p` (which must be owned):
  // records an event on `stream`, so call it after queuing the copy. One event per (block,
  // stream): a later use on the same stream re-records it, which covers the earlier ones.
  void record_use(const void* p, void* stream);
  // The asynchronous half of DeviceBackend::copy_async: when [host, host + bytes) is owned,
  // `queue(stream)` queues the copy on the calling thread's current stream and the use is
  // recorded. Returns false, having done nothing, for memory it does not own and while the
  // thread captures a CUDA graph (a copy through the host then fails the capture, as usual).
  bool queue_copy(const void* host, size_t bytes, const std::function<void(void* stream)>& queue);

  PinnedStats stats() const;

 private:
  struct Block {
    size_t size = 0;
    bool in_use = false;
    // A use whose event could not be recorded: the block is never reused nor freed, since a
    // copy may still be using it (a failing device; the leak is the safe outcome).
    bool retired = false;
    std::vector<std::pair<void*, void*>> uses;  // (stream, event) of copies since handed out
  };
  Block* block_at(const void* p, size_t bytes);  // the live block holding [p, p + bytes), with mutex_ held
  void collect_finished();                        // pending blocks whose events completed -> free_
  void release_cached();                          // with mutex_ held
  void recycle_events(Block& block);              // with mutex_ held

  PinnedSource& source_;
  mutable std::mutex mutex_;
  std::map<uintptr_t, Block> blocks_;            // every block the source gave, by address
  std::map<size_t, std::vector<void*>> free_;    // ready to hand out, by size class
  std::vector<void*> pending_;                   // freed while a recorded use may be in flight
  std::vector<void*> spare_events_;
  PinnedStats stats_;
};

}  // namespace tl::rt::cuda
