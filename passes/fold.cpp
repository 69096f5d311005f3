// tl-fold: constant folding by running the op's own eager CPU kernel on the constants, so
// the compiler never holds a second implementation of an op's math.
#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/Pass/Pass.h>

#include <llvm/ADT/SetVector.h>

#include "frontend/trace/tracer.h"
#include "ir/attrs.h"
#include "passes/graph_bridge.h"
#include "passes/passes.h"

namespace tl::passes {
namespace {

struct FoldPass : mlir::PassWrapper<FoldPass, mlir::OperationPass<mlir::func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FoldPass)
  llvm::StringRef getArgument() const override { return "tl-fold"; }
  llvm::StringRef getDescription() const override {
    return "Fold registry ops on constants by running their eager CPU kernels";
  }
  void runOnOperation() override;
};

// The registry op `op` stands for, or null for structural and foreign ops.
const ops::OpDef* registry_op(mlir::Operation* op) {
  llvm::StringRef name = op->getName().getStringRef();
  if (!name.consume_front("tl.")) return nullptr;
  if (name == trace::kConstant || name == trace::kRandom || name == trace::kGrad || name == trace::kAssign ||
      name == trace::kGuard) {
    return nullptr;
  }
  return ops::find_op(name.str());
}

bool is_constant(mlir::Operation* op) { return op != nullptr && op->getName().getStringRef() == kConstantOp; }

enum class Splat { kOther, kOne, kZero, kNegativeZero };

// What `v` is when it is a tl.constant whose elements are all equal.
Splat splat_of(mlir::Value v) {
  mlir::Operation* producer = v.getDefiningOp();
  if (!is_constant(producer)) return Splat::kOther;
  auto value = producer->getAttrOfType<mlir::DenseElementsAttr>(kConstantValueAttr);
  if (!value || !value.isSplat()) return Splat::kOther;
  if (value.getElementType().isa<mlir::FloatType>()) {
    llvm::APFloat f = value.getSplatValue<llvm::APFloat>();
    if (f.isZero()) return f.isNegative() ? Splat::kNegativeZero : Splat::kZero;
    return f.convertToDouble() == 1.0 ? Splat::kOne : Splat::kOther;
  }
  llvm::APInt i = value.getSplatValue<llvm::APInt>();
  if (i.isZero()) return Splat::kZero;
  return i.isOne() ? Splat::kOne : Splat::kOther;
}

// The operand `op` returns unchanged, for x * 1, 1 * x, x / 1, x - 0 and x + (-0.0) (x + 0
// for integers; for floats it turns -0.0 into +0.0). Only when x already has the result's
// type: the identity must not skip a broadcast or a dtype promotion.
mlir::Value identity_operand(mlir::Operation* op, const ops::OpDef& def) {
  if (op->getNumOperands() != 2) return nullptr;
  const llvm::StringRef name = def.name;
  mlir::Value a = op->getOperand(0), b = op->getOperand(1);
  const mlir::Type type = op->getResult(0).getType();
  auto is_float = [](mlir::Value v) {
    return v.getType().cast<mlir::ShapedType>().getElementType().isa<mlir::FloatType>();
  };
  auto neutral_for_add = [&](mlir::Value c) {
    Splat s = splat_of(c);
    return s == Splat::kNegativeZero || (s == Splat::kZero && !is_float(c));
  };
  if (name == "mul" || name == "add") {
    auto neutral = [&](mlir::Value c) { return name == "mul" ? splat_of(c) == Splat::kOne : neutral_for_add(c); };
    if (a.getType() == type && neutral(b)) return a;
    if (b.getType() == type && neutral(a)) return b;
  } else if (name == "div") {
    if (a.getType() == type && splat_of(b) == Splat::kOne) return a;
  } else if (name == "sub") {
    Splat s = splat_of(b);
    if (a.getType() == type && (s == Splat::kZero || s == Splat::kNegativeZero)) return a;
  }
  return nullptr;
}

void FoldPass::runOnOperation() {
  // Decoded constants, so a chain of folds does not re-read each attribute.
  llvm::DenseMap<mlir::Operation*, Tensor> tensors;
  auto tensor_of_constant = [&](mlir::Operation* c) -> Tensor {
    auto it = tensors.find(c);
    if (it != tensors.end()) return it->second;
    auto value = c->getAttrOfType<mlir::DenseElementsAttr>(kConstantValueAttr);
    if (!value) return Tensor();
    return tensors[c] = tensor_of(value);
  };

  llvm::SmallVector<mlir::Operation*> candidates;
  getOperation().walk([&](mlir::Operation* op) {
    if (registry_op(op) != nullptr && op->getNumResults() == 1) candidates.push_back(op);
  });
  llvm::SetVector<mlir::Operation*> maybe_dead;
  auto forget = [&](mlir::Operation* op) {
    for (mlir::Value operand : op->getOperands()) {
      if (is_constant(operand.getDefiningOp())) maybe_dead.insert(operand.getDefiningOp());
    }
  };
  for (mlir::Operation* op : candidates) {
    const ops::OpDef* def = registry_op(op);
    if (mlir::Value same = identity_operand(op, *def)) {
      forget(op);
      op->getResult(0).replaceAllUsesWith(same);
      op->erase();
      continue;
    }
    if (def->view == nullptr && def->kernels[ops::kCpu] == nullptr) continue;
    auto type = op->getResult(0).getType().dyn_cast<mlir::RankedTensorType>();
    if (!type || !type.hasStaticShape() || type.getNumElements() > kFoldElementLimit) continue;
    std::vector<Tensor> inputs;
    for (mlir::Value operand : op->getOperands()) {
      mlir::Operation* producer = operand.getDefiningOp();
      if (!is_constant(producer)) break;
      Tensor t = tensor_of_constant(producer);
      if (!t.defined()) break;
      inputs.push_back(std::move(t));
    }
    if (inputs.size() != op->getNumOperands()) continue;

    Tensor out;
    try {
      NoGradGuard no_grad;
      trace::PauseScope not_traced;  // in case the pipeline runs while a trace is recording
      out = ops::call(*def, std::span<const Tensor>(inputs), ir::attrs_of(op), ir::site_of(op->getLoc()))
                .contiguous();
    } catch (const std::exception& e) {
      // Folding is an optimization: the op stays, and fails (or not) where it runs.
      op->emitWarning() << "tl-fold: not folded, the eager kernel failed: " << e.what();
      continue;
    }
    if (out.shape() != ir::shape_of(type) || out.dtype() != ir::dtype_of(type.getElementType())) {
      op->emitWarning() << "tl-fold: not folded, the eager kernel returned " << out.shape().str() << " "
                        << dtype_name(out.dtype()) << " but the IR result is " << type;
      continue;
    }
    mlir::OpBuilder builder(op);
    mlir::OperationState state(op->getLoc(), kConstantOp);
    state.addTypes(type);
    state.addAttribute(kConstantValueAttr, constant_attr(&getContext(), out));
    mlir::Operation* folded = builder.create(state);
    tensors[folded] = out;
    forget(op);
    op->getResult(0).replaceAllUsesWith(folded->getResult(0));
    op->erase();
  }
  // Erase inputs of folded ops that nothing else reads. Walking in reverse program order is
  // not needed: constants have no operands, so erasing one never frees another.
  for (mlir::Operation* c : maybe_dead) {
    if (c->use_empty()) {
      tensors.erase(c);
      c->erase();
    }
  }
}

}  // namespace

std::unique_ptr<mlir::Pass> create_fold_pass() { return std::make_unique<FoldPass>(); }

}  // namespace tl::passes
