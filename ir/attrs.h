// Mapping between the op table's plain C++ attributes (ops::Attrs, DType, Shape, Site) and
// MLIR attributes, types and locations. Used by the dialect's verifier, the graph <-> IR
// bridge and the passes. Compiler-side only: includes MLIR.
//
// Conventions (the textual IR depends on them):
//   Attrs field  -> attribute name : MLIR attribute (absent when the field has its default)
//   dims, stride, padding, dilation -> DenseI64ArrayAttr
//   axis, count                     -> IntegerAttr i64
//   scalar, scalar2                 -> FloatAttr f64
//   keepdim, flag, flag2            -> UnitAttr
//   dtype                           -> TypeAttr holding the element type (absent = f32)
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

// Appends the non-default fields of `attrs` to `out`.
void append_attrs(mlir::MLIRContext* ctx, const ops::Attrs& attrs, mlir::NamedAttrList& out);
// Reads the fields back from an op's attribute dictionary (absent -> default).
ops::Attrs attrs_of(mlir::Operation* op);

mlir::Location location(mlir::MLIRContext* ctx, Site site);
Site site_of(mlir::Location loc);

}  // namespace tl::ir
