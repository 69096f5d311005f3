// CUDA code generation for fused elementwise groups: each group tl-fuse-elementwise outlined
// (a private func.func of tl ops returning one tensor) becomes a rt::cuda::CudaFusedKernel,
// whose CUDA C comes from the ops' one statement of scalar math (OpDef::pointwise) and which
// NVRTC compiles when it first runs. Compiler-side only (MLIR types).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <llvm/ADT/ArrayRef.h>
#include <mlir/Dialect/Func/IR/FuncOps.h>

#include "runtime/cuda/cuda_source.h"
#include "runtime/exec/graph.h"

namespace tl::codegen::cuda {

struct GroupKernel {
  std::shared_ptr<const trace::CompiledKernel> kernel;  // null when the group cannot run as one kernel
  std::string error;                                   // why, then
};

// `group` as the steps of one CUDA kernel (rt::cuda::FusedGroup; a group ending in a sum or
// mean records the dims it reduces), and in `ops` its ops joined by '+'; returns why it
// cannot be one kernel (empty when it can).
std::string describe_group(mlir::func::FuncOp group, rt::cuda::FusedGroup& out, std::string& ops);

// One result per group.
std::vector<GroupKernel> compile_groups(llvm::ArrayRef<mlir::func::FuncOp> groups);

}  // namespace tl::codegen::cuda
