// trace::Graph <-> `tl` dialect: import before the pipeline, export after it, and the
// one-node builder the autodiff pass shares. The IR form is described in graph_bridge.h.
#include "passes/graph_bridge.h"

#include <cstring>

#include <llvm/ADT/DenseMap.h>

#include "ir/attrs.h"
#include "ir/dialect.h"
#include "tl/ops.h"

namespace tl::passes {
namespace {

bool is_structural(const std::string& op) { return trace::find_structural(op) != nullptr; }

const char* kind_name(trace::InputKind kind) {
  switch (kind) {
    case trace::InputKind::kArgument: return "argument";
    case trace::InputKind::kCapture: return "capture";
    case trace::InputKind::kGradOf: return "grad_of";
    case trace::InputKind::kRng: return "rng";
  }
  return "argument";
}

trace::InputKind kind_of(llvm::StringRef name, const std::string& where) {
  if (name == "argument") return trace::InputKind::kArgument;
  if (name == "capture") return trace::InputKind::kCapture;
  if (name == "grad_of") return trace::InputKind::kGradOf;
  if (name == "rng") return trace::InputKind::kRng;
  throw ValueError(where + ": unknown tl.input kind '" + name.str() +
                   "' (expected argument, capture, grad_of or rng)");
}

std::string type_str(const Shape& shape, DType dtype) { return shape.str() + " " + dtype_name(dtype); }

}  // namespace

mlir::DenseElementsAttr constant_attr(mlir::MLIRContext* ctx, const Tensor& tensor) {
  Tensor host = tensor.to(kCPU).contiguous();
  auto type = ir::tensor_type(ctx, host.shape(), host.dtype());
  const int64_t n = host.numel();
  const size_t elem = dtype_size(host.dtype());
  const char* data = static_cast<const char*>(n > 0 ? host.data_ptr() : nullptr);
  // A splat prints as `dense<1.0>` and takes one element of storage, whatever the shape.
  bool is_splat = n > 1;
  for (int64_t i = 1; i < n && is_splat; ++i) is_splat = std::memcmp(data, data + i * elem, elem) == 0;
  const int64_t stored = is_splat ? 1 : n;
  if (host.dtype() == kBool) {
    // i1 attributes store packed bits: go through bools instead of the raw buffer.
    const bool* values = reinterpret_cast<const bool*>(data);
    return mlir::DenseElementsAttr::get(type, llvm::ArrayRef<bool>(values, stored));
  }
  return mlir::DenseElementsAttr::getFromRawBuffer(type, llvm::ArrayRef<char>(data, stored * elem));
}

Tensor tensor_of(mlir::DenseElementsAttr attr) {
  auto type = attr.getType().cast<mlir::RankedTensorType>();
  const DType dtype = ir::dtype_of(type.getElementType());
  Tensor out = tl::empty(ir::shape_of(type), {.dtype = dtype});
  const int64_t n = out.numel();
  if (n == 0) return out;
  char* dst = static_cast<char*>(out.data_ptr());
  if (dtype == kBool) {
    bool* values = reinterpret_cast<bool*>(dst);
    int64_t i = 0;
    for (bool v : attr.getValues<bool>()) values[i++] = v;
    return out;
  }
  const size_t elem = dtype_size(dtype);
  llvm::ArrayRef<char> raw = attr.getRawData();
  if (attr.isSplat()) {
    for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * elem, raw.data(), elem);
  } else {
    TL_ASSERT(raw.size() == n * elem, "dense attribute size does not match its type");
    std::memcpy(dst, raw.data(), raw.size());
  }
  return out;
}

mlir::Operation* emit_node(mlir::OpBuilder& builder, const trace::Node& node, mlir::ValueRange operands,
                           mlir::TypeRange result_types) {
  mlir::MLIRContext* ctx = builder.getContext();
  if (node.def != nullptr && node.def->name != node.op) {
    throw ValueError("node '" + node.op + "' carries the op definition of '" + node.def->name + "'");
  }
  if (node.def == nullptr && !is_structural(node.op) && ops::find_op(node.op) == nullptr) {
    throw ValueError("unknown op '" + node.op + "' (neither a registered op nor a structural node)");
  }
  mlir::OperationState state(ir::location(ctx, node.site), "tl." + node.op);
  state.addOperands(operands);
  state.addTypes(result_types);
  mlir::NamedAttrList attrs;
  ir::append_attrs(ctx, node.op, node.attrs, attrs);
  if (node.op == trace::kConstant) {
    if (!node.constant.defined()) throw ValueError("constant node holds no tensor");
    attrs.set(kConstantValueAttr, constant_attr(ctx, node.constant));
  }
  state.addAttributes(attrs);
  return builder.create(state);
}

