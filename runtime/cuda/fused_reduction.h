// How a fused group ending in a sum or mean runs on CUDA (rt::cuda::CudaFusedKernel): the two
// kernels cuda_source.h writes for it, the rule that picks one from the shapes of each run, and
// their launches.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "runtime/cuda/cuda_source.h"
#include "tl/tensor.h"

namespace tl::rt::cuda {

enum class FusedReduceForm {
  kThreadPerOutput,  // fused_kernel_source: each thread adds one output's values in order
  kBlockPerOutput,   // fused_block_reduction_source: a block's threads share each output's values
};

// The iteration space of `group`'s reduction at inputs of `input_shapes`: the shapes broadcast
// together, right-aligned, to group.space_rank dims. Throws ShapeError naming `description`
// when an input has more dims or the inputs do not broadcast together.
Shape fused_reduce_space(const FusedGroup& group, std::span<const Shape> input_shapes, const std::string& description);

// The form that sums `reduce_dims` (ascending) of `space`: the block form where the innermost
// dim of size > 1 is reduced, or where there are fewer outputs than values per output; the
// thread form otherwise (fused_reduction.cpp says why each wins where it does). Depends on the
// shapes only, never on strides, so a program's groups take the same form run after run.
FusedReduceForm fused_reduce_form(const Shape& space, std::span<const int64_t> reduce_dims);

// A kernel source (complete, with its preamble) and its entry.
struct FusedKernelSource {
  std::string entry, source;
};
// The block form of `group` (fused_block_reduction_source), its entry named by the source's
// digest ("tl_fused_block_" and 16 hex digits; its second kernel is "<entry>_combine"), so two
// groups of a process never share a name.
FusedKernelSource fused_block_reduction_kernel(const FusedGroup& group);

// Sums `group`'s last step over its reduce_dims into `out` (contiguous, the kept dims'
// elements in order; a mean scales by 1 / the values per output, NaN for none), `inputs`
// broadcast to the iteration space, with `thread` or `block` as fused_reduce_form picks;
// `description` names the group in errors. The block form allocates a scratch buffer of the
// compute type on out's device when it splits outputs across blocks. Launches on the current
// stream; does not synchronize. Throws ShapeError when `out` does not hold the kept elements.
void run_fused_reduction(const FusedGroup& group, const FusedKernelSource& thread, const FusedKernelSource& block,
                         const std::string& description, std::span<const Tensor> inputs, Tensor& out);

}  // namespace tl::rt::cuda
