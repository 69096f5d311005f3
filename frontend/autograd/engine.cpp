// Define-by-run reverse mode: ops record Nodes as they run; backward walks the graph in
// dependency order, calling each op's derivative rule (written with Tensor ops, so the
// same rule serves the IR autodiff pass) and summing gradients back to input shapes.
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "frontend/autograd/anomaly.h"
#include "frontend/autograd/graph.h"
#include "frontend/trace/tracer.h"
#include "tl/debug.h"
#include "tl/autograd.h"

namespace tl {

namespace {
thread_local bool g_grad_enabled = true;
}

bool is_grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }
EnableGradGuard::EnableGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { g_grad_enabled = previous_; }

namespace autograd {

namespace {
thread_local int g_backward_depth = 0;
struct BackwardScope {
  BackwardScope() { ++g_backward_depth; }
  ~BackwardScope() { --g_backward_depth; }
};
}  // namespace

bool in_backward() { return g_backward_depth > 0; }

Node::~Node() {
  // Take over the producers this node owns last, so none of them is destroyed from inside
  // another node's destructor: each leaves this loop with an empty `next`.
  std::vector<std::shared_ptr<Node>> pending = std::move(next);
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    if (n && n.use_count() == 1) {
      for (auto& producer : n->next) pending.push_back(std::move(producer));
      n->next.clear();
    }
  }
}

AutogradMeta& meta_of(const Tensor& t) {
  auto& m = t.impl()->autograd;
  if (!m) m = std::make_shared<AutogradMeta>();
  return *m;
}

bool needs_grad(const Tensor& t) {
  const auto& m = t.impl()->autograd;
  return m && (m->requires_grad || m->grad_fn);
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  auto& m = t.impl()->autograd;
  if (!m) return nullptr;
  if (m->grad_fn) return m->grad_fn;
  if (!m->requires_grad) return nullptr;
  auto acc = m->accumulator.lock();
  if (!acc) {
    acc = std::make_shared<Node>();
    acc->name = "AccumulateGrad";
    acc->leaf = m;
    acc->input_shapes.push_back(t.shape());
    acc->input_dtypes.push_back(t.dtype());
    m->accumulator = acc;
  }
  return acc;
}

void record(Tensor& output, std::span<const Tensor> inputs, const ops::OpDef* op,
            const ops::Attrs& attrs, Site site, CustomBackward custom,
            const std::string& custom_name) {
  auto node = std::make_shared<Node>();
  node->op = op;
  node->name = op ? op->name : custom_name;
  node->custom = std::move(custom);
  node->attrs = attrs;
  node->site = site;
  node->saved_inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    node->next.push_back(t.defined() ? gradient_edge(t) : nullptr);
    node->saved_inputs.push_back(t.defined() ? t.detach() : Tensor());
    node->saved_versions.push_back(t.defined() ? t.impl()->storage->version : 0);
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape());
    node->input_dtypes.push_back(t.defined() ? t.dtype() : kFloat32);
  }
  node->saved_output = output.detach();
  node->saved_output_version = output.impl()->storage->version;
  auto& m = meta_of(output);
  m.grad_fn = node;
  node->output_meta = output.impl()->autograd;
}

