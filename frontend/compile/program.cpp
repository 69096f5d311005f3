// tl::export_program and tl::load_program: a traced, optimized inference program to and from
// a compiled artifact (runtime/artifact). The loader rebuilds the trace::Graph and checks every
// node against the op table (name, arity, attributes by name and type, the shape rule on the
// declared operand types) before the program can run; it then runs on the planned executor.
#include "tl/program.h"

#include <cstring>
#include <mutex>

#include "frontend/compile/compiler_loader.h"
#include "frontend/compile/executor.h"
#include "frontend/compile/memory_plan.h"
#include "frontend/ops/pointwise/pointwise.h"
#include "frontend/trace/tracer.h"
#include "runtime/artifact/artifact.h"
#include "runtime/base/cpu_features.h"
#include "runtime/logging.h"
#include "tl/autograd.h"
#include "tl/compile.h"

#ifndef TL_VERSION_STRING
#define TL_VERSION_STRING "unknown"
#endif

namespace tl {
namespace {

using rt::ArtifactError;

// The CPU features the kernels of this build were compiled for: an artifact runs them.
std::vector<std::string> build_cpu_features() {
  std::vector<std::string> f;
#ifdef __SSE4_2__
  f.push_back("sse4.2");
#endif
#ifdef __AVX__
  f.push_back("avx");
#endif
#ifdef __AVX2__
  f.push_back("avx2");
#endif
#ifdef __FMA__
  f.push_back("fma");
#endif
#ifdef __F16C__
  f.push_back("f16c");
#endif
#ifdef __AVX512F__
  f.push_back("avx512f");
#endif
#ifdef __AVX512BW__
  f.push_back("avx512bw");
#endif
#ifdef __AVX512VL__
  f.push_back("avx512vl");
#endif
#ifdef __AVX512DQ__
  f.push_back("avx512dq");
#endif
  return f;
}

[[noreturn]] void refuse_export(const ProgramPath& path, const std::string& why) {
  throw CompileError("tl::export_program('" + path.path + "'): " + why + " (at " + path.site.str() +
                     "); nothing was written");
}

std::string name_or(const std::vector<std::string>& names, size_t i, const char* prefix) {
  return i < names.size() && !names[i].empty() ? names[i] : prefix + std::to_string(i);
}

void fill_type(artifact::ValueType* out, const Shape& shape, DType dtype) {
  for (int64_t d : shape) out->add_shape(d);
  out->set_dtype(rt::to_artifact(dtype));
}

// Appends `t`'s bytes (contiguous) to `weights` at a 64-byte boundary; returns the constant.
void add_constant(artifact::Program& p, std::string& weights, int value, const Tensor& t) {
  Tensor c = t.contiguous();
  weights.resize((weights.size() + 63) / 64 * 64, '\0');
  artifact::Constant* k = p.add_constants();
  k->set_value(value);
  k->set_offset(weights.size());
  k->set_size(c.nbytes());
  weights.append(static_cast<const char*>(c.data_ptr()), c.nbytes());
}

void add_attrs(artifact::Node* node, const ops::OpDef& def, const ops::Attrs& attrs) {
  for (const ops::AttrSpec& spec : def.attrs) {
    if (!ops::is_written(attrs, spec)) continue;
    artifact::Attribute* a = node->add_attrs();
    a->set_name(spec.name);
    ops::AttrValue v = ops::get_attr(attrs, spec.field);
    switch (ops::attr_type(spec.field)) {
      case ops::AttrType::kInts:
        for (int64_t d : std::get<Shape>(v)) a->mutable_ints()->add_values(d);
        break;
      case ops::AttrType::kInt: a->set_i(std::get<int64_t>(v)); break;
      case ops::AttrType::kFloat: a->set_f(std::get<double>(v)); break;
      case ops::AttrType::kBool: a->set_unit(true); break;
      case ops::AttrType::kDType: a->set_dtype(rt::to_artifact(std::get<DType>(v))); break;
    }
  }
}

// The traced graph, optimized by the compiler's default pipeline when it is available.
trace::Graph optimize(const trace::Graph& traced, const ProgramPath& path) {
  std::string why;
  compiler::RunPipelineFn run = compiler::load(why);
  if (!run) {
    rt::logger("tl.compile")->info("tl::export_program: exporting the unoptimized program ({})", why);
    return traced;
  }
  compiler::PipelineOptions options;
  options.codegen = false;  // artifacts carry no machine code yet: fused groups run as their ops
  compiler::PipelineResult result;
  run(traced, options, result);
  if (!result.ok) refuse_export(path, "the IR pipeline failed: " + result.error);
  return std::move(result.graph);
}

}  // namespace

namespace detail {

void export_traced(const std::function<std::vector<Tensor>()>& body, std::span<const Tensor> args,
                   const ProgramPath& path, const ExportOptions& options) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].defined()) refuse_export(path, "example argument " + std::to_string(i) + " is an undefined tensor");
    if (args[i].device().type != DeviceType::kCPU)
      refuse_export(path, "example argument " + std::to_string(i) + " is on " + args[i].device().str() +
                              "; artifacts are exported from CPU tensors");
  }
  NoGradGuard no_grad;
  trace::Tracer tracer(trace::Tracer::Mode::kRecord, "export");
  for (size_t i = 0; i < args.size(); ++i) tracer.bind_argument(args[i], static_cast<int>(i));
  std::vector<Tensor> outputs;
  {
    trace::TraceScope scope(tracer);
    outputs = body();
    for (const Tensor& t : outputs) {
      if (!t.defined()) refuse_export(path, "the function returned an undefined tensor");
      tracer.graph().outputs.push_back(tracer.value_of(t, path.site));
    }
  }
  if (!tracer.untraceable().empty()) refuse_export(path, "cannot trace " + tracer.untraceable());
  if (!tracer.host_guards().empty()) {
    const trace::HostGuard& g = tracer.host_guards().front();
    refuse_export(path, "the function reads a host value (" + g.what + " at " + g.site.str() +
                            ") that an artifact cannot re-check; make it a constant of the export");
  }
  if (tracer.has_backward()) refuse_export(path, "the function calls backward(); export an inference function");
  const trace::Graph& traced = tracer.graph();
  for (const trace::Node& n : traced.nodes) {
    if (n.op == trace::kRandom || n.op == trace::kGuard || n.op == trace::kAssign || n.op == trace::kGrad) {
      const char* what = n.op == trace::kRandom   ? "draws random numbers"
                         : n.op == trace::kGuard  ? "reads a tensor value on the host"
                         : n.op == trace::kAssign ? "updates a tensor in place"
                                                  : "asks for a gradient";
      refuse_export(path, std::string("the function ") + what + " at " + n.site.str() +
                              "; an exported program must be a pure inference function");
    }
  }
  trace::Graph g = optimize(traced, path);

  // The graph as the artifact stores it: arguments stay inputs; captured tensors and
  // constant nodes become constants in the weights section.
  artifact::Program program;
  artifact::Manifest manifest;
  std::string weights;
  for (const trace::Value& v : g.values) fill_type(program.add_values(), v.shape, v.dtype);
  std::vector<int> argument_value(args.size(), -1);
  for (const trace::Input& in : g.inputs) {
    switch (in.kind) {
      case trace::InputKind::kArgument: argument_value.at(in.arg_index) = in.value; break;
      case trace::InputKind::kCapture: add_constant(program, weights, in.value, in.source); break;
      default: refuse_export(path, "the program reads " + in.name + ", which an artifact cannot bind");
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (argument_value[i] < 0) {
      // An argument the optimized program does not read still has a value to bind.
      argument_value[i] = static_cast<int>(program.values_size());
      fill_type(program.add_values(), args[i].shape(), args[i].dtype());
    }
    program.add_inputs(argument_value[i]);
    artifact::TensorSpec* spec = manifest.add_inputs();
    spec->set_name(name_or(options.input_names, i, "input_"));
    for (int64_t d : args[i].shape()) spec->add_shape(d);
    spec->set_dtype(rt::to_artifact(args[i].dtype()));
  }
  trace::Graph planned;  // what the loader rebuilds, for the memory plan
  planned.values = g.values;
  for (const trace::Node& n : g.nodes) {
    if (n.op == trace::kConstant) {
      add_constant(program, weights, n.outputs.at(0), n.constant);
      planned.nodes.push_back(n);
      continue;
    }
    if (n.def == nullptr) refuse_export(path, "the optimized program holds a '" + n.op + "' node an artifact cannot store");
    artifact::Node* node = program.add_nodes();
    node->set_op(n.op);
    for (int v : n.inputs) node->add_inputs(v);
    for (int v : n.outputs) node->add_outputs(v);
    add_attrs(node, *n.def, n.attrs);
    if (n.site.file) node->set_file(n.site.file);
    node->set_line(static_cast<int32_t>(n.site.line));
    planned.nodes.push_back(n);
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    program.add_outputs(g.outputs[i]);
    artifact::TensorSpec* spec = manifest.add_outputs();
    spec->set_name(name_or(options.output_names, i, "output_"));
    const trace::Value& v = g.values.at(g.outputs[i]);
    for (int64_t d : v.shape) spec->add_shape(d);
    spec->set_dtype(rt::to_artifact(v.dtype));
  }
  planned.outputs = g.outputs;
  trace::MemoryPlan plan = trace::plan_memory(planned);
  program.mutable_plan()->set_arena_bytes(static_cast<uint64_t>(plan.arena_bytes));
  for (int64_t off : plan.offset) program.mutable_plan()->add_offsets(off);
  for (size_t v = plan.offset.size(); v < static_cast<size_t>(program.values_size()); ++v)
    program.mutable_plan()->add_offsets(trace::MemoryPlan::kNotPlanned);

  manifest.set_format_version(rt::kArtifactFormatVersion);
  manifest.set_tl_version(TL_VERSION_STRING);
  manifest.set_abi_stamp(rt::kArtifactAbiStamp);
  for (const std::string& f : build_cpu_features()) manifest.add_cpu_features(f);
  manifest.set_producer("tl::export_program at " + path.site.str());
  rt::write_artifact(path.path, manifest, {{"program", program.SerializeAsString()}, {"weights", weights}});
}

}  // namespace detail

