// The `tl` dialect: registration, the structural ops' verifiers and folders, the checks on
// tl.* function attributes, and the verifier every registry op shares, which runs the op
// table's shape rule on symbolic tensors.
#include "ir/dialect.h"

#include <llvm/ADT/StringMap.h>
#include <mlir/Dialect/Arithmetic/IR/Arithmetic.h>
#include <mlir/IR/Builders.h>
#include <mlir/IR/BuiltinAttributes.h>
#include <mlir/IR/OpImplementation.h>
#include <mlir/IR/FunctionInterfaces.h>

#include "runtime/exec/graph.h"
#include "ir/attrs.h"

// The generated definitions leave some builder parameters unused.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "ir/dialect.cpp.inc"

#define GET_OP_CLASSES
#include "ir/structural_ops.cpp.inc"
#pragma GCC diagnostic pop

namespace tl::ir {
namespace {

const char* const kInputKinds[] = {"argument", "capture", "grad_of", "rng"};

// Checks that `op` carries exactly the attributes append_attrs writes for `attrs` (read back
// from it), apart from other dialects' attributes: each is declared by the op, and none is
// spelled out at its default value (so that equal ops compare equal).
mlir::LogicalResult verify_canonical_attrs(mlir::Operation* op, const ops::Attrs& attrs) {
  const std::vector<ops::AttrSpec>* specs = attr_specs_of(op);
  if (specs == nullptr) return op->emitOpError("has no declared attributes (not an op of the tl dialect)");
  mlir::NamedAttrList expected;
  llvm::StringRef name = op->getName().getStringRef().drop_front(3);
  append_attrs(op->getContext(), std::string_view(name.data(), name.size()), attrs, expected);
  for (mlir::NamedAttribute attr : op->getAttrs()) {
    llvm::StringRef attr_name = attr.getName().getValue();
    if (attr_name.contains('.') || expected.get(attr_name) == attr.getValue()) continue;
    auto declared = llvm::find_if(*specs, [&](const ops::AttrSpec& s) { return attr_name == s.name; });
    if (declared == specs->end()) {
      std::string names;
      for (const ops::AttrSpec& s : *specs) names += (names.empty() ? "" : ", ") + s.name;
      return op->emitOpError() << "has unknown attribute '" << attr_name << "' ("
                               << (names.empty() ? std::string("it takes no attributes") : "it takes " + names) << ")";
    }
    return op->emitOpError() << "attribute '" << attr_name << "' = " << attr.getValue()
                             << " has its default value; leave it out so that equal ops compare equal";
  }
  return mlir::success();
}

std::string type_str(mlir::Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  type.print(os);
  return os.str();
}

}  // namespace

void register_dialects(mlir::DialectRegistry& registry) {
  registry.insert<TlDialect, mlir::func::FuncDialect, mlir::arith::ArithmeticDialect>();
}

std::unique_ptr<mlir::MLIRContext> make_context() {
  mlir::DialectRegistry registry;
  register_dialects(registry);
  auto ctx = std::make_unique<mlir::MLIRContext>(registry, mlir::MLIRContext::Threading::DISABLED);
  ctx->loadAllAvailableDialects();
  return ctx;
}

const ops::OpDef* op_def(mlir::Operation* op) {
  // Built once from the op table, which is complete after static initialization.
  static const llvm::StringMap<const ops::OpDef*> table = [] {
    llvm::StringMap<const ops::OpDef*> t;
    for (const ops::OpDef* def : ops::all_ops()) t["tl." + def->name] = def;
    return t;
  }();
  auto it = table.find(op->getName().getStringRef());
  return it == table.end() ? nullptr : it->second;
}

bool is_splat_constant(mlir::Operation* op) {
  if (op == nullptr || op->getName().getStringRef() != "tl.constant") return false;
  auto value = op->getAttrOfType<mlir::DenseElementsAttr>("value");
  return value && value.isSplat();
}

namespace {
bool is_float_tensor(mlir::Type type) {
  auto t = type.dyn_cast<mlir::RankedTensorType>();
  return t && t.hasStaticShape() && (t.getElementType().isF32() || t.getElementType().isF64());
}
}  // namespace

bool is_fusible_elementwise(mlir::Operation* op) {
  const ops::OpDef* def = op_def(op);
  if (def == nullptr || def->kind != ops::OpKind::kElementwise || def->pointwise.lower == nullptr) return false;
  if (static_cast<int>(op->getNumOperands()) != def->arity) return false;
  if (op->getNumResults() != 1 || !is_float_tensor(op->getResult(0).getType())) return false;
  return llvm::all_of(op->getOperandTypes(), is_float_tensor);
}

bool is_fusible_reduction(mlir::Operation* op, bool along_rows) {
  const ops::OpDef* def = op_def(op);
  if (def == nullptr || def->kind != ops::OpKind::kSum || op->getNumOperands() != 1 || op->getNumResults() != 1)
    return false;
  if (!is_float_tensor(op->getOperand(0).getType()) || !is_float_tensor(op->getResult(0).getType())) return false;
  auto in = op->getOperand(0).getType().cast<mlir::RankedTensorType>();
  if (in.getElementType() != op->getResult(0).getType().cast<mlir::RankedTensorType>().getElementType()) return false;
  const ops::Attrs attrs = attrs_of(op);
  if (attrs.dims.empty()) return false;
  int64_t per_output = 1;
  bool innermost = false;  // the last dim (of size > 1) is reduced
  for (int64_t d : attrs.dims) {
    const int64_t axis = d < 0 ? d + in.getRank() : d;
    if (axis < 0 || axis >= in.getRank()) return false;
    per_output *= in.getDimSize(axis);
    innermost = innermost || (axis == in.getRank() - 1 && in.getDimSize(axis) > 1);
  }
  return (along_rows || !innermost) && per_output <= kMaxFusedReduction;
}

mlir::LogicalResult verify_registry_op(mlir::Operation* op) {
  const ops::OpDef* def = op_def(op);
  if (!def) return op->emitOpError("has no entry in the op table");
  if (!ops::accepts_operand_count(*def, op->getNumOperands()))
    return op->emitOpError() << "takes " << ops::operand_count_text(*def) << " operand(s), got " << op->getNumOperands();
  if (op->getNumResults() != 1) return op->emitOpError("must have one result");

  std::vector<Tensor> inputs;
  for (unsigned i = 0; i < op->getNumOperands(); ++i) {
    mlir::Value operand = op->getOperand(i);
    auto type = operand.getType().dyn_cast<mlir::RankedTensorType>();
    if (!type) return op->emitOpError() << "operand #" << i << " must be a ranked tensor, got " << operand.getType();
    if (!type.hasStaticShape())
      return op->emitOpError() << "operand #" << i << " is " << type << "; tl ops need static shapes";
    try {
      inputs.push_back(trace::meta_tensor(shape_of(type), dtype_of(type.getElementType())));
    } catch (const Error& e) {
      return op->emitOpError() << "operand #" << i << ": " << e.what();
    }
  }

  // The shape rules read only shapes, dtypes and attributes, never data (reading a symbolic
  // tensor's data throws), so they run unchanged on the operand types. View ops have no
  // separate rule: their view function builds the aliasing result, which for a symbolic
  // input is again symbolic and has the result's shape. The rules check their operand
  // count, operand dtypes and attributes themselves instead of trusting the public functions'
  // normalization, so a malformed op fails here rather than in a kernel.
  ops::Attrs attrs;
  try {
    attrs = attrs_of(op);
  } catch (const Error& e) {
    return op->emitOpError() << e.what();
  }
  if (mlir::failed(verify_canonical_attrs(op, attrs))) return mlir::failure();

  ops::OutputMeta out;
  try {
    out = ops::infer_result(*def, inputs, attrs, site_of(op->getLoc()));
  } catch (const Error& e) {
    return op->emitOpError() << e.what();
  }

  mlir::Type result = op->getResult(0).getType();
  mlir::RankedTensorType expected = tensor_type(op->getContext(), out.shape, out.dtype);
  if (result != expected)
    return op->emitOpError() << "result is " << result << " but the op table infers " << expected;
  return mlir::success();
}

// ---- dialect ----

void TlDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/structural_ops.cpp.inc"
      >();
  add_registry_ops();
}

