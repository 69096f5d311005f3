// The op table's attributes, dtypes, shapes and sites as MLIR attributes, types and
// locations, following the conventions stated in attrs.h.
#include "ir/attrs.h"

#include <optional>

#include <mlir/IR/Builders.h>
#include <mlir/IR/BuiltinAttributes.h>
#include <mlir/IR/Diagnostics.h>

#include "frontend/trace/graph.h"

namespace tl::ir {
namespace {

mlir::DenseI64ArrayAttr dense_i64(mlir::MLIRContext* ctx, const Shape& shape) {
  return mlir::DenseI64ArrayAttr::get(ctx, llvm::ArrayRef<int64_t>(shape.data(), shape.size()));
}

std::string op_name(mlir::Operation* op) { return op->getName().getStringRef().str(); }

// An attribute that is present but of another kind than the convention names is a bug in
// whoever built the op (the verifier rejects it for tl ops), so it is reported, not ignored.
[[noreturn]] void throw_bad_attr(mlir::Operation* op, const char* name, const char* expected) {
  throw ValueError(op_name(op) + ": attribute '" + name + "' must be " + expected);
}

template <class AttrT>
AttrT lookup(mlir::Operation* op, const char* name, const char* expected) {
  mlir::Attribute attr = op->getAttr(name);
  if (!attr) return {};
  auto typed = attr.dyn_cast<AttrT>();
  if (!typed) throw_bad_attr(op, name, expected);
  return typed;
}

void read_shape(mlir::Operation* op, const char* name, Shape& out) {
  if (auto attr = lookup<mlir::DenseI64ArrayAttr>(op, name, "an i64 array ([:i64 ...])")) {
    llvm::ArrayRef<int64_t> values = attr;
    out = Shape(values.begin(), values.end());
  }
}

void read_int(mlir::Operation* op, const char* name, int64_t& out) {
  if (auto attr = lookup<mlir::IntegerAttr>(op, name, "an i64 integer")) {
    if (!attr.getType().isInteger(64)) throw_bad_attr(op, name, "an i64 integer");
    out = attr.getInt();
  }
}

void read_float(mlir::Operation* op, const char* name, double& out) {
  if (auto attr = lookup<mlir::FloatAttr>(op, name, "an f64 float")) {
    if (!attr.getType().isF64()) throw_bad_attr(op, name, "an f64 float");
    out = attr.getValueAsDouble();
  }
}

void read_unit(mlir::Operation* op, const char* name, bool& out) {
  if (lookup<mlir::UnitAttr>(op, name, "a unit attribute")) out = true;
}

// The innermost file location of `loc`: fused locations (from CSE and folding) and call-site
// locations still name the user's line through one of their parts.
std::optional<mlir::FileLineColLoc> file_location(mlir::Location loc) {
  if (auto file = loc.dyn_cast<mlir::FileLineColLoc>()) return file;
  if (auto name = loc.dyn_cast<mlir::NameLoc>()) return file_location(name.getChildLoc());
  if (auto call = loc.dyn_cast<mlir::CallSiteLoc>()) return file_location(call.getCallee());
  if (auto fused = loc.dyn_cast<mlir::FusedLoc>()) {
    for (mlir::Location part : fused.getLocations())
      if (auto file = file_location(part)) return file;
  }
  return std::nullopt;
}

}  // namespace

mlir::Type element_type(mlir::MLIRContext* ctx, DType dtype) {
  mlir::Builder b(ctx);
  switch (dtype) {
    case kFloat32: return b.getF32Type();
    case kFloat64: return b.getF64Type();
    case kFloat16: return b.getF16Type();
    case kBFloat16: return b.getBF16Type();
    case kInt32: return b.getI32Type();
    case kInt64: return b.getI64Type();
    case kBool: return b.getI1Type();
  }
  TL_ASSERT(false, "unhandled DType " + std::to_string(static_cast<int>(dtype)));
}

DType dtype_of(mlir::Type type) {
  if (type.isF32()) return kFloat32;
  if (type.isF64()) return kFloat64;
  if (type.isF16()) return kFloat16;
  if (type.isBF16()) return kBFloat16;
  // tl's integers are signless in the IR, like arith's.
  if (type.isSignlessInteger(32)) return kInt32;
  if (type.isSignlessInteger(64)) return kInt64;
  if (type.isSignlessInteger(1)) return kBool;
  std::string name;
  llvm::raw_string_ostream os(name);
  type.print(os);
  throw ValueError("element type " + os.str() +
                   " has no tl dtype (expected f32, f64, f16, bf16, i32, i64 or i1)");
}

mlir::RankedTensorType tensor_type(mlir::MLIRContext* ctx, const Shape& shape, DType dtype) {
  return mlir::RankedTensorType::get(llvm::ArrayRef<int64_t>(shape.data(), shape.size()),
                                     element_type(ctx, dtype));
}

Shape shape_of(mlir::RankedTensorType type) {
  llvm::ArrayRef<int64_t> dims = type.getShape();
  return Shape(dims.begin(), dims.end());
}

void append_attrs(mlir::MLIRContext* ctx, const ops::Attrs& attrs, mlir::NamedAttrList& out) {
  mlir::Builder b(ctx);
  if (!attrs.dims.empty()) out.append("dims", dense_i64(ctx, attrs.dims));
  if (!attrs.stride.empty()) out.append("stride", dense_i64(ctx, attrs.stride));
  if (!attrs.padding.empty()) out.append("padding", dense_i64(ctx, attrs.padding));
  if (!attrs.dilation.empty()) out.append("dilation", dense_i64(ctx, attrs.dilation));
  if (attrs.axis != 0) out.append("axis", b.getI64IntegerAttr(attrs.axis));
  if (attrs.count != 0) out.append("count", b.getI64IntegerAttr(attrs.count));
  if (attrs.scalar != 0) out.append("scalar", b.getF64FloatAttr(attrs.scalar));
  if (attrs.scalar2 != 0) out.append("scalar2", b.getF64FloatAttr(attrs.scalar2));
  if (attrs.keepdim) out.append("keepdim", b.getUnitAttr());
  if (attrs.flag) out.append("flag", b.getUnitAttr());
  if (attrs.flag2) out.append("flag2", b.getUnitAttr());
  if (attrs.dtype != kFloat32) out.append("dtype", mlir::TypeAttr::get(element_type(ctx, attrs.dtype)));
}

ops::Attrs attrs_of(mlir::Operation* op) {
  ops::Attrs attrs;
  read_shape(op, "dims", attrs.dims);
  read_shape(op, "stride", attrs.stride);
  read_shape(op, "padding", attrs.padding);
  read_shape(op, "dilation", attrs.dilation);
  read_int(op, "axis", attrs.axis);
  read_int(op, "count", attrs.count);
  read_float(op, "scalar", attrs.scalar);
  read_float(op, "scalar2", attrs.scalar2);
  read_unit(op, "keepdim", attrs.keepdim);
  read_unit(op, "flag", attrs.flag);
  read_unit(op, "flag2", attrs.flag2);
  if (auto attr = lookup<mlir::TypeAttr>(op, "dtype", "a type attribute (an element type)"))
    attrs.dtype = dtype_of(attr.getValue());
  return attrs;
}

mlir::Location location(mlir::MLIRContext* ctx, Site site) {
  if ((site.file == nullptr || site.file[0] == '\0') && site.line == 0) return mlir::UnknownLoc::get(ctx);
  return mlir::FileLineColLoc::get(ctx, site.file ? site.file : "", site.line, 0);
}

Site site_of(mlir::Location loc) {
  std::optional<mlir::FileLineColLoc> file = file_location(loc);
  if (!file) return Site{};
  return Site{trace::intern_file(file->getFilename().str()), file->getLine()};
}

}  // namespace tl::ir