// ---------------------------------------------------------------- loading

struct Program::Impl {
  std::string path;
  trace::Graph graph;  // its constants hold the weights, shared by every context
  std::vector<TensorSignature> inputs, outputs;
  std::string description;
  // Execution contexts (an arena each) not in use by a call; a call takes one or makes one,
  // so concurrent calls each get their own and share the weights.
  std::mutex mutex;
  std::vector<std::unique_ptr<trace::ExecutionContext>> idle;

  std::unique_ptr<trace::ExecutionContext> acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!idle.empty()) {
        std::unique_ptr<trace::ExecutionContext> c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    return std::make_unique<trace::ExecutionContext>(graph);
  }
  void release(std::unique_ptr<trace::ExecutionContext> c) {
    std::lock_guard<std::mutex> lock(mutex);
    if (idle.capacity() == idle.size()) idle.reserve(idle.size() + 8);
    idle.push_back(std::move(c));
  }
  void check_inputs(std::span<const Tensor> inputs, Site site) const;
};

namespace {

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw ArtifactError("not a valid tl artifact: '" + path + "': " + why + "; nothing was run");
}

std::vector<TensorSignature> signature_of(const google::protobuf::RepeatedPtrField<artifact::TensorSpec>& specs,
                                          const std::string& path) {
  std::vector<TensorSignature> out;
  for (const artifact::TensorSpec& s : specs) {
    TensorSignature t;
    t.name = s.name();
    for (int64_t d : s.shape()) t.shape.push_back(d);
    t.dtype = rt::dtype_from_artifact(s.dtype(), "'" + path + "': the signature");
    out.push_back(std::move(t));
  }
  return out;
}

