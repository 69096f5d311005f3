// The boundary between libtl and the MLIR-based compiler library (libtl_compiler.so). libtl
// loads the compiler with dlopen the first time a tl::compile'd function is traced, so
// programs that never compile neither load MLIR nor pay its start-up cost. Both sides are
// built by the same compiler from the same tree, so C++ types cross the boundary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/exec/graph.h"

namespace tl::compiler {

struct PipelineOptions {
  // Comma-separated pass names, as tl-opt spells them (e.g.
  // "tl-functionalize,tl-autodiff,canonicalize,cse,symbol-dce"); empty means the default
  // (driver/pipeline.h).
  std::string pipeline;
  // When non-empty, the IR before and after every pass is written under this folder.
  std::string dump_dir;
  // Whether the program's outputs must stay differentiable by eager autograd (a forward
  // function called with grad mode on): then no op may be replaced by generated code, which
  // records no autograd node, and the fusion passes are skipped.
  bool needs_autograd = false;
  // Whether fused groups may become generated code (kFused nodes).
  bool codegen = true;
  // LLVM features ("+avx2", ...) the generated code targets on generic x86-64 instead of the
  // host CPU: a compiled artifact's code runs on any CPU with these features.
  std::vector<std::string> target_features;
  // The device the program runs on: for CUDA, fused groups become CUDA kernels, and the
  // rewrites into ops that have only CPU kernels (conv layouts, epilogues) are skipped.
  DeviceType device = DeviceType::kCPU;
};

struct PipelineResult {
  bool ok = false;
  std::string error;        // when !ok: what failed, naming the pass and the op
  trace::Graph graph;       // the optimized graph (structural assign/grad nodes removed)
  std::string ir_before;    // textual IR as imported
  std::string ir_after;     // textual IR after the pipeline
};

// The layout of the types that cross the boundary. libtl and the compiler library must be
// built from the same tree; the loader refuses a library whose stamp differs (a stale build)
// instead of letting it misread these structs.
inline constexpr uint64_t kAbiStamp =
    sizeof(trace::Node) * 1000003ull + sizeof(trace::Graph) * 10007ull + sizeof(trace::Input) * 1009ull +
    sizeof(ops::Attrs) * 101ull + sizeof(PipelineOptions) * 11ull + sizeof(PipelineResult) * 3ull +
    sizeof(Shape) + sizeof(Tensor) * 7ull;
inline constexpr const char* kAbiStampSymbol = "tl_compiler_abi_stamp";
using AbiStampFn = uint64_t (*)();

// Exported by libtl_compiler.so with C linkage under this name.
inline constexpr const char* kRunPipelineSymbol = "tl_compiler_run_pipeline";
using RunPipelineFn = void (*)(const trace::Graph& in, const PipelineOptions& options, PipelineResult& out);

}  // namespace tl::compiler
