// The autograd graph: one Node per recorded op, edges to the nodes that produced its
// inputs, and AccumulateGrad nodes (op == nullptr) that write leaves' .grad.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "frontend/ops/registry.h"

namespace tl::autograd {

struct Node;

struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;      // null for leaves
  std::weak_ptr<Node> accumulator;    // a leaf's AccumulateGrad node, shared by all graphs
  std::vector<std::pair<int, GradHook>> hooks;  // a leaf's hooks (non-leaves keep them on grad_fn)
};

// Backward of a user-defined op: inputs and output as saved, gradient w.r.t. output.
using CustomBackward = std::function<std::vector<Tensor>(
    const std::vector<Tensor>& inputs, const Tensor& output, const Tensor& dout)>;

struct Node : std::enable_shared_from_this<Node> {
  std::string name;
  const ops::OpDef* op = nullptr;  // null for AccumulateGrad and custom nodes
  CustomBackward custom;           // set for custom nodes
  ops::Attrs attrs;
  Site site;
  std::vector<Tensor> saved_inputs;  // detached
  std::vector<uint64_t> saved_versions;
  Tensor saved_output;               // detached
  uint64_t saved_output_version = 0;
  std::vector<std::shared_ptr<Node>> next;  // per input; null when the input needs no grad
  std::vector<Shape> input_shapes;
  std::vector<DType> input_dtypes;
  std::vector<std::pair<int, GradHook>> pre_hooks;  // hooks on the output tensor
  std::weak_ptr<AutogradMeta> output_meta;           // for retain_grad
  std::shared_ptr<AutogradMeta> leaf;                // AccumulateGrad: the leaf it writes
  bool released = false;

  bool is_accumulator() const { return leaf != nullptr; }

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Releases the chain of producers iteratively: a graph 200,000 ops deep (a loss summed
  // over a long loop) would overflow the stack if each node's destructor freed the next.
  ~Node();
};

// True on a thread while it runs a backward pass (anomaly checks then name forward ops).
bool in_backward();

AutogradMeta& meta_of(const Tensor& t);  // creates it on demand
// The node a gradient for `t` flows into: its grad_fn, or its leaf accumulator.
std::shared_ptr<Node> gradient_edge(const Tensor& t);
bool needs_grad(const Tensor& t);

// Connects `output` to a new node for (op or custom) over `inputs` when grad is needed.
void record(Tensor& output, std::span<const Tensor> inputs, const ops::OpDef* op,
            const ops::Attrs& attrs, Site site, CustomBackward custom = nullptr,
            const std::string& custom_name = "");

// Runs the backward pass from `roots` (with their incoming gradients). When `capture` is
// non-empty, the gradients arriving at those nodes are returned and no .grad is written.
// With `create_graph` the derivative rules run with grad enabled on saved tensors reconnected
// to their producers, so the gradients are themselves differentiable.
std::vector<Tensor> run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                                 bool retain_graph, const std::vector<std::shared_ptr<Node>>& capture,
                                 Site site, bool create_graph = false);

}  // namespace tl::autograd