mlir::Operation* TlDialect::materializeConstant(mlir::OpBuilder& builder, mlir::Attribute value, mlir::Type type,
                                               mlir::Location loc) {
  auto elements = value.dyn_cast<mlir::ElementsAttr>();
  if (!elements || elements.getType() != type) return nullptr;
  return builder.create<ConstantOp>(loc, type, elements);
}

// Function arguments carry tl.input (what the argument stands for), tl.name and, for
// arguments, tl.arg_index (the position among the user's arguments).
mlir::LogicalResult TlDialect::verifyRegionArgAttribute(mlir::Operation* op, unsigned, unsigned arg_index,
                                                        mlir::NamedAttribute attr) {
  llvm::StringRef name = attr.getName().getValue();
  if (name == "tl.input") {
    auto kind = attr.getValue().dyn_cast<mlir::StringAttr>();
    if (!kind || !llvm::is_contained(kInputKinds, kind.getValue()))
      return op->emitOpError() << "argument #" << arg_index
                               << ": tl.input must be one of \"argument\", \"capture\", \"grad_of\", \"rng\"";
    return mlir::success();
  }
  if (name == "tl.name") {
    if (!attr.getValue().isa<mlir::StringAttr>())
      return op->emitOpError() << "argument #" << arg_index << ": tl.name must be a string";
    return mlir::success();
  }
  if (name == "tl.arg_index") {
    auto index = attr.getValue().dyn_cast<mlir::IntegerAttr>();
    if (!index || !index.getType().isInteger(64) || index.getInt() < 0)
      return op->emitOpError() << "argument #" << arg_index << ": tl.arg_index must be a non-negative i64";
    return mlir::success();
  }
  return op->emitOpError() << "argument #" << arg_index << ": unknown attribute " << name
                           << " (expected tl.input, tl.name or tl.arg_index)";
}

