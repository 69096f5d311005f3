// CUDA from user code: whether a GPU is there, waiting for it, its memory, streams and events.
// tl loads the driver at run time, so one build runs with and without a GPU: without one,
// is_available() is false and everything else here throws DeviceError saying why.
//
//   tl::Device device = tl::cuda_device::is_available() ? tl::kCUDA : tl::kCPU;
//   model.to(device);
//
// Ops on CUDA tensors are queued on the current stream (the default stream unless a
// StreamGuard says otherwise) and return before the GPU finishes; reading a value on the host
// (item(), to(kCPU)) waits for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tl/device.h"

namespace tl::cuda_device {

// bool is_available();  (tl/device.h)
int device_count();
std::string name();  // "NVIDIA H200"
std::string arch();  // "sm_90"
// Waits until every op queued on cuda:0, on every stream, has finished.
void synchronize();

// What tl's caching allocator holds on cuda:0 (bytes are rounded to its size classes).
struct MemoryStats {
  size_t in_use_bytes = 0;       // held by live tensors
  size_t cached_bytes = 0;       // freed by tensors, kept for reuse
  size_t peak_in_use_bytes = 0;  // since the start or reset_peak_memory_stats()
  int64_t allocations = 0;       // requests served
  int64_t cache_hits = 0;        // of which from the cache
  int64_t driver_allocations = 0;
  int64_t cache_releases = 0;    // times the cache was returned to the driver
  size_t graph_reserved_bytes = 0;  // kept for the replays of compiled programs' CUDA graphs
  size_t device_free_bytes = 0;  // the driver's view of the whole device
  size_t device_total_bytes = 0;
};
MemoryStats memory_stats();
void reset_peak_memory_stats();
// Returns the cached blocks to the driver.
void empty_cache();

// What tl's pinned (page-locked) host allocator holds: the memory of Tensor::pin_memory(),
// of asynchronous copies to the host and of a DataLoader's pinned batches. Bytes are rounded
// to its size classes (powers of two from 4 KiB). A freed block that an asynchronous copy
// used is reused only once the copy has finished.
struct PinnedMemoryStats {
  size_t in_use_bytes = 0;       // held by live tensors
  size_t cached_bytes = 0;       // freed by tensors, kept for reuse (pending ones included)
  size_t pending_bytes = 0;      // freed while a queued copy may still use them
  size_t peak_in_use_bytes = 0;  // since the start
  int64_t allocations = 0;       // requests served
  int64_t cache_hits = 0;        // of which from the cache
  int64_t host_allocations = 0;  // page-locked allocations from the driver
  int64_t cache_releases = 0;    // times the cache was returned to the driver
  size_t graph_reserved_bytes = 0;  // kept for the replays of compiled programs' CUDA graphs
  int64_t async_copies = 0;      // copies queued from or to pinned memory
};
PinnedMemoryStats pinned_memory_stats();
// Waits for the copies that still use freed pinned blocks, then returns every pinned block no
// tensor holds to the driver.
void empty_pinned_cache();

class Event;

// A queue of GPU work. Ops run on the current stream of the calling thread; work on two
// streams may overlap. Streams are blocking: copies between host and device (on the default
// stream) wait for them. Memory freed by a tensor is reused only by work on the stream it was
// allocated on, so a tensor used on another stream must outlive that use (synchronize first).
class Stream {
 public:
  Stream();  // a new stream on cuda:0
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void synchronize() const;  // waits for its work
  bool done() const;         // whether its work has finished
  void wait(const Event& event) const;  // later work on this stream waits for `event`
  void* handle() const { return stream_; }  // the driver's CUstream

 private:
  void* stream_ = nullptr;
};

// A point in a stream's work: record it, then wait for it or time the work between two.
class Event {
 public:
  explicit Event(bool timing = true);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record();                       // on the current stream
  void record(const Stream& stream);
  void synchronize() const;
  bool done() const;
  float elapsed_ms(const Event& end) const;  // both recorded, with timing
  void* handle() const { return event_; }

 private:
  void* event_ = nullptr;
};

// Makes `stream` the calling thread's current stream for its lifetime.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  void* previous_;
};

}  // namespace tl::cuda_device
