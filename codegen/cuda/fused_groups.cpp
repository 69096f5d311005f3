#include "codegen/cuda/fused_groups.h"

#include <algorithm>

#include <mlir/IR/BuiltinAttributes.h>

#include "ir/attrs.h"
#include "ir/dialect.h"
#include "runtime/cuda/fused_kernel.h"
#include "runtime/ops/registry.h"

namespace tl::codegen::cuda {

namespace {

// The value of a splat constant, as a double.
bool splat_value(mlir::Operation* op, double& value) {
  auto attr = op->getAttrOfType<mlir::DenseElementsAttr>("value");
  if (!attr || !attr.isSplat()) return false;
  mlir::Attribute v = attr.getSplatValue<mlir::Attribute>();
  if (auto f = v.dyn_cast<mlir::FloatAttr>()) value = f.getValueAsDouble();
  else if (auto i = v.dyn_cast<mlir::IntegerAttr>()) value = static_cast<double>(i.getValue().getSExtValue());
  else if (auto b = v.dyn_cast<mlir::BoolAttr>()) value = b.getValue() ? 1.0 : 0.0;
  else return false;
  return true;
}

DType element_dtype(mlir::Value v) {
  return ir::dtype_of(v.getType().cast<mlir::RankedTensorType>().getElementType());
}

}  // namespace

std::string describe_group(mlir::func::FuncOp group, rt::cuda::FusedGroup& out, std::string& ops) {
  mlir::Block& block = group.getBody().front();
  llvm::DenseMap<mlir::Value, int> ref;  // argument k -> -k-1, step k's result -> k
  for (mlir::BlockArgument arg : block.getArguments()) {
    ref[arg] = -static_cast<int>(arg.getArgNumber()) - 1;
    out.inputs.push_back(element_dtype(arg));
  }
  mlir::Value result = block.getTerminator()->getOperand(0);
  mlir::Operation* reduction = result.getDefiningOp();
  if (reduction == nullptr || !ir::is_fusible_reduction(reduction, /*along_rows=*/true)) reduction = nullptr;
  for (mlir::Operation& op : block.without_terminator()) {
    if (&op == reduction) continue;  // recorded below, after the steps it sums
    rt::cuda::FusedStep step;
    if (op.getNumResults() != 1) return "op '" + op.getName().getStringRef().str() + "' has several results";
    step.dtype = element_dtype(op.getResult(0));
    if (ir::is_splat_constant(&op)) {
      if (!splat_value(&op, step.constant)) return "a constant of an element type the CUDA emitter does not write";
    } else {
      const ops::OpDef* def = ir::op_def(&op);
      if (def == nullptr || def->kind != ops::OpKind::kElementwise || def->pointwise.lower == nullptr)
        return "op '" + op.getName().getStringRef().str() + "' is not elementwise (a reduction ends the group)";
      step.op = def;
      step.attrs = ir::attrs_of(&op);
      for (mlir::Value operand : op.getOperands()) {
        auto it = ref.find(operand);
        if (it == ref.end()) return "an operand is defined outside the group";
        step.args.push_back(it->second);
      }
      ops += (ops.empty() ? "" : "+") + def->name;
    }
    ref[op.getResult(0)] = static_cast<int>(out.steps.size());
    out.steps.push_back(std::move(step));
  }
  if (reduction != nullptr) {
    // The steps' last result is what the sum reads (a cast to its own dtype when it reads a
    // group input directly).
    mlir::Value summed = reduction->getOperand(0);
    auto it = ref.find(summed);
    if (it == ref.end()) return "the sum reads a value defined outside the group";
    if (it->second != static_cast<int>(out.steps.size()) - 1) {
      rt::cuda::FusedStep copy;
      copy.op = ops::find_op("cast");
      copy.attrs.dtype = element_dtype(summed);
      copy.args = {it->second};
      copy.dtype = copy.attrs.dtype;
      out.steps.push_back(std::move(copy));
    }
    const auto space = summed.getType().cast<mlir::RankedTensorType>();
    out.space_rank = static_cast<int>(space.getRank());
    const ops::Attrs attrs = ir::attrs_of(reduction);
    for (int64_t d : attrs.dims) out.reduce_dims.push_back(d < 0 ? d + space.getRank() : d);
    std::sort(out.reduce_dims.begin(), out.reduce_dims.end());
    out.mean = attrs.flag;
    ops += std::string("+") + (attrs.flag ? "mean" : "sum");
    return {};
  }
  if (out.steps.empty() || ref.lookup(result) != static_cast<int>(out.steps.size()) - 1)
    return "the group does not return its last op's result";
  return {};
}

std::vector<GroupKernel> compile_groups(llvm::ArrayRef<mlir::func::FuncOp> groups) {
  std::vector<GroupKernel> results;
  for (mlir::func::FuncOp group : groups) {
    GroupKernel r;
    rt::cuda::FusedGroup description;
    std::string ops;
    r.error = describe_group(group, description, ops);
    if (r.error.empty()) {
      try {
        r.kernel = std::make_shared<rt::cuda::CudaFusedKernel>(std::move(description), ops);
      } catch (const Error& e) {
        r.error = e.what();
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace tl::codegen::cuda
