#include <chrono>
#include "runtime/exec/executor.h"

#include <cmath>

#include "runtime/device_backend.h"
#include "runtime/ops/dispatch.h"
#include "runtime/ops/factory/random.h"
#include "runtime/ops/pointwise/pointwise.h"
#include "runtime/ops/registry.h"

namespace tl::trace {
namespace {

std::string mismatch(const Input& in, const Value& v, const Tensor& t) {
  if (!t.defined()) return in.name + " is undefined (traced as " + v.shape.str() + " " + dtype_name(v.dtype) + ")";
  if (t.shape() != v.shape || t.dtype() != v.dtype) {
    return in.name + " is " + t.shape().str() + " " + dtype_name(t.dtype()) + ", traced as " + v.shape.str() + " " +
           dtype_name(v.dtype);
  }
  return {};
}

Tensor input_tensor(const Input& in, std::span<const Tensor> args, const ExecutionHooks* hooks) {
  switch (in.kind) {
    case InputKind::kArgument: return args[in.arg_index];
    case InputKind::kCapture: return in.source;
    case InputKind::kGradOf:
      if (!hooks || !hooks->grad_of)
        throw CompileError("tl: this program reads a .grad, which only a program built with the frontend (libtl) can run");
      return hooks->grad_of(in.source);
    case InputKind::kRng: return Tensor();
  }
  return Tensor();
}

// Values some node, output or writeback reads: inputs outside it are neither bound nor checked.
std::vector<char> used_values(const Graph& graph) {
  std::vector<char> used(graph.values.size(), 0);
  for (const Node& n : graph.nodes)
    for (int v : n.inputs) used[v] = 1;
  for (int v : graph.outputs) used[v] = 1;
  for (const Writeback& w : graph.writebacks) {
    used[w.value] = 1;
    used[graph.inputs[w.input].value] = 1;
  }
  return used;
}

bool shares_memory(const Tensor& a, const Tensor& b) {
  return a.defined() && b.defined() && a.impl()->storage == b.impl()->storage;
}

// The value of a one-element tensor, as a double (a guard's operand): a device's value is
// copied to the host first, which waits for the work that computes it.
double scalar_value(const Tensor& t) {
  Tensor c = ops::contiguous_copy(t);
  if (c.device() != kCPU) {
    Tensor host = ops::empty_tensor(c.shape(), c.dtype(), kCPU);
    rt::backend_for(c.device(), "a guard").copy(host.data_ptr(), kCPU, c.data_ptr(), c.device(), c.nbytes());
    c = host;
  }
  double v = 0;
  TL_DISPATCH_ALL(c.dtype(), "guard", { v = static_cast<double>(static_cast<ops::compute_t<T>>(*c.data<T>())); });
  return v;
}

[[noreturn]] void missing_hook(const char* what) {
  throw CompileError(std::string("tl: this program ") + what +
                     ", which only a program built with the frontend (libtl) can run");
}
}  // namespace

namespace {
// A fresh arena of `bytes` (float32 elements: every offset is 64-byte aligned, so any dtype's
// offset is whole).
Tensor make_arena(int64_t bytes, Device device) {
  return ops::empty_tensor(Shape{(bytes + 3) / 4}, kFloat32, device);
}

}  // namespace

PlannedProgram::PlannedProgram(const Graph& graph) : PlannedProgram(graph, plan_memory(graph), Tensor()) {}

PlannedProgram::PlannedProgram(const Graph& graph, MemoryPlan plan, Tensor arena) : plan_(std::move(plan)) {
  slots_.resize(graph.values.size());
  if (plan_.arena_bytes == 0) return;
  arena_ = arena.defined() ? std::move(arena) : make_arena(plan_.arena_bytes, graph.device);
  TL_ASSERT(arena_.nbytes() >= static_cast<size_t>(plan_.arena_bytes) && plan_.offset.size() == graph.values.size(),
            "a memory plan that does not fit its arena or its graph");
  for (size_t v = 0; v < graph.values.size(); ++v) {
    if (plan_.offset[v] == MemoryPlan::kNotPlanned) continue;
    const Value& value = graph.values[v];
    TL_ASSERT(plan_.offset[v] + value.shape.numel() * static_cast<int64_t>(dtype_size(value.dtype)) <=
                  static_cast<int64_t>(arena_.nbytes()),
              "a planned value does not fit the arena it was placed in");
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = arena_.impl()->storage;  // slots keep the arena alive
    impl->shape = value.shape;
    impl->strides = contiguous_strides(value.shape);
    impl->offset = plan_.offset[v] / static_cast<int64_t>(dtype_size(value.dtype));
    impl->dtype = value.dtype;
    impl->device = arena_.device();
    impl->is_contiguous = true;
    slots_[v] = Tensor(std::move(impl));
  }
}

std::string check_inputs(const Graph& graph, std::span<const Tensor> args, const ExecutionHooks* hooks) {
  std::vector<char> used = used_values(graph);
  for (const Input& in : graph.inputs) {
    if (in.kind == InputKind::kRng || !used[in.value]) continue;
    if (in.kind == InputKind::kArgument && in.arg_index >= static_cast<int>(args.size())) {
      return "the function takes " + std::to_string(args.size()) + " arguments, traced with more";
    }
    std::string why = mismatch(in, graph.values[in.value], input_tensor(in, args, hooks));
    if (!why.empty()) return why;
  }
  return {};
}

namespace {

// One call of a compiled program: the values computed so far (`env`) and the write-backs
// pending until every node ran and every guard held.
class Execution {
 public:
  struct Pending {
    int input;
    bool to_grad;
    int value;
  };

