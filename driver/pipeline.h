// The compiler driver behind libtl_compiler.so: traced graph in, optimized graph out. It sits
// above passes/ and codegen/ and decides which of them run. Plain C++ types only, so the C
// entry point (compiler_api.cpp) includes no MLIR header.
#pragma once

#include "frontend/compile/compiler_api.h"

namespace tl::driver {

// The default pipeline tl::compile runs. After it, when code generation is available and
// the program need not stay differentiable, the driver appends the fusion and code
// generation passes (kCodegenPipeline) and exports their groups as kFused nodes.
inline constexpr const char* kDefaultPipeline =
    "tl-functionalize,tl-autodiff,canonicalize,tl-fold,tl-transpose-matmul,cse,canonicalize";
inline constexpr const char* kCodegenPipeline = "tl-matmul-epilogue,tl-conv-epilogue,tl-conv-layout,tl-fuse-elementwise";
// For a program on CUDA: fusion only (the other rewrites make ops whose kernels are CPU-only),
// with sums along rows too: CUDA's fused kernels give a row a block of threads.
inline constexpr const char* kCudaCodegenPipeline = "tl-fuse-elementwise{row-reductions=true}";
// What follows the default pipeline for a program exported to an artifact (options.codegen
// false): the rewrites that need no generated code.
inline constexpr const char* kExportPipeline = "tl-matmul-epilogue,tl-conv-epilogue,tl-conv-layout";

// Imports `in`, runs `options.pipeline` (kDefaultPipeline when empty, followed by
// kCodegenPipeline unless `options.needs_autograd` or TL_CODEGEN=0) and exports the result
// into `out`. Groups that tl-fuse-elementwise outlined are JIT-compiled (codegen/cpu) and
// exported as kFused nodes; a group that fails to compile goes back to its ops, and a comment
// at the top of `out.ir_after` says why. On failure `out.ok` is false and `out.error` says what failed (the import, the
// pipeline's text, a named pass, the dump folder, the export) followed by the diagnostics
// MLIR reported, each with the user's file and line when the op has one. Writes the IR
// before and after each pass under `options.dump_dir` when it is set. Throws only what it
// cannot classify (bad_alloc, broken internal invariants).
void run_pipeline(const trace::Graph& in, const compiler::PipelineOptions& options, compiler::PipelineResult& out);

}  // namespace tl::driver
