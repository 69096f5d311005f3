// The launches of a fused group ending in a sum or mean, in the form its shapes call for. The
// block form is laid out as the sum op's kernel (reduce_layout.h): the same block shapes, the
// same split of long reductions over blockIdx.y, combined in order in a second pass.
#include "runtime/cuda/fused_reduction.h"

#include <algorithm>
#include <vector>

#include "runtime/base/sha256.h"
#include "runtime/cuda/launch.h"
#include "runtime/cuda/reduce_layout.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

// Whether the innermost dim of `space` of size > 1 is one of `reduce_dims`.
bool innermost_reduced(const Shape& space, std::span<const int64_t> reduce_dims) {
  for (int64_t d = static_cast<int64_t>(space.size()) - 1; d >= 0; --d)
    if (space[d] != 1) return std::find(reduce_dims.begin(), reduce_dims.end(), d) != reduce_dims.end();
  return false;
}

}  // namespace

Shape fused_reduce_space(const FusedGroup& group, std::span<const Shape> input_shapes, const std::string& description) {
  const int rank = group.space_rank;
  if (rank < 0 || rank > kMaxKernelRank)
    throw ShapeError("tl: fused group " + description + " sums a rank-" + std::to_string(rank) +
                     " space (kernels index up to " + std::to_string(kMaxKernelRank) + " dims)");
  for (size_t i = 0; i < group.reduce_dims.size(); ++i)
    if (group.reduce_dims[i] < 0 || group.reduce_dims[i] >= rank || (i > 0 && group.reduce_dims[i] <= group.reduce_dims[i - 1]))
      throw ValueError("tl: fused group " + description + " sums dims that are not ascending dims of its rank-" +
                       std::to_string(rank) + " space");
  Shape space;
  for (int d = 0; d < rank; ++d) space.push_back(1);
  for (const Shape& in : input_shapes) {
    if (in.size() > rank)
      throw ShapeError("tl: fused group " + description + ": an input " + in.str() + " has more dims than the rank-" +
                       std::to_string(rank) + " space it sums");
    for (int64_t d = 0; d < in.size(); ++d) {
      int64_t& s = space[rank - in.size() + d];
      if (in[d] != 1 && s != 1 && s != in[d])
        throw ShapeError("tl: fused group " + description + ": inputs that do not broadcast together (" + in.str() +
                         " against " + space.str() + ")");
      if (in[d] != 1) s = in[d];
    }
  }
  return space;
}

// One thread per output adds that output's values in order, with no shared memory and no
// barrier: the cheapest form where outputs are many and the kept dims inner (a bias gradient:
// each step of the threads of a warp reads one contiguous run of a row of the batch, and
// thousands of threads fill the GPU). It loses in two cases, which the block form serves:
// - the innermost dim is reduced (layer norm's statistics, a loss over classes): neighbouring
//   threads would read values a row apart, one memory transaction per value; in the block form
//   neighbouring threads read neighbouring values of the same row;
// - outputs are fewer than the values of each (a column sum of a tall matrix, a mean to a
//   scalar): a few threads would each walk a long dependency chain while the GPU idles; the
//   block form puts up to 256 threads on each output, and splits the values across blocks
//   when even that leaves the GPU idle.
FusedReduceForm fused_reduce_form(const Shape& space, std::span<const int64_t> reduce_dims) {
  int64_t outputs = 1, per_output = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(space.size()); ++d)
    (std::find(reduce_dims.begin(), reduce_dims.end(), d) != reduce_dims.end() ? per_output : outputs) *= space[d];
  return innermost_reduced(space, reduce_dims) || outputs < per_output ? FusedReduceForm::kBlockPerOutput
                                                                        : FusedReduceForm::kThreadPerOutput;
}

