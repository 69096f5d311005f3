// tl::compile's engine: warm-up, tracing, the cache of compiled variants and their guards.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "frontend/compile/compiler_loader.h"
#include "frontend/ops/registry.h"
#include "runtime/exec/executor.h"
#include "frontend/trace/tracer.h"
#include "runtime/logging.h"
#include "tl/autograd.h"
#include "tl/compile.h"
#include "tl/debug.h"
#include "tl/random.h"
#include "runtime/base/env.h"

namespace tl::detail {
namespace {

struct ArgSig {
  Shape shape;
  DType dtype = kFloat32;
  Device device = kCPU;
  bool requires_grad = false;
  bool operator==(const ArgSig&) const = default;
  std::string str() const {
    return shape.str() + " " + dtype_name(dtype) + (device == kCPU ? "" : " on " + device.str()) +
           (requires_grad ? " requires_grad" : "");
  }
};

struct Signature {
  std::vector<ArgSig> args;
  bool grad_mode = true;
  bool operator==(const Signature&) const = default;
};

Signature signature_of(std::span<const Tensor> args) {
  Signature s;
  s.grad_mode = is_grad_enabled();
  for (const Tensor& t : args) {
    if (!t.defined()) throw ValueError("tl::compile: an argument is an undefined tensor");
    s.args.push_back({t.shape(), t.dtype(), t.device(), t.requires_grad()});
  }
  return s;
}

// Why `now` does not match `traced` (empty when it does).
std::string signature_mismatch(const Signature& traced, const Signature& now) {
  if (traced.args.size() != now.args.size()) {
    return "called with " + std::to_string(now.args.size()) + " arguments, traced with " +
           std::to_string(traced.args.size());
  }
  for (size_t i = 0; i < now.args.size(); ++i) {
    if (!(traced.args[i] == now.args[i])) {
      return "argument " + std::to_string(i) + " is " + now.args[i].str() + ", traced as " + traced.args[i].str();
    }
  }
  if (traced.grad_mode != now.grad_mode) {
    return std::string("grad mode is ") + (now.grad_mode ? "on" : "off") + ", traced with it " +
           (traced.grad_mode ? "on" : "off");
  }
  return {};
}

bool compile_disabled() {
  return rt::env_is_zero(rt::EnvSwitch::kCompile);
}

struct Entry {
  Signature signature;
  trace::Graph graph;  // the program that runs (optimized when the pipeline ran)
  std::vector<trace::HostGuard> host_guards;
  std::vector<std::function<void()>> replays;
  std::vector<Tensor> cleared_grads;
  bool has_backward = false;
  bool needs_autograd = false;  // outputs must stay differentiable by eager autograd
  bool eager_only = false;  // the pipeline could not compile it: runs eagerly
  std::string eager_reason;
  std::string ir_before, ir_after;
  // Built at the first call that runs without autograd: memory plan, arena, slots.
  std::unique_ptr<trace::PlannedProgram> planned;
  // On CUDA, from the second planned call: the program as a CUDA graph (null until captured,
  // or when it cannot be: graph_refused says why).
  std::unique_ptr<trace::CapturedProgram> captured;
  std::string graph_refused;
  int64_t planned_calls = 0;
  size_t traced_nodes = 0;
  double compile_seconds = 0;
  int64_t hits = 0;
  uint64_t last_use = 0;

  std::string host_mismatch() const {
    for (const auto& g : host_guards) {
      double now = g.read();
      if (now != g.expected) {
        return g.what + (g.site.line ? " (read at " + g.site.str() + ")" : std::string()) + " is " +
               std::to_string(now) + ", traced with " + std::to_string(g.expected);
      }
    }
    return {};
  }
};

}  // namespace

struct CompiledFunction::Impl {
  // One call at a time per compiled function: the cache and the programs' write-backs are
  // shared state. Recursive: the traced body may call the function again (it then runs eagerly).
  std::recursive_mutex mutex;
  Body body;
  CompileOptions options;
  Site site;
  std::vector<std::unique_ptr<Entry>> entries;
  Stats stats;
  uint64_t clock = 0;
  bool warned_thrashing = false;
  std::string last_retrace_reason;

