#include "runtime/device_backend.h"

#include "runtime/cuda/cuda_backend.h"
#include "tl/error.h"

namespace tl::rt {
namespace {
DeviceBackend*& slot(DeviceType type) {
  static DeviceBackend* backends[kNumDeviceTypes] = {};
  return backends[static_cast<int>(type)];
}
}  // namespace

void register_backend(DeviceBackend* backend) { slot(backend->type()) = backend; }

bool has_backend(DeviceType type) { return slot(type) != nullptr; }

DeviceBackend& backend_for(Device device, const char* op) {
  // The CUDA backend registers itself on first use, when a driver and a device are present.
  if (slot(device.type) == nullptr && device.type == DeviceType::kCUDA) cuda::ensure_backend();
  DeviceBackend* backend = slot(device.type);
  if (backend == nullptr) {
    throw DeviceError(std::string("tl::") + op + ": device " + device.str() +
                      " is not available in this process (no driver or device found; "
                      "tl::cuda_device::is_available() says whether one is)");
  }
  return *backend;
}

}  // namespace tl::rt
