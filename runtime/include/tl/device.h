// Where a tensor lives. Ops dispatch on the device through one table (see ops/registry.h);
// a device without a backend at run time fails with DeviceError, never a silent fallback.
#pragma once

#include <cstdint>
#include <string>

namespace tl {

enum class DeviceType : uint8_t { kCPU = 0, kCUDA = 1 };
inline constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::kCPU;
  int16_t index = 0;

  constexpr bool operator==(const Device&) const = default;
  std::string str() const;  // "cpu", "cuda:0"
};

inline constexpr Device kCPU{DeviceType::kCPU, 0};
inline constexpr Device kCUDA{DeviceType::kCUDA, 0};
constexpr Device cuda(int index) { return Device{DeviceType::kCUDA, static_cast<int16_t>(index)}; }

namespace cuda_device {
// True when a CUDA driver and device are present (the driver is loaded lazily).
bool is_available();
}  // namespace cuda_device

}  // namespace tl
