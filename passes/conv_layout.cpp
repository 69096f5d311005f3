// tl-conv-layout: a float32 conv2d whose result only other conv2d ops read (as their input or
// residual) hands it over in oneDNN's channel-blocked layout nChw8c, the AVX2 kernels' own,
// instead of NCHW: the `blocked` attribute's bits (1 input, 2 residual, 4 result) tell each
// kernel which operands arrive or leave blocked (runtime/cpu/onednn_conv.cpp). A chain of
// convolutions (a ResNet's blocks) then reorders activations only at its edges, where a
// value reaches any other op or leaves the program.
//
// The bytes of a blocked value are not NCHW, so the rewrite is only valid when nothing but
// these convolutions reads it: no other op, no return, no derivative (backward ops read
// forward activations, which keeps training programs as they are).
#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/IR/Builders.h>
#include <mlir/Pass/Pass.h>

#include "ir/dialect.h"
#include "passes/graph_bridge.h"
#include "passes/passes.h"
#include "runtime/cpu/onednn.h"

namespace tl::passes {
namespace {

struct ConvLayoutPass : mlir::PassWrapper<ConvLayoutPass, mlir::OperationPass<mlir::func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ConvLayoutPass)
  llvm::StringRef getArgument() const override { return "tl-conv-layout"; }
  llvm::StringRef getDescription() const override {
    return "Keep activations between convolutions in oneDNN's blocked layout (nChw8c)";
  }
  void runOnOperation() override;
};

// Whether `v` (a 4-D float32 tensor) has whole blocks of 8 channels.
bool blockable(mlir::Value v) {
  auto type = v.getType().dyn_cast<mlir::RankedTensorType>();
  return type && type.hasStaticShape() && type.getRank() == 4 && type.getElementType().isF32() &&
         type.getDimSize(1) % 8 == 0 && type.getNumElements() > 0;
}

int64_t bits_of(mlir::Operation* conv) {
  auto attr = conv->getAttrOfType<mlir::IntegerAttr>("blocked");
  return attr ? attr.getInt() : 0;
}

void add_bits(mlir::Operation* conv, int64_t bits) {
  mlir::OpBuilder builder(conv);
  conv->setAttr("blocked", builder.getI64IntegerAttr(bits_of(conv) | bits));
}

void ConvLayoutPass::runOnOperation() {
  llvm::SmallVector<mlir::Operation*> producers;
  getOperation().walk([&](mlir::Operation* op) {
    if (!is_registry_op(op, "conv2d") || op->getNumResults() != 1) return;
    mlir::Value v = op->getResult(0);
    if (!blockable(v) || v.use_empty()) return;
    for (mlir::OpOperand& use : v.getUses()) {
      mlir::Operation* user = use.getOwner();
      const unsigned index = use.getOperandNumber();
      if (!is_registry_op(user, "conv2d") || !(index == 0 || index == 3)) return;
    }
    producers.push_back(op);
  });
  for (mlir::Operation* conv : producers) {
    add_bits(conv, rt::cpu::kBlockedOutput);
    for (mlir::OpOperand& use : conv->getResult(0).getUses()) {
      add_bits(use.getOwner(), use.getOperandNumber() == 0 ? rt::cpu::kBlockedInput : rt::cpu::kBlockedResidual);
    }
  }
}

}  // namespace

std::unique_ptr<mlir::Pass> create_conv_layout_pass() { return std::make_unique<ConvLayoutPass>(); }

}  // namespace tl::passes