// The attributes of `node` for its op `def`, each checked by name and type.
ops::Attrs attrs_of(const artifact::Node& node, const ops::OpDef& def, const std::string& what, const std::string& path) {
  ops::Attrs attrs;
  std::vector<const ops::AttrSpec*> seen;
  for (const artifact::Attribute& a : node.attrs()) {
    auto spec = std::find_if(def.attrs.begin(), def.attrs.end(), [&](const ops::AttrSpec& s) { return s.name == a.name(); });
    if (spec == def.attrs.end()) refuse(path, what + " has an attribute '" + a.name().substr(0, 64) + "' the op does not declare");
    if (std::find(seen.begin(), seen.end(), &*spec) != seen.end()) refuse(path, what + " repeats attribute '" + a.name() + "'");
    seen.push_back(&*spec);
    const ops::AttrType type = ops::attr_type(spec->field);
    auto expect = [&](artifact::Attribute::ValueCase c) {
      if (a.value_case() != c)
        refuse(path, what + ": attribute '" + a.name() + "' must be " + ops::attr_type_name(type));
    };
    switch (type) {
      case ops::AttrType::kInts: {
        expect(artifact::Attribute::kInts);
        if (a.ints().values_size() > kMaxRank) refuse(path, what + ": attribute '" + a.name() + "' has too many values");
        Shape s;
        for (int64_t d : a.ints().values()) s.push_back(d);
        ops::set_attr(attrs, spec->field, s);
        break;
      }
      case ops::AttrType::kInt: expect(artifact::Attribute::kI); ops::set_attr(attrs, spec->field, a.i()); break;
      case ops::AttrType::kFloat: expect(artifact::Attribute::kF); ops::set_attr(attrs, spec->field, a.f()); break;
      case ops::AttrType::kBool: expect(artifact::Attribute::kUnit); ops::set_attr(attrs, spec->field, a.unit()); break;
      case ops::AttrType::kDType:
        expect(artifact::Attribute::kDtype);
        ops::set_attr(attrs, spec->field, rt::dtype_from_artifact(a.dtype(), "'" + path + "': " + what));
        break;
    }
    if (spec->present != ops::AttrField::kNone) ops::set_attr(attrs, spec->present, true);
  }
  for (const ops::AttrSpec& spec : def.attrs)
    if (spec.required && std::find(seen.begin(), seen.end(), &spec) == seen.end())
      refuse(path, what + " lacks its required attribute '" + spec.name + "'");
  return attrs;
}

