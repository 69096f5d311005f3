// ONNX operators as tl ops: one converter per (default-domain) op type, stating which
// attributes it reads and which of their values it supports, and computing its outputs with
// tl's public ops. Running a converter eagerly runs the node; running it while tl::compile
// traces records the ops, so the importer has no executor of its own.
#pragma once

#include <string>
#include <vector>

#include "onnx/model_graph.h"

namespace tl::onnx_import {

// What a converter sees of its node at run time.
struct NodeInputs {
  std::vector<Tensor> values;  // undefined for an omitted optional input
  std::vector<bool> known;     // computed on the host from constants and shapes alone
  bool has(size_t i) const { return i < values.size() && values[i].defined(); }
};

// Why `node` cannot be imported at `opset` (unsupported op, attribute or attribute value;
// every problem of the node, "; "-separated), or an empty string.
std::string check_node(const Node& node, int opset);

// Runs `node`: one tensor per node output (undefined for outputs the model leaves unnamed
// may be returned as anything). Throws ValueError/ShapeError naming the node.
std::vector<Tensor> run_node(const Node& node, int opset, const NodeInputs& in, Site site);

// Whether `node`'s outputs depend only on its inputs' shapes (Shape, Size): they are known on
// the host even when the inputs are not.
bool reads_only_shapes(const Node& node);

// The op types the importer supports, sorted (for docs and messages).
std::vector<std::string> supported_ops();

}  // namespace tl::onnx_import
