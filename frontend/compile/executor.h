// The reference executor: runs a trace::Graph op by op with the eager kernels (through
// ops::call, so autograd records as usual when grad mode is on). tl::compile uses it until
// code generation exists, and it stays the oracle generated code is tested against.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "frontend/compile/graph.h"

namespace tl::trace {

struct ExecResult {
  bool ok = false;
  std::string failed_guard;  // when !ok: which guard failed and why (nothing was written back)
  std::vector<Tensor> outputs;
};

// Binds the graph's inputs (arguments from `args`, captures and .grad slots from the
// tensors they name, the generator's key), runs every node, then applies the writebacks and
// advances the generator. Leftover assign nodes (a graph that skipped functionalization)
// are applied as writebacks too; a grad node that was not expanded is an error.
ExecResult execute(const Graph& graph, std::span<const Tensor> args);

// Why `graph`'s inputs do not fit these arguments and captured tensors (empty when they do).
std::string check_inputs(const Graph& graph, std::span<const Tensor> args);

}  // namespace tl::trace