namespace {

Tensor apply_hooks(const std::vector<std::pair<int, GradHook>>& hooks, Tensor grad) {
  if (!hooks.empty()) {
    trace::refuse_if_tracing("a gradient hook ran during backward() inside a compiled function (hooks are "
                             "host code and would not run in compiled calls); call backward() outside "
                             "tl::compile or remove the hook", Site{});
  }
  for (const auto& [id, hook] : hooks) {
    Tensor replaced = hook(grad);
    if (replaced.defined()) grad = replaced;
  }
  return grad;
}

// "by mul_ at train.cpp:12", or a generic phrase when the writer did not record itself.
std::string written_by(const Storage& storage) {
  if (storage.last_write_op == nullptr) return "by an in-place write";
  std::string by = std::string("by ") + storage.last_write_op;
  return storage.last_write_site.line != 0 ? by + " at " + storage.last_write_site.str() : by;
}

std::string tensor_desc(const Tensor& t) {
  std::string s = t.shape().str() + " " + dtype_name(t.dtype());
  if (!t.name().empty()) s = "'" + t.name() + "' " + s;
  return s;
}

void check_saved(const Node& node, Site site) {
  if (node.released) {
    throw AutogradError("tl: backward through the graph a second time (op " + node.name +
                        " recorded at " + node.site.str() + "), but its saved tensors were freed "
                        "after the first backward; pass retain_graph = true to the first "
                        "backward call (at " + site.str() + ")");
  }
  for (size_t i = 0; i < node.saved_inputs.size(); ++i) {
    const Tensor& t = node.saved_inputs[i];
    if (t.defined() && t.impl()->storage->version != node.saved_versions[i]) {
      throw AutogradError("tl::backward: input " + std::to_string(i) + " of " + node.name + " (" +
                          tensor_desc(t) + ", recorded at " + node.site.str() + ") was modified in place " +
                          written_by(*t.impl()->storage) + " after " + node.name +
                          " saved it for its gradient, which would be wrong. Use an out-of-place op, or "
                          "clone() before the in-place update (backward called at " + site.str() + ")");
    }
  }
}

// Derivatives that read their op's result (exp, sigmoid, tanh, sqrt, softmax, ...) would
// silently use values written later by an in-place op on the result or any alias of it (a
// view, a detach()): the shared storage's version tells.
struct SavedOutputCheck {
  const Node* node;
  Site site;
};
void check_saved_output(const void* arg) {
  const auto& check = *static_cast<const SavedOutputCheck*>(arg);
  const Node& node = *check.node;
  const Tensor& y = node.saved_output;
  if (!y.defined() || y.impl()->storage->version == node.saved_output_version) return;
  throw AutogradError("tl::backward: the output of " + node.name + " (" + tensor_desc(y) + ", recorded at " +
                      node.site.str() + ") was modified in place " + written_by(*y.impl()->storage) +
                      " after " + node.name + " saved it for its gradient, which would be wrong. Use an "
                      "out-of-place op, or clone() before the in-place update (backward called at " +
                      check.site.str() + ")");
}

// How many edges lead into each node reachable from `roots`.
std::unordered_map<Node*, int> count_dependencies(const std::vector<std::shared_ptr<Node>>& roots) {
  std::unordered_map<Node*, int> dependencies;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack;
  for (const auto& root : roots)
    if (seen.insert(root.get()).second) stack.push_back(root.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& next : n->next) {
      if (!next) continue;
      ++dependencies[next.get()];
      if (seen.insert(next.get()).second) stack.push_back(next.get());
    }
  }
  return dependencies;
}

// Adds `dout` to the leaf's .grad, after the leaf's hooks. With `create_graph` the .grad keeps
// its graph (it is differentiable, as PyTorch's backward(create_graph=True)).
void accumulate_into_leaf(AutogradMeta& leaf, Tensor dout, bool create_graph, Site site) {
  dout = apply_hooks(leaf.hooks, dout);
  if (leaf.grad.defined()) {
    leaf.grad = add(leaf.grad, dout, site);
    return;
  }
  if (create_graph) {
    leaf.grad = dout;
    return;
  }
  Tensor g = dout.is_contiguous() ? std::move(dout) : dout.contiguous();
  // Steal a fresh buffer; copy one that something else may still see (a user's tensor
  // returned by a hook, a view of another gradient).
  bool owned = g.impl_ptr().use_count() == 1 && g.impl()->storage.use_count() == 1 && !g.impl()->autograd;
  leaf.grad = owned ? std::move(g) : g.detach().clone();
}

// A tensor aliasing the saved `value` whose gradient flows into `edge` (a producer's node or
// a leaf's accumulator): what a derivative reads when its own result must be differentiable.
// Saved tensors are kept detached, as a node keeping its output attached would own itself.
Tensor reconnect(const Tensor& value, const std::shared_ptr<Node>& edge) {
  if (!value.defined() || !edge) return value;
  Tensor alias = value.detach();
  AutogradMeta& m = meta_of(alias);
  if (edge->is_accumulator()) {
    m.requires_grad = true;
    m.accumulator = edge;
  } else {
    m.grad_fn = edge;
  }
  return alias;
}

