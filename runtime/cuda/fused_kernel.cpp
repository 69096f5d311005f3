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
  KernelRunner& r = runner();
  r.launch(r.function(source_, entry_, "fused " + description_), launch_1d(n), args);
}

void CudaFusedKernel::run_reduction(std::span<const Tensor> inputs, Tensor& out) const {
  // The iteration space: the inputs broadcast together (right-aligned, space_rank dims).
  const int rank = group_.space_rank;
  Shape space;
  for (int d = 0; d < rank; ++d) space.push_back(1);
  for (const Tensor& t : inputs) {
    if (t.dim() > rank) throw ShapeError("tl: fused group " + description_ + ": an input has more dims than it sums");
    for (int64_t d = 0; d < t.dim(); ++d) {
      int64_t& s = space[rank - t.dim() + d];
      if (t.shape()[d] != 1 && s != 1 && s != t.shape()[d])
        throw ShapeError("tl: fused group " + description_ + ": inputs that do not broadcast together");
      if (t.shape()[d] != 1) s = t.shape()[d];
    }
  }
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t d : group_.reduce_dims) reduced[static_cast<size_t>(d)] = true;
  Shape kept_shape, reduced_shape;
  int64_t per_output = 1;
  for (int d = 0; d < rank; ++d) {
    if (reduced[static_cast<size_t>(d)]) {
      reduced_shape.push_back(space[d]);
      per_output *= space[d];
    } else {
      kept_shape.push_back(space[d]);
    }
  }
  if (kept_shape.numel() != out.numel())
    throw ShapeError("tl: fused group " + description_ + " sums " + space.str() + " into " + out.shape().str());
  KernelArgs args;
  for (const Tensor& t : inputs) args.add(t);
  args.add(out).add(kernel_shape(kept_shape)).add(kernel_shape(reduced_shape));
  std::vector<KernelStrides> kept_strides, reduced_strides;
  for (const Tensor& t : inputs) {
    const KernelStrides all = kernel_strides(t, rank);  // 0 where t broadcasts
    KernelStrides k, r;
    int nk = 0, nr = 0;
    for (int d = 0; d < rank; ++d) (reduced[static_cast<size_t>(d)] ? r.stride[nr++] : k.stride[nk++]) = all.stride[d];
    kept_strides.push_back(k);
    reduced_strides.push_back(r);
  }
  for (const KernelStrides& k : kept_strides) args.add(k);
  for (const KernelStrides& r : reduced_strides) args.add(r);
  const int64_t n = out.numel();
  args.add<long long>(n).add<long long>(per_output);
  // A mean of no values is NaN (0 * inf), as on the CPU.
  args.add<double>(group_.mean ? 1.0 / static_cast<double>(per_output) : 1.0);
  if (n == 0) return;
  KernelRunner& r = runner();
  r.launch(r.function(source_, entry_, "fused " + description_), launch_1d(n), args);
}

}  // namespace tl::rt::cuda
