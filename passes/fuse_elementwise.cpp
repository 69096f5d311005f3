// tl-fuse-elementwise: outlines maximal groups of elementwise ops into private functions that
// code generation (codegen/cpu) compiles into one loop nest each, and the inverse step the
// driver uses when a group cannot be compiled.
#include <algorithm>

#include <mlir/Dialect/Func/IR/FuncOps.h>
#include <mlir/IR/BlockAndValueMapping.h>
#include <mlir/IR/SymbolTable.h>
#include <mlir/Pass/Pass.h>

#include "ir/dialect.h"
#include "passes/graph_bridge.h"
#include "passes/passes.h"

namespace tl::passes {
namespace {

struct FuseElementwisePass
    : mlir::PassWrapper<FuseElementwisePass, mlir::OperationPass<mlir::ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FuseElementwisePass)
  FuseElementwisePass() = default;
  FuseElementwisePass(const FuseElementwisePass& other) : PassWrapper(other) {}
  llvm::StringRef getArgument() const override { return "tl-fuse-elementwise"; }
  llvm::StringRef getDescription() const override {
    return "Outline groups of elementwise tl ops into private functions marked `fused`";
  }
  void runOnOperation() override;

  Option<int> min_ops{*this, "min-ops", llvm::cl::desc("Smallest group worth outlining, in ops"),
                      llvm::cl::init(2)};
  Option<bool> row_reductions{*this, "row-reductions",
                              llvm::cl::desc("Let groups end in sums over the innermost dim too (CUDA, whose "
                                             "kernels give a row a block of threads)"),
                              llvm::cl::init(false)};
};

mlir::RankedTensorType tensor_type_of(mlir::Value v) { return v.getType().cast<mlir::RankedTensorType>(); }


// Groups in `block`, each listed root first. A group is a maximal set of elementwise ops with
// one result leaving it (the root's): every other member has the root's shape (or, when the
// root is a reduction, the shape it reduces) and only users inside the group, so the group is
// convex and its intermediates need no memory. `along_rows`: a root may be a sum over the
// innermost dim (ir::is_fusible_reduction).
std::vector<std::vector<mlir::Operation*>> find_groups(mlir::Block& block, bool along_rows) {
  llvm::DenseMap<mlir::Operation*, int> group_of;
  std::vector<std::vector<mlir::Operation*>> groups;
  // Consumers first: a root is an elementwise op no later group absorbed.
  for (mlir::Operation& op : llvm::reverse(block)) {
    const bool reduction = ir::is_fusible_reduction(&op, along_rows);
    if (group_of.count(&op) || !(reduction || ir::is_fusible_elementwise(&op))) continue;
    const int g = static_cast<int>(groups.size());
    groups.push_back({&op});
    group_of[&op] = g;
    // A reduction's producers have the shape it reduces (its result is smaller).
    const auto shape = tensor_type_of(reduction ? op.getOperand(0) : op.getResult(0)).getShape();
    auto in_group = [&](mlir::Operation* user) {
      auto it = group_of.find(user);
      return it != group_of.end() && it->second == g;
    };
    // Until nothing changes: a producer joins once all of its users have joined.
    for (bool grew = true; grew;) {
      grew = false;
      for (size_t i = 0; i < groups[g].size(); ++i) {
        for (mlir::Value operand : groups[g][i]->getOperands()) {
          mlir::Operation* producer = operand.getDefiningOp();
          if (producer == nullptr || producer->getBlock() != &block || group_of.count(producer)) continue;
          if (!ir::is_fusible_elementwise(producer)) continue;
          if (tensor_type_of(producer->getResult(0)).getShape() != shape) continue;
          if (!llvm::all_of(producer->getUsers(), in_group)) continue;
          group_of[producer] = g;
          groups[g].push_back(producer);
          grew = true;
        }
      }
    }
  }
  return groups;
}