// Runs node `n`'s derivative for the gradient `dout` of its output: one gradient per input
// (undefined where none flows). Frees the saved tensors unless `retain_graph`. With
// `create_graph` the rule reads its saved tensors reconnected to the graph (grad mode is on).
std::vector<Tensor> run_derivative(Node& n, const Tensor& dout, bool retain_graph, bool create_graph, Site site) {
  check_saved(n, site);
  std::vector<Tensor> input_grads;
  SavedOutputCheck output_check{&n, site};
  std::vector<Tensor> connected_inputs;
  Tensor connected_output;
  if (create_graph) {
    connected_inputs.reserve(n.saved_inputs.size());
    for (size_t i = 0; i < n.saved_inputs.size(); ++i) connected_inputs.push_back(reconnect(n.saved_inputs[i], n.next[i]));
    connected_output = reconnect(n.saved_output, n.shared_from_this());
  }
  const std::vector<Tensor>& inputs = create_graph ? connected_inputs : n.saved_inputs;
  const Tensor& output = create_graph ? connected_output : n.saved_output;
  if (n.custom) {
    // A custom backward receives the result whether or not it reads it.
    check_saved_output(&output_check);
    input_grads = n.custom(inputs, output, dout);
  } else {
    size_t count = n.next.size();
    std::unique_ptr<bool[]> needs(new bool[count]);
    for (size_t i = 0; i < count; ++i) needs[i] = n.next[i] != nullptr;
    ops::GradContext ctx{inputs, output, dout, n.attrs, std::span<const bool>(needs.get(), count),
                         n.site, check_saved_output, &output_check};
    input_grads = n.op->grad(ctx);
  }
  if (is_anomaly_enabled()) {
    for (size_t i = 0; i < input_grads.size(); ++i) {
      auto bad = find_non_finite(input_grads[i]);
      if (!bad) continue;
      throw NumericsError("tl::detect_anomaly: the backward of " + n.name + " produced " + bad->what +
                          " at index " + index_str(input_grads[i].shape(), bad->index) +
                          " of the gradient for its input " + std::to_string(i) + " (" +
                          input_grads[i].shape().str() + " " + dtype_name(input_grads[i].dtype()) +
                          "); the forward " + n.name + " was called at " + n.site.str());
    }
  }
  if (!retain_graph) {
    n.released = true;
    n.saved_inputs.clear();
    n.saved_output = Tensor();
  }
  return input_grads;
}

}  // namespace

std::vector<Tensor> run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                                 bool retain_graph, const std::vector<std::shared_ptr<Node>>& capture,
                                 Site site, bool create_graph) {
  std::vector<std::shared_ptr<Node>> root_nodes;
  for (const Tensor& root : roots) {
    auto node = gradient_edge(root);
    if (!node) {
      throw AutogradError("tl::backward: the tensor " + root.shape().str() +
                          " does not require grad and has no grad_fn (no input of the "
                          "computation requires grad, or it ran under NoGradGuard) at " +
                          site.str());
    }
    root_nodes.push_back(node);
  }
  std::unordered_map<Node*, int> dependencies = count_dependencies(root_nodes);

  std::unordered_map<Node*, size_t> capture_index;
  for (size_t i = 0; i < capture.size(); ++i)
    if (capture[i]) capture_index[capture[i].get()] = i;
  std::vector<Tensor> captured(capture.size());
  bool capturing = !capture.empty();

  // The backward pass records a graph only when asked to (create_graph).
  std::optional<NoGradGuard> no_grad;
  std::optional<EnableGradGuard> with_grad;
  if (create_graph) with_grad.emplace();
  else no_grad.emplace();
  BackwardScope backward_scope;
  std::unordered_map<Node*, Tensor> buffers;  // gradients summed so far per node
  auto accumulate = [&](Node* n, const Tensor& g) {
    Tensor& buf = buffers[n];
    buf = buf.defined() ? add(buf, g, site) : g;
  };
  std::vector<Node*> ready;
  for (size_t i = 0; i < roots.size(); ++i) accumulate(root_nodes[i].get(), grads[i]);
  for (auto& n : root_nodes)
    if (dependencies[n.get()] == 0 && std::find(ready.begin(), ready.end(), n.get()) == ready.end())
      ready.push_back(n.get());
  // `next` lost its last pending edge: run it when a gradient reached it; otherwise (every
  // contribution was undefined) count down its own inputs so their other producers proceed.
  auto release_edge = [&](Node* next) {
    std::vector<Node*> skip{next};
    while (!skip.empty()) {
      Node* s = skip.back();
      skip.pop_back();
      if (buffers.count(s)) {
        ready.push_back(s);
        continue;
      }
      for (auto& producer : s->next)
        if (producer && --dependencies[producer.get()] == 0) skip.push_back(producer.get());
    }
  };

  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor dout = std::move(buffers[n]);
    buffers.erase(n);
    if (!n->pre_hooks.empty()) dout = apply_hooks(n->pre_hooks, dout);
    if (auto out_meta = n->output_meta.lock(); out_meta && out_meta->retains_grad && !capturing) {
      out_meta->grad = out_meta->grad.defined() ? add(out_meta->grad, dout, site) : dout.clone();
    }
    if (auto it = capture_index.find(n); it != capture_index.end()) captured[it->second] = dout;

    if (n->is_accumulator()) {
      if (!capturing) accumulate_into_leaf(*n->leaf, std::move(dout), create_graph, site);
      continue;
    }
    std::vector<Tensor> input_grads = run_derivative(*n, dout, retain_graph, create_graph, site);
    for (size_t i = 0; i < n->next.size(); ++i) {
      Node* next = n->next[i].get();
      if (!next) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        Tensor g = input_grads[i];
        // Derivative rules ignore broadcasting and dtype: sum back to the input's shape.
        if (g.shape() != n->input_shapes[i]) g = sum_to(g, n->input_shapes[i], site);
        if (g.dtype() != n->input_dtypes[i]) g = cast(g, n->input_dtypes[i], site);
        accumulate(next, g);
      }
      if (--dependencies[next] == 0) release_edge(next);
    }
  }
  return captured;
}

}  // namespace autograd

