// tl-transpose-matmul: permute(matmul(a, b), [1, 0]) -> matmul(permute(b), permute(a)).
//
// (a b)^T = b^T a^T. The derivative of x @ W^T (Linear) w.r.t. W comes out of the matmul
// rule as the transpose of a matmul; written back as a .grad or fed to an elementwise update
// it then needs a transposing copy. After the rewrite the matmul produces the [out, in]
// result directly, and its transposed operands are views the matmul kernel reads in place.
#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/Pass/Pass.h>

#include "ir/attrs.h"
#include "ir/dialect.h"
#include "passes/graph_bridge.h"
#include "passes/passes.h"

namespace tl::passes {
namespace {

struct TransposeMatmulPass : mlir::PassWrapper<TransposeMatmulPass, mlir::OperationPass<mlir::func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TransposeMatmulPass)
  llvm::StringRef getArgument() const override { return "tl-transpose-matmul"; }
  llvm::StringRef getDescription() const override {
    return "Rewrite the transpose of a 2-D matmul as a matmul of transposed operands";
  }
  void runOnOperation() override;
};

int64_t rank_of(mlir::Value v) { return v.getType().cast<mlir::RankedTensorType>().getRank(); }

void TransposeMatmulPass::runOnOperation() {
  llvm::SmallVector<mlir::Operation*> candidates;
  getOperation().walk([&](mlir::Operation* op) {
    if (!is_registry_op(op, "permute") || op->getNumOperands() != 1) return;
    if (ir::attrs_of(op).dims != Shape{1, 0}) return;
    mlir::Operation* mm = op->getOperand(0).getDefiningOp();
    if (!is_registry_op(mm, "matmul") || mm->getNumOperands() != 2 || !mm->getResult(0).hasOneUse()) return;
    if (rank_of(mm->getOperand(0)) != 2 || rank_of(mm->getOperand(1)) != 2) return;
    candidates.push_back(op);
  });
  for (mlir::Operation* permute : candidates) {
    mlir::Operation* mm = permute->getOperand(0).getDefiningOp();
    mlir::OpBuilder builder(permute);
    auto transposed = [&](mlir::Value v) -> mlir::Value {
      // The transpose of a transpose is the original value.
      mlir::Operation* def = v.getDefiningOp();
      if (is_registry_op(def, "permute") && ir::attrs_of(def).dims == Shape{1, 0}) return def->getOperand(0);
      trace::Node node;
      node.op = "permute";
      node.def = ops::find_op("permute");
      node.attrs.dims = {1, 0};
      node.site = ir::site_of(permute->getLoc());
      auto type = v.getType().cast<mlir::RankedTensorType>();
      auto t = mlir::RankedTensorType::get({type.getDimSize(1), type.getDimSize(0)}, type.getElementType());
      return emit_node(builder, node, mlir::ValueRange{v}, mlir::TypeRange{t})->getResult(0);
    };
    mlir::Value bt = transposed(mm->getOperand(1));
    mlir::Value at = transposed(mm->getOperand(0));
    trace::Node node;
    node.op = "matmul";
    node.def = ops::find_op("matmul");
    node.site = ir::site_of(mm->getLoc());
    mlir::Operation* product =
        emit_node(builder, node, mlir::ValueRange{bt, at}, mlir::TypeRange{permute->getResult(0).getType()});
    permute->getResult(0).replaceAllUsesWith(product->getResult(0));
    permute->erase();
    mm->erase();
  }
}

}  // namespace

std::unique_ptr<mlir::Pass> create_transpose_matmul_pass() { return std::make_unique<TransposeMatmulPass>(); }

}  // namespace tl::passes
