// Placeholder for the `tl` dialect: checks that MLIR is found and linkable. The dialect's
// ODS definitions land here with the tracer.
#include <mlir/IR/MLIRContext.h>

namespace tl::ir {

// Creates and destroys an MLIR context; used by the build smoke test.
bool mlir_available() {
  mlir::MLIRContext context;
  return context.getLoadedDialects().empty();
}

}  // namespace tl::ir
