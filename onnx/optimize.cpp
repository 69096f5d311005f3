#include "onnx/optimize.h"

#include <unordered_map>
#include <unordered_set>

#include "onnx/op_converters.h"
#include "tl/ops.h"

namespace tl::onnx_import {
namespace {

bool all_constant(const Graph& g, const Node& n) {
  for (const std::string& in : n.inputs) {
    if (!in.empty() && !g.constants.count(in)) return false;
  }
  return true;
}

// Random ops and training-mode dropout must not be computed once for all calls.
bool is_deterministic(const Node& n) { return n.op_type != "Dropout"; }

int fold_constants(Graph& g) {
  int folded = 0;
  std::vector<Node> kept;
  NoGradGuard no_grad;
  for (Node& n : g.nodes) {
    if (!all_constant(g, n) || !is_deterministic(n) || !check_node(n, g.opset).empty()) {
      kept.push_back(std::move(n));
      continue;
    }
    NodeInputs in;
    for (const std::string& name : n.inputs) {
      in.values.push_back(name.empty() ? Tensor() : g.constants.at(name));
      in.known.push_back(true);
    }
    std::vector<Tensor> out = run_node(n, g.opset, in, Site());
    for (size_t i = 0; i < n.outputs.size() && i < out.size(); ++i) {
      if (!n.outputs[i].empty()) g.constants[n.outputs[i]] = out[i].contiguous();
    }
    ++folded;
  }
  g.nodes = std::move(kept);
  return folded;
}

// Conv(x, W[, b]) -> BatchNormalization(scale, B, mean, var) becomes Conv(x, W', b') with
// W' = W * s (per output channel), b' = (b - mean) * s + B, s = scale / sqrt(var + eps).
int fold_batch_norms(Graph& g) {
  std::unordered_map<std::string, int> uses;
  for (const Node& n : g.nodes) {
    for (const std::string& in : n.inputs) ++uses[in];
  }
  std::unordered_set<std::string> graph_outputs;
  for (const auto& o : g.outputs) graph_outputs.insert(o.name);
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& o : g.nodes[i].outputs) producer[o] = i;
  }
  std::vector<bool> drop(g.nodes.size(), false);
  int folded = 0;
  NoGradGuard no_grad;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& bn = g.nodes[i];
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() != 5 || bn.outputs.size() != 1) {
      continue;
    }
    if (!check_node(bn, g.opset).empty()) continue;
    auto p = producer.find(bn.inputs[0]);
    if (p == producer.end()) continue;
    Node& conv = g.nodes[p->second];
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 || uses[conv.outputs[0]] != 1 ||
        graph_outputs.count(conv.outputs[0])) {
      continue;
    }
    bool constant_params = conv.inputs.size() >= 2 && g.constants.count(conv.inputs[1]) &&
                           (conv.inputs.size() < 3 || conv.inputs[2].empty() || g.constants.count(conv.inputs[2]));
    for (size_t k = 1; k < 5; ++k) constant_params = constant_params && g.constants.count(bn.inputs[k]);
    if (!constant_params) continue;
    const Tensor& w = g.constants.at(conv.inputs[1]);
    if (!is_floating(w.dtype()) || w.dim() < 3) continue;
    const Attribute* eps_attr = bn.attr("epsilon");
    const double eps = eps_attr ? (eps_attr->kind == Attribute::kFloat ? eps_attr->f : 1e-5) : 1e-5;
    const int64_t out_channels = w.shape()[0];
    auto param = [&](size_t k) { return g.constants.at(bn.inputs[k]).to(kFloat64); };
    Tensor scale = param(1), shift = param(2), mean = param(3), var = param(4);
    if (scale.numel() != out_channels || shift.numel() != out_channels || mean.numel() != out_channels ||
        var.numel() != out_channels) {
      continue;
    }
    Tensor s = div(scale, sqrt(add(var, scalar_tensor(eps, {.dtype = kFloat64}))));
    Shape per_channel{out_channels};
    for (int64_t d = 1; d < w.dim(); ++d) per_channel.push_back(1);
    Tensor new_w = mul(w.to(kFloat64), s.reshape(per_channel)).to(w.dtype()).contiguous();
    Tensor b = conv.inputs.size() >= 3 && !conv.inputs[2].empty() ? g.constants.at(conv.inputs[2]).to(kFloat64)
                                                                   : zeros(Shape{out_channels}, {.dtype = kFloat64});
    Tensor new_b = add(mul(sub(b, mean), s), shift).to(w.dtype()).contiguous();
    const std::string w_name = conv.name + ".folded_weight", b_name = conv.name + ".folded_bias";
    g.constants[w_name] = new_w;
    g.constants[b_name] = new_b;
    conv.inputs.resize(3);
    conv.inputs[1] = w_name;
    conv.inputs[2] = b_name;
    conv.outputs[0] = bn.outputs[0];
    drop[i] = true;
    ++folded;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!drop[i]) kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
  return folded;
}

}  // namespace

int remove_unused(Graph& g) {
  std::unordered_set<std::string> needed;
  for (const auto& o : g.outputs) needed.insert(o.name);
  std::vector<bool> keep(g.nodes.size(), false);
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = g.nodes[i];
    for (const std::string& o : n.outputs) keep[i] = keep[i] || (!o.empty() && needed.count(o));
    if (keep[i]) {
      for (const std::string& in : n.inputs) needed.insert(in);
    }
  }
  std::vector<Node> kept;
  int removed = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (keep[i]) kept.push_back(std::move(g.nodes[i]));
    else ++removed;
  }
  g.nodes = std::move(kept);
  for (auto it = g.constants.begin(); it != g.constants.end();) {
    it = needed.count(it->first) ? std::next(it) : g.constants.erase(it);
  }
  return removed;
}

OptimizeStats optimize(Graph& g) {
  OptimizeStats stats;
  stats.removed_nodes = remove_unused(g);
  stats.folded_constants = fold_constants(g);
  stats.folded_batch_norms = fold_batch_norms(g);
  stats.removed_nodes += remove_unused(g);
  return stats;
}

}  // namespace tl::onnx_import
