// Prebuilt device code for a CUDA kernel source (what `tlc --target cuda` stores in an artifact):
// cubins for given GPU architectures and PTX for a virtual one, and the rule that picks the one a
// GPU runs, so a GPU whose code is there needs no NVRTC.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tl::rt::cuda {

// An architecture name as NVRTC takes it: "sm_90" (a real GPU: a cubin) or "compute_80" (a
// virtual one: PTX, which the driver compiles for any GPU of that number or later).
struct CudaArch {
  bool is_ptx = false;
  int number = 0;  // 90 for sm_90: major 9, minor 0; 100 for sm_100
  int major() const { return number / 10; }
  int minor() const { return number % 10; }
  std::string str() const { return (is_ptx ? "compute_" : "sm_") + std::to_string(number); }
};
// `name` parsed: "sm_" or "compute_" and a number of two or three digits (no suffix such as
// "sm_90a": code for those runs on one GPU only). nullopt for anything else.
std::optional<CudaArch> parse_cuda_arch(std::string_view name);

// The largest image an artifact may declare (a compressed one is decompressed into a buffer of
// its declared size). A fused kernel's cubin is tens of KB.
inline constexpr uint64_t kMaxKernelImageBytes = uint64_t{64} << 20;

// One prebuilt binary of a source. `bytes` is not owned.
struct KernelImage {
  std::string arch;  // "sm_90": a cubin; "compute_80": PTX text
  std::string_view bytes;
};

// Which of `archs` (names as KernelImage::arch; unparsable ones are skipped) a GPU of
// `device_arch` ("sm_90") runs: the cubin of its own architecture; else the newest cubin of the
// same major version and an earlier minor one (CUDA runs sm_80 code on sm_86); else the newest
// PTX not newer than the GPU, which the driver compiles for it. -1: none fits (or `device_arch`
// does not parse), and the source is compiled for the GPU instead.
int choose_image(std::span<const std::string> archs, std::string_view device_arch);

}  // namespace tl::rt::cuda
