// A fused group of elementwise ops compiled for CUDA: the kernel a compiled program's fused
// node runs on the GPU (the CPU's counterpart is rt::FusedKernel, generated through LLVM).
// Its source comes from the group's ops' one statement of scalar math (fused_kernel_source);
// NVRTC compiles it through the kernel cache the first time it runs.
#pragma once

#include <span>
#include <string>

#include "runtime/cuda/cuda_source.h"
#include "runtime/cuda/fused_reduction.h"
#include "runtime/exec/graph.h"

namespace tl::rt::cuda {

class CudaFusedKernel : public trace::CompiledKernel {
 public:
  // `description`: the group's ops for dumps ("mul+add+gelu").
  CudaFusedKernel(FusedGroup group, std::string description);
  // `out`: contiguous, the group's result shape and dtype; `inputs` broadcast to it.
  void run(std::span<const Tensor> inputs, Tensor& out) const override;
  std::string describe() const override { return description_; }
  bool is_elementwise() const override { return group_.reduce_dims.empty(); }
  const FusedGroup& group() const { return group_; }
  const std::string& source() const { return source_; }
  const std::string& entry() const { return entry_; }
  // A group ending in a sum has two forms (fused_reduction.h): source() and entry() are the
  // thread form, block_kernel() the block form; reduce_form() is the one run() takes at inputs
  // of `input_shapes`.
  const FusedKernelSource& block_kernel() const { return block_; }
  FusedReduceForm reduce_form(std::span<const Shape> input_shapes) const;

 private:
  void run_reduction(std::span<const Tensor> inputs, Tensor& out) const;
  FusedGroup group_;
  std::string description_, entry_, source_;
  FusedKernelSource block_;  // empty for an elementwise group
};

}  // namespace tl::rt::cuda