  Execution(const Graph& graph, const PlannedProgram* planned, const ExecutionHooks* hooks)
      : graph_(graph), planned_(planned), hooks_(hooks), env_(graph.values.size()), input_of_value_(graph.values.size(), -1),
        used_(used_values(graph)) {
    for (size_t i = 0; i < graph.inputs.size(); ++i) input_of_value_[graph.inputs[i].value] = static_cast<int>(i);
  }

  // Starts a call on `args`. Everything a call needs was sized by the constructor or the
  // previous call, so starting one allocates nothing.
  void start(std::span<const Tensor> args) {
    args_ = args;
    writebacks_.clear();
    for (const Writeback& w : graph_.writebacks) writebacks_.push_back({w.input, w.to_grad, w.value});
  }

  // Reuses the result of each view node across calls while its operand is the same tensor (an
  // arena slot, a constant): a context then builds no tensor per call.
  void keep_views() { view_cache_.resize(graph_.nodes.size()); }
  // Values computed into memory the caller owns instead of fresh memory (a context's outputs).
  void set_owned_slots(std::vector<Tensor> slots) { owned_slots_ = std::move(slots); }

  // Binds each input the program uses; returns why one does not fit (empty when all do).
  std::string bind_inputs() {
    for (const Input& in : graph_.inputs) {
      if (!used_[in.value]) continue;
      if (in.kind == InputKind::kRng) {
        if (!hooks_ || !hooks_->rng_state) missing_hook("draws random numbers");
        uint64_t seed = 0, offset = 0;
        hooks_->rng_state(seed, offset);
        Tensor key = ops::empty_tensor(Shape{2}, kInt64, kCPU);
        key.data<int64_t>()[0] = static_cast<int64_t>(seed);
        key.data<int64_t>()[1] = static_cast<int64_t>(offset);
        env_[in.value] = key;
        continue;
      }
      Tensor t = input_tensor(in, args_, hooks_);
      if (std::string why = mismatch(in, graph_.values[in.value], t); !why.empty()) return why;
      env_[in.value] = t;
    }
    return {};
  }

  // Updates computed straight into captured tensors (MemoryPlan::in_place_input): the target
  // per value, when its tensor allows it this call (contiguous, sharing no other input's memory).
  void choose_in_place_targets() {
    if (!planned_ || planned_->plan().in_place_values == 0) return;
    in_place_.resize(graph_.values.size());
    const std::vector<int>& target_of = planned_->plan().in_place_input;
    for (size_t v = 0; v < target_of.size(); ++v) {
      if (target_of[v] < 0) continue;
      const Tensor& target = env_[graph_.inputs[target_of[v]].value];
      bool usable = target.defined() && target.is_contiguous();
      for (size_t i = 0; i < graph_.inputs.size() && usable; ++i) {
        const int other = graph_.inputs[i].value;
        if (static_cast<int>(i) != target_of[v] && env_[other].defined()) usable = !shares_memory(target, env_[other]);
      }
      if (usable) in_place_[v] = target;
    }
  }

