#include "frontend/compile/executor.h"

#include <cmath>

#include "frontend/compile/tracer.h"
#include "frontend/ops/registry.h"
#include "frontend/ops/factory/random_from_key.h"
#include "frontend/ops/pointwise/pointwise.h"
#include "tl/autograd.h"
#include "tl/compile.h"
#include "tl/ops.h"
#include "tl/random.h"

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

Tensor input_tensor(const Input& in, std::span<const Tensor> args) {
  switch (in.kind) {
    case InputKind::kArgument: return args[in.arg_index];
    case InputKind::kCapture: return in.source;
    case InputKind::kGradOf: return in.source.grad();
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
}  // namespace

PlannedProgram::PlannedProgram(const Graph& graph) : plan_(plan_memory(graph)) {
  slots_.resize(graph.values.size());
  if (plan_.arena_bytes == 0) return;
  // float32 elements: every offset is 64-byte aligned, so any dtype's offset is whole.
  arena_ = ops::empty_tensor(Shape{(plan_.arena_bytes + 3) / 4}, kFloat32, kCPU);
  for (size_t v = 0; v < graph.values.size(); ++v) {
    if (plan_.offset[v] == MemoryPlan::kNotPlanned) continue;
    const Value& value = graph.values[v];
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = arena_.impl()->storage;  // slots keep the arena alive
    impl->shape = value.shape;
    impl->strides = contiguous_strides(value.shape);
    impl->offset = plan_.offset[v] / static_cast<int64_t>(dtype_size(value.dtype));
    impl->dtype = value.dtype;
    impl->is_contiguous = true;
    slots_[v] = Tensor(std::move(impl));
  }
}

std::string check_inputs(const Graph& graph, std::span<const Tensor> args) {
  std::vector<char> used = used_values(graph);
  for (const Input& in : graph.inputs) {
    if (in.kind == InputKind::kRng || !used[in.value]) continue;
    if (in.kind == InputKind::kArgument && in.arg_index >= static_cast<int>(args.size())) {
      return "the function takes " + std::to_string(args.size()) + " arguments, traced with more";
    }
    std::string why = mismatch(in, graph.values[in.value], input_tensor(in, args));
    if (!why.empty()) return why;
  }
  return {};
}

ExecResult execute(const Graph& graph, std::span<const Tensor> args, const PlannedProgram* planned,
                   const std::function<void()>& before_nodes) {
  ExecResult result;
  std::vector<Tensor> env(graph.values.size());
  GeneratorState key = default_generator().state();
  std::vector<char> used = used_values(graph);
  for (const Input& in : graph.inputs) {
    if (!used[in.value]) continue;
    if (in.kind == InputKind::kRng) {
      env[in.value] = from_vector<int64_t>({static_cast<int64_t>(key.seed), static_cast<int64_t>(key.offset)}, {2});
      continue;
    }
    Tensor t = input_tensor(in, args);
    if (std::string why = mismatch(in, graph.values[in.value], t); !why.empty()) {
      result.failed_guard = why;
      return result;
    }
    env[in.value] = t;
  }

  struct Pending {
    int input;
    bool to_grad;
    int value;
  };
  std::vector<Pending> writebacks;
  for (const Writeback& w : graph.writebacks) writebacks.push_back({w.input, w.to_grad, w.value});
  std::vector<int> input_of_value(graph.values.size(), -1);
  for (size_t i = 0; i < graph.inputs.size(); ++i) input_of_value[graph.inputs[i].value] = static_cast<int>(i);

  // Updates computed straight into captured tensors (MemoryPlan::in_place_input): the target
  // per value, when its tensor allows it this call.
  std::vector<Tensor> in_place;
  if (planned && planned->plan().in_place_values > 0) {
    in_place.resize(graph.values.size());
    const std::vector<int>& target_of = planned->plan().in_place_input;
    for (size_t v = 0; v < target_of.size(); ++v) {
      if (target_of[v] < 0) continue;
      const Tensor& target = env[graph.inputs[target_of[v]].value];
      bool usable = target.defined() && target.is_contiguous();
      for (size_t i = 0; i < graph.inputs.size() && usable; ++i) {
        const int other = graph.inputs[i].value;
        if (static_cast<int>(i) != target_of[v] && env[other].defined()) usable = !shares_memory(target, env[other]);
      }
      if (usable) in_place[v] = target;
    }
  }
  auto computed_in_place = [&](int v) -> const Tensor* {
    return !in_place.empty() && in_place[v].defined() ? &in_place[v] : nullptr;
  };

  if (before_nodes) before_nodes();

  std::vector<Tensor> operands;
  for (const Node& node : graph.nodes) {
    operands.clear();
    for (int v : node.inputs) operands.push_back(env[v]);
    if (node.def != nullptr) {
      const int out = node.outputs[0];
      ops::KernelFn kernel = node.def->kernels[ops::kCpu];
      const Tensor* target = computed_in_place(out);
      const Tensor* memory = target ? target : planned ? &planned->slot(out) : nullptr;
      if (memory && memory->defined() && kernel != nullptr) {
        Tensor& o = env[out] = *memory;
        if (o.numel() > 0) kernel(std::span<const Tensor>(operands), o, node.attrs);
      } else if (planned && node.def->view != nullptr) {
        env[out] = node.def->view(operands[0], node.attrs, node.site);
      } else {
        env[out] = ops::call(*node.def, std::span<const Tensor>(operands), node.attrs, node.site);
      }
    } else if (node.op == kFused) {
      const int out = node.outputs[0];
      if (const Tensor* target = computed_in_place(out)) {
        env[out] = *target;
      } else if (planned && planned->slot(out).defined()) {
        env[out] = planned->slot(out);
      } else {
        const Value& v = graph.values[out];
        env[out] = ops::empty_tensor(v.shape, v.dtype, kCPU);
      }
      node.kernel->run(std::span<const Tensor>(operands), env[out]);
    } else if (node.op == kConstant) {
      env[node.outputs[0]] = node.constant;
    } else if (node.op == kRandom) {
      auto k = operands[0].to_vector<int64_t>();
      env[node.outputs[0]] = random_from_key(static_cast<RandomKind>(node.attrs.count), node.attrs.dims,
                                             node.attrs.dtype, node.attrs.scalar, node.attrs.scalar2,
                                             static_cast<uint64_t>(k[0]),
                                             static_cast<uint64_t>(k[1] + node.attrs.axis));
    } else if (node.op == kGuard) {
      double seen = operands[0].item<double>(node.site);
      if (seen != node.attrs.scalar && !(std::isnan(seen) && std::isnan(node.attrs.scalar))) {
        result.failed_guard = "the value read on the host at " + node.site.str() + " is " + std::to_string(seen) +
                              ", traced with " + std::to_string(node.attrs.scalar);
        return result;
      }
    } else if (node.op == kAssign) {
      int input = input_of_value[node.inputs[0]];
      std::erase_if(writebacks, [&](const Pending& p) { return p.input == input && p.to_grad == node.attrs.flag; });
      writebacks.push_back({input, node.attrs.flag, node.inputs[1]});
    } else if (node.op == kGrad) {
      throw CompileError("tl::compile: the gradient requested at " + node.site.str() +
                         " was not expanded (the pipeline did not run the autodiff pass)");
    } else {
      throw CompileError("tl::compile: unknown node '" + node.op + "' in a compiled graph");
    }
  }

  // Everything computed: now the call's effects, which a failed guard never reaches.
  if (graph.rng_advance > 0) default_generator().advance(static_cast<uint64_t>(graph.rng_advance));
  NoGradGuard no_grad;
  PauseScope pause;
  for (const Pending& w : writebacks) {
    const Input& in = graph.inputs[w.input];
    Tensor value = env[w.value];
    if (w.to_grad) {
      // A fresh tensor each call, like eager backward; never alias an input.
      if (input_of_value[w.value] >= 0 || !value.is_contiguous()) value = value.clone();
      Tensor leaf = input_tensor(in, args);
      leaf.set_grad(value);
      continue;
    }
    Tensor target = input_tensor(in, args);
    if (!target.defined()) continue;
    if (value.is_same(target)) {  // computed in place
      ++target.impl()->storage->version;
      continue;
    }
    // A value read from memory another write-back overwrites is copied first. (A .grad
    // write-back only rebinds the leaf's gradient: it overwrites no memory.)
    for (const Pending& other : writebacks) {
      if (&other == &w || other.to_grad) continue;
      if (shares_memory(value, input_tensor(graph.inputs[other.input], args))) {
        value = value.clone();
        break;
      }
    }
    if (!value.is_same(target)) ops::strided_copy(value, target);
    ++target.impl()->storage->version;
  }
  for (int v : graph.outputs) result.outputs.push_back(env[v]);
  result.ok = true;
  return result;
}

}  // namespace tl::trace
