// The importer's view of an ONNX graph: nodes with decoded attributes, initializers as tl
// tensors, and the graph's inputs and outputs, verified (names defined once, every use
// defined, nodes in an order where each input is produced before use). It holds no protobuf
// type, so the converters and the optimizer never touch the wire format.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tl/onnx.h"
#include "tl/tensor.h"

namespace onnx {
class ModelProto;
}

namespace tl::onnx_import {

struct Attribute {
  enum Kind { kFloat, kInt, kString, kTensor, kFloats, kInts, kStrings, kOther } kind = kOther;
  double f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<double> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name;     // the model's node name, or "<op_type> #<index>" when it has none
  std::string op_type;
  std::string domain;   // "" for the default domain
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;  // "" marks an omitted optional output
  std::map<std::string, Attribute> attrs;
  int index = 0;  // its position in the model file

  const Attribute* attr(const std::string& key) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? nullptr : &it->second;
  }
  // "node 'conv1' (Conv)"
  std::string label() const;
};

struct Graph {
  std::string file;  // for messages: the model's path or "<bytes>"
  int opset = 0;
  int64_t ir_version = 0;
  std::string producer;
  std::vector<onnx::ValueInfo> inputs;   // graph inputs that are not initializers
  std::vector<onnx::ValueInfo> outputs;
  std::unordered_map<std::string, Tensor> constants;  // initializers (and folded values)
  std::vector<Node> nodes;                             // in an order that respects uses
};

// Limits that keep a hostile file from exhausting memory before anything runs.
inline constexpr uint64_t kMaxModelBytes = uint64_t{2} << 30;       // protobuf's own limit
inline constexpr uint64_t kMaxTensorBytes = uint64_t{16} << 30;     // one initializer
inline constexpr size_t kMaxNodes = 1u << 22;

// Builds the graph from a parsed and checked model. `folder` is where external data files
// are read from (empty: none allowed). Throws IoError/ValueError naming `file`.
Graph build_graph(const ::onnx::ModelProto& model, const std::string& file, const std::string& folder);

// Orders `nodes` so every input is produced before its use, refusing cycles and names that
// nothing defines (the message names the node and the value).
void order_nodes(Graph& g);

}  // namespace tl::onnx_import
