// The reference executor: runs a trace::Graph op by op with the eager kernels (through
// ops::call, so autograd records as usual when grad mode is on). tl::compile uses it until
// code generation exists, and it stays the oracle generated code is tested against.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "frontend/trace/graph.h"
#include "frontend/compile/memory_plan.h"

namespace tl::trace {

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
                   const std::function<void()>& before_nodes = nullptr);

// A prepared inference program (registry ops and constants only: no guards, random draws,
// write-backs or autograd) for repeated calls on one thread: the executor above with its
// state kept between calls. After the first call, a call allocates nothing on the heap: the
// arena, the outputs' memory and every view's tensor are reused. The outputs it returns are
// its own memory, overwritten by the next call.
class ExecutionContext {
 public:
  explicit ExecutionContext(const Graph& graph);
  ~ExecutionContext();
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;
  // Throws ValueError naming the first input that does not fit the graph.
  std::span<const Tensor> run(std::span<const Tensor> args);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Why `graph`'s inputs do not fit these arguments and captured tensors (empty when they do).
std::string check_inputs(const Graph& graph, std::span<const Tensor> args);

}  // namespace tl::trace
