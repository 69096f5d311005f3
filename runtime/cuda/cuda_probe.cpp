// Finds a CUDA driver at run time. The driver is loaded with dlopen, so one build runs on
// machines with and without a GPU; nothing from CUDA is needed to link or start.
#include <dlfcn.h>

#include <mutex>

#include "tl/device.h"

namespace tl::cuda_device {

bool is_available() {
  static bool available = [] {
    void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (driver == nullptr) return false;
    using InitFn = int (*)(unsigned);
    using CountFn = int (*)(int*);
    auto init = reinterpret_cast<InitFn>(dlsym(driver, "cuInit"));
    auto count = reinterpret_cast<CountFn>(dlsym(driver, "cuDeviceGetCount"));
    int devices = 0;
    // CUDA_SUCCESS is 0.
    return init != nullptr && count != nullptr && init(0) == 0 && count(&devices) == 0 && devices > 0;
  }();
  return available;
}

}  // namespace tl::cuda_device