FusedKernelSource fused_block_reduction_kernel(const FusedGroup& group) {
  // Written once under a placeholder, which then takes the source's digest everywhere (the
  // entry and its combine kernel).
  const std::string placeholder = "tl_fused_block";
  FusedKernelSource k;
  k.source = fused_block_reduction_source(group, placeholder);
  k.entry = placeholder + "_" + to_hex(sha256(k.source.data(), k.source.size())).substr(0, 16);
  int replaced = 0;
  for (size_t at = k.source.find(placeholder); at != std::string::npos; at = k.source.find(placeholder, at)) {
    k.source.replace(at, placeholder.size(), k.entry);
    at += k.entry.size();
    ++replaced;
  }
  TL_ASSERT(replaced == 2, "a fused block reduction's source without its two entries");
  return k;
}

void run_fused_reduction(const FusedGroup& group, const FusedKernelSource& thread, const FusedKernelSource& block,
                         const std::string& description, std::span<const Tensor> inputs, Tensor& out) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  const Shape space = fused_reduce_space(group, shapes, description);
  const int rank = group.space_rank;
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t d : group.reduce_dims) reduced[static_cast<size_t>(d)] = true;
  // Each input's strides in the space (0 where it broadcasts), split into kept and reduced dims.
  std::vector<int64_t> kept_sizes, reduced_sizes;
  std::vector<std::vector<int64_t>> kept_strides(inputs.size()), reduced_strides(inputs.size());
  int64_t rows = 1, per_output = 1;
  for (int d = 0; d < rank; ++d) (reduced[static_cast<size_t>(d)] ? reduced_sizes : kept_sizes).push_back(space[d]);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const KernelStrides all = kernel_strides(inputs[k], rank);
    for (int d = 0; d < rank; ++d)
      (reduced[static_cast<size_t>(d)] ? reduced_strides[k] : kept_strides[k]).push_back(all.stride[d]);
  }
  for (int64_t s : kept_sizes) rows *= s;
  for (int64_t s : reduced_sizes) per_output *= s;
  if (rows != out.numel())
    throw ShapeError("tl: fused group " + description + " sums " + space.str() + " into " + out.shape().str());
  const MergedDims kept = merged_dims(kept_sizes, kept_strides), red = merged_dims(reduced_sizes, reduced_strides);
  // A mean of no values is NaN (0 * inf), as on the CPU.
  const double scale = group.mean ? 1.0 / static_cast<double>(per_output) : 1.0;
  if (rows == 0) return;
  KernelRunner& r = runner();
  KernelArgs args;
  for (const Tensor& t : inputs) args.add(t);
  if (fused_reduce_form(space, group.reduce_dims) == FusedReduceForm::kThreadPerOutput) {
    args.add(out).add(kept.shape).add(red.shape);
    for (const KernelStrides& s : kept.strides) args.add(s);
    for (const KernelStrides& s : red.strides) args.add(s);
    args.add<long long>(rows).add<long long>(per_output).add<double>(scale);
    r.launch(cached_function(thread.entry, [&] { return thread.source; }, description), launch_1d(rows), args);
    return;
  }
  const auto [shape, splits, chunk] =
      block_reduce_launch(rows, per_output, !innermost_reduced(space, group.reduce_dims));
  const DType result = group.steps.back().dtype;
  const DType acc = result == kFloat16 || result == kBFloat16 ? kFloat32 : result;
  Tensor partial;  // [splits, rows]: each chunk's sums, in the compute type
  if (splits > 1) partial = ops::empty_tensor(Shape{splits * rows}, acc, out.device());
  args.add(out).add(partial.defined() ? device_ptr(partial) : DevicePtr{0}).add(kept.shape).add(red.shape);
  for (const KernelStrides& s : kept.strides) args.add(s);
  for (const KernelStrides& s : red.strides) args.add(s);
  args.add<long long>(rows).add<long long>(per_output).add<long long>(chunk).add<double>(scale);
  r.launch(cached_function(block.entry, [&] { return block.source; }, description), shape, args);
  if (splits == 1) return;
  KernelArgs combine;
  combine.add(partial).add(out).add<long long>(rows).add<long long>(splits).add<double>(scale);
  // The combine kernel is the second entry of the block form's source.
  r.launch(cached_function(block.entry + "_combine", [&] { return block.source; }, description), launch_1d(rows),
           combine);
}

}  // namespace tl::rt::cuda
