#include "frontend/trace/tracer.h"

#include <cstring>

#include "tl/autograd.h"
#include "tl/ops.h"
#include "tl/random.h"

namespace tl::trace {
namespace {
thread_local Tracer* g_tracer = nullptr;
thread_local int g_paused = 0;

bool same_geometry(const TensorImpl& a, const TensorImpl& b) {
  return a.shape == b.shape && a.strides == b.strides && a.offset == b.offset && a.dtype == b.dtype;
}

// A copy of t's current data that later in-place writes cannot reach.
Tensor snapshot(const Tensor& t) {
  PauseScope pause;
  NoGradGuard no_grad;
  return t.detach().clone();
}
}  // namespace

Tracer* active() { return g_paused == 0 ? g_tracer : nullptr; }

// The runtime's allocations reach the tracer (a tensor made while tracing is not a capture).
[[maybe_unused]] const bool g_observing_allocations = [] {
  ops::set_allocation_observer([](const Tensor& t) { on_alloc(t); });
  return true;
}();
Tracer* current() { return g_tracer; }
bool is_tracing() { return g_tracer != nullptr; }

TraceScope::TraceScope(Tracer& tracer) : previous_(g_tracer) { g_tracer = &tracer; }
TraceScope::~TraceScope() { g_tracer = previous_; }
PauseScope::PauseScope() { ++g_paused; }
PauseScope::~PauseScope() { --g_paused; }

Tracer::Tracer(Mode mode, std::string name) : mode_(mode) {
  graph_.name = std::move(name);
  rng_base_ = default_generator().state().offset;
}
Tracer::~Tracer() = default;

Tracer::Binding* Tracer::find(const Tensor& t) {
  auto it = bindings_.find(t.impl());
  return it == bindings_.end() ? nullptr : &it->second;
}

bool Tracer::knows(const Tensor& t) const { return bindings_.count(t.impl()) != 0; }

Tracer::Binding& Tracer::bind_impl(const Tensor& t, int value) {
  auto [it, inserted] = bindings_.try_emplace(t.impl());
  if (inserted) keep_alive_.push_back(t.impl_ptr());
  it->second.value = value;
  return it->second;
}

void Tracer::bind(const Tensor& t, int value) { bind_impl(t, value); }

int Tracer::add_input(InputKind kind, const Tensor& source, const std::string& name, const Shape& shape,
                      DType dtype) {
  Input in;
  in.value = graph_.add_value(shape, dtype);
  in.kind = kind;
  in.source = source;
  in.name = name;
  graph_.inputs.push_back(in);
  return static_cast<int>(graph_.inputs.size()) - 1;
}

int Tracer::bind_argument(const Tensor& t, int arg_index) {
  int input = add_input(InputKind::kArgument, t, "arg" + std::to_string(arg_index), t.shape(), t.dtype());
  graph_.inputs[input].arg_index = arg_index;
  Binding& b = bind_impl(t, graph_.inputs[input].value);
  b.input = input;
  return graph_.inputs[input].value;
}

int Tracer::add_node(Node node) {
  graph_.nodes.push_back(std::move(node));
  return static_cast<int>(graph_.nodes.size()) - 1;
}

int Tracer::value_of(const Tensor& t, Site site) {
  if (!t.defined()) {
    note_untraceable("an undefined tensor passed to an op", site);
    return -1;
  }
  if (Binding* b = find(t)) {
    if (b->value == -2) {
      note_untraceable("reading a view of a tensor after an in-place update of that tensor (the traced "
                       "program would see the old values); take the view again after the update",
                       site);
    }
    return b->value;
  }
  if (is_meta(t)) throw ValueError("tl::compile: a symbolic tensor " + t.shape().str() + " is not part of this trace");
  if (symbolic() || allocated_.count(t.impl())) {
    // Created inside the function from host values: a constant of the program.
    Node node;
    node.op = kConstant;
    node.constant = snapshot(t);
    int v = graph_.add_value(t.shape(), t.dtype());
    node.outputs = {v};
    node.site = site;
    add_node(std::move(node));
    bind_impl(t, v);
    return v;
  }
  std::string name = t.impl()->name.empty() ? "capture" + std::to_string(graph_.inputs.size()) : t.impl()->name;
  int input = add_input(InputKind::kCapture, t, name, t.shape(), t.dtype());
  graph_.inputs[input].site = site;
  Binding& b = bind_impl(t, graph_.inputs[input].value);
  b.input = input;
  return b.value;
}

void Tracer::record_op(const ops::OpDef& op, std::span<const Tensor> inputs, const ops::Attrs& attrs, Site site,
                       const Tensor& out) {
  Node node;
  node.op = op.name;
  node.def = &op;
  node.attrs = attrs;
  node.site = site;
  for (const Tensor& t : inputs) node.inputs.push_back(value_of(t, site));
  int v = graph_.add_value(out.shape(), out.dtype());
  node.outputs = {v};
  add_node(std::move(node));
  bind_impl(out, v);
}

void Tracer::record_device_copy(const Tensor& t, Device to, Site site) {
  if (mode_ != Mode::kRecord) return;
  if (allocated_.count(t.impl()) && find(t) == nullptr) return;  // a constant: its copy is one too
  note_untraceable("Tensor::to(" + to.str() + ") of a tensor the function computes or reads (" + t.shape().str() +
                       " on " + t.device().str() +
                       "): a compiled program runs on one device; move its inputs and parameters there before "
                       "calling it",
                   site);
}

void Tracer::record_alloc(const Tensor& t) {
  if (mode_ == Mode::kRecord) allocated_[t.impl()] = true;
}

void Tracer::record_inplace(const Tensor& target, const Tensor& value, Site site) {
  int v = value_of(value, site);
  if (!find(target)) value_of(target, site);  // overwritten before being read: still an input
  Binding& b = *find(target);
  // Other tensors sharing the target's memory: an identical view (detach()) follows the
  // update; any other view now holds stale values in the traced program.
  for (auto& [impl, other] : bindings_) {
    if (impl == target.impl() || impl->storage != target.impl()->storage) continue;
    if (same_geometry(*impl, *target.impl())) {
      other.value = v;
    } else if (other.input < 0) {
      other.value = -2;
    }
  }
  if (b.input >= 0) {
    Node node;
    node.op = kAssign;
    node.inputs = {graph_.inputs[b.input].value, v};
    node.attrs.flag = b.to_grad;
    node.site = site;
    add_node(std::move(node));
  }
  b.value = v;
}

void Tracer::record_item(const Tensor& t, double value, Site site) {
  if (symbolic()) throw ValueError("tl::compile: a derivative rule read a tensor value on the host at " + site.str());
  Node node;
  node.op = kGuard;
  node.inputs = {value_of(t, site)};
  node.attrs.scalar = value;
  node.site = site;
  add_node(std::move(node));
}

void Tracer::record_random(const Tensor& out, RandomKind kind, double a, double b, uint64_t counter_offset,
                           Site site) {
  if (rng_input_ < 0) {
    rng_input_ = add_input(InputKind::kRng, Tensor(), "rng", Shape{2}, kInt64);
  }
  Node node;
  node.op = kRandom;
  node.inputs = {graph_.inputs[rng_input_].value};
  node.attrs.count = static_cast<int64_t>(kind);
  node.attrs.dims = out.shape();
  node.attrs.dtype = out.dtype();
  node.attrs.scalar = a;
  node.attrs.scalar2 = b;
  node.attrs.axis = static_cast<int64_t>(counter_offset - rng_base_);
  node.site = site;
  int v = graph_.add_value(out.shape(), out.dtype());
  node.outputs = {v};
  add_node(std::move(node));
  bind_impl(out, v);
}

void Tracer::record_grad_read(const Tensor& leaf, const Tensor& grad) {
  if (find(grad)) return;
  int input = add_input(InputKind::kGradOf, leaf, "grad_of_" + std::to_string(graph_.inputs.size()), grad.shape(),
                        grad.dtype());
  Binding& b = bind_impl(grad, graph_.inputs[input].value);
  b.input = input;
}

void Tracer::assign_grad(const Tensor& leaf, int value, Site site) {
  if (!find(leaf)) value_of(leaf, site);
  const Binding& lb = *find(leaf);
  const int target = lb.input >= 0 ? graph_.inputs[lb.input].value : -1;
  // A later write to the slot replaces earlier ones.
  std::erase_if(graph_.nodes, [&](const Node& n) { return n.op == kAssign && n.attrs.flag && n.inputs[0] == target; });
  std::erase_if(grad_slots_, [&](const auto& slot) { return slot.first.is_same(leaf); });
  grad_slots_.push_back({leaf, value >= 0});
  if (value < 0 || target < 0) return;
  Node node;
  node.op = kAssign;
  node.inputs = {target, value};
  node.attrs.flag = true;
  node.site = site;
  add_node(std::move(node));
}

void Tracer::record_set_grad(const Tensor& leaf, const Tensor& grad) {
  assign_grad(leaf, grad.defined() ? value_of(grad, Site{}) : -1, Site{});
}

std::vector<Tensor> Tracer::cleared_grads() const {
  std::vector<Tensor> out;
  for (const auto& [leaf, defined] : grad_slots_)
    if (!defined) out.push_back(leaf);
  return out;
}

void Tracer::record_backward(const Tensor& loss, const Tensor& seed, const std::function<void()>& run_eager,
                             Site site) {
  has_backward_ = true;
  int loss_value = value_of(loss, site);
  int seed_value = value_of(seed, site);
  // Leaves the gradient can reach: inputs of the trace that require grad.
  struct Leaf {
    Tensor tensor;
    Tensor before;
  };
  std::vector<Leaf> leaves;
  for (const Input& in : graph_.inputs) {
    if (in.kind != InputKind::kArgument && in.kind != InputKind::kCapture) continue;
    if (!in.source.requires_grad() || !in.source.is_leaf()) continue;
    PauseScope pause;  // the engine's bookkeeping, not a read by the program
    leaves.push_back({in.source, in.source.grad()});
  }
  {
    PauseScope pause;
    run_eager();
  }
  Node grad;
  grad.op = kGrad;
  grad.inputs = {loss_value, seed_value};
  grad.site = site;
  std::vector<std::pair<Leaf*, int>> changed;
  for (Leaf& leaf : leaves) {
    Tensor after;
    {
      PauseScope pause;
      after = leaf.tensor.grad();
    }
    if (!after.defined() || after.is_same(leaf.before)) continue;
    grad.inputs.push_back(value_of(leaf.tensor, site));
    int d = graph_.add_value(leaf.tensor.shape(), leaf.tensor.dtype());
    grad.outputs.push_back(d);
    changed.push_back({&leaf, d});
  }
  if (changed.empty()) return;
  add_node(std::move(grad));
  static const ops::OpDef* add_op = ops::find_op("add");
  for (auto& [leaf, d] : changed) {
    int v = d;
    if (leaf->before.defined()) {
      // Accumulation into an existing .grad, as eager backward does.
      record_grad_read(leaf->tensor, leaf->before);
      Node acc;
      acc.op = add_op->name;
      acc.def = add_op;
      acc.inputs = {value_of(leaf->before, site), d};
      v = graph_.add_value(leaf->tensor.shape(), leaf->tensor.dtype());
      acc.outputs = {v};
      acc.site = site;
      add_node(std::move(acc));
    }
    {
      PauseScope pause;
      bind_impl(leaf->tensor.grad(), v);
    }
    assign_grad(leaf->tensor, v, site);
  }
}

void Tracer::guard_host_value(HostGuard guard) { host_guards_.push_back(std::move(guard)); }
void Tracer::replay_on_call(std::function<void()> action) { replays_.push_back(std::move(action)); }

void Tracer::note_untraceable(const std::string& what, Site site) {
  if (!untraceable_.empty()) return;
  untraceable_ = what + (site.line ? " at " + site.str() : std::string());
}

// ---- free hooks ----
void on_inplace(const Tensor& target, const Tensor& value, Site site) {
  if (Tracer* tr = active()) tr->record_inplace(target, value, site);
}

void on_item(const Tensor& t, double value, Site site) {
  if (Tracer* tr = active()) tr->record_item(t, value, site);
}

double guard_host_value(const char* what, std::function<double()> read, double value, Site site) {
  if (Tracer* tr = active()) tr->guard_host_value({what, std::move(read), value, site});
  return value;
}

void replay_on_call(std::function<void()> action) {
  if (Tracer* tr = active()) tr->replay_on_call(std::move(action));
}

void on_device_copy(const Tensor& t, Device to, Site site) {
  if (Tracer* tr = active()) tr->record_device_copy(t, to, site);
}

bool refuse_if_tracing(const std::string& what, Site site) {
  Tracer* tr = current();
  if (!tr) return false;
  tr->note_untraceable(what, site);
  return true;
}

}  // namespace tl::trace
