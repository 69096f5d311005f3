// Loads libtl_compiler.so (the MLIR pipeline) on first use. See compiler_api.h.
#pragma once

#include <string>

#include "frontend/compile/compiler_api.h"

namespace tl::compiler {

// The pipeline entry point, or null with `why` set when the library cannot be loaded.
RunPipelineFn load(std::string& why);

}  // namespace tl::compiler
