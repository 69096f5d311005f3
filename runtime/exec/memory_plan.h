// Memory planning for compiled programs: every intermediate value gets an offset in one
// arena, assigned by liveness so values whose lifetimes do not overlap share bytes. A
// planned program allocates its arena once and then runs calls without allocating for
// intermediates. Values that outlive a call (returned outputs, new .grad tensors) are not
// planned: they get fresh memory each call. A new value for a captured tensor (a parameter
// or optimizer state update) is computed straight into that tensor when nothing reads the
// old value afterwards, instead of into the arena and copied at the end of the call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/exec/graph.h"

namespace tl::trace {

struct MemoryPlan {
  static constexpr int64_t kAlignment = 64;
  static constexpr int64_t kNotPlanned = -1;
  // Per value: byte offset in the arena, or kNotPlanned (inputs, constants, views, escaping
  // values, values produced by nodes that allocate for themselves).
  std::vector<int64_t> offset;
  // Per value: the value whose memory it aliases (itself unless produced by a view op).
  std::vector<int> root;
  // Per value: the graph input (index into Graph::inputs) it is written back to and may be
  // computed into directly, or -1. Such values are not planned; the executor falls back to
  // fresh memory when the input's tensor turns out unsuitable at run time (not contiguous,
  // or sharing memory with another input).
  std::vector<int> in_place_input;
  int in_place_values = 0;
  int64_t arena_bytes = 0;      // the arena's size
  int64_t unplanned_bytes = 0;  // what the planned values would take without sharing
  int64_t escaping_bytes = 0;   // allocated fresh per call (outputs, gradients)
  int planned_values = 0;
  std::string str() const;
};

// Plans `graph` (a functionalized graph: no assign or grad nodes).
MemoryPlan plan_memory(const Graph& graph);

}  // namespace tl::trace
