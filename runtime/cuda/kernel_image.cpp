#include "runtime/cuda/kernel_image.h"

namespace tl::rt::cuda {

std::optional<CudaArch> parse_cuda_arch(std::string_view name) {
  CudaArch arch;
  if (name.starts_with("sm_")) {
    name.remove_prefix(3);
  } else if (name.starts_with("compute_")) {
    arch.is_ptx = true;
    name.remove_prefix(8);
  } else {
    return std::nullopt;
  }
  if (name.size() < 2 || name.size() > 3 || name[0] == '0') return std::nullopt;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    arch.number = arch.number * 10 + (c - '0');
  }
  return arch;
}

int choose_image(std::span<const std::string> archs, std::string_view device_arch) {
  const std::optional<CudaArch> device = parse_cuda_arch(device_arch);
  if (!device || device->is_ptx) return -1;
  int same_major = -1, ptx = -1;
  int same_major_number = 0, ptx_number = 0;
  for (size_t i = 0; i < archs.size(); ++i) {
    const std::optional<CudaArch> a = parse_cuda_arch(archs[i]);
    if (!a || a->number > device->number) continue;
    if (!a->is_ptx) {
      if (a->number == device->number) return static_cast<int>(i);
      // A cubin runs on GPUs of its major version and a minor one at least its own.
      if (a->major() == device->major() && a->number > same_major_number) {
        same_major = static_cast<int>(i);
        same_major_number = a->number;
      }
    } else if (a->number > ptx_number) {
      ptx = static_cast<int>(i);
      ptx_number = a->number;
    }
  }
  return same_major >= 0 ? same_major : ptx;
}

}  // namespace tl::rt::cuda