// Checks `node` against its op-table entry by running the shape rule on its operand types,
// as the dialect's verifier does: a hostile shape or attribute fails here, not in a kernel.
void check_node(const trace::Graph& g, const trace::Node& node, const std::string& what, const std::string& path) {
  const ops::OpDef& def = *node.def;
  const int n = static_cast<int>(node.inputs.size());
  if (def.arity != ops::kVariadic &&
      (n > def.arity || n < def.arity - static_cast<int>(def.optional_inputs.size())))
    refuse(path, what + " has " + std::to_string(n) + " operands; the op takes " + std::to_string(def.arity));
  if (node.outputs.size() != 1) refuse(path, what + " must have one output");
  std::vector<Tensor> inputs;
  ops::OutputMeta out;
  try {
    for (int v : node.inputs) inputs.push_back(trace::meta_tensor(g.values[v].shape, g.values[v].dtype));
    if (def.infer) {
      out = def.infer(inputs, node.attrs, node.site);
    } else if (def.view && inputs.size() == 1) {
      Tensor view = def.view(inputs[0], node.attrs, node.site);
      out = {view.shape(), view.dtype()};
    } else {
      refuse(path, what + " is an op without a shape rule");
    }
  } catch (const ArtifactError&) {
    throw;
  } catch (const Error& e) {
    refuse(path, what + " is malformed: " + e.what());
  }
  const trace::Value& declared = g.values[node.outputs[0]];
  if (out.shape != declared.shape || out.dtype != declared.dtype)
    refuse(path, what + " declares its result as " + declared.shape.str() + " " + dtype_name(declared.dtype) +
                     " but the op computes " + out.shape.str() + " " + dtype_name(out.dtype));
}

}  // namespace

