// The CUDA driver API, loaded with dlopen (libcuda.so.1): what tl needs to run kernels it
// compiled with NVRTC. A build of tl runs where there is no driver or no GPU: get() returns
// null with the reason, and nothing fails at load. Plain C++: no CUDA header is needed to build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tl::rt::cuda {

// A device pointer, as the driver's CUdeviceptr.
using DevicePtr = uint64_t;

class Driver {
 public:
  // The driver with device 0's primary context current on the calling thread; null (and the
  // reason in `*why`) without a driver or a device.
  static const Driver* get(std::string* why = nullptr);

  // "sm_90": the architecture of device 0, for NVRTC.
  std::string arch() const;
  std::string device_name() const;

  DevicePtr allocate(size_t bytes) const;  // throws DeviceError naming the size
  void free(DevicePtr p) const;
  void copy_to_device(DevicePtr dst, const void* src, size_t bytes) const;
  void copy_to_host(void* dst, DevicePtr src, size_t bytes) const;
  void copy_on_device(DevicePtr dst, DevicePtr src, size_t bytes) const;
  // Page-locked host memory (cuMemHostAlloc): the device reaches it by DMA, so copies between
  // it and the device can run asynchronously.
  void* allocate_host(size_t bytes) const;  // throws DeviceError naming the size
  void free_host(void* p) const;
  // Copies queued on `stream` (null: the default stream) that return at once. The host memory
  // must be page-locked (else the driver copies synchronously) and must not be touched until
  // the stream reaches the copy.
  void copy_to_device_async(DevicePtr dst, const void* src, size_t bytes, void* stream) const;
  void copy_to_host_async(void* dst, DevicePtr src, size_t bytes, void* stream) const;
  void synchronize() const;

  // A loaded module (a cubin or PTX) and its functions.
  class Module {
   public:
    ~Module();
    void* function(const std::string& name) const;  // throws DeviceError when absent
   private:
    friend class Driver;
    const Driver* driver_ = nullptr;
    void* module_ = nullptr;
  };
  std::unique_ptr<Module> load_module(const std::string& image) const;
  // Streams and events (handles as the driver's CUstream and CUevent). Streams are created
  // blocking: the default stream, which copies use, waits for them and they for it.
  // non_blocking: the stream does not synchronize with the default stream (a capture's stream,
  // so that other threads' default-stream copies never touch a capture in progress).
  void* create_stream(bool non_blocking = false) const;
  void destroy_stream(void* stream) const;
  void synchronize_stream(void* stream) const;
  bool stream_done(void* stream) const;  // cuStreamQuery: all work finished
  void* create_event(bool timing) const;
  void destroy_event(void* event) const;
  void record_event(void* event, void* stream) const;
  void synchronize_event(void* event) const;
  bool event_done(void* event) const;
  float elapsed_ms(void* start, void* end) const;
  void stream_wait_event(void* stream, void* event) const;
  // Free and total device memory (cuMemGetInfo).
  void memory_info(size_t* free_bytes, size_t* total_bytes) const;

  // Stream capture into CUDA graphs (relaxed mode: other threads may keep using the device).
  // end_capture returns the instantiated graph (a CUgraphExec), its CUgraph in `*graph`.
  void begin_capture(void* stream) const;
  void* end_capture(void* stream, void** graph) const;
  void launch_graph(void* exec, void* stream) const;
  void destroy_graph(void* exec, void* graph) const;

  // Launches `function` on a 1-D grid; `args[i]` points at the i-th kernel parameter.
  void launch(void* function, unsigned blocks, unsigned threads, std::vector<void*>& args) const;
  // The same on a 3-D grid of 3-D blocks, on `stream` (null: the default stream).
  void launch(void* function, const unsigned grid[3], const unsigned block[3], unsigned shared_bytes, void* stream,
              std::vector<void*>& args) const;

 private:
  Driver() = default;
  void check(int result, const char* what) const;
  void* library_ = nullptr;
  int device_ = 0;
  void* context_ = nullptr;
};

}  // namespace tl::rt::cuda
