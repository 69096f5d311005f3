// tl-conv-epilogue: relu(conv2d(...)) becomes conv2d(...) {relu}.
//
// A convolution followed by a relu (every ResNet and MobileNet block) would write its result
// and read it back for the relu; with the flag oneDNN applies the relu as a post-op while
// each output tile is in registers (runtime/cpu/onednn_conv.cpp). Runs before
// tl-fuse-elementwise, so such relus are not taken into fused groups. The flag keeps the op
// differentiable (its derivative masks dout with the result), so the rewrite is valid before
// or after autodiff.
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

void ConvEpiloguePass::runOnOperation() {
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