  // How many references the cached programs themselves hold to each captured tensor. A
  // capture referenced by nothing else is unreachable from the function's code: the variable
  // that held it was reassigned or destroyed (a lambda capturing a tensor by reference), so
  // the traced program would read a stale tensor. Recounted whenever `entries` changes.
  std::unordered_map<const TensorImpl*, long> internal_refs;

  std::string name() const { return options.name.empty() ? site.str() : options.name; }

  void count_internal_refs() {
    internal_refs.clear();
    for (const auto& e : entries) {
      for (const auto& in : e->graph.inputs)
        if (in.source.defined()) ++internal_refs[in.source.impl()];
      for (const Tensor& t : e->cleared_grads)
        if (t.defined()) ++internal_refs[t.impl()];
    }
  }

  // Why `e` reads a tensor the function can no longer reach (empty when it reads none).
  std::string stale_capture(const Entry& e) const {
    if (e.eager_only) return {};  // runs the function itself, which reads the current tensors
    for (const auto& in : e.graph.inputs) {
      if (in.kind != trace::InputKind::kCapture && in.kind != trace::InputKind::kGradOf) continue;
      auto it = internal_refs.find(in.source.impl());
      if (it == internal_refs.end() || in.source.impl_ptr().use_count() > it->second) continue;
      return "the tensor " + in.name + " (" + in.source.shape().str() + " " + dtype_name(in.source.dtype()) +
             (in.site.line ? ", read at " + in.site.str() : std::string()) +
             ") is no longer referenced outside the compiled function: the variable that held it was "
             "reassigned or destroyed, so the function now reads another tensor";
    }
    return {};
  }

  std::vector<Tensor> run_eager(std::span<const Tensor> args) {
    ++stats.eager_calls;
    return body(args);
  }

  std::vector<Tensor> trace_and_compile(std::span<const Tensor> args, const Signature& sig, const std::string& why);
  bool try_entry(Entry& e, std::span<const Tensor> args, std::vector<Tensor>& out, std::string& why);
  bool run_as_graph(Entry& e, std::span<const Tensor> args, const std::function<void()>& replay, trace::ExecResult& r);
};

CompiledFunction::CompiledFunction(Body body, CompileOptions options, Site site)
    : impl_(std::make_unique<Impl>()) {
  impl_->body = std::move(body);
  impl_->options = std::move(options);
  impl_->site = site;
  if (impl_->options.cache_limit < 1) impl_->options.cache_limit = 1;
}

CompiledFunction::~CompiledFunction() = default;

CompiledFunction::Stats CompiledFunction::stats() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  return impl_->stats;
}

namespace {
// What the executor (runtime/exec) asks of the frontend for a traced program: ops through
// ops::call (recording autograd), the default generator, .grad write-backs.
const trace::ExecutionHooks kFrontendHooks = {
    .call_op = [](const ops::OpDef& op, std::span<const Tensor> inputs, const ops::Attrs& attrs, Site site) {
      return ops::call(op, inputs, attrs, site);
    },
    .rng_state =
        [](uint64_t& seed, uint64_t& offset) {
          const GeneratorState key = default_generator().state();
          seed = key.seed;
          offset = key.offset;
        },
    .advance_rng = [](uint64_t counters) { default_generator().advance(counters); },
    .grad_of = [](const Tensor& leaf) { return leaf.grad(); },
    .set_grad =
        [](const Tensor& leaf, const Tensor& grad) {
          NoGradGuard no_grad;
          trace::PauseScope pause;
          Tensor target = leaf;
          target.set_grad(grad);
        },
};
}  // namespace

