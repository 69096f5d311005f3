// tlc --target cuda: each fused group's CUDA kernel sources compiled by NVRTC into the device
// code the artifact carries (cubins for chosen GPU architectures, and PTX that the driver
// compiles for newer ones), so that a GPU whose code is there loads it without NVRTC.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/artifact/artifact.h"

namespace tl::tlc {

inline constexpr char kDefaultCudaArchs[] = "sm_80,sm_90";

// --cuda-arch `text`: a comma-separated list of "sm_NN" (a cubin for those GPUs) and
// "compute_NN" (PTX for GPUs of that number and later); without a compute_ entry, PTX for the
// lowest sm_ entry's number is added. "none": no device code. Each entry must be one of
// `supported` (NVRTC's sm numbers; not checked when empty) and appear once. The list as
// compiled (cubins first, in the order given), or nullopt with the reason in `*why`.
std::optional<std::vector<std::string>> parse_cuda_archs(std::string_view text, const std::vector<int>& supported,
                                                         std::string* why);

struct CudaCode {
  std::string program;   // the program section, each fused group's FusedSteps.code filled in
  std::string section;   // the "cuda" section (empty: no device code)
  int sources = 0;       // distinct kernel sources compiled
  int groups = 0;        // fused groups
};

// Compiles every fused group's kernel sources (rt::cuda_group_sources) for `archs` (none: the
// code `artifact` held is dropped), each distinct source once: groups of the same ops and
// dtypes share their binaries, each stored as a zstd frame. Throws ArtifactError naming the node
// for hostile steps, DeviceError without steps or without NVRTC, CompileError with NVRTC's log
// naming the group (or for an image over rt::cuda::kMaxKernelImageBytes).
CudaCode compile_cuda_code(const rt::Artifact& artifact, const std::vector<std::string>& archs);

}  // namespace tl::tlc
