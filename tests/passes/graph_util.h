// Small builders for hand-made traced graphs, shared by the passes tests.
#pragma once

#include <string>
#include <vector>

#include "runtime/exec/graph.h"
#include "tl/ops.h"

namespace tl::test {

inline Site test_site(uint32_t line) { return Site{trace::intern_file("model.cpp"), line}; }

inline int add_input(trace::Graph& g, const Shape& shape, DType dtype, trace::InputKind kind, const std::string& name,
                     int arg_index = -1) {
  int v = g.add_value(shape, dtype);
  trace::Input in;
  in.value = v;
  in.kind = kind;
  in.arg_index = arg_index;
  in.name = name;
  g.inputs.push_back(in);
  return v;
}

// Appends a registry op node; its result type comes from the op's own shape rule.
inline int add_op(trace::Graph& g, const std::string& op, std::vector<int> inputs, ops::Attrs attrs = {},
                  uint32_t line = 0) {
  trace::Node node;
  node.op = op;
  node.def = ops::find_op(op);
  TL_ASSERT(node.def != nullptr, "test graph names an unknown op");
  std::vector<Tensor> metas;
  for (int v : inputs) metas.push_back(trace::meta_tensor(g.values[v].shape, g.values[v].dtype));
  int out;
  if (node.def->view != nullptr) {
    Tensor view = node.def->view(metas.at(0), attrs, Site{});
    out = g.add_value(view.shape(), view.dtype());
  } else {
    ops::OutputMeta meta = node.def->infer(metas, attrs, Site{});
    out = g.add_value(meta.shape, meta.dtype);
  }
  node.inputs = std::move(inputs);
  node.outputs = {out};
  node.attrs = attrs;
  node.site = line ? test_site(line) : Site{};
  g.nodes.push_back(std::move(node));
  return out;
}

inline int add_constant(trace::Graph& g, const Tensor& t, uint32_t line = 0) {
  trace::Node node;
  node.op = trace::kConstant;
  node.outputs = {g.add_value(t.shape(), t.dtype())};
  node.constant = t;
  node.site = line ? test_site(line) : Site{};
  g.nodes.push_back(node);
  return node.outputs[0];
}

inline void add_assign(trace::Graph& g, int target, int value, bool to_grad = false, uint32_t line = 0) {
  trace::Node node;
  node.op = trace::kAssign;
  node.inputs = {target, value};
  node.attrs.flag = to_grad;
  node.site = line ? test_site(line) : Site{};
  g.nodes.push_back(node);
}

// Nodes of one op kind, in order.
inline std::vector<const trace::Node*> nodes_of(const trace::Graph& g, const std::string& op) {
  std::vector<const trace::Node*> out;
  for (const trace::Node& n : g.nodes)
    if (n.op == op) out.push_back(&n);
  return out;
}

// The node defining value `v`, or null for inputs.
inline const trace::Node* producer(const trace::Graph& g, int v) {
  for (const trace::Node& n : g.nodes)
    for (int o : n.outputs)
      if (o == v) return &n;
  return nullptr;
}

}  // namespace tl::test