  // Runs node `k`; returns why a guard failed (empty when it held or the node has none).
  std::string run(size_t k) {
    const Node& node = graph_.nodes[k];
    operands_.clear();
    for (int v : node.inputs) operands_.push_back(env_[v]);
    if (node.def != nullptr) {
      run_op(node, k);
    } else if (node.op == kFused) {
      const int out = node.outputs[0];
      if (const Tensor* target = computed_in_place(out)) {
        env_[out] = *target;
      } else if (!owned_slots_.empty() && owned_slots_[out].defined()) {
        env_[out] = owned_slots_[out];
      } else if (planned_ && planned_->slot(out).defined()) {
        env_[out] = planned_->slot(out);
      } else {
        const Value& v = graph_.values[out];
        env_[out] = ops::empty_tensor(v.shape, v.dtype, graph_.device);
      }
      node.kernel->run(std::span<const Tensor>(operands_), env_[out]);
    } else if (node.op == kConstant) {
      env_[node.outputs[0]] = node.constant;
    } else if (node.op == kRandom && device_key_.defined()) {
      // A captured graph: the key is read from device memory, refilled before each replay.
      env_[node.outputs[0]] =
          random_at_device_key(device_key_, node.attrs.axis, static_cast<RandomKind>(node.attrs.count), node.attrs.dims,
                               node.attrs.dtype, node.attrs.scalar, node.attrs.scalar2);
    } else if (node.op == kRandom) {
      const Tensor key = ops::contiguous_copy(operands_[0]);
      const int64_t* k = key.data<int64_t>();
      env_[node.outputs[0]] =
          random_on_device(graph_.device, static_cast<RandomKind>(node.attrs.count), node.attrs.dims, node.attrs.dtype,
                           node.attrs.scalar, node.attrs.scalar2, static_cast<uint64_t>(k[0]),
                           static_cast<uint64_t>(k[1] + node.attrs.axis));
    } else if (node.op == kGuard) {
      double seen = scalar_value(operands_[0]);
      if (seen != node.attrs.scalar && !(std::isnan(seen) && std::isnan(node.attrs.scalar))) {
        return "the value read on the host at " + node.site.str() + " is " + std::to_string(seen) + ", traced with " +
               std::to_string(node.attrs.scalar);
      }
    } else if (node.op == kAssign) {
      int input = input_of_value_[node.inputs[0]];
      std::erase_if(writebacks_, [&](const Pending& p) { return p.input == input && p.to_grad == node.attrs.flag; });
      writebacks_.push_back({input, node.attrs.flag, node.inputs[1]});
    } else if (node.op == kGrad) {
      throw CompileError("tl::compile: the gradient requested at " + node.site.str() +
                         " was not expanded (the pipeline did not run the autodiff pass)");
    } else {
      throw CompileError("tl::compile: unknown node '" + node.op + "' in a compiled graph");
    }
    return {};
  }

  // The call's effects, once every node ran: new values of captured tensors and .grads. A
  // captured graph splits them: the copies into captured tensors are part of the graph
  // (kDevice), the rest is done on the host after each replay (kHost).
  enum class Effects { kAll, kDevice, kHost };
  void write_back(Effects effects = Effects::kAll) {
    for (const Pending& w : writebacks_) {
      const Input& in = graph_.inputs[w.input];
      Tensor value = env_[w.value];
      if (w.to_grad) {
        if (effects == Effects::kDevice) continue;
        // A fresh tensor each call, like eager backward; never alias an input (or a graph's
        // memory, which the next replay overwrites).
        if (input_of_value_[w.value] >= 0 || !value.is_contiguous() || effects == Effects::kHost)
          value = ops::fresh_copy(value);
        if (!hooks_ || !hooks_->set_grad) missing_hook("writes a .grad");
        hooks_->set_grad(input_tensor(in, args_, hooks_), value);
        continue;
      }
      Tensor target = input_tensor(in, args_, hooks_);
      if (!target.defined()) continue;
      if (effects != Effects::kHost && !value.is_same(target)) {  // not computed in place
        // A value read from memory another write-back overwrites is copied first. (A .grad
        // write-back only rebinds the leaf's gradient: it overwrites no memory.)
        for (const Pending& other : writebacks_) {
          if (&other == &w || other.to_grad) continue;
          if (shares_memory(value, input_tensor(graph_.inputs[other.input], args_, hooks_))) {
            value = ops::fresh_copy(value);
            break;
          }
        }
        if (!value.is_same(target)) ops::strided_copy(value, target);
      }
      if (effects != Effects::kDevice)
        target.impl()->storage->mark_written("the write-back of a compiled function", Site{});
    }
  }

