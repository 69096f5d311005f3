// The tracer: while a tl::compile'd function runs eagerly for the first time, every op that
// goes through ops::call is also recorded into a trace::Graph. Tensors the function reads
// but did not create become inputs (captures); in-place updates become `assign` nodes;
// backward() becomes a `grad` node; host reads of tensor values become guards.
//
// The same tracer runs in symbolic mode for the autodiff pass: ops then skip their kernels
// and produce meta tensors, so a derivative rule written with Tensor ops emits graph nodes.
//
// The eager library calls the hooks below; each costs one thread-local load when nothing
// is being traced.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/exec/graph.h"

namespace tl::trace {

// A host-side value the traced function read (a module's training flag, ...): compiled calls
// re-read it and re-trace when it differs.
struct HostGuard {
  std::string what;
  std::function<double()> read;
  double expected = 0;
  Site site;
};

class Tracer {
 public:
  enum class Mode { kRecord, kSymbolic };
  Tracer(Mode mode, std::string name);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  Mode mode() const { return mode_; }
  bool symbolic() const { return mode_ == Mode::kSymbolic; }
  Graph& graph() { return graph_; }

  // Makes `t` the function's argument `arg_index` (record mode).
  int bind_argument(const Tensor& t, int arg_index);
  // A graph input of the given kind (used by the autodiff pass for symbolic values too).
  int add_input(InputKind kind, const Tensor& source, const std::string& name, const Shape& shape, DType dtype);
  // Binds `t` (its TensorImpl) to an existing value.
  void bind(const Tensor& t, int value);
  // The value `t` holds: recorded earlier, or a new capture/constant.
  int value_of(const Tensor& t, Site site);
  bool knows(const Tensor& t) const;
  // Appends a node; returns its index.
  int add_node(Node node);

  // ---- hooks from the eager library ----
  void record_op(const ops::OpDef& op, std::span<const Tensor> inputs, const ops::Attrs& attrs, Site site,
                 const Tensor& out);
  void record_alloc(const Tensor& t);
  void record_inplace(const Tensor& target, const Tensor& value, Site site);
  void record_item(const Tensor& t, double value, Site site);
  void record_random(const Tensor& out, RandomKind kind, double a, double b, uint64_t counter_offset, Site site);
  void record_backward(const Tensor& loss, const Tensor& seed, const std::function<void()>& run_eager, Site site);
  void record_grad_read(const Tensor& leaf, const Tensor& grad);
  void record_set_grad(const Tensor& leaf, const Tensor& grad);
  void guard_host_value(HostGuard guard);
  void replay_on_call(std::function<void()> action);
  void note_untraceable(const std::string& what, Site site);
  // A copy of `t` to another device: the tracer records no copy, so only values fixed at trace
  // time (made inside the function from host values, not yet read by a traced op) may be
  // copied; the copy of anything else would become a constant of the program.
  void record_device_copy(const Tensor& t, Device to, Site site);

  // ---- results ----
  std::vector<HostGuard>& host_guards() { return host_guards_; }
  std::vector<std::function<void()>>& replays() { return replays_; }
  // Leaves whose .grad the function left undefined (zero_grad(set_to_none) after backward).
  std::vector<Tensor> cleared_grads() const;
  bool has_backward() const { return has_backward_; }
  // The first construct that cannot be compiled faithfully (empty when none).
  const std::string& untraceable() const { return untraceable_; }
  uint64_t rng_base() const { return rng_base_; }

 private:
  struct Binding {
    int value = -1;
    int input = -1;  // index in graph_.inputs when this tensor is (or was) an input
    bool to_grad = false;
  };
  Binding* find(const Tensor& t);
  Binding& bind_impl(const Tensor& t, int value);
  // Records that `leaf`'s .grad now holds `value` (-1: cleared), replacing earlier writes.
  void assign_grad(const Tensor& leaf, int value, Site site);

  Mode mode_;
  Graph graph_;
  std::unordered_map<const TensorImpl*, Binding> bindings_;
  std::vector<std::shared_ptr<TensorImpl>> keep_alive_;  // stable identities while tracing
  std::unordered_map<const TensorImpl*, bool> allocated_;  // created inside the function
  std::unordered_map<const TensorImpl*, int> grad_inputs_;  // leaf impl -> kGradOf input
  std::vector<std::pair<Tensor, bool>> grad_slots_;          // leaf, defined at the end?
  std::vector<HostGuard> host_guards_;
  std::vector<std::function<void()>> replays_;
  std::string untraceable_;
  bool has_backward_ = false;
  uint64_t rng_base_ = 0;
  int rng_input_ = -1;
};

// The tracer recording at this point, or null: none active, paused, or inside an op's
// kernel (ops used by kernels are implementation details, not part of the program).
Tracer* active();
// The tracer of the current trace even while paused (for refusing untraceable constructs).
Tracer* current();

// Installs `tracer` for the current thread for the guard's lifetime.
class TraceScope {
 public:
  explicit TraceScope(Tracer& tracer);
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  Tracer* previous_;
};

// Suspends recording (eager backward while tracing, snapshots, kernels).
class PauseScope {
 public:
  PauseScope();
  ~PauseScope();
  PauseScope(const PauseScope&) = delete;
  PauseScope& operator=(const PauseScope&) = delete;
};

// ---- free-function hooks for the eager library (no-ops unless tracing) ----
inline void on_alloc(const Tensor& t) {
  if (Tracer* tr = active()) tr->record_alloc(t);
}
void on_inplace(const Tensor& target, const Tensor& value, Site site);
void on_item(const Tensor& t, double value, Site site);
// Registers a host value guard while tracing; returns `value`.
double guard_host_value(const char* what, std::function<double()> read, double value, Site site = {});
// While tracing: runs nothing now, and runs `action` before every compiled call.
void replay_on_call(std::function<void()> action);
// Refuses a construct that cannot be compiled faithfully; returns false when not tracing.
bool refuse_if_tracing(const std::string& what, Site site);
void on_device_copy(const Tensor& t, Device to, Site site);
bool is_tracing();

}  // namespace tl::trace
