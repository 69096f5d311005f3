#include "runtime/cuda/fused_kernel.h"

#include "runtime/base/sha256.h"
#include "runtime/cuda/launch.h"
#include "tl/error.h"

namespace tl::rt::cuda {

CudaFusedKernel::CudaFusedKernel(FusedGroup group, std::string description)
    : group_(std::move(group)), description_(std::move(description)) {
  // The entry is named by the source's digest, so two groups of a process never collide.
  const std::string body = fused_kernel_source(group_, "tl_fused");
  entry_ = "tl_fused_" + to_hex(sha256(body.data(), body.size())).substr(0, 16);
  source_ = fused_kernel_source(group_, entry_);
}

void CudaFusedKernel::run(std::span<const Tensor> inputs, Tensor& out) const {
  if (inputs.size() != group_.inputs.size())
    throw ValueError("tl: fused group " + description_ + " takes " + std::to_string(group_.inputs.size()) +
                     " inputs, got " + std::to_string(inputs.size()));
  if (!out.is_contiguous() || out.dtype() != group_.steps.back().dtype)
    throw ValueError("tl: fused group " + description_ + " writes a contiguous " +
                     dtype_name(group_.steps.back().dtype) + " result");
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
  KernelRunner& r = runner();
  r.launch(r.function(source_, entry_, "fused " + description_), launch_1d(n), args);
}

}  // namespace tl::rt::cuda