// Runs planned program `e` as a CUDA graph when it is on CUDA and graphs are on; false when the
// call is to run node by node instead. The first planned call always does: it loads every
// kernel and warms the allocator, which a capture must not do.
bool CompiledFunction::Impl::run_as_graph(Entry& e, std::span<const Tensor> args, const std::function<void()>& replay,
                                          trace::ExecResult& r) {
  if (e.graph.device.type != DeviceType::kCUDA || !options.cuda_graphs || !e.graph_refused.empty()) return false;
  if (e.planned_calls++ == 0) return false;
  if (!e.captured) {
    e.graph_refused = trace::CapturedProgram::why_not(e.graph);
    if (!e.graph_refused.empty()) {
      rt::logger("tl.compile")->info("{} runs without a CUDA graph: {}", name(), e.graph_refused);
      return false;
    }
    e.captured = std::make_unique<trace::CapturedProgram>(e.graph, *e.planned);
  }
  try {
    r = e.captured->run(args, replay, &kFrontendHooks);
  } catch (const Error& err) {
    if (!e.captured->capture_failed()) throw;  // the replay, or the call's checks, failed
    // The capture failed before anything ran: this program runs node by node from now on.
    e.graph_refused = err.what();
    e.captured.reset();
    rt::logger("tl.compile")->info("{} runs without a CUDA graph: its capture failed: {}", name(), e.graph_refused);
    return false;
  }
  if (r.ok) ++stats.graph_calls;
  return true;
}

bool CompiledFunction::Impl::try_entry(Entry& e, std::span<const Tensor> args, std::vector<Tensor>& out,
                                        std::string& why) {
  if (e.eager_only) {
    out = run_eager(args);
    return true;
  }
  // The executor checks the inputs, then replays the host-side work, then runs the nodes.
  auto replay = [&e] {
    for (auto& action : e.replays) action();
  };
  trace::ExecResult r;
  if (!e.needs_autograd && !is_anomaly_enabled()) {
    // Nothing records autograd: kernels write into the program's arena.
    NoGradGuard no_grad;
    if (!e.planned) e.planned = std::make_unique<trace::PlannedProgram>(e.graph);
    if (!run_as_graph(e, args, replay, r)) r = trace::execute(e.graph, args, e.planned.get(), replay, &kFrontendHooks);
  } else {
    // Outputs must stay differentiable (or be checked for NaN): every op through ops::call.
    r = trace::execute(e.graph, args, nullptr, replay, &kFrontendHooks);
  }
  if (!r.ok) {
    why = r.failed_guard;
    return false;
  }
  for (Tensor& leaf : e.cleared_grads) leaf.set_grad(Tensor());
  ++stats.compiled_calls;
  out = std::move(r.outputs);
  return true;
}

std::vector<Tensor> CompiledFunction::call(std::span<const Tensor> args) {
  Impl& s = *impl_;
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  ++s.stats.calls;
  // Nested in another trace, the ops are recorded into the outer program instead.
  if (compile_disabled() || trace::is_tracing() || s.stats.calls <= s.options.warmup_calls) return s.run_eager(args);
  Signature sig = signature_of(args);
  std::string why;
  // Most recently used first.
  std::vector<Entry*> order;
  for (auto& e : s.entries) order.push_back(e.get());
  std::sort(order.begin(), order.end(), [](Entry* a, Entry* b) { return a->last_use > b->last_use; });
  bool dropped = false;
  for (Entry* e : order) {
    if (std::string stale = s.stale_capture(*e); !stale.empty()) {
      // It can never apply again: drop it (freeing its captures) instead of keeping it cached.
      ++s.stats.guard_failures;
      if (why.empty()) why = stale;
      std::erase_if(s.entries, [e](const auto& owned) { return owned.get() == e; });
      dropped = true;
      continue;
    }
    std::string reason = signature_mismatch(e->signature, sig);
    if (reason.empty()) reason = e->host_mismatch();
    std::vector<Tensor> out;
    if (reason.empty() && s.try_entry(*e, args, out, reason)) {
      ++e->hits;
      e->last_use = ++s.clock;
      return out;
    }
    if (!reason.empty()) ++s.stats.guard_failures;
    if (why.empty()) why = reason;
  }
  if (dropped) s.count_internal_refs();
  return s.trace_and_compile(args, sig, why);
}

