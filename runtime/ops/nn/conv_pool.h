// What the pooling ops' kernels on every device share: the window geometry their attributes
// describe.
#pragma once

#include "runtime/cpu/pool.h"
#include "runtime/ops/registry.h"

namespace tl::ops {

// The geometry of pooling x: (N, C, H, W) under a pool op's attributes (dims = kernel, stride,
// padding: 2 values each), checked by the op's shape rule.
rt::cpu::Pool2dGeometry pool_geometry(const Shape& x, const Attrs& a);

}  // namespace tl::ops