  std::vector<Tensor> outputs() const {
    std::vector<Tensor> out;
    for (int v : graph_.outputs) out.push_back(env_[v]);
    return out;
  }
  // For a captured graph: values bound outside the nodes, and the state a replay restores.
  Tensor& value(int v) { return env_[v]; }
  // Random nodes draw at the key in this device tensor (int64 [seed, offset]).
  void set_device_key(Tensor key) { device_key_ = std::move(key); }
  const std::vector<Pending>& pending_writebacks() const { return writebacks_; }
  void set_pending_writebacks(const std::vector<Pending>& w) { writebacks_ = w; }
  std::span<const Tensor> args() const { return args_; }

  // As outputs(), into `out` (sized once: no allocation after the first call).
  void outputs_into(std::vector<Tensor>& out) const {
    out.resize(graph_.outputs.size());
    for (size_t i = 0; i < graph_.outputs.size(); ++i) out[i] = env_[graph_.outputs[i]];
  }

 private:

  const Tensor* computed_in_place(int v) const {
    return !in_place_.empty() && in_place_[v].defined() ? &in_place_[v] : nullptr;
  }

  // A registered op: into its planned slot or in-place target when it has a kernel, else
  // through the frontend's call_op hook when given (views, unplanned programs: it records autograd),
  // else on fresh memory.
  void run_op(const Node& node, size_t k) {
    const int out = node.outputs[0];
    const bool kernel = ops::has_kernel(*node.def, graph_.device.type);
    const Tensor* target = computed_in_place(out);
    const Tensor* memory = target                                             ? target
                           : !owned_slots_.empty() && owned_slots_[out].defined() ? &owned_slots_[out]
                           : planned_                                          ? &planned_->slot(out)
                                                                               : nullptr;
    if (memory && memory->defined() && kernel) {
      Tensor& o = env_[out] = *memory;
      if (o.numel() > 0) ops::run_kernel(*node.def, graph_.device.type, operands_, o, node.attrs);
    } else if (planned_ && node.def->view != nullptr) {
      if (!view_cache_.empty()) {
        ViewCache& c = view_cache_[k];
        if (!c.result.defined() || c.source != operands_[0].impl()) {
          c.result = node.def->view(operands_[0], node.attrs, node.site);
          c.source = operands_[0].impl();
          c.keep = operands_[0];  // the cached view's identity stays valid while it is kept
        }
        env_[out] = c.result;
      } else {
        env_[out] = node.def->view(operands_[0], node.attrs, node.site);
      }
    } else if (hooks_ && hooks_->call_op) {
      env_[out] = hooks_->call_op(*node.def, std::span<const Tensor>(operands_), node.attrs, node.site);
    } else if (node.def->view != nullptr) {
      env_[out] = node.def->view(operands_[0], node.attrs, node.site);
    } else {
      if (!kernel) throw CompileError("tl: op '" + node.op + "' has no kernel for " + graph_.device.str());
      const Value& v = graph_.values[out];
      Tensor& o = env_[out] = ops::empty_tensor(v.shape, v.dtype, graph_.device, node.def->name.c_str(), node.site);
      if (o.numel() > 0) ops::run_kernel(*node.def, graph_.device.type, operands_, o, node.attrs);
    }
  }

  struct ViewCache {
    const TensorImpl* source = nullptr;
    Tensor keep, result;
  };

