// The CompiledKernel of a fused elementwise group: calls generated code (a loop nest the code
// generator compiled, codegen/cpu/elementwise.cpp) over chunks of output rows, in parallel
// for large outputs. The same class runs code JIT-compiled in process and code a compiled
// artifact carries (runtime/artifact/machine_code.h), so it lives in the runtime and holds no
// MLIR or LLVM type; whatever keeps the code alive is held as an opaque owner.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/exec/graph.h"

namespace tl::rt {

namespace cuda {
struct FusedGroup;  // runtime/cuda/cuda_source.h
}

// How the generated function sees its operands. The iteration space is the output shape with
// its size-1 dims dropped and its adjacent dims merged wherever every input either spans both
// or is broadcast along both (so a contiguous [B, T, C] plus a bias [C] runs as [B*T, C] with
// the bias broadcast along dim 0). Every operand is a contiguous memref of rank `dims.size()`;
// the generated code takes dim 0's size at run time and has the others built in.
struct FusedLayout {
  Shape out_shape;  // the node's shape, as traced
  DType out_dtype = kFloat32;
  Shape dims;  // the collapsed iteration space; rank >= 1
  struct Operand {
    Shape shape;  // as traced
    DType dtype = kFloat32;
    std::vector<bool> broadcast;  // per collapsed dim: the operand has size 1 there
  };
  std::vector<Operand> inputs;
  // Groups ending in a reduction: per collapsed dim, whether it is reduced (the output has
  // size 1 there, and the kernel accumulates into it). Empty for elementwise groups.
  std::vector<bool> reduced;
  double scale = 1;  // the reduction's result is multiplied by it (a mean's 1/count)
  // The uncollapsed iteration space's rank, and how many of its leading dims make up dims[0]:
  // a batch dim among them changes only dims[0], which the code takes at run time (rebind).
  int64_t space_rank = 0;
  int64_t leading_dims = 0;
};

// Computes the collapsed layout of a group whose inputs have `input_shapes` and whose output
// has `out_shape` (inputs broadcast to it by NumPy rules).
FusedLayout collapse_layout(const Shape& out_shape, DType out_dtype, const std::vector<Shape>& input_shapes,
                            const std::vector<DType>& input_dtypes);

// The object code a kernel came from, kept so that a compiled artifact can carry it: an ELF
// relocatable object shared by the kernels compiled with it, and this kernel's entry symbol.
struct MachineCode {
  std::shared_ptr<const std::string> object;
  std::string symbol;
  // The LLVM feature names the object was compiled for ("+avx2", ...); empty for the host's own.
  std::vector<std::string> target_features;
};

// `entry` is the packed entry point of the generated function (MLIR's C interface:
// entry(args) with args[i] pointing at a pointer to operand i's memref descriptor, inputs then
// the output). `owner` keeps the code alive (an LLVM JIT, or an object loaded from an artifact).
class FusedKernel : public trace::CompiledKernel {
 public:
  using Entry = void (*)(void**);
  FusedKernel(FusedLayout layout, Entry entry, std::shared_ptr<const void> owner, std::string description,
              MachineCode code = {})
      : layout_(std::move(layout)),
        entry_(entry),
        owner_(std::move(owner)),
        description_(std::move(description)),
        code_(std::move(code)) {}

  // Inputs that are not contiguous are copied first. Outputs of more than
  // rt::kElementwiseGrain elements are computed in chunks of whole rows of that size, in
  // parallel; chunk boundaries depend only on the shape, so results do not depend on the
  // thread count.
  void run(std::span<const Tensor> inputs, Tensor& out) const override;
  std::string describe() const override { return description_; }
  bool is_elementwise() const override {
    for (bool r : layout_.reduced)
      if (r) return false;
    return true;
  }
  const FusedLayout& layout() const { return layout_; }
  const MachineCode& machine_code() const { return code_; }
  // The group as the steps of one CUDA kernel, when it has that form (null for a group ending
  // in a reduction): what an artifact records so that its program can also run on CUDA.
  const std::shared_ptr<const cuda::FusedGroup>& cuda_group() const { return cuda_group_; }
  // This kernel with `group` as its CUDA form.
  std::shared_ptr<const FusedKernel> with_cuda_group(std::shared_ptr<const cuda::FusedGroup> group) const {
    auto k = std::make_shared<FusedKernel>(*this);
    k->cuda_group_ = std::move(group);
    return k;
  }

  // The same code for operands whose leading dims (those that form dims[0]: a batch dim)
  // differ from the traced ones. Throws ShapeError when a shape differs elsewhere, or when
  // the group reduces over dims[0], naming `what`.
  std::shared_ptr<const FusedKernel> rebind(const Shape& out_shape, const std::vector<Shape>& input_shapes,
                                            const std::string& what) const;

 private:
  FusedLayout layout_;
  Entry entry_;
  std::shared_ptr<const void> owner_;
  std::string description_;
  MachineCode code_;
  std::shared_ptr<const cuda::FusedGroup> cuda_group_;
};

}  // namespace tl::rt
