// CPU code generation for fused elementwise groups: the JIT compilation of the groups
// tl-fuse-elementwise outlines (private func.func carrying a `fused` attribute) into
// CompiledKernels. Each op's scalar math comes from its op-table entry (OpDef::pointwise).
// Compiler-side only (MLIR types).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <llvm/ADT/ArrayRef.h>
#include <mlir/Dialect/Func/IR/FuncOps.h>

#include "runtime/exec/graph.h"

namespace tl::codegen::cpu {

struct KernelResult {
  std::shared_ptr<const trace::CompiledKernel> kernel;  // null when compilation failed
  std::string error;                                   // why, when kernel is null
  bool from_cache = false;  // compiled earlier in this process
  bool from_disk = false;   // linked from the disk cache (runtime/base/disk_cache.h)
};

// Compiles each group (a func.func of tl ops returning one tensor, every op elementwise or a
// splat tl.constant, the last one possibly a sum or mean) to a kernel: linalg.generic on memrefs -> loops -> LLVM, optimized at
// -O3 for the host CPU, f32 transcendentals by polynomial approximation. Groups whose IR
// (ignoring names and locations) was compiled before in this process reuse that kernel; the
// others are compiled in one LLVM module, whose object code is kept in the disk cache
// (kernel_disk_cache()) under the groups' IR, this build of tl and the host CPU, so that a
// later process compiling the same groups links the object instead. Never throws for a group
// it cannot compile.
// With `target_features` ("+avx2", "+fma", ...) the code targets generic x86-64 with those
// features instead of the host (for a compiled artifact that runs on other CPUs); each
// kernel keeps its object code (rt::FusedKernel::machine_code).
std::vector<KernelResult> compile_groups(llvm::ArrayRef<mlir::func::FuncOp> groups,
                                        const std::vector<std::string>& target_features = {});

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