// Results written back to an input carry tl.writeback (the input's argument index) and,
// when the write goes to the input's .grad, tl.to_grad.
mlir::LogicalResult TlDialect::verifyRegionResultAttribute(mlir::Operation* op, unsigned, unsigned result_index,
                                                           mlir::NamedAttribute attr) {
  llvm::StringRef name = attr.getName().getValue();
  if (name == "tl.writeback") {
    auto index = attr.getValue().dyn_cast<mlir::IntegerAttr>();
    if (!index || !index.getType().isInteger(64) || index.getInt() < 0)
      return op->emitOpError() << "result #" << result_index << ": tl.writeback must be a non-negative i64";
    if (auto func = llvm::dyn_cast<mlir::FunctionOpInterface>(op)) {
      if (index.getInt() >= static_cast<int64_t>(func.getNumArguments()))
        return op->emitOpError() << "result #" << result_index << ": tl.writeback " << index.getInt()
                                 << " names no argument (the function has " << func.getNumArguments() << ")";
      mlir::Type arg_type = func.getArgumentTypes()[index.getInt()];
      mlir::Type result_type = func.getResultTypes()[result_index];
      if (arg_type != result_type)
        return op->emitOpError() << "result #" << result_index << " is " << result_type
                                 << " but is written back to argument #" << index.getInt() << " of type " << arg_type;
    }
    return mlir::success();
  }
  if (name == "tl.to_grad") {
    if (!attr.getValue().isa<mlir::UnitAttr>())
      return op->emitOpError() << "result #" << result_index << ": tl.to_grad must be a unit attribute";
    return mlir::success();
  }
  return op->emitOpError() << "result #" << result_index << ": unknown attribute " << name
                           << " (expected tl.writeback or tl.to_grad)";
}

