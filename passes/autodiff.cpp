// tl-autodiff: expands each tl.grad into the ops of its reverse-mode derivative.
//
// The derivative rules are the op table's own (OpDef::grad, written with Tensor ops): the
// pass runs them on symbolic tensors under a tracer in symbolic mode, so each Tensor op a
// rule calls becomes a graph node, and the nodes are emitted as IR before the tl.grad. Eager
// autograd and this pass therefore share one copy of every derivative formula, including
// the engine's two generic steps (sum_to for broadcast operands, cast to the operand dtype).
#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/Pass/Pass.h>

#include <llvm/ADT/DenseMap.h>
#include <llvm/ADT/DenseSet.h>

#include "frontend/trace/tracer.h"
#include "ir/attrs.h"
#include "ir/dialect.h"
#include "passes/graph_bridge.h"
#include "passes/passes.h"
#include "tl/autograd.h"
#include "tl/ops.h"

namespace tl::passes {
namespace {

struct AutodiffPass : mlir::PassWrapper<AutodiffPass, mlir::OperationPass<mlir::func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(AutodiffPass)
  llvm::StringRef getArgument() const override { return "tl-autodiff"; }
  llvm::StringRef getDescription() const override {
    return "Expand tl.grad into the reverse-mode derivative, using the op table's derivative rules";
  }
  void runOnOperation() override;
};

// Symbolic tensors standing for IR values while derivative rules run.
class SymbolicScope {
 public:
  SymbolicScope() : tracer_(trace::Tracer::Mode::kSymbolic, "autodiff") {}

  trace::Tracer& tracer() { return tracer_; }

  // The symbolic tensor for an IR value (one per value).
  Tensor tensor(mlir::Value v) {
    auto it = tensors_.find(v);
    if (it != tensors_.end()) return it->second;
    auto type = v.getType().cast<mlir::RankedTensorType>();
    Shape shape = ir::shape_of(type);
    DType dtype = ir::dtype_of(type.getElementType());
    Tensor t = trace::meta_tensor(shape, dtype);
    int id = tracer_.add_input(trace::InputKind::kArgument, Tensor(), "v", shape, dtype);
    int value = tracer_.graph().inputs[id].value;
    tracer_.bind(t, value);
    values_[value] = v;
    tensors_[v] = t;
    return t;
  }

  // Emits the nodes recorded since the last flush at the builder's insertion point.
  void flush(mlir::OpBuilder& builder) {
    auto& nodes = tracer_.graph().nodes;
    for (; emitted_ < nodes.size(); ++emitted_) {
      const trace::Node& node = nodes[emitted_];
      llvm::SmallVector<mlir::Value> operands;
      for (int in : node.inputs) operands.push_back(values_.at(in));
      llvm::SmallVector<mlir::Type> types;
      for (int out : node.outputs) {
        const trace::Value& v = tracer_.graph().values[out];
        types.push_back(ir::tensor_type(builder.getContext(), v.shape, v.dtype));
      }
      mlir::Operation* op = emit_node(builder, node, operands, types);
      for (size_t i = 0; i < node.outputs.size(); ++i) values_[node.outputs[i]] = op->getResult(i);
    }
  }

  // The IR value a symbolic (or constant) tensor stands for, once flushed.
  mlir::Value value(const Tensor& t) {
    int id = tracer_.value_of(t, Site{});
    return values_.count(id) ? values_.at(id) : mlir::Value();
  }

 private:
  trace::Tracer tracer_;
  llvm::DenseMap<mlir::Value, Tensor> tensors_;
  std::unordered_map<int, mlir::Value> values_;
  size_t emitted_ = 0;
};

mlir::LogicalResult expand(mlir::Operation* grad) {
  mlir::Block* block = grad->getBlock();
  mlir::Value loss = grad->getOperand(0);
  mlir::Value seed = grad->getOperand(1);
  auto wrt = grad->getOperands().drop_front(2);

  // Forward ops between the block start and the tl.grad: which depend on a wrt value, and
  // which the loss depends on. Only ops in both sets get a derivative.
  llvm::DenseSet<mlir::Value> varies(wrt.begin(), wrt.end());
  llvm::SmallVector<mlir::Operation*> forward;
  for (mlir::Operation& op : *block) {
    if (&op == grad) break;
    forward.push_back(&op);
    if (ir::op_def(&op) == nullptr) continue;
    for (mlir::Value in : op.getOperands()) {
      if (varies.contains(in)) {
        varies.insert(op.getResult(0));
        break;
      }
    }
  }
  llvm::DenseSet<mlir::Value> useful{loss};
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    mlir::Operation* op = *it;
    if (op->getNumResults() != 1 || !useful.contains(op->getResult(0))) continue;
    for (mlir::Value in : op->getOperands()) useful.insert(in);
  }