// Replaces `members` (root first) by a call of a new private function holding them.
void outline(mlir::func::FuncOp func, std::vector<mlir::Operation*> members, mlir::SymbolTable& symbols,
             int index) {
  mlir::Operation* root = members.front();
  std::sort(members.begin(), members.end(), [](mlir::Operation* a, mlir::Operation* b) { return a->isBeforeInBlock(b); });
  llvm::SmallPtrSet<mlir::Operation*, 16> inside(members.begin(), members.end());

  // Inputs in order of first use; splat constants are copied into the group instead.
  llvm::SmallVector<mlir::Value> inputs;
  llvm::SmallVector<mlir::Operation*> constants;
  for (mlir::Operation* op : members) {
    for (mlir::Value v : op->getOperands()) {
      mlir::Operation* def = v.getDefiningOp();
      if (def != nullptr && inside.count(def)) continue;
      if (ir::is_splat_constant(def)) {
        if (!llvm::is_contained(constants, def)) constants.push_back(def);
      } else if (!llvm::is_contained(inputs, v)) {
        inputs.push_back(v);
      }
    }
  }
  std::string description;
  for (mlir::Operation* op : members) {
    if (!description.empty()) description += "+";
    description += op->getName().getStringRef().drop_front(3).str();
  }

  mlir::OpBuilder builder(func.getContext());
  builder.setInsertionPointToEnd(func->getParentOfType<mlir::ModuleOp>().getBody());
  llvm::SmallVector<mlir::Type> input_types;
  for (mlir::Value v : inputs) input_types.push_back(v.getType());
  mlir::Type result_type = root->getResult(0).getType();
  auto group = builder.create<mlir::func::FuncOp>(root->getLoc(), func.getName().str() + "_fused" + std::to_string(index),
                                                  builder.getFunctionType(input_types, result_type));
  group.setPrivate();
  group->setAttr(kFusedAttr, builder.getStringAttr(description));
  symbols.insert(group);  // renames on a clash

  mlir::Block* entry = group.addEntryBlock();
  mlir::BlockAndValueMapping mapping;
  for (size_t i = 0; i < inputs.size(); ++i) mapping.map(inputs[i], entry->getArgument(i));
  mlir::OpBuilder body = mlir::OpBuilder::atBlockEnd(entry);
  for (mlir::Operation* c : constants) body.clone(*c, mapping);
  for (mlir::Operation* op : members) body.clone(*op, mapping);
  body.create<mlir::func::ReturnOp>(root->getLoc(), mapping.lookup(mlir::Value(root->getResult(0))));

  builder.setInsertionPoint(root);
  auto call = builder.create<mlir::func::CallOp>(root->getLoc(), group, inputs);
  root->getResult(0).replaceAllUsesWith(call.getResult(0));
  for (mlir::Operation* op : llvm::reverse(members)) op->erase();
  for (mlir::Operation* c : constants)
    if (c->use_empty()) c->erase();
}

void FuseElementwisePass::runOnOperation() {
  mlir::ModuleOp module = getOperation();
  mlir::SymbolTable symbols(module);
  llvm::SmallVector<mlir::func::FuncOp> funcs;
  for (auto func : module.getOps<mlir::func::FuncOp>())
    if (!func.isExternal() && !func->hasAttr(kFusedAttr) && func.getBody().hasOneBlock()) funcs.push_back(func);
  for (mlir::func::FuncOp func : funcs) {
    int index = 0;
    for (auto& members : find_groups(func.getBody().front(), row_reductions)) {
      if (static_cast<int>(members.size()) < min_ops) continue;
      outline(func, std::move(members), symbols, index++);
    }
  }
}

}  // namespace

std::unique_ptr<mlir::Pass> create_fuse_elementwise_pass() { return std::make_unique<FuseElementwisePass>(); }

bool unfuse(mlir::Operation* call_op) {
  auto call = llvm::dyn_cast<mlir::func::CallOp>(call_op);
  if (!call) return false;
  auto group = mlir::SymbolTable::lookupNearestSymbolFrom<mlir::func::FuncOp>(call, call.getCalleeAttr());
  if (!group || !group->hasAttr(kFusedAttr)) return false;
  mlir::BlockAndValueMapping mapping;
  mlir::Block& entry = group.getBody().front();
  for (unsigned i = 0; i < entry.getNumArguments(); ++i) mapping.map(entry.getArgument(i), call.getOperand(i));
  mlir::OpBuilder builder(call);
  for (mlir::Operation& op : entry.without_terminator()) builder.clone(op, mapping);
  call.getResult(0).replaceAllUsesWith(mapping.lookup(entry.getTerminator()->getOperand(0)));
  call.erase();
  if (mlir::SymbolTable::symbolKnownUseEmpty(group, group->getParentOp())) group.erase();
  return true;
}

}  // namespace tl::passes