mlir::OwningOpRef<mlir::ModuleOp> import_graph(mlir::MLIRContext& ctx, const trace::Graph& graph) {
  const std::string name = graph.name.empty() ? "traced" : graph.name;
  const std::string where = "graph '" + name + "'";
  const int num_values = static_cast<int>(graph.values.size());
  auto check_id = [&](int v, const std::string& what) {
    if (v < 0 || v >= num_values) {
      throw ValueError(where + ": " + what + " names value %" + std::to_string(v) + ", but the graph has " +
                       std::to_string(num_values) + " values");
    }
  };
  auto type_of = [&](int v) {
    return ir::tensor_type(&ctx, graph.values[v].shape, graph.values[v].dtype);
  };

  llvm::SmallVector<mlir::Type> arg_types;
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    check_id(graph.inputs[i].value, "input " + std::to_string(i));
    arg_types.push_back(type_of(graph.inputs[i].value));
  }
  llvm::SmallVector<mlir::Type> result_types;
  for (size_t i = 0; i < graph.outputs.size(); ++i) {
    check_id(graph.outputs[i], "output " + std::to_string(i));
    result_types.push_back(type_of(graph.outputs[i]));
  }
  for (size_t i = 0; i < graph.writebacks.size(); ++i) {
    const trace::Writeback& w = graph.writebacks[i];
    check_id(w.value, "writeback " + std::to_string(i));
    if (w.input < 0 || w.input >= static_cast<int>(graph.inputs.size())) {
      throw ValueError(where + ": writeback " + std::to_string(i) + " targets input " + std::to_string(w.input) +
                       ", but the graph has " + std::to_string(graph.inputs.size()) + " inputs");
    }
    result_types.push_back(type_of(w.value));
  }

  mlir::OpBuilder builder(&ctx);
  mlir::Location unknown = builder.getUnknownLoc();
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(unknown);
  builder.setInsertionPointToEnd(module->getBody());
  auto func = builder.create<mlir::func::FuncOp>(unknown, name, builder.getFunctionType(arg_types, result_types));
  if (graph.rng_advance != 0) func->setAttr(kRngAdvanceAttr, builder.getI64IntegerAttr(graph.rng_advance));

  mlir::Block* entry = func.addEntryBlock();
  std::vector<mlir::Value> env(num_values);
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    const trace::Input& in = graph.inputs[i];
    if (env[in.value]) {
      throw ValueError(where + ": value %" + std::to_string(in.value) + " is bound to two inputs");
    }
    env[in.value] = entry->getArgument(i);
    llvm::SmallVector<mlir::NamedAttribute> attrs{
        builder.getNamedAttr(kInputAttr, builder.getStringAttr(kind_name(in.kind))),
        builder.getNamedAttr(kNameAttr, builder.getStringAttr(in.name))};
    if (in.kind == trace::InputKind::kArgument && in.arg_index >= 0) {
      attrs.push_back(builder.getNamedAttr(kArgIndexAttr, builder.getI64IntegerAttr(in.arg_index)));
    }
    func.setArgAttrs(i, attrs);
  }

  builder.setInsertionPointToEnd(entry);
  for (size_t k = 0; k < graph.nodes.size(); ++k) {
    const trace::Node& node = graph.nodes[k];
    const std::string node_where = where + ", node " + std::to_string(k) + " (" + node.op + ")";
    llvm::SmallVector<mlir::Value> operands;
    for (int v : node.inputs) {
      check_id(v, node_where + ": an operand");
      if (!env[v]) {
        throw ValueError(node_where + " reads value %" + std::to_string(v) + " before it is defined");
      }
      operands.push_back(env[v]);
    }
    llvm::SmallVector<mlir::Type> types;
    for (int v : node.outputs) {
      check_id(v, node_where + ": a result");
      if (env[v]) throw ValueError(node_where + " redefines value %" + std::to_string(v));
      types.push_back(type_of(v));
    }
    if (node.op == trace::kConstant) {
      if (node.outputs.size() != 1 || !node.constant.defined()) {
        throw ValueError(node_where + ": a constant needs one output and a tensor");
      }
      const trace::Value& v = graph.values[node.outputs[0]];
      if (node.constant.shape() != v.shape || node.constant.dtype() != v.dtype) {
        throw ValueError(node_where + ": the tensor is " +
                         type_str(node.constant.shape(), node.constant.dtype()) + " but its value is " +
                         type_str(v.shape, v.dtype));
      }
    }
    mlir::Operation* op;
    try {
      op = emit_node(builder, node, operands, types);
    } catch (const ValueError& e) {
      throw ValueError(node_where + ": " + e.what());
    }
    for (size_t j = 0; j < node.outputs.size(); ++j) env[node.outputs[j]] = op->getResult(j);
  }

  llvm::SmallVector<mlir::Value> results;
  auto result_value = [&](int v, const std::string& what) {
    if (!env[v]) throw ValueError(where + ": " + what + " is value %" + std::to_string(v) + ", which nothing defines");
    results.push_back(env[v]);
  };
  for (size_t i = 0; i < graph.outputs.size(); ++i) result_value(graph.outputs[i], "output " + std::to_string(i));
  for (size_t i = 0; i < graph.writebacks.size(); ++i) {
    result_value(graph.writebacks[i].value, "writeback " + std::to_string(i));
  }
  builder.create<mlir::func::ReturnOp>(unknown, results);
  for (size_t i = 0; i < graph.writebacks.size(); ++i) {
    const trace::Writeback& w = graph.writebacks[i];
    const unsigned index = graph.outputs.size() + i;
    func.setResultAttr(index, kWritebackAttr, builder.getI64IntegerAttr(w.input));
    if (w.to_grad) func.setResultAttr(index, kToGradAttr, builder.getUnitAttr());
  }
  return module;
}

