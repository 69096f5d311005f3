// tl-conv-epilogue: relu(conv2d(...)) becomes conv2d(...) {relu}, and
// [relu](add(conv2d(x, w, b), r)) becomes conv2d(x, w, b, r) [{relu}] (a residual block).
//
// A convolution followed by a relu (every ResNet and MobileNet block) would write its result
// and read it back for the relu; with the flag oneDNN applies the relu as a post-op while
// each output tile is in registers (runtime/cpu/onednn_conv.cpp). A residual add becomes
// oneDNN's sum post-op: the residual is placed in the destination and the convolution adds
// to it. Runs before tl-fuse-elementwise, so these adds and relus are not taken into fused
// groups. The op stays differentiable (its derivative masks dout with the result and passes
// it to the residual), so the rewrite is valid before or after autodiff.
#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/IR/Builders.h>
#include <mlir/Pass/Pass.h>

#include "ir/dialect.h"
#include "passes/graph_bridge.h"
#include "passes/passes.h"

namespace tl::passes {
namespace {

struct ConvEpiloguePass : mlir::PassWrapper<ConvEpiloguePass, mlir::OperationPass<mlir::func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ConvEpiloguePass)
  llvm::StringRef getArgument() const override { return "tl-conv-epilogue"; }
  llvm::StringRef getDescription() const override {
    return "Fold a relu after a conv2d into the convolution (a oneDNN post-op)";
  }
  void runOnOperation() override;
};

// The conv2d (with a bias, not yet given a residual or relu, used only by `add`) that `add`
// adds a same-typed residual to, and that residual; or nulls.
std::pair<mlir::Operation*, mlir::Value> match_residual_add(mlir::Operation* add) {
  if (!is_registry_op(add, "add") || add->getNumOperands() != 2) return {};
  for (int side = 0; side < 2; ++side) {
    mlir::Operation* conv = add->getOperand(side).getDefiningOp();
    mlir::Value residual = add->getOperand(1 - side);
    if (!is_registry_op(conv, "conv2d") || conv->getNumOperands() != 3 || conv->hasAttr("relu") ||
        !conv->getResult(0).hasOneUse()) {
      continue;
    }
    if (residual.getType() != conv->getResult(0).getType() || add->getResult(0).getType() != residual.getType()) continue;
    // The residual must be computed before the convolution runs in its place.
    if (mlir::Operation* def = residual.getDefiningOp(); def && def->getBlock() == conv->getBlock() && conv->isBeforeInBlock(def)) {
      continue;
    }
    return {conv, residual};
  }
  return {};
}

void ConvEpiloguePass::runOnOperation() {
  llvm::SmallVector<mlir::Operation*> adds;
  getOperation().walk([&](mlir::Operation* op) {
    if (match_residual_add(op).first != nullptr) adds.push_back(op);
  });
  for (mlir::Operation* add : adds) {
    auto [conv, residual] = match_residual_add(add);
    if (!conv) continue;
    // The fused op takes the add's place (after both the convolution and the residual).
    mlir::OpBuilder builder(add);
    mlir::OperationState state(conv->getLoc(), conv->getName());
    state.addOperands(conv->getOperands());
    state.addOperands(residual);
    state.addTypes(conv->getResult(0).getType());
    state.addAttributes(conv->getAttrs());
    mlir::Operation* fused = builder.create(state);
    add->getResult(0).replaceAllUsesWith(fused->getResult(0));
    add->erase();
    conv->erase();
  }

  llvm::SmallVector<mlir::Operation*> relus;
  getOperation().walk([&](mlir::Operation* op) {
    if (!is_registry_op(op, "relu") || op->getNumOperands() != 1) return;
    mlir::Operation* conv = op->getOperand(0).getDefiningOp();
    if (!is_registry_op(conv, "conv2d") || !conv->getResult(0).hasOneUse() || conv->hasAttr("relu")) return;
    if (conv->getResult(0).getType() != op->getResult(0).getType()) return;
    relus.push_back(op);
  });
  for (mlir::Operation* relu : relus) {
    mlir::Operation* conv = relu->getOperand(0).getDefiningOp();
    conv->setAttr("relu", mlir::UnitAttr::get(conv->getContext()));
    relu->getResult(0).replaceAllUsesWith(conv->getResult(0));
    relu->erase();
  }
}

}  // namespace

std::unique_ptr<mlir::Pass> create_conv_epilogue_pass() { return std::make_unique<ConvEpiloguePass>(); }

}  // namespace tl::passes