  const Graph& graph_;
  std::span<const Tensor> args_;
  const PlannedProgram* planned_;
  const ExecutionHooks* hooks_;
  std::vector<Tensor> env_;
  std::vector<int> input_of_value_;
  std::vector<char> used_;
  std::vector<ViewCache> view_cache_;
  std::vector<Tensor> owned_slots_;
  std::vector<Pending> writebacks_;
  std::vector<Tensor> in_place_;
  std::vector<Tensor> operands_;
  Tensor device_key_;
};

}  // namespace

ExecResult execute(const Graph& graph, std::span<const Tensor> args, const PlannedProgram* planned,
                   const std::function<void()>& before_nodes, const ExecutionHooks* hooks) {
  ExecResult result;
  Execution call(graph, planned, hooks);
  call.start(args);
  if (result.failed_guard = call.bind_inputs(); !result.failed_guard.empty()) return result;
  call.choose_in_place_targets();
  if (before_nodes) before_nodes();
  for (size_t k = 0; k < graph.nodes.size(); ++k) {
    if (result.failed_guard = call.run(k); !result.failed_guard.empty()) return result;
  }
  // Everything computed: now the call's effects, which a failed guard never reaches.
  if (graph.rng_advance > 0) {
    if (!hooks || !hooks->advance_rng) missing_hook("draws random numbers");
    hooks->advance_rng(static_cast<uint64_t>(graph.rng_advance));
  }
  call.write_back();
  result.outputs = call.outputs();
  result.ok = true;
  return result;
}

// ---- captured programs ----

std::string CapturedProgram::why_not(const Graph& graph) {
  if (graph.device.type == DeviceType::kCPU) return "it runs on the CPU";
  for (const Node& n : graph.nodes) {
    if (n.op == kGuard) return "it reads a value on the host at " + n.site.str() + " (a guard)";
    if (n.op == kGrad) return "a gradient was not expanded";
    if (n.op == kRandom) {
      const int key = n.inputs.empty() ? -1 : n.inputs[0];
      bool from_rng = false;
      for (const Input& in : graph.inputs) from_rng = from_rng || (in.value == key && in.kind == InputKind::kRng);
      if (!from_rng) return "a random draw's key is computed";
      if (!has_device_key_random(graph.device.type)) return graph.device.str() + " draws no random numbers in a graph";
    }
    if (n.def == nullptr && n.op != kFused && n.op != kConstant && n.op != kRandom && n.op != kAssign)
      return "it has a '" + n.op + "' node";
  }
  return {};
}

struct CapturedProgram::State {
  State(const Graph& g, const PlannedProgram& p) : graph(g), planned(p), input_of(g.values.size(), -1) {
    for (size_t i = 0; i < g.inputs.size(); ++i) input_of[g.inputs[i].value] = static_cast<int>(i);
  }
  const Graph& graph;
  const PlannedProgram& planned;
  std::unique_ptr<Execution> call;
  std::unique_ptr<rt::CapturedWork> work;
  std::vector<Tensor> statics;               // per input: the graph's buffer for its value
  std::vector<const void*> captured_memory;  // per input: a captured tensor's data when captured
  Tensor rng_key;      // int64 [seed, offset] on the device, when the program draws
  int rng_value = -1;  // the graph's key value (an rng input)
  std::vector<Tensor> kept;  // every value of the capture call: the memory the graph uses
  std::vector<Execution::Pending> writebacks;
  std::vector<int> input_of;  // per value: the input it is, or -1
  int64_t captures = 0;
  bool capture_failed = false;

  // Inputs the graph reads from buffers of its own: arguments and .grads (other tensors each
  // call), and host scalars (read by value by a kernel, which a graph would freeze).
  bool needs_static(const Input& in, const Tensor& t) const {
    if (in.kind == InputKind::kRng || !t.defined()) return false;
    return in.kind != InputKind::kCapture || t.device() != graph.device;
  }

  bool captures_moved() const {
    for (size_t i = 0; i < graph.inputs.size(); ++i) {
      if (captured_memory[i] != nullptr && graph.inputs[i].source.data_ptr() != captured_memory[i]) return true;
    }
    return false;
  }