bool is_registry_op(mlir::Operation* op, std::string_view name) {
  const ops::OpDef* def = op ? ir::op_def(op) : nullptr;
  return def != nullptr && def->name == name;
}

trace::Node node_of(mlir::Operation* op) {
  llvm::StringRef full = op->getName().getStringRef();
  if (!full.startswith("tl.")) {
    throw ValueError("op '" + full.str() + "' has no traced-graph form (only `tl` dialect ops do)");
  }
  trace::Node node;
  node.op = full.drop_front(3).str();
  if (!is_structural(node.op)) {
    node.def = ops::find_op(node.op);
    if (node.def == nullptr) throw ValueError("op '" + full.str() + "' names no registered op");
  }
  node.attrs = ir::attrs_of(op);
  node.site = ir::site_of(op->getLoc());
  if (node.op == trace::kConstant) {
    auto value = op->getAttrOfType<mlir::DenseElementsAttr>(kConstantValueAttr);
    if (!value) throw ValueError("tl.constant without a dense `value` attribute");
    node.constant = tensor_of(value);
  }
  return node;
}

trace::Graph export_graph(mlir::func::FuncOp func, const FusedKernels& kernels) {
  trace::Graph graph;
  graph.name = func.getName().str();
  const std::string where = "function '" + graph.name + "'";
  if (!func.getBody().hasOneBlock()) throw ValueError(where + ": expected a body of exactly one block");

  llvm::DenseMap<mlir::Value, int> ids;
  auto define = [&](mlir::Value v) {
    auto type = v.getType().dyn_cast<mlir::RankedTensorType>();
    if (!type) throw ValueError(where + ": a value is not a ranked tensor");
    int id = graph.add_value(ir::shape_of(type), ir::dtype_of(type.getElementType()));
    ids[v] = id;
    return id;
  };
  auto id_of = [&](mlir::Value v) {
    auto it = ids.find(v);
    TL_ASSERT(it != ids.end(), "an operand is defined outside the function's block");
    return it->second;
  };

  mlir::Block& block = func.getBody().front();
  for (mlir::BlockArgument arg : block.getArguments()) {
    const unsigned i = arg.getArgNumber();
    trace::Input in;
    in.value = define(arg);
    if (auto kind = func.getArgAttrOfType<mlir::StringAttr>(i, kInputAttr)) {
      in.kind = kind_of(kind.getValue(), where + ", argument " + std::to_string(i));
    }
    if (auto name = func.getArgAttrOfType<mlir::StringAttr>(i, kNameAttr)) in.name = name.getValue().str();
    if (auto index = func.getArgAttrOfType<mlir::IntegerAttr>(i, kArgIndexAttr)) in.arg_index = index.getInt();
    graph.inputs.push_back(std::move(in));
  }

  for (mlir::Operation& op : block) {
    if (auto ret = llvm::dyn_cast<mlir::func::ReturnOp>(op)) {
      for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
        const int v = id_of(ret.getOperand(i));
        if (auto input = func.getResultAttrOfType<mlir::IntegerAttr>(i, kWritebackAttr)) {
          graph.writebacks.push_back({v, static_cast<int>(input.getInt()),
                                      func.getResultAttr(i, kToGradAttr) != nullptr});
        } else {
          graph.outputs.push_back(v);
        }
      }
      continue;
    }
    if (auto call = llvm::dyn_cast<mlir::func::CallOp>(op)) {
      auto it = kernels.find(call.getCallee().str());
      if (it == kernels.end() || !it->second || call.getNumResults() != 1) {
        throw ValueError(where + ": call of '" + call.getCallee().str() + "' is not a compiled fused group");
      }
      trace::Node node;
      node.op = trace::kFused;
      node.site = ir::site_of(call.getLoc());
      node.kernel = it->second;
      for (mlir::Value operand : call.getOperands()) node.inputs.push_back(id_of(operand));
      node.outputs.push_back(define(call.getResult(0)));
      graph.nodes.push_back(std::move(node));
      continue;
    }
    if (op.getNumRegions() != 0) {
      throw ValueError(where + ": op '" + op.getName().getStringRef().str() + "' has regions");
    }
    trace::Node node;
    try {
      node = node_of(&op);
    } catch (const ValueError& e) {
      throw ValueError(where + ": " + e.what());
    }
    for (mlir::Value operand : op.getOperands()) node.inputs.push_back(id_of(operand));
    for (mlir::Value result : op.getResults()) node.outputs.push_back(define(result));
    graph.nodes.push_back(std::move(node));
  }
  if (auto advance = func->getAttrOfType<mlir::IntegerAttr>(kRngAdvanceAttr)) graph.rng_advance = advance.getInt();
  return graph;
}

}  // namespace tl::passes