mlir::LogicalResult TlDialect::verifyOperationAttribute(mlir::Operation* op, mlir::NamedAttribute attr) {
  llvm::StringRef name = attr.getName().getValue();
  if (name == "tl.rng_advance") {
    auto advance = attr.getValue().dyn_cast<mlir::IntegerAttr>();
    if (!advance || !advance.getType().isInteger(64) || advance.getInt() < 0)
      return op->emitOpError("tl.rng_advance must be a non-negative i64");
    return mlir::success();
  }
  return op->emitOpError() << "unknown attribute " << name << " (expected tl.rng_advance)";
}

// ---- structural ops ----

mlir::LogicalResult ConstantOp::inferReturnTypes(mlir::MLIRContext*, llvm::Optional<mlir::Location> loc,
                                                 mlir::ValueRange, mlir::DictionaryAttr attrs, mlir::RegionRange,
                                                 llvm::SmallVectorImpl<mlir::Type>& types) {
  auto value = attrs.get("value").dyn_cast_or_null<mlir::ElementsAttr>();
  if (!value) return mlir::emitOptionalError(loc, "tl.constant needs an elements attribute `value`");
  types.push_back(value.getType());
  return mlir::success();
}

mlir::OpFoldResult ConstantOp::fold(llvm::ArrayRef<mlir::Attribute>) { return getValue(); }

mlir::LogicalResult RandomOp::verify() {
  auto rng = getRng().getType().cast<mlir::TensorType>();
  if (!rng.hasRank() || rng.getShape() != llvm::ArrayRef<int64_t>{2})
    return emitOpError() << "rng must be tensor<2xi64> (seed, offset), got " << rng;
  int64_t kind = getDistribution().value_or(0);
  if (kind < 0 || kind > static_cast<int64_t>(trace::RandomKind::kRandint))
    return emitOpError() << "distribution " << kind
                         << " names no random kind (0 uniform, 1 normal, 2 bernoulli, 3 randint)";
  auto result = getOut().getType().cast<mlir::RankedTensorType>();
  Shape dims;
  if (auto attr = getShapeAttr()) {
    llvm::ArrayRef<int64_t> values = attr;
    dims = Shape(values.begin(), values.end());
  }
  if (shape_of(result) != dims)
    return emitOpError() << "result is " << result << " but shape is " << dims.str();
  mlir::Type element = getDtype();
  if (result.getElementType() != element)
    return emitOpError() << "result is " << result << " but dtype is " << element;
  return mlir::success();
}

mlir::LogicalResult GradOp::verify() {
  if (getSeed().getType() != getLoss().getType())
    return emitOpError() << "seed is " << getSeed().getType() << " but loss is " << getLoss().getType()
                         << "; they must have the same type";
  if (getGrads().size() != getWrt().size())
    return emitOpError() << "has " << getGrads().size() << " result(s) for " << getWrt().size()
                         << " wrt operand(s); it needs one per wrt";
  for (unsigned i = 0; i < getWrt().size(); ++i) {
    mlir::Type wrt = getWrt()[i].getType();
    mlir::Type grad = getGrads()[i].getType();
    if (wrt != grad)
      return emitOpError() << "result #" << i << " is " << grad << " but wrt #" << i << " is " << wrt
                           << "; a gradient has the type of its wrt";
  }
  return mlir::success();
}

mlir::LogicalResult AssignOp::verify() {
  if (getTarget().getType() != getValue().getType())
    return emitOpError() << "assigns a " << type_str(getValue().getType()) << " to a "
                         << type_str(getTarget().getType()) << "; the types must match";
  return mlir::success();
}

mlir::LogicalResult GuardOp::verify() {
  auto type = getX().getType().cast<mlir::RankedTensorType>();
  if (!type.hasStaticShape() || type.getNumElements() != 1)
    return emitOpError() << "guards a single value, got " << type;
  return mlir::success();
}

}  // namespace tl::ir
