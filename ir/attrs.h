// Mapping between the op table's plain C++ attributes (ops::Attrs, DType, Shape, Site) and
// MLIR attributes, types and locations. Used by the dialect's verifier, the graph <-> IR
// bridge and the passes. Compiler-side only: includes MLIR.
//
// Conventions (the textual IR depends on them):
//   An op's attributes are the ones its declaration names (OpDef::attrs for registry ops,
//   trace::structural_ops() for the others), spelled by their declared names, e.g.
//   tl.clamp {min = -1.0 : f64}. Each is absent when it has its default value, unless it is
//   `required` or has a presence field that is set. By type:
//   i64 array -> DenseI64ArrayAttr; i64 -> IntegerAttr i64; f64 -> FloatAttr f64;
//   unit -> UnitAttr (present = true); element type -> TypeAttr
//   DType <-> element type: float32 f32, float64 f64, float16 f16, bfloat16 bf16,
//                           int32 i32, int64 i64, bool i1
//   Site <-> FileLineColLoc(file, line, 0); UnknownLoc <-> Site{}
#pragma once

#include <mlir/IR/Attributes.h>
#include <mlir/IR/BuiltinTypes.h>
#include <mlir/IR/Location.h>
#include <mlir/IR/Operation.h>
#include <mlir/IR/OperationSupport.h>

#include "frontend/ops/registry.h"

namespace tl::ir {

mlir::Type element_type(mlir::MLIRContext* ctx, DType dtype);
// Throws ValueError for element types tl has no dtype for.
DType dtype_of(mlir::Type element_type);
mlir::RankedTensorType tensor_type(mlir::MLIRContext* ctx, const Shape& shape, DType dtype);
Shape shape_of(mlir::RankedTensorType type);

// Appends the attributes of op `op_name` (without "tl.") that `attrs` gives a value. Throws
// ValueError for an unknown op, or when `attrs` sets a field the op does not declare (the
// value would be lost).
void append_attrs(mlir::MLIRContext* ctx, std::string_view op_name, const ops::Attrs& attrs,
                  mlir::NamedAttrList& out);
// Reads an op's declared attributes back (absent -> default). Throws ValueError for an
// attribute of the wrong kind or a required one that is missing; undeclared attributes are
// the verifier's to report (verify_canonical_attrs), not this function's.
ops::Attrs attrs_of(mlir::Operation* op);
// The declared attributes of a tl op (null for ops of other dialects or unknown names).
const std::vector<ops::AttrSpec>* attr_specs_of(mlir::Operation* op);

mlir::Location location(mlir::MLIRContext* ctx, Site site);
Site site_of(mlir::Location loc);

}  // namespace tl::ir
