// tl-functionalize: turns the in-place updates a traced function made to its captured
// tensors (tl.assign) into extra function results that the caller writes back.
#include <algorithm>
#include <map>

#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/Pass/Pass.h>

#include "ir/attrs.h"
#include "passes/graph_bridge.h"
#include "passes/passes.h"

namespace tl::passes {
namespace {

struct FunctionalizePass : mlir::PassWrapper<FunctionalizePass, mlir::OperationPass<mlir::func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FunctionalizePass)
  llvm::StringRef getArgument() const override { return "tl-functionalize"; }
  llvm::StringRef getDescription() const override {
    return "Turn tl.assign updates of function arguments into written-back results";
  }
  void runOnOperation() override;
};

// The surviving (last) assign to one (argument, flag) pair.
struct Update {
  mlir::Value value;
  mlir::Location loc;
  size_t order;  // position of the last assign among all assigns, for a stable result order
};

void FunctionalizePass::runOnOperation() {
  mlir::func::FuncOp func = getOperation();
  if (func.isExternal()) return;
  mlir::Block& block = func.getBody().front();

  bool ok = true;
  func.walk([&](mlir::Operation* op) {
    if (op->getName().getStringRef() == kAssignOp && op->getBlock() != &block) {
      op->emitError("tl-functionalize: tl.assign inside a nested region is not supported");
      ok = false;
    }
  });
  if (!ok) return signalPassFailure();

  // Walk in program order: after `assign(arg, v)` (data, not grad), the argument's tensor holds
  // v, so later ops that still read the argument directly must read v instead.
  std::map<std::pair<unsigned, bool>, Update> updates;
  llvm::DenseMap<mlir::Value, mlir::Value> current;
  size_t order = 0;
  for (mlir::Operation& op : llvm::make_early_inc_range(block)) {
    if (op.getName().getStringRef() != kAssignOp) {
      for (mlir::OpOperand& use : op.getOpOperands()) {
        auto it = current.find(use.get());
        if (it != current.end()) use.set(it->second);
      }
      continue;
    }
    if (op.getNumOperands() != 2 || op.getNumResults() != 0) {
      op.emitError("tl-functionalize: tl.assign takes (target, value) and has no results");
      return signalPassFailure();
    }
    auto target = op.getOperand(0).dyn_cast<mlir::BlockArgument>();
    if (!target || target.getOwner() != &block) {
      op.emitError(
          "tl-functionalize: the target of tl.assign must be a function argument (a captured tensor "
          "or its grad), not the result of an op");
      return signalPassFailure();
    }
    mlir::Value value = op.getOperand(1);
    if (auto it = current.find(value); it != current.end()) value = it->second;
    if (value.getType() != target.getType()) {
      op.emitError() << "tl-functionalize: tl.assign writes a " << value.getType() << " into a "
                     << target.getType();
      return signalPassFailure();
    }
    const bool to_grad = ir::attrs_of(&op).flag;  // tl.assign {to_grad}
    updates.insert_or_assign({target.getArgNumber(), to_grad}, Update{value, op.getLoc(), order++});
    if (!to_grad) current[target] = value;
    op.erase();
  }
  if (updates.empty()) return;

  auto ret = llvm::cast<mlir::func::ReturnOp>(block.getTerminator());
  // A result already written back to the same slot (IR functionalized before) takes the new
  // value instead of gaining a second result.
  for (unsigned i = 0; i < func.getNumResults(); ++i) {
    auto input = func.getResultAttrOfType<mlir::IntegerAttr>(i, kWritebackAttr);
    if (!input) continue;
    auto it = updates.find({static_cast<unsigned>(input.getInt()), func.getResultAttr(i, kToGradAttr) != nullptr});
    if (it == updates.end()) continue;
    ret->setOperand(i, it->second.value);
    updates.erase(it);
  }

  std::vector<std::pair<std::pair<unsigned, bool>, Update>> ordered(updates.begin(), updates.end());
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
  mlir::Builder builder(&getContext());
  for (const auto& [key, update] : ordered) {
    const unsigned index = func.getNumResults();
    llvm::SmallVector<mlir::NamedAttribute, 2> attrs{
        builder.getNamedAttr(kWritebackAttr, builder.getI64IntegerAttr(key.first))};
    if (key.second) attrs.push_back(builder.getNamedAttr(kToGradAttr, builder.getUnitAttr()));
    func.insertResult(index, update.value.getType(), builder.getDictionaryAttr(attrs));
    ret->insertOperands(index, update.value);
  }
}

}  // namespace

std::unique_ptr<mlir::Pass> create_functionalize_pass() { return std::make_unique<FunctionalizePass>(); }

}  // namespace tl::passes