// ---------------- Tensor autograd API ----------------

bool Tensor::requires_grad() const { return autograd::needs_grad(*this); }

Tensor& Tensor::requires_grad_(bool requires_grad, Site site) {
  ops::require_defined(*this, "requires_grad_", "the tensor", site);
  if (requires_grad && !is_floating(dtype())) {
    throw DTypeError(std::string("tl::requires_grad_: only floating-point tensors can require "
                                 "gradients, got ") + dtype_name(dtype()) + " at " + site.str());
  }
  auto& m = autograd::meta_of(*this);
  if (m.grad_fn && !requires_grad) {
    throw AutogradError("tl::requires_grad_: cannot turn off requires_grad on a non-leaf tensor "
                        "(use detach()) at " + site.str());
  }
  m.requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const {
  const auto& m = impl()->autograd;
  return !m || !m->grad_fn;
}

Tensor Tensor::grad() const {
  const auto& m = impl()->autograd;
  if (!m) return Tensor();
  if (m->grad.defined()) {
    if (trace::Tracer* tracer = trace::active()) tracer->record_grad_read(*this, m->grad);
  }
  return m->grad;
}

void Tensor::set_grad(const Tensor& grad, Site site) {
  ops::require_defined(*this, "set_grad", "the tensor", site);
  if (grad.defined() && (grad.shape() != shape() || grad.dtype() != dtype() || grad.device() != device())) {
    const std::string tensor = (impl()->name.empty() ? std::string("the tensor") : "tensor '" + impl()->name + "'") +
                               " is " + shape().str() + " " + dtype_name(dtype()) + " on " + device().str();
    const std::string message = "tl::Tensor::set_grad: the gradient is " + grad.shape().str() + " " +
                                dtype_name(grad.dtype()) + " on " + grad.device().str() + " but " + tensor +
                                "; a gradient must have its tensor's shape, dtype and device, at " + site.str();
    if (grad.shape() != shape()) throw ShapeError(message);
    if (grad.dtype() != dtype()) throw DTypeError(message);
    throw DeviceError(message);
  }
  if (trace::Tracer* tracer = trace::active()) tracer->record_set_grad(*this, grad);
  autograd::meta_of(*this).grad = grad;
}

void Tensor::retain_grad() { autograd::meta_of(*this).retains_grad = true; }

std::string Tensor::grad_fn_name() const {
  const auto& m = impl()->autograd;
  return m && m->grad_fn ? m->grad_fn->name : std::string();
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, Site site) const {
  ops::require_defined(*this, "backward", "the tensor", site);
  Tensor g = gradient;
  if (!g.defined()) {
    if (numel() != 1) {
      throw AutogradError("tl::backward: the output has shape " + shape().str() +
                          "; gradients can be created implicitly only for one-element outputs. "
                          "Pass a gradient of the same shape, or reduce first (e.g. .sum()) at " +
                          site.str());
    }
    g = ones_like(*this, site);
  } else if (g.shape() != shape()) {
    throw ShapeError("tl::backward: gradient has shape " + g.shape().str() +
                     " but the tensor has shape " + shape().str() + " at " + site.str());
  }
  if (trace::Tracer* tracer = trace::active()) {
    // Traced: the gradient is computed eagerly now and by the autodiff pass in compiled calls.
    Tensor seed = g;
    tracer->record_backward(*this, seed, [&] { autograd::run_backward({*this}, {seed.detach()}, retain_graph, {}, site); },
                            site);
    return;
  }
  autograd::run_backward({*this}, {g.detach()}, retain_graph, {}, site);
}

int Tensor::register_hook(GradHook hook, Site site) {
  ops::require_defined(*this, "register_hook", "the tensor", site);
  static int next_id = 1;
  auto& m = autograd::meta_of(*this);
  if (!m.requires_grad && !m.grad_fn) {
    throw AutogradError("tl::register_hook: the tensor does not require grad, so no gradient "
                        "will reach the hook, at " + site.str());
  }
  int id = next_id++;
  if (m.grad_fn) m.grad_fn->pre_hooks.emplace_back(id, std::move(hook));
  else m.hooks.emplace_back(id, std::move(hook));
  return id;
}

void Tensor::remove_hook(int handle) {
  auto& m = autograd::meta_of(*this);
  auto drop = [handle](std::vector<std::pair<int, GradHook>>& v) {
    std::erase_if(v, [handle](const auto& h) { return h.first == handle; });
  };
  drop(m.hooks);
  if (m.grad_fn) drop(m.grad_fn->pre_hooks);
}

std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs,
                         const Tensor& grad_output, bool retain_graph, bool allow_unused,
                         Site site) {
  return grad(output, inputs,
              GradOptions{.grad_output = grad_output, .retain_graph = retain_graph, .allow_unused = allow_unused},
              site);
}

