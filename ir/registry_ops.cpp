// The generated registry ops' definitions, kept apart from dialect.cpp so that the two
// large generated files compile in parallel.
#include "ir/registry_ops.h"

#include <mlir/IR/Builders.h>
#include <mlir/IR/ExtensibleDialect.h>
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
  // Ops defined outside libtl (a program's or a test's own define_op) have no generated class:
  // they are registered at run time, with the same verifier, when the dialect is loaded (after
  // static initialization, so the op table is complete). Printed and parsed in generic form.
  for (const ops::OpDef* def : ops::all_ops()) {
    if (mlir::RegisteredOperationName::lookup("tl." + def->name, getContext())) continue;
    registerDynamicOp(mlir::DynamicOpDefinition::get(
        def->name, this, [](mlir::Operation* op) { return verify_registry_op(op); },
        [](mlir::Operation*) { return mlir::success(); }));
  }
}

}  // namespace tl::ir
