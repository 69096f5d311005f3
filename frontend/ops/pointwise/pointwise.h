// Elementwise helpers that run ops (and so record autograd): the frontend's additions to
// runtime/ops/pointwise/pointwise.h.
#pragma once

#include "frontend/ops/registry.h"
#include "runtime/ops/pointwise/pointwise.h"

namespace tl::ops {

// relu's derivative: dy where y > 0, else 0 (a registered op, used by relu's grad rule).
Tensor relu_backward(const Tensor& dy, const Tensor& y, Site site = Site::here());
// Casts `a` and `b` to their promoted dtype (no-op when they already match).
void promote_operands(Tensor& a, Tensor& b, Site site);
// `x` itself when it is floating point, else `x` cast to float32: float-only ops take integer
// inputs the way PyTorch does.
Tensor as_floating(const Tensor& x, Site site);
// A 0-d tensor holding `value` in the dtype and on the device of `like`.
Tensor scalar_like(double value, const Tensor& like);

}  // namespace tl::ops