  SymbolicScope scope;
  mlir::OpBuilder builder(grad);
  llvm::DenseMap<mlir::Value, Tensor> adjoint;
  {
    trace::TraceScope trace_scope(scope.tracer());
    NoGradGuard no_grad;
    adjoint[loss] = scope.tensor(seed);
    for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
      mlir::Operation* op = *it;
      const ops::OpDef* def = ir::op_def(op);
      if (def == nullptr || op->getNumResults() != 1) continue;
      mlir::Value result = op->getResult(0);
      auto adj = adjoint.find(result);
      if (adj == adjoint.end() || !varies.contains(result)) continue;
      std::vector<Tensor> inputs;
      std::vector<char> needs;
      bool any = false;
      for (mlir::Value in : op->getOperands()) {
        inputs.push_back(scope.tensor(in));
        bool n = varies.contains(in) && ir::dtype_of(in.getType().cast<mlir::RankedTensorType>().getElementType()) !=
                                            kBool && is_floating(inputs.back().dtype());
        needs.push_back(n);
        any = any || n;
      }
      if (!any) continue;
      Site site = ir::site_of(op->getLoc());
      if (def->grad == nullptr) {
        if (!def->not_differentiable.empty()) continue;  // no gradient flows through it
        return op->emitError("tl-autodiff: ") << def->name << " has no derivative rule";
      }
      ops::Attrs attrs = ir::attrs_of(op);
      Tensor output = scope.tensor(result);
      Tensor dout = adj->second;
      std::unique_ptr<bool[]> needs_grad(new bool[needs.size()]);
      for (size_t i = 0; i < needs.size(); ++i) needs_grad[i] = needs[i];
      ops::GradContext ctx{inputs, output, dout, attrs, std::span<const bool>(needs_grad.get(), needs.size()), site,
                           /*on_output_read=*/nullptr, /*on_output_read_arg=*/nullptr};
      std::vector<Tensor> grads;
      try {
        grads = def->grad(ctx);
      } catch (const Error& e) {
        return op->emitError("tl-autodiff: the derivative rule of ") << def->name << " failed: " << e.what();
      }
      for (size_t i = 0; i < grads.size() && i < inputs.size(); ++i) {
        if (!needs[i] || !grads[i].defined()) continue;
        Tensor g = grads[i];
        // The engine's generic steps, applied the same way.
        if (g.shape() != inputs[i].shape()) g = sum_to(g, inputs[i].shape(), site);
        if (g.dtype() != inputs[i].dtype()) g = cast(g, inputs[i].dtype(), site);
        mlir::Value in = op->getOperand(i);
        auto prev = adjoint.find(in);
        if (prev == adjoint.end()) {
          adjoint[in] = g;
        } else {
          prev->second = add(prev->second, g, site);
        }
      }
    }
    // Results: the adjoint of each wrt value, zeros where the loss does not depend on it.
    std::vector<Tensor> results;
    for (mlir::Value w : wrt) {
      auto a = adjoint.find(w);
      if (a != adjoint.end()) {
        results.push_back(a->second);
      } else {
        Tensor like = scope.tensor(w);
        results.push_back(zeros(like.shape(), {.dtype = like.dtype()}));
      }
    }
    for (const Tensor& r : results) scope.tracer().value_of(r, Site{});  // constants for zeros
    scope.flush(builder);
    for (size_t i = 0; i < results.size(); ++i) {
      mlir::Value v = scope.value(results[i]);
      if (!v) return grad->emitError("tl-autodiff: internal error: no IR value for gradient ") << i;
      grad->getResult(i).replaceAllUsesWith(v);
    }
  }
  grad->erase();
  return mlir::success();
}

void AutodiffPass::runOnOperation() {
  llvm::SmallVector<mlir::Operation*> grads;
  getOperation().walk([&](mlir::Operation* op) {
    if (op->getName().getStringRef() == kGradOp) grads.push_back(op);
  });
  for (mlir::Operation* g : grads) {
    if (mlir::failed(expand(g))) {
      signalPassFailure();
      return;
    }
  }
}

}  // namespace

std::unique_ptr<mlir::Pass> create_autodiff_pass() { return std::make_unique<AutodiffPass>(); }

}  // namespace tl::passes
