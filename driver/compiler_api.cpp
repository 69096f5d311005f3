// The C entry point of libtl_compiler.so (see frontend/compile/compiler_api.h). Nothing may
// escape across the dlopen boundary, so every exception becomes PipelineResult::error.
#include <type_traits>

#include "driver/pipeline.h"

extern "C" __attribute__((visibility("default"))) void tl_compiler_run_pipeline(
    const tl::trace::Graph& in, const tl::compiler::PipelineOptions& options, tl::compiler::PipelineResult& out) {
  try {
    tl::driver::run_pipeline(in, options, out);
  } catch (const std::exception& e) {
    out.ok = false;
    out.error = std::string("tl::compile: internal compiler error: ") + e.what();
  } catch (...) {
    out.ok = false;
    out.error = "tl::compile: internal compiler error (unknown exception)";
  }
}

extern "C" __attribute__((visibility("default"))) uint64_t tl_compiler_abi_stamp() {
  return tl::compiler::kAbiStamp;
}

static_assert(std::is_same_v<decltype(&tl_compiler_run_pipeline), tl::compiler::RunPipelineFn>,
              "tl_compiler_run_pipeline must match compiler_api.h");
