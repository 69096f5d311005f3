// The CUDA kernel sources of a compiled artifact's fused groups, regenerated from their steps
// exactly as a CUDA load regenerates them: what `tlc --target cuda` compiles into the device
// code the artifact carries (FusedSteps.code), which a load uses only for these same sources.
#pragma once

#include <string>
#include <vector>

#include "runtime/artifact/artifact.h"

namespace tl::rt {

struct CudaKernelSource {
  std::string entry;
  std::string source;  // complete: preamble included
};

struct CudaGroupSources {
  int node = 0;             // index in the program's nodes
  std::string description;  // the group's ops, "mul+add+gelu"
  // The kernels a CUDA load may launch for the group: one for an elementwise group, two for a
  // group ending in a sum (which of its two forms runs depends on each call's shapes).
  std::vector<CudaKernelSource> kernels;
};

// Every fused group of `artifact`'s program with its kernel sources, its steps verified as
// load_program verifies them: throws ArtifactError naming the node for hostile steps, and
// DeviceError for a group without steps. The device code it already carries is not read.
std::vector<CudaGroupSources> cuda_group_sources(const Artifact& artifact);

}  // namespace tl::rt