std::vector<Tensor> CompiledFunction::Impl::trace_and_compile(std::span<const Tensor> args, const Signature& sig,
                                                              const std::string& why) {
  auto log = rt::logger("tl.compile");
  if (!entries.empty()) {
    std::string reason = why.empty() ? "no cached program applies" : why;
    if (reason != last_retrace_reason) log->info("re-tracing {}: {}", name(), reason);
    last_retrace_reason = reason;
  }
  ++stats.traces;
  trace::Tracer tracer(trace::Tracer::Mode::kRecord, name());
  for (size_t i = 0; i < args.size(); ++i) tracer.bind_argument(args[i], static_cast<int>(i));
  std::vector<Tensor> out;
  {
    trace::TraceScope scope(tracer);
    out = body(args);
    for (const Tensor& t : out) tracer.graph().outputs.push_back(tracer.value_of(t, site));
  }
  ++stats.eager_calls;
  if (!tracer.untraceable().empty()) {
    throw CompileError("tl::compile(" + name() + "): cannot compile " + tracer.untraceable() +
                       ". (The call ran eagerly; TL_COMPILE=0 runs everything eagerly.)");
  }
  auto entry = std::make_unique<Entry>();
  entry->signature = sig;
  trace::Graph& graph = tracer.graph();
  graph.rng_advance = static_cast<int64_t>(default_generator().state().offset - tracer.rng_base());
  entry->host_guards = std::move(tracer.host_guards());
  entry->replays = std::move(tracer.replays());
  entry->cleared_grads = tracer.cleared_grads();
  entry->has_backward = tracer.has_backward();
  entry->traced_nodes = graph.nodes.size();

  if (log->should_log(spdlog::level::debug)) log->debug("traced {}:\n{}", name(), graph.str());
  // The program runs where its tensors are: one device for all of them.
  Device device = kCPU;
  bool device_set = false;
  auto note_device = [&](const Tensor& t, const std::string& what) {
    if (!t.defined()) return;
    if (device_set && t.device() != device)
      throw DeviceError("tl::compile(" + name() + "): " + what + " is on " + t.device().str() + ", other tensors on " +
                        device.str() + "; a compiled program runs on one device");
    device = t.device();
    device_set = true;
  };
  for (size_t i = 0; i < args.size(); ++i) note_device(args[i], "argument " + std::to_string(i));
  for (const trace::Input& in : graph.inputs)
    if (in.kind == trace::InputKind::kCapture) note_device(in.source, "captured tensor " + in.name);
  graph.device = device;
  // Outputs of a forward-only function called under grad mode must reach eager autograd.
  bool any_grad_input = false;
  for (const auto& in : graph.inputs) any_grad_input = any_grad_input || (in.source.defined() && in.source.requires_grad());
  entry->needs_autograd = !entry->has_backward && sig.grad_mode && any_grad_input;
  auto start = std::chrono::steady_clock::now();
  std::string load_error;
  compiler::RunPipelineFn run = options.pipeline == "none" ? nullptr : compiler::load(load_error);
  if (options.pipeline == "none") {
    // The traced graph as recorded: assign nodes act as writebacks; a gradient needs autodiff.
    if (entry->has_backward) {
      entry->eager_only = true;
      entry->eager_reason = "pipeline \"none\" cannot expand loss.backward()";
    } else {
      entry->graph = graph;
    }
  } else if (!run) {
    entry->eager_only = true;
    entry->eager_reason = "the compiler library is unavailable: " + load_error;
  } else {
    compiler::PipelineOptions popts;
    popts.pipeline = options.pipeline;
    popts.needs_autograd = entry->needs_autograd;
    popts.device = device.type;
    if (const char* dump = rt::env_value(rt::EnvSwitch::kDumpIr)) popts.dump_dir = dump;
    compiler::PipelineResult result;
    run(graph, popts, result);
    if (!result.ok) {
      entry->eager_only = true;
      entry->eager_reason = "the IR pipeline failed: " + result.error;
    } else {
      entry->graph = std::move(result.graph);
      entry->ir_before = std::move(result.ir_before);
      entry->ir_after = std::move(result.ir_after);
    }
  }
  entry->graph.device = device;
  // Constants (C++ scalars, folded values) are host tensors: moved to the device once, here.
  for (trace::Node& node : entry->graph.nodes)
    if (node.op == trace::kConstant && node.constant.defined() && node.constant.device() != device)
      node.constant = node.constant.to(device);
  entry->compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (entry->eager_only) log->warn("tl::compile({}): running eagerly: {}", name(), entry->eager_reason);

  if (static_cast<int>(entries.size()) >= options.cache_limit) {
    if (!warned_thrashing) {
      log->warn("tl::compile({}): re-traced {} times (last reason: {}); the function is re-traced on almost "
                "every call. Make the varying value a tensor argument or move it out of tl::compile; "
                "tl::explain shows the guards",
                name(), stats.traces, why.empty() ? "none" : why);
      warned_thrashing = true;
    }
    auto lru = std::min_element(entries.begin(), entries.end(),
                                [](const auto& a, const auto& b) { return a->last_use < b->last_use; });
    entries.erase(lru);
  }
  entry->last_use = ++clock;
  entries.push_back(std::move(entry));
  count_internal_refs();
  return out;
}

