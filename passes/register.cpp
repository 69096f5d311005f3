// The tl passes by name (tl-functionalize, ...) for pipelines spelled as text: tl::compile's
// driver and tl-opt parse the same names.
#include <mutex>

#include <mlir/Pass/PassRegistry.h>
#include <mlir/Transforms/Passes.h>

#include "passes/passes.h"

namespace tl::passes {

void register_passes() {
  static std::once_flag once;
  std::call_once(once, [] {
    mlir::registerTransformsPasses();
    mlir::registerPass(create_functionalize_pass);
    mlir::registerPass(create_fold_pass);
    mlir::registerPass(create_autodiff_pass);
    mlir::registerPass(create_fuse_elementwise_pass);
    mlir::registerPass(create_transpose_matmul_pass);
    mlir::registerPass(create_matmul_epilogue_pass);
    mlir::registerPass(create_conv_epilogue_pass);
    mlir::registerPass(create_conv_layout_pass);
  });
}

}  // namespace tl::passes
