// The executor: runs a trace::Graph node by node with the op table's kernels, generated code
// (fused nodes) and views. It is the one executor of the project: tl::compile runs traced
// training and inference programs on it in-process, tl::load_program (and so tlc's
// executables) runs artifacts on it, and it is the oracle generated code is tested against.
// It lives in the runtime and needs nothing from the frontend; what only the frontend can do
// for a training program (record autograd for an unplanned call, read and advance the default
// generator, rebind a .grad) it asks through ExecutionHooks.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/exec/graph.h"
#include "runtime/exec/memory_plan.h"

namespace tl::trace {

// What a call of a training or traced program needs from the frontend. Each may be null; a
// graph that needs a missing one fails with a CompileError naming it.
struct ExecutionHooks {
  // Runs a registry op outside the plan (an unplanned program, a view): the frontend's
  // ops::call, which records autograd when grad mode is on. Null: the kernel runs on fresh
  // memory (or the view is built), recording nothing.
  Tensor (*call_op)(const ops::OpDef& op, std::span<const Tensor> inputs, const ops::Attrs& attrs, Site site) = nullptr;
  // The default generator's state when a call starts (rng inputs), and its advance after.
  void (*rng_state)(uint64_t& seed, uint64_t& offset) = nullptr;
  void (*advance_rng)(uint64_t counters) = nullptr;
  // leaf.grad (a kGradOf input), and leaf.grad = grad (a .grad write-back).
  Tensor (*grad_of)(const Tensor& leaf) = nullptr;
  void (*set_grad)(const Tensor& leaf, const Tensor& grad) = nullptr;
};

struct ExecResult {
  bool ok = false;
  std::string failed_guard;  // when !ok: which guard failed and why (nothing was written back)
  std::vector<Tensor> outputs;
};

// A graph prepared for repeated calls without autograd: its memory plan, the arena, and a
// tensor per planned value in it. Kernels then write straight into the arena (no allocation,
// no shape inference, no dispatch checks per node).
class PlannedProgram {
 public:
  explicit PlannedProgram(const Graph& graph);
  // In memory the caller made: `plan` (of this graph, or of the same program at a larger batch
  // size: every value's extent there covers its extent here) places each value in `arena`.
  PlannedProgram(const Graph& graph, MemoryPlan plan, Tensor arena);
  const MemoryPlan& plan() const { return plan_; }
  // The arena slot of value v (undefined when v is not planned).
  const Tensor& slot(int v) const { return slots_[v]; }

 private:
  MemoryPlan plan_;
  Tensor arena_;
  std::vector<Tensor> slots_;
};

// Binds the graph's inputs (arguments from `args`, captures and .grad slots from the
// tensors they name, the generator's key), runs every node, then applies the writebacks and
// advances the generator. Leftover assign nodes (a graph that skipped functionalization)
// are applied as writebacks too; a grad node that was not expanded is an error.
// With `planned` (which must come from the same graph), planned values are computed into the
// arena; the caller runs it with grad mode off. `before_nodes` runs once the inputs are bound
// and checked, before the first node (host-side work of the call, e.g. refilling step values).
ExecResult execute(const Graph& graph, std::span<const Tensor> args, const PlannedProgram* planned = nullptr,
                   const std::function<void()>& before_nodes = nullptr, const ExecutionHooks* hooks = nullptr);

// A planned program on a device that records work as a graph (CUDA graphs): its nodes and the
// copies into captured tensors are captured once, then each call replays them with one launch,
// instead of one launch per node from the host. The graph runs on fixed memory: arguments
// (and .grads read) are copied into buffers of the graph, random draws read the generator's
// key from the graph's memory (refilled before each replay), and the outputs and .grads a call returns are copies of
// the graph's buffers. A captured tensor whose memory moved (a parameter replaced) makes the
// next call capture again. Index checks are read back after each replay; a bad index is then
// reported after the step's device work ran (kernels skip such values meanwhile).
class CapturedProgram {
 public:
  // Why `graph` cannot be captured (empty when it can): a node that reads a value on the host
  // mid-call (a guard), an unexpanded gradient, a device that cannot capture.
  static std::string why_not(const Graph& graph);
  // `graph` and `planned` (of that graph) must outlive this.
  CapturedProgram(const Graph& graph, const PlannedProgram& planned);
  ~CapturedProgram();
  // As execute() with `planned`, but the nodes run as one graph. The first call (and a call
  // after a captured tensor moved) captures first; a failed capture throws DeviceError before
  // anything ran, not even `before_nodes`, so the caller can run the call another way.
  ExecResult run(std::span<const Tensor> args, const std::function<void()>& before_nodes,
                 const ExecutionHooks* hooks);
  int64_t captures() const;
  // Whether the last run threw because its capture failed (nothing of that call ran).
  bool capture_failed() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A prepared inference program (registry ops and constants only: no guards, random draws,
// write-backs or autograd) for repeated calls on one thread: the executor above with its
// state kept between calls. After the first call, a call allocates nothing on the heap: the
// arena, the outputs' memory and every view's tensor are reused. The outputs it returns are
// its own memory, overwritten by the next call.
// Memory for execution contexts made by the caller: the arena of `plan`, and storage for each
// output the plan does not place (by value id; undefined for the others). A batched program
// makes one per concurrent call at its maximum batch size, and its contexts at every smaller
// batch size run in it too: the arena is allocated once, not once per batch size.
struct ContextMemory {
  MemoryPlan plan;
  Tensor arena;
  std::vector<Tensor> outputs;
};
// The memory `graph` needs (its plan's arena, its unplaced outputs), allocated now.
std::shared_ptr<ContextMemory> allocate_context_memory(const Graph& graph);

class ExecutionContext {
 public:
  explicit ExecutionContext(const Graph& graph);
  // Runs in `memory`, made for this graph or for the same program at a larger batch size
  // (values and outputs then use the start of the memory made for their larger extents).
  ExecutionContext(const Graph& graph, std::shared_ptr<const ContextMemory> memory);
  ~ExecutionContext();
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;
  // Throws ValueError naming the first input that does not fit the graph. With
  // `node_seconds` (one entry per node), adds each node's wall time to its entry.
  std::span<const Tensor> run(std::span<const Tensor> args, std::vector<double>* node_seconds = nullptr);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Why `graph`'s inputs do not fit these arguments and captured tensors (empty when they do).
std::string check_inputs(const Graph& graph, std::span<const Tensor> args, const ExecutionHooks* hooks = nullptr);

}  // namespace tl::trace