  void capture() {
    work.reset();
    kept.clear();
    Execution& c = *call;
    statics.assign(graph.inputs.size(), Tensor());
    captured_memory.assign(graph.inputs.size(), nullptr);
    for (size_t i = 0; i < graph.inputs.size(); ++i) {
      const Input& in = graph.inputs[i];
      Tensor& t = c.value(in.value);
      if (!t.defined() || in.kind == InputKind::kRng) continue;
      if (needs_static(in, t)) {
        const Value& v = graph.values[in.value];
        statics[i] = ops::empty_tensor(v.shape, v.dtype, graph.device);
        t = statics[i];
      } else {
        captured_memory[i] = t.data_ptr();
      }
    }
    // Random nodes draw at a key in the graph's memory, refilled before each replay.
    rng_key = Tensor();
    for (const Node& n : graph.nodes) {
      if (n.op != kRandom) continue;
      rng_key = ops::empty_tensor(Shape{2}, kInt64, graph.device);
      rng_value = n.inputs[0];
      break;
    }
    c.set_device_key(rng_key);
    c.choose_in_place_targets();
    rt::DeviceBackend& backend = rt::backend_for(graph.device, "a compiled program");
    std::unique_ptr<rt::CapturedWork> recorded = backend.capture(graph.device.index, [&] {
      for (size_t k = 0; k < graph.nodes.size(); ++k) {
        const std::string failed = c.run(k);
        TL_ASSERT(failed.empty(), "a captured program has no guards, yet one failed: " + failed);
      }
      c.write_back(Execution::Effects::kDevice);
    });
    if (!recorded) throw DeviceError("tl: " + graph.device.str() + " cannot capture graphs");
    writebacks = c.pending_writebacks();
    kept.reserve(graph.values.size());
    for (size_t v = 0; v < graph.values.size(); ++v) kept.push_back(c.value(static_cast<int>(v)));
    work = std::move(recorded);
    ++captures;
  }

