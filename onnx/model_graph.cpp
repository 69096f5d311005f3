#include "onnx/model_graph.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <onnx/onnx_pb.h>
#include <unordered_set>

#include "onnx/proto_tensor.h"

namespace tl::onnx_import {
namespace {

[[noreturn]] void invalid(const std::string& file, const std::string& why) {
  throw ValueError("tl::onnx: '" + file + "': " + why);
}

onnx::ValueInfo value_info(const ::onnx::ValueInfoProto& v, const std::string& file, const char* role) {
  onnx::ValueInfo info;
  info.name = v.name();
  if (info.name.empty()) invalid(file, std::string("a graph ") + role + " has no name");
  if (!v.has_type() || !v.type().has_tensor_type()) {
    std::string kind = !v.has_type()                       ? "no type"
                       : v.type().has_sequence_type()      ? "a sequence"
                       : v.type().has_optional_type()      ? "an optional"
                       : v.type().has_map_type()           ? "a map"
                       : v.type().has_sparse_tensor_type() ? "a sparse tensor"
                                                           : "not a tensor";
    invalid(file, std::string("graph ") + role + " '" + info.name + "' is " + kind +
                      "; tl imports graphs whose inputs and outputs are tensors");
  }
  const auto& tt = v.type().tensor_type();
  std::optional<DType> dtype = dtype_from_onnx(tt.elem_type());
  if (!dtype) {
    invalid(file, std::string("graph ") + role + " '" + info.name + "' has element type " +
                      onnx_type_name(tt.elem_type()) +
                      ", which tl does not have (float32/64, float16, bfloat16, int32, int64, bool)");
  }
  info.dtype = *dtype;
  if (tt.has_shape()) {
    if (tt.shape().dim_size() > kMaxRank) {
      invalid(file, std::string("graph ") + role + " '" + info.name + "' has rank " +
                        std::to_string(tt.shape().dim_size()) + ", above tl's maximum of " + std::to_string(kMaxRank));
    }
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) {
          invalid(file, std::string("graph ") + role + " '" + info.name + "' has a negative dim " +
                            std::to_string(d.dim_value()));
        }
        info.dims.push_back(d.dim_value());
        info.dim_names.emplace_back();
      } else {
        info.dims.push_back(-1);
        info.dim_names.push_back(d.has_dim_param() ? d.dim_param() : std::string());
      }
    }
  }
  return info;
}

Attribute attribute(const ::onnx::AttributeProto& a, const std::string& what) {
  using AP = ::onnx::AttributeProto;
  Attribute out;
  switch (a.type()) {
    case AP::FLOAT: out.kind = Attribute::kFloat, out.f = a.f(); break;
    case AP::INT: out.kind = Attribute::kInt, out.i = a.i(); break;
    case AP::STRING: out.kind = Attribute::kString, out.s = a.s(); break;
    case AP::TENSOR:
      out.kind = Attribute::kTensor;
      out.t = tensor_from_proto(a.t(), "", what + " attribute '" + a.name() + "'");
      break;
    case AP::FLOATS:
      out.kind = Attribute::kFloats;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case AP::INTS:
      out.kind = Attribute::kInts;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case AP::STRINGS:
      out.kind = Attribute::kStrings;
      out.strings.assign(a.strings().begin(), a.strings().end());
      break;
    default: out.kind = Attribute::kOther; break;  // graphs, sparse tensors, type protos
  }
  return out;
}

}  // namespace

std::string Node::label() const {
  return "node '" + name + "' (" + (domain.empty() ? "" : domain + ".") + op_type + ")";
}

