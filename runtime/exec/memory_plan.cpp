#include "runtime/exec/memory_plan.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace tl::trace {
namespace {
int64_t aligned(int64_t bytes) {
  return (bytes + MemoryPlan::kAlignment - 1) / MemoryPlan::kAlignment * MemoryPlan::kAlignment;
}
int64_t bytes_of(const Value& v) { return v.shape.numel() * static_cast<int64_t>(dtype_size(v.dtype)); }

// Per value: the input its node may write into directly (see MemoryPlan::in_place_input).
// `def` maps values to their defining node, `root` to the value whose memory they alias.
std::vector<int> in_place_inputs(const Graph& graph, const std::vector<int>& def, const std::vector<int>& root) {
  const int n = static_cast<int>(graph.values.size());
  std::vector<int> result(n, -1);
  // Once a node has written the new value, the call must not fail any more: a guard after it
  // would abandon the call with the captured tensor already changed.
  int last_guard = -1;
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i)
    if (graph.nodes[i].op == kGuard) last_guard = i;
  std::vector<int> writes_to_value(n, 0);
  for (const Writeback& w : graph.writebacks) ++writes_to_value[w.value];
  std::vector<char> escapes(n, 0);
  for (int v : graph.outputs) escapes[root[v]] = 1;
  for (const Writeback& w : graph.writebacks) escapes[root[w.value]] = 1;  // read at the end of the call

  for (const Writeback& w : graph.writebacks) {
    const int v = w.value, old = graph.inputs[w.input].value;
    if (w.to_grad || def[v] < 0 || root[v] != v || writes_to_value[v] != 1) continue;
    const Node& node = graph.nodes[def[v]];
    const bool writes_into_output = node.op == kFused || (node.def != nullptr && node.def->view == nullptr);
    if (!writes_into_output || node.outputs.size() != 1 || def[v] <= last_guard) continue;
    const Value &value = graph.values[v], &target = graph.values[old];
    if (value.shape != target.shape || value.dtype != target.dtype) continue;
    // Nothing may read the old value (or a view of it) after the node, nor return it or write
    // it elsewhere at the end. The node itself may read it only where it reads each element
    // at the index it writes: a fused elementwise kernel reading the tensor itself.
    bool safe = !escapes[old];
    for (int i = def[v]; i < static_cast<int>(graph.nodes.size()) && safe; ++i) {
      for (int in : graph.nodes[i].inputs) {
        if (root[in] != old) continue;
        safe = safe && i == def[v] && node.op == kFused && node.kernel && node.kernel->is_elementwise() && in == old;
      }
    }
    if (safe) result[v] = w.input;
  }
  return result;
}
}  // namespace

MemoryPlan plan_memory(const Graph& graph) {
  const int n = static_cast<int>(graph.values.size());
  MemoryPlan plan;
  plan.offset.assign(n, MemoryPlan::kNotPlanned);
  plan.root.resize(n);
  for (int v = 0; v < n; ++v) plan.root[v] = v;

  // Which node defines each value; views alias their input's memory.
  std::vector<int> def(n, -1);
  std::vector<char> plannable(n, 0);
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i) {
    const Node& node = graph.nodes[i];
    for (int out : node.outputs) def[out] = i;
    if (node.outputs.size() != 1) continue;
    int out = node.outputs[0];
    if (node.def != nullptr && node.def->view != nullptr) {
      plan.root[out] = plan.root[node.inputs[0]];
    } else if (node.def != nullptr || node.op == kFused) {
      plannable[out] = 1;  // kernels write into memory the executor provides
    }
  }
  plan.in_place_input = in_place_inputs(graph, def, plan.root);
  for (int v = 0; v < n; ++v) {
    if (plan.in_place_input[v] < 0) continue;
    plannable[v] = 0;
    ++plan.in_place_values;
  }
  // Values that outlive the call keep their own memory, and so does what they alias.
  auto escape = [&](int v) { plannable[plan.root[v]] = 0; };
  for (int v : graph.outputs) escape(v);
  for (const Writeback& w : graph.writebacks)
    if (w.to_grad) escape(w.value);

  // Live range of each root: from its definition to the last use of any value aliasing it.
  std::vector<int> last_use(n, -1);
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i)
    for (int in : graph.nodes[i].inputs) last_use[plan.root[in]] = std::max(last_use[plan.root[in]], i);
  const int end = static_cast<int>(graph.nodes.size());  // writebacks read after the last node
  for (const Writeback& w : graph.writebacks) last_use[plan.root[w.value]] = end;

  // Greedy first fit in order of definition, over the intervals freed so far.
  struct Block {
    int64_t offset, size;
    int free_after;  // node index after which the block is free
  };
  std::vector<Block> blocks;
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i) {
    for (int v : graph.nodes[i].outputs) {
      if (!plannable[v] || plan.root[v] != v) continue;
      int64_t size = aligned(std::max<int64_t>(bytes_of(graph.values[v]), 1));
      plan.unplanned_bytes += size;
      ++plan.planned_values;
      int until = std::max(last_use[v], i);
      // Blocks dead before node i are free; place the value in the lowest gap between the
      // live ones that fits, else after them.
      std::erase_if(blocks, [&](const Block& b) { return b.free_after < i; });
      std::sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) { return a.offset < b.offset; });
      int64_t chosen = -1;
      int64_t cursor = 0;
      for (const Block& b : blocks) {
        if (b.offset - cursor >= size) {
          chosen = cursor;
          break;
        }
        cursor = std::max(cursor, b.offset + b.size);
      }
      if (chosen < 0) chosen = cursor;
      blocks.push_back({chosen, size, until});
      plan.offset[v] = chosen;
      plan.arena_bytes = std::max(plan.arena_bytes, chosen + size);
    }
  }
  for (int v = 0; v < n; ++v) {
    if (def[v] < 0 || plan.root[v] != v || plannable[v] || graph.nodes[def[v]].op == kConstant ||
        plan.in_place_input[v] >= 0) {
      continue;
    }
    plan.escaping_bytes += bytes_of(graph.values[v]);
  }
  return plan;
}

std::string MemoryPlan::str() const {
  std::ostringstream o;
  o << "arena " << arena_bytes << " bytes for " << planned_values << " intermediates (" << unplanned_bytes
    << " bytes without reuse); " << in_place_values << " updates computed in place into captured tensors; "
    << escaping_bytes << " bytes allocated per call (outputs, gradients, random draws)";
  return o.str();
}

}  // namespace tl::trace