Program::Program(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Program::Program(Program&&) noexcept = default;
Program& Program::operator=(Program&&) noexcept = default;
Program::~Program() = default;

const std::vector<TensorSignature>& Program::inputs() const { return impl_->inputs; }
const std::vector<TensorSignature>& Program::outputs() const { return impl_->outputs; }
std::string Program::describe() const { return impl_->description; }

Program load_program(const ProgramPath& where) {
  const std::string& path = where.path;
  rt::Artifact a = rt::Artifact::open(path);
  const artifact::Program& p = a.program();
  auto impl = std::make_unique<Program::Impl>();
  impl->path = path;
  impl->inputs = signature_of(a.manifest().inputs(), path);
  impl->outputs = signature_of(a.manifest().outputs(), path);
  impl->description = rt::describe(a);
  trace::Graph& g = impl->graph;
  g.name = "artifact";
  for (const artifact::ValueType& v : p.values()) {
    trace::Value value;
    for (int64_t d : v.shape()) value.shape.push_back(d);
    value.dtype = rt::dtype_from_artifact(v.dtype(), "'" + path + "': a value");
    g.values.push_back(value);
  }
  for (int i = 0; i < p.inputs_size(); ++i) {
    trace::Input in;
    in.value = p.inputs(i);
    in.kind = trace::InputKind::kArgument;
    in.arg_index = i;
    in.name = impl->inputs[i].name;
    g.inputs.push_back(in);
  }
  std::span<const uint8_t> weights = a.section("weights");
  for (const artifact::Constant& c : p.constants()) {
    trace::Node node;
    node.op = trace::kConstant;
    node.outputs = {c.value()};
    const trace::Value& v = g.values[c.value()];
    node.constant = ops::empty_tensor(v.shape, v.dtype, Device{});
    if (c.size() > 0) std::memcpy(node.constant.data_ptr(), weights.data() + c.offset(), c.size());
    g.nodes.push_back(std::move(node));
  }
  for (int k = 0; k < p.nodes_size(); ++k) {
    const artifact::Node& pn = p.nodes(k);
    const std::string what = "node " + std::to_string(k) + " (" + pn.op().substr(0, 64) + ")";
    trace::Node node;
    node.op = pn.op();
    node.def = ops::find_op(pn.op());
    if (node.def == nullptr || trace::find_structural(pn.op()) != nullptr)
      refuse(path, what + " names an op this build of tl does not have");
    node.inputs.assign(pn.inputs().begin(), pn.inputs().end());
    node.outputs.assign(pn.outputs().begin(), pn.outputs().end());
    node.attrs = attrs_of(pn, *node.def, what, path);
    if (!pn.file().empty()) node.site = Site{trace::intern_file(pn.file().substr(0, 256)), static_cast<uint32_t>(pn.line())};
    check_node(g, node, what, path);
    g.nodes.push_back(std::move(node));
  }
  g.outputs.assign(p.outputs().begin(), p.outputs().end());
  // The executor plans the arena again from the graph. A program whose values need more than
  // the plan it declares (which the reader held to ArtifactLimits) is refused here, before
  // the arena is allocated.
  const int64_t arena_bytes = trace::plan_memory(g).arena_bytes;
  if (static_cast<uint64_t>(arena_bytes) > p.plan().arena_bytes())
    refuse(path, "its values need an arena of " + std::to_string(arena_bytes) + " bytes, more than the " +
                     std::to_string(p.plan().arena_bytes()) + " its memory plan declares");
  impl->release(std::make_unique<trace::ExecutionContext>(g));  // the arena, allocated at load
  return Program(std::move(impl));
}

void Program::Impl::check_inputs(std::span<const Tensor> given, Site site) const {
  const Impl& s = *this;
  std::span<const Tensor> inputs = given;
  if (inputs.size() != s.inputs.size())
    throw ValueError("tl::Program('" + s.path + "'): takes " + std::to_string(s.inputs.size()) + " inputs, got " +
                     std::to_string(inputs.size()) + " at " + site.str());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSignature& want = s.inputs[i];
    // Built only on failure: a call that fits allocates nothing.
    auto which = [&] { return "input " + std::to_string(i) + " ('" + want.name + "')"; };
    if (!inputs[i].defined())
      throw ValueError("tl::Program('" + s.path + "'): " + which() + " is an undefined tensor at " + site.str());
    if (inputs[i].device().type != DeviceType::kCPU)
      throw DeviceError("tl::Program('" + s.path + "'): " + which() + " is on " + inputs[i].device().str() +
                        "; this program runs on CPU, at " + site.str());
    if (inputs[i].shape() != want.shape || inputs[i].dtype() != want.dtype)
      throw ShapeError("tl::Program('" + s.path + "'): " + which() + " must be " + want.shape.str() + " " +
                       dtype_name(want.dtype) + ", got " + inputs[i].shape().str() + " " + dtype_name(inputs[i].dtype()) +
                       " at " + site.str());
  }
}

namespace {
// Returns an execution context to its program when a call ends, however it ends.
struct ContextLease {
  Program::Impl& program;
  std::unique_ptr<trace::ExecutionContext> context;
  ~ContextLease() { program.release(std::move(context)); }
};
}  // namespace

std::vector<Tensor> Program::operator()(std::span<const Tensor> inputs, Site site) const {
  impl_->check_inputs(inputs, site);
  ContextLease lease{*impl_, impl_->acquire()};
  std::span<const Tensor> out = lease.context->run(inputs);
  std::vector<Tensor> result;
  for (const Tensor& t : out) result.push_back(t.clone());  // the context's memory is reused
  return result;
}

void Program::run(std::span<const Tensor> inputs, std::span<Tensor> outputs, Site site) const {
  const Impl& s = *impl_;
  impl_->check_inputs(inputs, site);
  if (outputs.size() != s.outputs.size())
    throw ValueError("tl::Program('" + s.path + "')::run: takes " + std::to_string(s.outputs.size()) +
                     " output tensors, got " + std::to_string(outputs.size()) + " at " + site.str());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorSignature& want = s.outputs[i];
    if (!outputs[i].defined() || outputs[i].shape() != want.shape || outputs[i].dtype() != want.dtype ||
        outputs[i].device().type != DeviceType::kCPU)
      throw ShapeError("tl::Program('" + s.path + "')::run: output " + std::to_string(i) + " ('" + want.name +
                       "') must be a CPU tensor of " + want.shape.str() + " " + dtype_name(want.dtype) + " at " + site.str());
  }
  ContextLease lease{*impl_, impl_->acquire()};
  std::span<const Tensor> out = lease.context->run(inputs);
  for (size_t i = 0; i < outputs.size(); ++i) ops::strided_copy(out[i], outputs[i]);
}

}  // namespace tl
