// The bridge between the traced graph (runtime/exec/graph.h) and the `tl` dialect: the
// pipeline imports a trace::Graph as one func.func, runs passes on it, and exports the result
// back. Passes that create ops from node descriptions (autodiff) use emit_node.
//
// IR form of a graph (the textual IR and the lit tests depend on it):
//   func.func @<graph.name or "traced">(%arg: tensor<..> {tl.input = "argument"|"capture"|
//       "grad_of"|"rng", tl.name = "arg0", tl.arg_index = i64 (arguments, when set)}, ...)
//       -> (outputs..., writebacks... {tl.writeback = <input index> : i64, tl.to_grad})
//       attributes {tl.rng_advance = i64 (absent when 0)}
//   registry op `name`   -> "tl.name"(operands) {its declared attributes} at ir::location(site)
//   constant             -> tl.constant {value = dense<...>} (a splat when all elements match)
//   random               -> tl.random(rng) {distribution, shape, dtype, a, b, offset}
//   grad                 -> tl.grad(loss, seed, wrt...) with one result per wrt
//   assign               -> tl.assign(target, value) {to_grad}
//   guard                -> tl.guard(x) {value : f64, always present}
// (attribute names and types: trace::structural_ops() and OpDef::attrs, via ir::append_attrs)
//   fused                -> func.call @<name>_fusedN(inputs) of a private func.func holding the
//                           group's tl ops, marked {fused = "mul+add+gelu"} (tl-fuse-elementwise);
//                           exported with the CompiledKernel code generation made for it
#pragma once

#include <string_view>

#include <map>
#include <memory>
#include <string>

#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/IR/Builders.h>
#include <mlir/IR/BuiltinAttributes.h>
#include <mlir/IR/BuiltinOps.h>
#include <mlir/IR/OwningOpRef.h>

#include "runtime/exec/graph.h"

namespace tl::passes {

// The IR names of the structural ops (declared in runtime/exec/graph.h) and the names of
// the attributes the bridge writes.
inline const std::string kConstantOp = std::string("tl.") + trace::kConstant;
inline const std::string kRandomOp = std::string("tl.") + trace::kRandom;
inline const std::string kGradOp = std::string("tl.") + trace::kGrad;
inline const std::string kAssignOp = std::string("tl.") + trace::kAssign;
inline const std::string kGuardOp = std::string("tl.") + trace::kGuard;
inline constexpr const char* kConstantValueAttr = "value";
inline constexpr const char* kInputAttr = "tl.input";
inline constexpr const char* kNameAttr = "tl.name";
inline constexpr const char* kArgIndexAttr = "tl.arg_index";
inline constexpr const char* kWritebackAttr = "tl.writeback";
inline constexpr const char* kToGradAttr = "tl.to_grad";
inline constexpr const char* kRngAdvanceAttr = "tl.rng_advance";
// On the private functions tl-fuse-elementwise outlines. Not `tl.`-prefixed: the dialect
// verifies every attribute in its namespace and knows only the ones above.
inline constexpr const char* kFusedAttr = "fused";

// Compiled kernels of fused groups, by function name.
using FusedKernels = std::map<std::string, std::shared_ptr<const trace::CompiledKernel>>;

// Builds a module holding one func.func equivalent to `graph`. Requires the `tl` and func
// dialects to be loaded in `ctx` (ir::make_context). Throws tl::ValueError naming the
// graph and the node when the graph is malformed (a value read before it is defined, an
// unknown op, a registry node whose `def` does not match its name, ...).
mlir::OwningOpRef<mlir::ModuleOp> import_graph(mlir::MLIRContext& ctx, const trace::Graph& graph);

// Builds the op for `node` at the builder's insertion point, with `operands` (node.inputs is
// ignored) and `result_types` (one per result; node.outputs is ignored). Reads node.op, def,
// attrs, site and, for a constant, node.constant (which must hold host data). Returns the
// new op; throws tl::ValueError for an unknown op name.
mlir::Operation* emit_node(mlir::OpBuilder& builder, const trace::Node& node, mlir::ValueRange operands,
                           mlir::TypeRange result_types);

// Whether `op` (possibly null) is the tl registry op called `name` (e.g. "matmul").
bool is_registry_op(mlir::Operation* op, std::string_view name);

// The node an op stands for, without inputs and outputs (op, def, attrs, site and, for
// tl.constant, the constant's data in a new host tensor). Throws tl::ValueError for an op
// that is not from the `tl` dialect.
trace::Node node_of(mlir::Operation* op);

// A constant's data as a dense attribute of type `tensor<shape x dtype>` (splat when every
// element is equal), and back. `tensor` may be strided; it is read on the host.
mlir::DenseElementsAttr constant_attr(mlir::MLIRContext* ctx, const Tensor& tensor);
Tensor tensor_of(mlir::DenseElementsAttr attr);

// The inverse of import_graph for one function. Values are renumbered: block arguments first,
// then op results in order. Inputs' `source` tensors are not in the IR and stay empty (the
// pipeline copies them from the input graph by position). A call of a fused group becomes a
// kFused node running `kernels[callee]`. Throws tl::ValueError naming the op when the
// function holds an op that has no graph form (a fused call without a kernel included) or
// more than one block.
trace::Graph export_graph(mlir::func::FuncOp func, const FusedKernels& kernels = {});

}  // namespace tl::passes