  // Before a replay: this call's arguments, .grads, host scalars and the random key into the
  // graph's buffers (queued on the current stream, ahead of the replay).
  void fill(const ExecutionHooks* hooks) {
    Execution& c = *call;
    for (size_t i = 0; i < graph.inputs.size(); ++i) {
      if (!statics[i].defined()) continue;
      const Tensor source = input_tensor(graph.inputs[i], c.args(), hooks);
      if (source.device() == graph.device) {
        ops::strided_copy(source, statics[i]);
      } else {
        const Tensor host = ops::contiguous_copy(source);
        rt::backend_for(graph.device, "a compiled program")
            .copy(statics[i].data_ptr(), graph.device, host.data_ptr(), host.device(), host.nbytes());
      }
    }
    if (rng_key.defined()) {
      const Tensor key = ops::contiguous_copy(c.value(rng_value));  // the host's [seed, offset]
      rt::backend_for(graph.device, "a compiled program")
          .copy(rng_key.data_ptr(), graph.device, key.data_ptr(), kCPU, key.nbytes());
    }
  }
};

CapturedProgram::CapturedProgram(const Graph& graph, const PlannedProgram& planned)
    : state_(std::make_unique<State>(graph, planned)) {}

CapturedProgram::~CapturedProgram() = default;

int64_t CapturedProgram::captures() const { return state_->captures; }
bool CapturedProgram::capture_failed() const { return state_->capture_failed; }

ExecResult CapturedProgram::run(std::span<const Tensor> args, const std::function<void()>& before_nodes,
                                const ExecutionHooks* hooks) {
  State& s = *state_;
  ExecResult result;
  if (!s.call) s.call = std::make_unique<Execution>(s.graph, &s.planned, hooks);
  Execution& c = *s.call;
  s.capture_failed = false;
  c.start(args);
  if (result.failed_guard = c.bind_inputs(); !result.failed_guard.empty()) return result;
  // Recording runs nothing: a capture that fails leaves no trace of this call.
  if (!s.work || s.captures_moved()) {
    try {
      s.capture();
    } catch (...) {
      s.work.reset();
      s.kept.clear();
      s.capture_failed = true;
      throw;
    }
  }
  c.set_pending_writebacks(s.writebacks);
  if (before_nodes) before_nodes();
  s.fill(hooks);
  s.work->replay();
  if (s.graph.rng_advance > 0) {
    if (!hooks || !hooks->advance_rng) missing_hook("draws random numbers");
    hooks->advance_rng(static_cast<uint64_t>(s.graph.rng_advance));
  }
  // The values written back live in the graph's memory: bind them for the host's share.
  for (const Execution::Pending& w : s.writebacks) c.value(w.value) = s.kept[static_cast<size_t>(w.value)];
  c.write_back(Execution::Effects::kHost);
  for (int v : s.graph.outputs) {
    if (s.input_of[v] >= 0) {
      result.outputs.push_back(input_tensor(s.graph.inputs[s.input_of[v]], args, hooks));
    } else {
      const Tensor& t = s.kept[static_cast<size_t>(v)];
      result.outputs.push_back(t.defined() ? ops::fresh_copy(t) : t);
    }
  }
  result.ok = true;
  return result;
}

struct ExecutionContext::State {
  State(const Graph& g, std::shared_ptr<const ContextMemory> m)
      : graph(g), memory(std::move(m)), planned(graph, memory->plan, memory->arena), call(graph, &planned, nullptr) {}
  Graph graph;
  std::shared_ptr<const ContextMemory> memory;
  PlannedProgram planned;
  Execution call;
  std::vector<Tensor> outputs;
};

std::shared_ptr<ContextMemory> allocate_context_memory(const Graph& graph) {
  auto memory = std::make_shared<ContextMemory>();
  memory->plan = plan_memory(graph);
  if (memory->plan.arena_bytes > 0) memory->arena = make_arena(memory->plan.arena_bytes, graph.device);
  memory->outputs.resize(graph.values.size());
  // The outputs computed by a kernel get memory of their own (an output the plan places, a
  // constant or a view needs none).
  for (int v : graph.outputs) {
    const Value& value = graph.values[v];
    if (memory->plan.offset[v] == MemoryPlan::kNotPlanned && !memory->outputs[v].defined())
      memory->outputs[v] = ops::empty_tensor(value.shape, value.dtype, graph.device);
  }
  return memory;
}

ExecutionContext::ExecutionContext(const Graph& graph) : ExecutionContext(graph, allocate_context_memory(graph)) {}

ExecutionContext::ExecutionContext(const Graph& graph, std::shared_ptr<const ContextMemory> memory)
    : state_(std::make_unique<State>(graph, std::move(memory))) {
  for (const Node& n : graph.nodes) {
    const bool inference_node = ((n.def != nullptr || (n.op == kFused && n.kernel)) && n.outputs.size() == 1) ||
                                n.op == kConstant;
    TL_ASSERT(inference_node, "ExecutionContext runs inference programs only, not '" + n.op + "' nodes");
  }
  TL_ASSERT(graph.writebacks.empty(), "ExecutionContext runs inference programs only (no write-backs)");
  // An output the plan does not place is computed into the start of its storage in `memory`
  // (made at this graph's shapes or larger ones).
  const ContextMemory& m = *state_->memory;
  TL_ASSERT(m.outputs.size() == graph.values.size(), "context memory made for another program");
  std::vector<Tensor> slots(graph.values.size());
  for (int v : graph.outputs) {
    const Value& value = graph.values[v];
    if (state_->planned.slot(v).defined() || slots[v].defined() || !m.outputs[v].defined()) continue;
    const Tensor& storage = m.outputs[v];
    TL_ASSERT(storage.dtype() == value.dtype && storage.numel() >= value.shape.numel(),
              "an output's storage is smaller than the output");
    slots[v] = ops::make_view(storage, value.shape, contiguous_strides(value.shape), storage.storage_offset());
  }
  state_->call.set_owned_slots(std::move(slots));
  state_->call.keep_views();
}

ExecutionContext::~ExecutionContext() = default;

std::span<const Tensor> ExecutionContext::run(std::span<const Tensor> args, std::vector<double>* node_seconds) {
  State& s = *state_;
  s.call.start(args);
  std::string why = s.call.bind_inputs();
  if (!why.empty()) throw ValueError("a compiled program's inputs do not fit: " + why);
  if (node_seconds) node_seconds->resize(s.graph.nodes.size(), 0.0);
  for (size_t k = 0; k < s.graph.nodes.size(); ++k) {
    const auto start = node_seconds ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    std::string failed = s.call.run(k);
    TL_ASSERT(failed.empty(), "an inference program has no guards, yet one failed: " + failed);
    if (node_seconds) {
      (*node_seconds)[k] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  }
  s.call.outputs_into(s.outputs);
  return s.outputs;
}

}  // namespace tl::trace
