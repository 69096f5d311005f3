// tl/cuda.h: the public face of the CUDA runtime. The driver is loaded with dlopen, so one
// build runs on machines with and without a GPU; nothing from CUDA is needed to link or start.
#include <dlfcn.h>

#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/driver.h"
#include "runtime/cuda/launch.h"
#include "runtime/cuda/pinned_allocator.h"
#include "runtime/device_backend.h"
#include "tl/cuda.h"
#include "tl/error.h"

namespace tl::cuda_device {

namespace {

// The driver with its context current, or DeviceError naming `what` and why there is none.
const rt::cuda::Driver& driver(const char* what) {
  std::string why;
  const rt::cuda::Driver* d = rt::cuda::Driver::get(&why);
  if (d == nullptr) throw DeviceError(std::string("tl::cuda_device::") + what + ": " + why);
  return *d;
}

}  // namespace

bool is_available() {
  // A registered backend (the driver's, or one a test registered) is a device to use.
  if (rt::has_backend(DeviceType::kCUDA)) return true;
  static bool available = [] {
    void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) return false;
    using InitFn = int (*)(unsigned);
    using CountFn = int (*)(int*);
    auto init = reinterpret_cast<InitFn>(dlsym(library, "cuInit"));
    auto count = reinterpret_cast<CountFn>(dlsym(library, "cuDeviceGetCount"));
    int devices = 0;
    // CUDA_SUCCESS is 0.
    return init != nullptr && count != nullptr && init(0) == 0 && count(&devices) == 0 && devices > 0;
  }();
  return available;
}

// tl uses cuda:0; more devices are not addressed yet.
int device_count() { return rt::cuda::Driver::get() != nullptr ? 1 : 0; }

std::string name() { return driver("name").device_name(); }
std::string arch() { return driver("arch").arch(); }
void synchronize() { driver("synchronize").synchronize(); }

MemoryStats memory_stats() {
  const rt::cuda::Driver& d = driver("memory_stats");
  const rt::cuda::AllocatorStats a = rt::cuda::allocator_stats();
  MemoryStats s;
  s.in_use_bytes = a.in_use;
  s.cached_bytes = a.cached;
  s.peak_in_use_bytes = a.peak_in_use;
  s.allocations = a.allocations;
  s.cache_hits = a.cache_hits;
  s.driver_allocations = a.driver_allocations;
  s.cache_releases = a.cache_releases;
  s.graph_reserved_bytes = a.private_pools;
  d.memory_info(&s.device_free_bytes, &s.device_total_bytes);
  return s;
}

void reset_peak_memory_stats() {
  driver("reset_peak_memory_stats");
  rt::cuda::reset_peak_in_use();
}

void empty_cache() {
  driver("empty_cache");
  rt::cuda::release_cache();
}

namespace {
// The CUDA backend's pinned allocator (the driver's, or an emulated device's), or DeviceError
// naming `what` when there is no CUDA device.
rt::cuda::PinnedAllocator& pinned_allocator(const char* what) {
  rt::Allocator* a = rt::backend_for(kCUDA, what).pinned_allocator();
  auto* pinned = dynamic_cast<rt::cuda::PinnedAllocator*>(a);
  if (pinned == nullptr) throw DeviceError(std::string("tl::") + what + ": the CUDA device has no pinned host memory");
  return *pinned;
}
}  // namespace

PinnedMemoryStats pinned_memory_stats() {
  const rt::cuda::PinnedStats p = pinned_allocator("cuda_device::pinned_memory_stats").stats();
  PinnedMemoryStats s;
  s.in_use_bytes = p.in_use;
  s.cached_bytes = p.cached;
  s.pending_bytes = p.pending;
  s.peak_in_use_bytes = p.peak_in_use;
  s.allocations = p.allocations;
  s.cache_hits = p.cache_hits;
  s.host_allocations = p.host_allocations;
  s.cache_releases = p.cache_releases;
  s.async_copies = p.async_copies;
  return s;
}

void empty_pinned_cache() { pinned_allocator("cuda_device::empty_pinned_cache").empty_cache(); }

Stream::Stream() : stream_(driver("Stream").create_stream()) {}
Stream::~Stream() {
  if (const rt::cuda::Driver* d = rt::cuda::Driver::get()) {
    d->synchronize_stream(stream_);  // its blocks may be reused by the next stream at this address
    d->destroy_stream(stream_);
  }
}
void Stream::synchronize() const { driver("Stream::synchronize").synchronize_stream(stream_); }
bool Stream::done() const { return driver("Stream::done").stream_done(stream_); }
void Stream::wait(const Event& event) const { driver("Stream::wait").stream_wait_event(stream_, event.handle()); }

Event::Event(bool timing) : event_(driver("Event").create_event(timing)) {}
Event::~Event() {
  if (const rt::cuda::Driver* d = rt::cuda::Driver::get()) d->destroy_event(event_);
}
void Event::record() { driver("Event::record").record_event(event_, rt::cuda::current_stream()); }
void Event::record(const Stream& stream) { driver("Event::record").record_event(event_, stream.handle()); }
void Event::synchronize() const { driver("Event::synchronize").synchronize_event(event_); }
bool Event::done() const { return driver("Event::done").event_done(event_); }
float Event::elapsed_ms(const Event& end) const { return driver("Event::elapsed_ms").elapsed_ms(event_, end.event_); }

StreamGuard::StreamGuard(const Stream& stream) : previous_(rt::cuda::current_stream()) {
  rt::cuda::set_current_stream(stream.handle());
}
StreamGuard::~StreamGuard() { rt::cuda::set_current_stream(previous_); }

}  // namespace tl::cuda_device
