// tl-opt: runs passes on .mlir files holding tl IR, like mlir-opt, with the tl, func and
// arith dialects and the tl passes registered. The lit tests (tests/ir, tests/passes)
// drive it: `tl-opt -tl-functionalize -cse input.mlir`.
#include <mlir/Tools/mlir-opt/MlirOptMain.h>
#include <mlir/Transforms/Passes.h>

#include "ir/dialect.h"
#ifdef TL_HAVE_PASSES
#include "passes/passes.h"
#endif

int main(int argc, char** argv) {
#ifdef TL_HAVE_PASSES
  tl::passes::register_passes();  // also registers canonicalize, cse, symbol-dce, ...
#else
  mlir::registerTransformsPasses();
#endif
  mlir::DialectRegistry registry;
  tl::ir::register_dialects(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "Tracelight IR optimizer\n", registry));
}
