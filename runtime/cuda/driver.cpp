#include "runtime/cuda/driver.h"

#include <dlfcn.h>

#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

// The driver's types as the ABI sees them (cuda.h): handles are pointers, results ints
// (CUDA_SUCCESS is 0), CUdevice an int.
using CUresult = int;
using InitFn = CUresult (*)(unsigned);
using DeviceGetFn = CUresult (*)(int*, int);
using CountFn = CUresult (*)(int*);
using AttributeFn = CUresult (*)(int*, int, int);
using NameFn = CUresult (*)(char*, int, int);
using RetainFn = CUresult (*)(void**, int);
using SetCurrentFn = CUresult (*)(void*);
using AllocFn = CUresult (*)(DevicePtr*, size_t);
using FreeFn = CUresult (*)(DevicePtr);
using HtoDFn = CUresult (*)(DevicePtr, const void*, size_t);
using DtoHFn = CUresult (*)(void*, DevicePtr, size_t);
using DtoDFn = CUresult (*)(DevicePtr, DevicePtr, size_t);
using HostAllocFn = CUresult (*)(void**, size_t, unsigned);
using FreeHostFn = CUresult (*)(void*);
using HtoDAsyncFn = CUresult (*)(DevicePtr, const void*, size_t, void*);
using DtoHAsyncFn = CUresult (*)(void*, DevicePtr, size_t, void*);
using SyncFn = CUresult (*)();
using LoadDataFn = CUresult (*)(void**, const void*);
using UnloadFn = CUresult (*)(void*);
using GetFunctionFn = CUresult (*)(void**, void*, const char*);
using LaunchFn = CUresult (*)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*,
                              void**, void**);
using ErrorStringFn = CUresult (*)(CUresult, const char**);

using StreamCreateFn = CUresult (*)(void**, unsigned);
using HandleFn = CUresult (*)(void*);
using RecordFn = CUresult (*)(void*, void*);
using ElapsedFn = CUresult (*)(float*, void*, void*);
using WaitEventFn = CUresult (*)(void*, void*, unsigned);
using MemInfoFn = CUresult (*)(size_t*, size_t*);
using BeginCaptureFn = CUresult (*)(void*, int);
using EndCaptureFn = CUresult (*)(void*, void**);
using InstantiateFn = CUresult (*)(void**, void*, unsigned long long);
using GraphLaunchFn = CUresult (*)(void*, void*);
constexpr int kCaptureModeRelaxed = 2;  // CU_STREAM_CAPTURE_MODE_RELAXED

constexpr int kNotReady = 600;              // CUDA_ERROR_NOT_READY
constexpr unsigned kEventDisableTiming = 2;  // CU_EVENT_DISABLE_TIMING

constexpr int kComputeCapabilityMajor = 75;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kComputeCapabilityMinor = 76;

template <class F>
F sym(void* library, const char* name) {
  return reinterpret_cast<F>(::dlsym(library, name));
}

}  // namespace

void Driver::check(int result, const char* what) const {
  if (result == 0) return;
  const char* text = nullptr;
  if (auto error_string = sym<ErrorStringFn>(library_, "cuGetErrorString")) error_string(result, &text);
  throw DeviceError(std::string("tl: CUDA ") + what + " failed: " + (text ? text : "error " + std::to_string(result)));
}

const Driver* Driver::get(std::string* why) {
  static std::string reason;
  static const Driver* instance = []() -> const Driver* {
    void* library = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      reason = "no CUDA driver (libcuda.so.1)";
      return nullptr;
    }
    for (const char* name : {"cuInit", "cuDeviceGet", "cuDeviceGetCount", "cuDeviceGetAttribute", "cuDeviceGetName",
                             "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuMemAlloc_v2", "cuMemFree_v2",
                             "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuMemcpyDtoD_v2", "cuCtxSynchronize", "cuModuleLoadData",
                             "cuModuleUnload", "cuModuleGetFunction", "cuLaunchKernel", "cuStreamCreate",
                             "cuStreamDestroy_v2", "cuStreamSynchronize", "cuStreamQuery", "cuEventCreate",
                             "cuEventDestroy_v2", "cuEventRecord", "cuEventSynchronize", "cuEventQuery",
                             "cuStreamWaitEvent", "cuMemGetInfo_v2", "cuMemHostAlloc", "cuMemFreeHost",
                             "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2"}) {
      if (::dlsym(library, name) == nullptr) {
        reason = std::string("the CUDA driver lacks ") + name;
        return nullptr;
      }
    }
    int count = 0;
    if (sym<InitFn>(library, "cuInit")(0) != 0 || sym<CountFn>(library, "cuDeviceGetCount")(&count) != 0 || count < 1) {
      reason = "no CUDA device";
      return nullptr;
    }
    auto* d = new Driver();  // lives for the process, as the context does
    d->library_ = library;
    d->check(sym<DeviceGetFn>(library, "cuDeviceGet")(&d->device_, 0), "cuDeviceGet");
    d->check(sym<RetainFn>(library, "cuDevicePrimaryCtxRetain")(&d->context_, d->device_), "cuDevicePrimaryCtxRetain");
    return d;
  }();
  if (instance == nullptr) {
    if (why != nullptr) *why = reason;
    return nullptr;
  }
  // The primary context current on this thread.
  instance->check(sym<SetCurrentFn>(instance->library_, "cuCtxSetCurrent")(instance->context_), "cuCtxSetCurrent");
  return instance;
}

