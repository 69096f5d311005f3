// tl-fold: constant folding by running the op's own eager CPU kernel on the constants, so
// the compiler never holds a second implementation of an op's math.
#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/Pass/Pass.h>

#include <llvm/ADT/SetVector.h>

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
  for (mlir::Operation* op : candidates) {
    const ops::OpDef* def = registry_op(op);
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
    for (mlir::Value operand : op->getOperands()) maybe_dead.insert(operand.getDefiningOp());
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
