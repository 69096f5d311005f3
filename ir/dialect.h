// The `tl` dialect: its class, the structural ops (tl.constant, tl.random, tl.grad,
// tl.assign, tl.guard), the verifier shared by the registry ops, and the link from an op to
// its op-table entry. The generated registry op classes (tl.add, ...) are in
// registry_ops.h; most code handles them generically through op_def. Compiler-side only.
#pragma once

#include <memory>

#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/IR/BuiltinTypes.h>
#include <mlir/IR/Dialect.h>
#include <mlir/IR/ExtensibleDialect.h>
#include <mlir/IR/OpDefinition.h>
#include <mlir/Interfaces/InferTypeOpInterface.h>
#include <mlir/Interfaces/SideEffectInterfaces.h>

#include "frontend/ops/registry.h"

namespace tl::ir {

// Registers the tl, func and arith dialects.
void register_dialects(mlir::DialectRegistry& registry);

// A context with those dialects loaded, single-threaded: the functions tl compiles are small
// (a thread pool costs more than it saves), and IR dumps need passes to run in order.
std::unique_ptr<mlir::MLIRContext> make_context();

// The op-table entry of a registry op (`tl.<name>`); null for every other op, the
// structural tl ops included.
const ops::OpDef* op_def(mlir::Operation* op);

// Whether `op` is a tl.constant holding one repeated value (a splat).
bool is_splat_constant(mlir::Operation* op);

// Whether `op` may join a fused group: an elementwise op of the op table (OpKind::kElementwise,
// with its scalar math in OpDef::pointwise) whose operands and result are f32 or f64
// tensors of static shape, what codegen/cpu compiles.
bool is_fusible_elementwise(mlir::Operation* op);

// Whether `op` is a reduction a group may end in: a sum (OpKind::kSum, or mean: its flag) of an
// f32/f64 tensor of static shape over at least one dim but not the innermost one (of size > 1)
// unless `along_rows`, reducing at most kMaxFusedReduction elements into each output element.
// The CPU's generated loop accumulates in order, in the input's type: over outer dims it
// vectorizes across the kept inner dim, but along a row it is one scalar dependency chain that
// also keeps the group's elementwise math scalar, slower than the eager ops it would replace
// (measured 12 ms fused vs 7 ms eager for exp+mul+sum over rows of 16 floats, 4M elements).
// CUDA's kernels (runtime/cuda/fused_reduction.h) give a row a block of threads, so a program
// on CUDA fuses along rows too.
bool is_fusible_reduction(mlir::Operation* op, bool along_rows = false);
inline constexpr int64_t kMaxFusedReduction = 1 << 16;

// Verifies a registry op against its OpDef: the declared arity (trailing optional inputs may
// be left out); only the declared attributes (attrs.h), each of its type and none with its
// default value, so that equal ops compare equal; and the result type the op table infers.
// Attributes of other dialects (names with a '.') are allowed. Used by the RegistryOp trait.
mlir::LogicalResult verify_registry_op(mlir::Operation* op);

// The trait every generated registry op carries (Tl_RegistryOpTrait in dialect.td).
template <class ConcreteOp>
class RegistryOp : public mlir::OpTrait::TraitBase<ConcreteOp, RegistryOp> {
 public:
  static mlir::LogicalResult verifyTrait(mlir::Operation* op) { return verify_registry_op(op); }
};

}  // namespace tl::ir

#include "ir/dialect.h.inc"

#define GET_OP_CLASSES
#include "ir/structural_ops.h.inc"
