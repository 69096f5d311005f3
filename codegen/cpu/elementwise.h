// CPU code generation for fused elementwise groups: which tl ops have a scalar lowering, and
// the JIT compilation of the groups tl-fuse-elementwise outlines (private func.func carrying
// a `fused` attribute) into CompiledKernels. Compiler-side only (MLIR types).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <llvm/ADT/ArrayRef.h>
#include <mlir/Dialect/Func/IR/FuncOps.h>

#include "frontend/compile/graph.h"

namespace tl::codegen::cpu {

// Whether `op` is a tl registry op this generator lowers to scalar code: an elementwise op in
// its table (add, mul, gelu, ...) whose operands and result are f32 or f64 tensors of static
// shape, with attributes it supports.
bool is_elementwise(mlir::Operation* op);

// Whether `op` is a reduction a group may end in: tl.sum (or mean: its flag) of an f32/f64
// tensor of static shape over at least one dim but not the innermost one (of size > 1),
// reducing at most kMaxFusedReduction elements into each output element. The generated loop
// accumulates in order, in the input's type: over outer dims it vectorizes across the kept
// inner dim, but along a row it is one scalar dependency chain that also keeps the group's
// elementwise math scalar, slower than the eager ops it would replace (measured 12 ms fused
// vs 7 ms eager for exp+mul+sum over rows of 16 floats, 4M elements).
bool is_fusible_reduction(mlir::Operation* op);
inline constexpr int64_t kMaxFusedReduction = 1 << 16;

struct KernelResult {
  std::shared_ptr<const trace::CompiledKernel> kernel;  // null when compilation failed
  std::string error;                                   // why, when kernel is null
  bool from_cache = false;  // compiled earlier in this process
  bool from_disk = false;   // linked from the disk cache (codegen/cpu/disk_cache.h)
};

// Compiles each group (a func.func of tl ops returning one tensor, every op elementwise or a
// splat tl.constant) to a kernel: linalg.generic on memrefs -> loops -> LLVM, optimized at
// -O3 for the host CPU, f32 transcendentals by polynomial approximation. Groups whose IR
// (ignoring names and locations) was compiled before in this process reuse that kernel; the
// others are compiled in one LLVM module, whose object code is kept in the disk cache
// (kernel_disk_cache()) under the groups' IR, this build of tl and the host CPU, so that a
// later process compiling the same groups links the object instead. Never throws for a group
// it cannot compile.
std::vector<KernelResult> compile_groups(llvm::ArrayRef<mlir::func::FuncOp> groups);

// Kernels compiled, linked from the disk cache, and in-process cache hits, for tests and logs.
struct CacheStats {
  int64_t compiled = 0;
  int64_t loaded = 0;
  int64_t hits = 0;
};
CacheStats cache_stats();

// Forgets the kernels compiled in this process (kernels in use stay valid), so the next
// compile_groups reads the disk cache as a new process would. For tests.
void clear_cache();

}  // namespace tl::codegen::cpu
