// The op table (runtime/ops/registry.h) as the frontend uses it: every eager op runs through
// `call`, the single funnel where devices are checked, outputs allocated, kernels dispatched,
// the op traced and the autograd graph recorded.
#pragma once

#include "runtime/ops/registry.h"
#include "tl/ops.h"

namespace tl::ops {

// Runs `op` on `inputs`: checks devices, infers the output, allocates it, dispatches the
// kernel for the inputs' device and records the autograd node when grad is needed.
Tensor call(const OpDef& op, std::initializer_list<Tensor> inputs, const Attrs& attrs, Site site);
Tensor call(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Site site);

}  // namespace tl::ops