std::string Driver::arch() const {
  int major = 0, minor = 0;
  check(sym<AttributeFn>(library_, "cuDeviceGetAttribute")(&major, kComputeCapabilityMajor, device_), "cuDeviceGetAttribute");
  check(sym<AttributeFn>(library_, "cuDeviceGetAttribute")(&minor, kComputeCapabilityMinor, device_), "cuDeviceGetAttribute");
  return "sm_" + std::to_string(major) + std::to_string(minor);
}

std::string Driver::device_name() const {
  char name[256] = {};
  check(sym<NameFn>(library_, "cuDeviceGetName")(name, sizeof name - 1, device_), "cuDeviceGetName");
  return name;
}

DevicePtr Driver::allocate(size_t bytes) const {
  DevicePtr p = 0;
  const int r = sym<AllocFn>(library_, "cuMemAlloc_v2")(&p, bytes == 0 ? 1 : bytes);
  if (r != 0) check(r, ("cuMemAlloc of " + std::to_string(bytes) + " bytes").c_str());
  return p;
}

void Driver::free(DevicePtr p) const {
  if (p != 0) sym<FreeFn>(library_, "cuMemFree_v2")(p);
}

void Driver::copy_to_device(DevicePtr dst, const void* src, size_t bytes) const {
  if (bytes > 0) check(sym<HtoDFn>(library_, "cuMemcpyHtoD_v2")(dst, src, bytes), "cuMemcpyHtoD");
}

void Driver::copy_to_host(void* dst, DevicePtr src, size_t bytes) const {
  if (bytes > 0) check(sym<DtoHFn>(library_, "cuMemcpyDtoH_v2")(dst, src, bytes), "cuMemcpyDtoH");
}

void Driver::copy_on_device(DevicePtr dst, DevicePtr src, size_t bytes) const {
  if (bytes > 0) check(sym<DtoDFn>(library_, "cuMemcpyDtoD_v2")(dst, src, bytes), "cuMemcpyDtoD");
}

void* Driver::allocate_host(size_t bytes) const {
  void* p = nullptr;
  const int r = sym<HostAllocFn>(library_, "cuMemHostAlloc")(&p, bytes == 0 ? 1 : bytes, 0);
  if (r != 0) check(r, ("cuMemHostAlloc of " + std::to_string(bytes) + " bytes").c_str());
  return p;
}

void Driver::free_host(void* p) const {
  if (p != nullptr) sym<FreeHostFn>(library_, "cuMemFreeHost")(p);
}

void Driver::copy_to_device_async(DevicePtr dst, const void* src, size_t bytes, void* stream) const {
  if (bytes > 0) check(sym<HtoDAsyncFn>(library_, "cuMemcpyHtoDAsync_v2")(dst, src, bytes, stream), "cuMemcpyHtoDAsync");
}

void Driver::copy_to_host_async(void* dst, DevicePtr src, size_t bytes, void* stream) const {
  if (bytes > 0) check(sym<DtoHAsyncFn>(library_, "cuMemcpyDtoHAsync_v2")(dst, src, bytes, stream), "cuMemcpyDtoHAsync");
}

void Driver::synchronize() const { check(sym<SyncFn>(library_, "cuCtxSynchronize")(), "cuCtxSynchronize"); }

void* Driver::create_stream(bool non_blocking) const {
  void* stream = nullptr;
  constexpr unsigned kNonBlocking = 1;  // CU_STREAM_NON_BLOCKING
  check(sym<StreamCreateFn>(library_, "cuStreamCreate")(&stream, non_blocking ? kNonBlocking : 0), "cuStreamCreate");
  return stream;
}

void Driver::destroy_stream(void* stream) const {
  if (stream != nullptr) sym<HandleFn>(library_, "cuStreamDestroy_v2")(stream);
}

void Driver::synchronize_stream(void* stream) const {
  check(sym<HandleFn>(library_, "cuStreamSynchronize")(stream), "cuStreamSynchronize");
}

bool Driver::stream_done(void* stream) const {
  const int r = sym<HandleFn>(library_, "cuStreamQuery")(stream);
  if (r == kNotReady) return false;
  check(r, "cuStreamQuery");
  return true;
}