Graph build_graph(const ::onnx::ModelProto& model, const std::string& file, const std::string& folder) {
  Graph g;
  g.file = file;
  g.ir_version = model.ir_version();
  g.producer = model.producer_name() + (model.producer_version().empty() ? "" : " " + model.producer_version());
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = static_cast<int>(op.version());
  }
  if (g.opset <= 0) invalid(file, "the model imports no opset of the default ONNX domain");
  if (g.opset > onnx::kMaxOpset) {
    invalid(file, "opset " + std::to_string(g.opset) + " is newer than the newest tl supports (" +
                      std::to_string(onnx::kMaxOpset) + ")");
  }
  if (!model.has_graph()) invalid(file, "the model has no graph");
  const ::onnx::GraphProto& graph = model.graph();
  if (static_cast<size_t>(graph.node_size()) > kMaxNodes) {
    invalid(file, "the graph has " + std::to_string(graph.node_size()) + " nodes, more than tl accepts");
  }
  if (graph.sparse_initializer_size() > 0) invalid(file, "sparse initializers are not supported");

  std::unordered_set<std::string> defined;
  auto define = [&](const std::string& name, const std::string& by) {
    if (name.empty()) return;
    if (!defined.insert(name).second) invalid(file, "the value name '" + name + "' is defined twice (again by " + by + ")");
  };
  for (const auto& init : graph.initializer()) {
    const std::string what = "tl::onnx: '" + file + "': initializer '" + init.name() + "'";
    if (init.name().empty()) invalid(file, "an initializer has no name");
    define(init.name(), "initializer '" + init.name() + "'");
    g.constants.emplace(init.name(), tensor_from_proto(init, folder, what));
  }
  for (const auto& in : graph.input()) {
    if (g.constants.count(in.name())) continue;  // an initializer's declaration (IR < 4 style)
    define(in.name(), "graph input '" + in.name() + "'");
    g.inputs.push_back(value_info(in, file, "input"));
  }
  for (const auto& out : graph.output()) g.outputs.push_back(value_info(out, file, "output"));
  if (g.outputs.empty()) invalid(file, "the graph has no outputs");

  g.nodes.reserve(static_cast<size_t>(graph.node_size()));
  for (int i = 0; i < graph.node_size(); ++i) {
    const ::onnx::NodeProto& np = graph.node(i);
    Node n;
    n.index = i;
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    n.name = np.name().empty() ? np.op_type() + " #" + std::to_string(i) : np.name();
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    for (const std::string& o : n.outputs) define(o, n.label());
    for (const auto& a : np.attribute()) {
      if (!n.attrs.emplace(a.name(), attribute(a, "tl::onnx: '" + file + "': " + n.label())).second) {
        invalid(file, n.label() + " has the attribute '" + a.name() + "' twice");
      }
    }
    g.nodes.push_back(std::move(n));
  }
  order_nodes(g);
  for (const auto& out : g.outputs) {
    if (!defined.count(out.name)) invalid(file, "graph output '" + out.name + "' is not computed by any node");
  }
  return g;
}

void order_nodes(Graph& g) {
  std::unordered_map<std::string, int> producer;  // value -> node index
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& o : g.nodes[i].outputs) {
      if (!o.empty()) producer[o] = static_cast<int>(i);
    }
  }
  std::unordered_set<std::string> available;
  for (const auto& in : g.inputs) available.insert(in.name);
  for (const auto& [name, t] : g.constants) available.insert(name);

  // Kahn's algorithm, keeping the file's order among ready nodes.
  const size_t n = g.nodes.size();
  std::vector<int> missing(n, 0);
  std::vector<std::vector<int>> users(n);
  std::string dangling;
  for (size_t i = 0; i < n; ++i) {
    std::unordered_set<int> deps;
    for (const std::string& in : g.nodes[i].inputs) {
      if (in.empty() || available.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        if (!dangling.empty()) dangling += "; ";
        dangling += g.nodes[i].label() + " reads '" + in + "'";
        continue;
      }
      if (deps.insert(it->second).second) {
        users[static_cast<size_t>(it->second)].push_back(static_cast<int>(i));
        ++missing[i];
      }
    }
  }
  if (!dangling.empty()) {
    invalid(g.file, "values that no input, initializer or node defines are used: " + dangling);
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  std::vector<int> order;
  for (size_t i = 0; i < n; ++i) {
    if (missing[i] == 0) ready.push(static_cast<int>(i));
  }
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int u : users[static_cast<size_t>(i)]) {
      if (--missing[static_cast<size_t>(u)] == 0) ready.push(u);
    }
  }
  if (order.size() != n) {
    std::string cycle;
    int shown = 0;
    for (size_t i = 0; i < n && shown < 8; ++i) {
      if (missing[i] > 0) {
        cycle += (shown++ ? ", " : "") + g.nodes[i].label();
      }
    }
    invalid(g.file, "the graph has a cycle; these nodes wait on each other: " + cycle);
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(g.nodes[static_cast<size_t>(i)]));
  g.nodes = std::move(sorted);
}

}  // namespace tl::onnx_import
