#include "runtime/cuda/fused_kernel.h"

#include "runtime/base/sha256.h"
#include "runtime/cuda/launch.h"
#include "tl/error.h"

namespace tl::rt::cuda {

CudaFusedKernel::CudaFusedKernel(FusedGroup group, std::string description)
    : group_(std::move(group)), description_(std::move(description)) {
  // The entry is named by the source's digest, so two groups of a process never collide: the
  // source is written once under a placeholder name, which then takes the digest.
  const std::string placeholder = "tl_fused";
  source_ = fused_kernel_source(group_, placeholder);
  entry_ = placeholder + "_" + to_hex(sha256(source_.data(), source_.size())).substr(0, 16);
  const size_t at = source_.find(" " + placeholder + "(");
  TL_ASSERT(at != std::string::npos, "a fused kernel's source without its entry");
  source_.replace(at + 1, placeholder.size(), entry_);
  if (!group_.reduce_dims.empty()) block_ = fused_block_reduction_kernel(group_);
}

void CudaFusedKernel::run(std::span<const Tensor> inputs, Tensor& out) const {
  if (inputs.size() != group_.inputs.size())
    throw ValueError("tl: fused group " + description_ + " takes " + std::to_string(group_.inputs.size()) +
                     " inputs, got " + std::to_string(inputs.size()));
  if (!out.is_contiguous() || out.dtype() != group_.steps.back().dtype)
    throw ValueError("tl: fused group " + description_ + " writes a contiguous " +
                     dtype_name(group_.steps.back().dtype) + " result");
  if (!group_.reduce_dims.empty()) return run_reduction(inputs, out);
  const int64_t rank = out.dim();
  KernelArgs args;
  for (const Tensor& t : inputs) args.add(t);
  args.add(out).add(kernel_shape(out.shape()));
  for (const Tensor& t : inputs) {
    if (t.dim() > rank) throw ShapeError("tl: fused group " + description_ + ": an input has more dims than its result");
    args.add(kernel_strides(t, rank));
  }
  const int64_t n = out.numel();
  args.add<long long>(n);
  if (n == 0) return;
  runner().launch(cached_function(entry_, [&] { return source_; }, description_), launch_1d(n), args);
}

void CudaFusedKernel::run_reduction(std::span<const Tensor> inputs, Tensor& out) const {
  run_fused_reduction(group_, FusedKernelSource{entry_, source_}, block_, description_, inputs, out);
}

FusedReduceForm CudaFusedKernel::reduce_form(std::span<const Shape> input_shapes) const {
  TL_ASSERT(!group_.reduce_dims.empty(), "the reduction form of an elementwise fused group");
  return fused_reduce_form(fused_reduce_space(group_, input_shapes, description_), group_.reduce_dims);
}

}  // namespace tl::rt::cuda