std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const GradOptions& options,
                         Site site) {
  trace::refuse_if_tracing("tl::grad inside a compiled function (only loss.backward() is traced); call "
                           "loss.backward() or move tl::grad outside tl::compile", site);
  ops::require_defined(output, "grad", "the output", site);
  const Tensor& grad_output = options.grad_output;
  const bool allow_unused = options.allow_unused;
  const bool create_graph = options.create_graph;
  const bool retain_graph = options.retain_graph.value_or(create_graph);
  if (!grad_output.defined() && output.numel() != 1) {
    throw AutogradError("tl::grad: the output has shape " + output.shape().str() +
                        "; a gradient can be created implicitly only for a one-element output. Pass "
                        ".grad_output of the same shape, or reduce first (e.g. .sum()) at " + site.str());
  }
  if (grad_output.defined() && grad_output.shape() != output.shape()) {
    throw ShapeError("tl::grad: grad_output has shape " + grad_output.shape().str() + " but the output has shape " +
                     output.shape().str() + " at " + site.str());
  }
  // Without create_graph the seed is a constant; with it, a grad_output that requires grad
  // stays connected (the gradients are then differentiable in it too).
  Tensor g = grad_output.defined() ? (create_graph ? grad_output : grad_output.detach()) : ones_like(output, site);
  std::vector<std::shared_ptr<autograd::Node>> capture;
  for (const Tensor& t : inputs) {
    auto node = autograd::gradient_edge(t);
    if (!node) {
      throw AutogradError("tl::grad: an input of shape " + t.shape().str() +
                          " does not require grad at " + site.str());
    }
    capture.push_back(node);
  }
  auto result = autograd::run_backward({output}, {g}, retain_graph, capture, site, create_graph);
  for (size_t i = 0; i < result.size(); ++i) {
    if (!result[i].defined() && !allow_unused) {
      throw AutogradError("tl::grad: input " + std::to_string(i) +
                          " was not used to compute the output (pass allow_unused = true) at " +
                          site.str());
    }
  }
  return result;
}

Tensor custom_op(const std::string& name, const std::vector<Tensor>& inputs,
                 const std::function<Tensor(const std::vector<Tensor>&)>& forward,
                 const std::function<std::vector<Tensor>(const std::vector<Tensor>&,
                                                         const Tensor&, const Tensor&)>& backward,
                 Site site) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = forward(inputs);
  }
  if (!out.defined()) throw ValueError("tl::custom_op(" + name + "): forward returned an undefined tensor at " + site.str());
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && autograd::needs_grad(t));
  if (any && is_grad_enabled()) {
    trace::refuse_if_tracing("tl::custom_op(" + name + ") with a custom backward inside a compiled function "
                             "(its derivative is host code the autodiff pass cannot see); register it as an op "
                             "or call it outside tl::compile", site);
    if (!out.is_leaf() || out.impl()->autograd) out = out.detach();
    autograd::record(out, inputs, nullptr, {}, site, backward, name);
  }
  return out;
}

}  // namespace tl
