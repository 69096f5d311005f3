// The op table's attributes, dtypes, shapes and sites as MLIR attributes, types and
// locations, following the conventions stated in attrs.h.
#include "ir/attrs.h"

#include <optional>

#include <mlir/IR/Builders.h>
#include <mlir/IR/BuiltinAttributes.h>
#include <mlir/IR/Diagnostics.h>

#include "runtime/exec/graph.h"
#include "ir/dialect.h"

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

const std::vector<ops::AttrSpec>* attr_specs_of(mlir::Operation* op) {
  // Registry ops through the dialect's name table (every pass reads attributes, and the op
  // table's find_op is a scan); the structural ops are few.
  if (const ops::OpDef* def = op_def(op)) return &def->attrs;
  llvm::StringRef name = op->getName().getStringRef();
  if (!name.consume_front("tl.")) return nullptr;
  return trace::attr_specs(std::string_view(name.data(), name.size()));
}

void append_attrs(mlir::MLIRContext* ctx, std::string_view op_name, const ops::Attrs& attrs,
                  mlir::NamedAttrList& out) {
  const std::vector<ops::AttrSpec>* specs = trace::attr_specs(op_name);
  if (specs == nullptr) throw ValueError("tl." + std::string(op_name) + " is not an op of the tl dialect");
  if (ops::AttrField f = ops::undeclared_field(attrs, *specs); f != ops::AttrField::kNone) {
    throw ValueError("tl." + std::string(op_name) + ": attribute field '" + ops::field_name(f) +
                     "' is set but the op declares no attribute stored there");
  }
  mlir::Builder b(ctx);
  for (const ops::AttrSpec& spec : *specs) {
    if (!ops::is_written(attrs, spec)) continue;
    ops::AttrValue value = ops::get_attr(attrs, spec.field);
    mlir::Attribute attr;
    switch (ops::attr_type(spec.field)) {
      case ops::AttrType::kInts: attr = dense_i64(ctx, std::get<Shape>(value)); break;
      case ops::AttrType::kInt: attr = b.getI64IntegerAttr(std::get<int64_t>(value)); break;
      case ops::AttrType::kFloat: attr = b.getF64FloatAttr(std::get<double>(value)); break;
      case ops::AttrType::kBool: attr = b.getUnitAttr(); break;
      case ops::AttrType::kDType: attr = mlir::TypeAttr::get(element_type(ctx, std::get<DType>(value))); break;
    }
    out.append(spec.name, attr);
  }
}

ops::Attrs attrs_of(mlir::Operation* op) {
  ops::Attrs attrs;
  const std::vector<ops::AttrSpec>* specs = attr_specs_of(op);
  if (specs == nullptr) return attrs;
  for (const ops::AttrSpec& spec : *specs) {
    const char* name = spec.name.c_str();
    if (!op->getAttr(name)) {
      if (spec.required) throw ValueError(op_name(op) + ": attribute '" + spec.name + "' is required");
      continue;
    }
    switch (ops::attr_type(spec.field)) {
      case ops::AttrType::kInts: {
        Shape v;
        read_shape(op, name, v);
        ops::set_attr(attrs, spec.field, v);
        break;
      }
      case ops::AttrType::kInt: {
        int64_t v = 0;
        read_int(op, name, v);
        ops::set_attr(attrs, spec.field, v);
        break;
      }
      case ops::AttrType::kFloat: {
        double v = 0;
        read_float(op, name, v);
        ops::set_attr(attrs, spec.field, v);
        break;
      }
      case ops::AttrType::kBool: {
        bool v = false;
        read_unit(op, name, v);
        ops::set_attr(attrs, spec.field, v);
        break;
      }
      case ops::AttrType::kDType: {
        auto attr = lookup<mlir::TypeAttr>(op, name, "a type attribute (an element type)");
        ops::set_attr(attrs, spec.field, dtype_of(attr.getValue()));
        break;
      }
    }
    if (spec.present != ops::AttrField::kNone) ops::set_attr(attrs, spec.present, true);
  }
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
