// The attribute sets the host-compiled CUDA kernels are generated for (cuda_host_dump.cpp) and
// checked at (cuda_host_test.cpp): the defaults, and values that exercise the ops that read
// attributes (clamp's bounds, leaky_relu's slope, elu's alpha, ...).
#pragma once

#include <vector>

#include "runtime/ops/registry.h"

namespace tl::test {

inline std::vector<ops::Attrs> cuda_attr_sets() {
  ops::Attrs defaults;
  ops::Attrs bounds;  // clamp to [-0.25, 0.75]; 0.3 / 1.5 wherever an op reads scalar/scalar2
  bounds.scalar = -0.25;
  bounds.scalar2 = 0.75;
  bounds.flag = bounds.flag2 = true;
  ops::Attrs scales;
  scales.scalar = 0.3;
  scales.scalar2 = 1.5;
  return {defaults, bounds, scales};
}

}  // namespace tl::test