void* Driver::create_event(bool timing) const {
  void* event = nullptr;
  check(sym<StreamCreateFn>(library_, "cuEventCreate")(&event, timing ? 0 : kEventDisableTiming), "cuEventCreate");
  return event;
}

void Driver::destroy_event(void* event) const {
  if (event != nullptr) sym<HandleFn>(library_, "cuEventDestroy_v2")(event);
}

void Driver::record_event(void* event, void* stream) const {
  check(sym<RecordFn>(library_, "cuEventRecord")(event, stream), "cuEventRecord");
}

void Driver::synchronize_event(void* event) const {
  check(sym<HandleFn>(library_, "cuEventSynchronize")(event), "cuEventSynchronize");
}

bool Driver::event_done(void* event) const {
  const int r = sym<HandleFn>(library_, "cuEventQuery")(event);
  if (r == kNotReady) return false;
  check(r, "cuEventQuery");
  return true;
}

float Driver::elapsed_ms(void* start, void* end) const {
  float ms = 0;
  // CUDA 13 names it cuEventElapsedTime_v2; older drivers have only the first version.
  auto elapsed = sym<ElapsedFn>(library_, "cuEventElapsedTime_v2");
  if (elapsed == nullptr) elapsed = sym<ElapsedFn>(library_, "cuEventElapsedTime");
  if (elapsed == nullptr) throw DeviceError("tl: the CUDA driver lacks cuEventElapsedTime");
  check(elapsed(&ms, start, end), "cuEventElapsedTime");
  return ms;
}

void Driver::stream_wait_event(void* stream, void* event) const {
  check(sym<WaitEventFn>(library_, "cuStreamWaitEvent")(stream, event, 0), "cuStreamWaitEvent");
}

void Driver::memory_info(size_t* free_bytes, size_t* total_bytes) const {
  check(sym<MemInfoFn>(library_, "cuMemGetInfo_v2")(free_bytes, total_bytes), "cuMemGetInfo");
}

namespace {
template <class F>
F graph_sym(void* library, const char* name) {
  F f = sym<F>(library, name);
  if (f == nullptr) throw DeviceError(std::string("tl: the CUDA driver lacks ") + name + " (CUDA graphs)");
  return f;
}
}  // namespace

void Driver::begin_capture(void* stream) const {
  check(graph_sym<BeginCaptureFn>(library_, "cuStreamBeginCapture_v2")(stream, kCaptureModeRelaxed),
        "cuStreamBeginCapture");
}

void* Driver::end_capture(void* stream, void** graph) const {
  *graph = nullptr;
  check(graph_sym<EndCaptureFn>(library_, "cuStreamEndCapture")(stream, graph), "cuStreamEndCapture");
  void* exec = nullptr;
  const int r = graph_sym<InstantiateFn>(library_, "cuGraphInstantiateWithFlags")(&exec, *graph, 0);
  if (r != 0) {
    sym<HandleFn>(library_, "cuGraphDestroy")(*graph);
    *graph = nullptr;
    check(r, "cuGraphInstantiate");
  }
  return exec;
}

void Driver::launch_graph(void* exec, void* stream) const {
  check(graph_sym<GraphLaunchFn>(library_, "cuGraphLaunch")(exec, stream), "cuGraphLaunch");
}

void Driver::destroy_graph(void* exec, void* graph) const {
  if (exec != nullptr) graph_sym<HandleFn>(library_, "cuGraphExecDestroy")(exec);
  if (graph != nullptr) graph_sym<HandleFn>(library_, "cuGraphDestroy")(graph);
}

std::unique_ptr<Driver::Module> Driver::load_module(const std::string& image) const {
  auto m = std::make_unique<Module>();
  m->driver_ = this;
  check(sym<LoadDataFn>(library_, "cuModuleLoadData")(&m->module_, image.data()), "cuModuleLoadData");
  return m;
}

Driver::Module::~Module() {
  if (module_ != nullptr) sym<UnloadFn>(driver_->library_, "cuModuleUnload")(module_);
}

void* Driver::Module::function(const std::string& name) const {
  void* f = nullptr;
  driver_->check(sym<GetFunctionFn>(driver_->library_, "cuModuleGetFunction")(&f, module_, name.c_str()),
                 ("cuModuleGetFunction(" + name + ")").c_str());
  return f;
}

void Driver::launch(void* function, unsigned blocks, unsigned threads, std::vector<void*>& args) const {
  const unsigned grid[3] = {blocks, 1, 1}, block[3] = {threads, 1, 1};
  launch(function, grid, block, 0, nullptr, args);
}

void Driver::launch(void* function, const unsigned grid[3], const unsigned block[3], unsigned shared_bytes,
                    void* stream, std::vector<void*>& args) const {
  check(sym<LaunchFn>(library_, "cuLaunchKernel")(function, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                                                  shared_bytes, stream, args.data(), nullptr),
        "cuLaunchKernel");
}

}  // namespace tl::rt::cuda
