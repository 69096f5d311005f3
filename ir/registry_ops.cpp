// The generated registry ops' definitions, kept apart from dialect.cpp so that the two
// large generated files compile in parallel.
#include "ir/registry_ops.h"

#include <mlir/IR/Builders.h>
#include <mlir/IR/OpImplementation.h>

// The generated definitions leave some builder parameters unused.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define GET_OP_CLASSES
#include "ir/registry_ops.cpp.inc"
#pragma GCC diagnostic pop

namespace tl::ir {

void TlDialect::add_registry_ops() {
  addOperations<
#define GET_OP_LIST
#include "ir/registry_ops.cpp.inc"
      >();
}

}  // namespace tl::ir
