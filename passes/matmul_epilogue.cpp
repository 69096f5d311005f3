// tl-matmul-epilogue: add(matmul(a, b), bias) [-> relu] becomes matmul_bias(a, b, bias)
// {flag = relu}.
//
// A Linear layer is a matmul followed by a bias add over rows and often a relu: as separate
// ops each is a pass over the output in memory. matmul_bias hands both to oneDNN as post-ops
// (runtime/cpu/onednn_matmul.cpp), applied while each tile of the product is in registers.
// Runs before tl-fuse-elementwise, so these adds and relus are not taken into fused groups.
#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/Pass/Pass.h>

#include "ir/attrs.h"
#include "ir/dialect.h"
#include "passes/graph_bridge.h"
#include "passes/passes.h"

namespace tl::passes {
namespace {

struct MatmulEpiloguePass : mlir::PassWrapper<MatmulEpiloguePass, mlir::OperationPass<mlir::func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MatmulEpiloguePass)
  llvm::StringRef getArgument() const override { return "tl-matmul-epilogue"; }
  llvm::StringRef getDescription() const override {
    return "Fold a bias add and relu after a matmul into one matmul_bias op (oneDNN post-ops)";
  }
  void runOnOperation() override;
};

mlir::RankedTensorType type_of(mlir::Value v) { return v.getType().dyn_cast<mlir::RankedTensorType>(); }

// The matmul feeding `add` (one of its operands, used by nothing else) and the bias (the other
// operand: a vector of the product's column count, so it broadcasts along rows), or nulls.
std::pair<mlir::Operation*, mlir::Value> match_bias_add(mlir::Operation* add) {
  if (!is_registry_op(add, "add") || add->getNumOperands() != 2) return {};
  for (int side = 0; side < 2; ++side) {
    mlir::Operation* mm = add->getOperand(side).getDefiningOp();
    mlir::Value bias = add->getOperand(1 - side);
    if (!is_registry_op(mm, "matmul") || !mm->getResult(0).hasOneUse()) continue;
    auto product = type_of(mm->getResult(0)), b = type_of(mm->getOperand(1)), bias_type = type_of(bias);
    if (!product || !b || !bias_type || !product.hasStaticShape() || b.getRank() != 2) continue;
    if (bias_type.getRank() != 1 || bias_type.getDimSize(0) != product.getShape().back()) continue;
    if (bias_type.getElementType() != product.getElementType()) continue;
    if (type_of(add->getResult(0)) != product) continue;  // the add does not broadcast the product
    return {mm, bias};
  }
  return {};
}

void MatmulEpiloguePass::runOnOperation() {
  llvm::SmallVector<mlir::Operation*> adds;
  getOperation().walk([&](mlir::Operation* op) {
    if (match_bias_add(op).first != nullptr) adds.push_back(op);
  });
  for (mlir::Operation* add : adds) {
    auto [mm, bias] = match_bias_add(add);
    mlir::Operation* relu = nullptr;
    if (add->getResult(0).hasOneUse()) {
      mlir::Operation* user = *add->getResult(0).getUsers().begin();
      if (is_registry_op(user, "relu") && user->getNumOperands() == 1) relu = user;
    }
    mlir::Operation* last = relu ? relu : add;
    mlir::OpBuilder builder(last);
    trace::Node node;
    node.op = "matmul_bias";
    node.def = ops::find_op("matmul_bias");
    node.attrs.flag = relu != nullptr;
    node.site = ir::site_of(mm->getLoc());
    mlir::Operation* fused = emit_node(builder, node, mlir::ValueRange{mm->getOperand(0), mm->getOperand(1), bias},
                                       mlir::TypeRange{last->getResult(0).getType()});
    last->getResult(0).replaceAllUsesWith(fused->getResult(0));
    if (relu) relu->erase();
    add->erase();
    mm->erase();
  }
}

}  // namespace

std::unique_ptr<mlir::Pass> create_matmul_epilogue_pass() { return std::make_unique<MatmulEpiloguePass>(); }

}  // namespace tl::passes