std::string CompiledFunction::explain(std::span<const Tensor> args) const {
  Impl& s = *impl_;
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  std::ostringstream o;
  o << "tl::compile(" << s.name() << "): " << s.stats.calls << " calls (" << s.stats.compiled_calls << " compiled, "
    << s.stats.eager_calls << " eager), " << s.stats.traces << " traces, " << s.entries.size() << " cached program"
    << (s.entries.size() == 1 ? "" : "s") << "\n";
  if (compile_disabled()) o << "TL_COMPILE=0: every call runs eagerly\n";
  if (s.entries.empty()) {
    o << "nothing traced yet: the first " << s.options.warmup_calls
      << " call(s) run eagerly, the next one traces\n";
  }
  Signature sig = signature_of(args);
  int k = 0;
  for (const auto& e : s.entries) {
    o << "\nprogram " << k++ << ": traced " << e->traced_nodes << " ops, runs " << e->graph.nodes.size()
      << " nodes; " << e->hits << " hits; compiled in " << e->compile_seconds << " s\n";
    if (e->eager_only) o << "  runs eagerly: " << e->eager_reason << "\n";
    o << "  guards:\n";
    for (size_t i = 0; i < e->signature.args.size(); ++i) o << "    argument " << i << ": " << e->signature.args[i].str() << "\n";
    o << "    grad mode " << (e->signature.grad_mode ? "on" : "off") << "\n";
    for (const auto& g : e->host_guards) o << "    " << g.what << " == " << g.expected << "\n";
    for (const auto& n : e->graph.nodes)
      if (n.op == trace::kGuard) o << "    value read at " << n.site.str() << " == " << n.attrs.scalar << "\n";
    int captures = 0, writebacks = static_cast<int>(e->graph.writebacks.size());
    for (const auto& in : e->graph.inputs) captures += in.kind != trace::InputKind::kArgument;
    if (e->planned) o << "  memory: " << e->planned->plan().str() << "\n";
    if (e->graph.device.type == DeviceType::kCUDA) {
      o << "  CUDA graph: "
        << (e->captured ? "captured " + std::to_string(e->captured->captures()) + " time(s), one launch per call"
            : !e->graph_refused.empty() ? "not used: " + e->graph_refused
            : !s.options.cuda_graphs    ? std::string("off (CompileOptions::cuda_graphs)")
                                        : std::string("captured at the second compiled call"))
        << "\n";
    }
    o << "  inputs: " << e->signature.args.size() << " arguments, " << captures << " captured tensors; "
      << writebacks << " written back after each call\n";
    for (const auto& in : e->graph.inputs) {
      if (in.kind != trace::InputKind::kCapture) continue;
      o << "    captured " << in.name << ": " << in.source.shape().str() << " " << dtype_name(in.source.dtype())
        << (in.site.line ? " read at " + in.site.str() : std::string()) << " (the same tensor on every call)\n";
    }
    std::string reason = s.stale_capture(*e);
    if (reason.empty()) reason = signature_mismatch(e->signature, sig);
    if (reason.empty()) reason = e->host_mismatch();
    if (reason.empty() && !e->eager_only) reason = trace::check_inputs(e->graph, args, &kFrontendHooks);
    o << "  for these arguments: " << (reason.empty() ? "applies" : "would re-trace: " + reason) << "\n";
  }
  if (!s.entries.empty() && !s.entries.back()->ir_after.empty()) {
    o << "\nIR of the last traced program after the pipeline:\n" << s.entries.back()->ir_after;
  }
  return o.str();
}

}  // namespace tl::detail
