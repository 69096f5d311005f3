// tl::export_program and tl::load_program: a traced, optimized inference program to and from
// a compiled artifact (runtime/artifact). The loader rebuilds the trace::Graph and checks every
// node against the op table (name, arity, attributes by name and type, the shape rule on the
// declared operand types) before the program can run; it then runs on the planned executor.
#include "tl/program.h"

#include <cstring>
#include <unordered_set>
#include <map>
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

namespace {

// Traces `body` on `args` and returns the optimized program, refusing what an artifact cannot hold.
trace::Graph trace_for_export(const ExportBody& body, std::span<const Tensor> args, const ProgramPath& path) {
  NoGradGuard no_grad;
  trace::Tracer tracer(trace::Tracer::Mode::kRecord, "export");
  for (size_t i = 0; i < args.size(); ++i) tracer.bind_argument(args[i], static_cast<int>(i));
  std::vector<Tensor> outputs;
  {
    trace::TraceScope scope(tracer);
    outputs = body(args);
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
  return optimize(traced, path);
}

// `args` with dim 0 resized to `batch` (rows repeated cyclically: the values do not matter,
// an exported function cannot branch on them).
std::vector<Tensor> with_batch(std::span<const Tensor> args, int64_t batch) {
  std::vector<Tensor> out;
  for (const Tensor& a : args) {
    std::vector<int64_t> rows(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; ++i) rows[static_cast<size_t>(i)] = i % a.shape()[0];
    out.push_back(index_select(a, 0, from_vector<int64_t>(rows, {batch})).contiguous());
  }
  return out;
}

// Where a program traced at two batch sizes differs: per value its batch axis (or -1), per node
// and attribute the entries that are the batch size.
struct BatchMarks {
  std::vector<int> value_axis;
  std::vector<std::map<std::string, std::vector<int>>> attr_entries;  // per node
};

// Compares `g1` (traced at batch b1) with `g2` (at b2): they must be the same program except
// for dims and attribute entries equal to the batch size. Refuses anything else, naming it.
BatchMarks batch_marks(const trace::Graph& g1, const trace::Graph& g2, int64_t b1, int64_t b2, const ProgramPath& path) {
  auto refuse = [&](const std::string& why) {
    refuse_export(path, "with max_batch, the program must be the same at every batch size, but " + why);
  };
  if (g1.values.size() != g2.values.size() || g1.nodes.size() != g2.nodes.size() ||
      g1.inputs.size() != g2.inputs.size() || g1.outputs != g2.outputs)
    refuse("its structure differs between batch " + std::to_string(b1) + " and " + std::to_string(b2));
  BatchMarks m;
  m.value_axis.assign(g1.values.size(), -1);
  for (size_t v = 0; v < g1.values.size(); ++v) {
    const Shape &s1 = g1.values[v].shape, &s2 = g2.values[v].shape;
    if (s1.size() != s2.size() || g1.values[v].dtype != g2.values[v].dtype)
      refuse("value %" + std::to_string(v) + " changes rank or dtype with the batch size");
    for (int64_t d = 0; d < s1.size(); ++d) {
      if (s1[d] == s2[d]) continue;
      if (s1[d] != b1 || s2[d] != b2 || m.value_axis[v] >= 0)
        refuse("value %" + std::to_string(v) + " has shape " + s1.str() + " at batch " + std::to_string(b1) + " and " +
               s2.str() + " at batch " + std::to_string(b2) + " (only one dim may be the batch size itself)");
      m.value_axis[v] = static_cast<int>(d);
    }
  }
  m.attr_entries.resize(g1.nodes.size());
  for (size_t k = 0; k < g1.nodes.size(); ++k) {
    const trace::Node &n1 = g1.nodes[k], &n2 = g2.nodes[k];
    const std::string where = n1.op + " at " + n1.site.str();
    if (n1.op != n2.op || n1.inputs != n2.inputs || n1.outputs != n2.outputs) refuse(where + " differs");
    if (n1.op == trace::kConstant) {
      if (n1.constant.shape() != n2.constant.shape() ||
          std::memcmp(n1.constant.contiguous().data_ptr(), n2.constant.contiguous().data_ptr(), n1.constant.nbytes()) != 0)
        refuse("a constant made at " + n1.site.str() + " depends on the batch size");
      continue;
    }
    if (n1.def == nullptr) continue;
    for (const ops::AttrSpec& spec : n1.def->attrs) {
      ops::AttrValue v1 = ops::get_attr(n1.attrs, spec.field), v2 = ops::get_attr(n2.attrs, spec.field);
      if (v1 == v2) continue;
      std::vector<int> entries;
      if (std::holds_alternative<Shape>(v1)) {
        const Shape &a1 = std::get<Shape>(v1), &a2 = std::get<Shape>(v2);
        if (a1.size() != a2.size()) refuse(where + ": attribute '" + spec.name + "' changes length with the batch size");
        for (int64_t i = 0; i < a1.size(); ++i) {
          if (a1[i] == a2[i]) continue;
          if (a1[i] != b1 || a2[i] != b2)
            refuse(where + ": attribute '" + spec.name + "' is " + a1.str() + " at batch " + std::to_string(b1) +
                   " and " + a2.str() + " at batch " + std::to_string(b2));
          entries.push_back(static_cast<int>(i));
        }
      } else if (std::holds_alternative<int64_t>(v1) && std::get<int64_t>(v1) == b1 && std::get<int64_t>(v2) == b2) {
        entries.push_back(0);
      } else {
        refuse(where + ": attribute '" + spec.name + "' depends on the batch size");
      }
      m.attr_entries[k][spec.name] = entries;
    }
  }
  return m;
}

}  // namespace

void export_traced(const ExportBody& body, std::span<const Tensor> args, const ProgramPath& path,
                   const ExportOptions& options) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].defined()) refuse_export(path, "example argument " + std::to_string(i) + " is an undefined tensor");
    if (args[i].device().type != DeviceType::kCPU)
      refuse_export(path, "example argument " + std::to_string(i) + " is on " + args[i].device().str() +
                              "; artifacts are exported from CPU tensors");
    if (options.max_batch > 0 && (args[i].dim() == 0 || args[i].shape()[0] == 0))
      refuse_export(path, "with max_batch, example argument " + std::to_string(i) + " (" + args[i].shape().str() +
                              ") needs a batch dim 0 holding at least one row");
  }
  if (options.max_batch < 0) refuse_export(path, "max_batch is negative");
  const int64_t max_batch = options.max_batch;
  std::vector<Tensor> traced_args(args.begin(), args.end());
  BatchMarks marks;
  trace::Graph g;
  if (max_batch > 0) {
    // Traced at the maximum and at another size; what differs is what depends on the batch.
    const int64_t other = max_batch >= 2 ? max_batch - 1 : 2;
    traced_args = with_batch(args, max_batch);
    g = trace_for_export(body, traced_args, path);
    trace::Graph g2 = trace_for_export(body, with_batch(args, other), path);
    marks = batch_marks(g, g2, max_batch, other, path);
  } else {
    g = trace_for_export(body, args, path);
  }
  args = traced_args;


  // The graph as the artifact stores it: arguments stay inputs; captured tensors and
  // constant nodes become constants in the weights section.
  artifact::Program program;
  artifact::Manifest manifest;
  std::string weights;
  for (size_t v = 0; v < g.values.size(); ++v) {
    artifact::ValueType* type = program.add_values();
    fill_type(type, g.values[v].shape, g.values[v].dtype);
    if (!marks.value_axis.empty() && marks.value_axis[v] >= 0) type->set_batch_axis(marks.value_axis[v]);
  }
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
      artifact::ValueType* type = program.add_values();
      fill_type(type, args[i].shape(), args[i].dtype());
      if (max_batch > 0) type->set_batch_axis(0);
    }
    program.add_inputs(argument_value[i]);
    artifact::TensorSpec* spec = manifest.add_inputs();
    spec->set_name(name_or(options.input_names, i, "input_"));
    for (int64_t d : args[i].shape()) spec->add_shape(d);
    spec->set_dtype(rt::to_artifact(args[i].dtype()));
    if (max_batch > 0) spec->set_batch_axis(0);
  }
  trace::Graph planned;  // what the loader rebuilds, for the memory plan
  planned.values = g.values;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const trace::Node& n = g.nodes[k];
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
    if (!marks.attr_entries.empty()) {
      for (artifact::Attribute& a : *node->mutable_attrs()) {
        auto it = marks.attr_entries[k].find(a.name());
        if (it != marks.attr_entries[k].end())
          for (int e : it->second) a.add_batch_entries(e);
      }
    }
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
    if (!marks.value_axis.empty() && marks.value_axis[g.outputs[i]] >= 0) spec->set_batch_axis(marks.value_axis[g.outputs[i]]);
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
  manifest.set_max_batch(max_batch);
  rt::write_artifact(path.path, manifest, {{"program", program.SerializeAsString()}, {"weights", weights}});
}

}  // namespace detail

// ---------------------------------------------------------------- loading

struct Program::Impl {
  std::string path;
  // The source file names the nodes' sites point into, owned by this program (a process that
  // loads many artifacts does not keep every name forever).
  std::unordered_set<std::string> files;  // node-based: c_str() stays valid
  const char* file_name(const std::string& name) { return files.insert(name).first->c_str(); }
  std::vector<TensorSignature> inputs, outputs;
  std::string description;
  int64_t max_batch = 0;  // 0: fixed shapes
  // What depends on the batch size: per value its batch axis (or -1); per node the attribute
  // fields and the entries in them that are the batch size.
  std::vector<int> value_axis;
  std::vector<std::vector<std::pair<ops::AttrField, std::vector<int>>>> attr_batch;

  // The program at one batch size: its graph (whose constants hold the weights, shared by
  // every instance and context) and its execution contexts (an arena each) not in use by a
  // call; a call takes one or makes one, so concurrent calls each get their own.
  struct Instance {
    trace::Graph graph;
    int64_t arena_bytes = 0;
    std::vector<std::unique_ptr<trace::ExecutionContext>> idle;
  };
  std::mutex mutex;
  std::map<int64_t, std::unique_ptr<Instance>> instances;  // by batch size (0 for fixed shapes)

  // The instance for `batch` (made and verified on first use; later calls only look it up).
  Instance& instance(int64_t batch);
  std::unique_ptr<trace::ExecutionContext> acquire(Instance& in) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!in.idle.empty()) {
        std::unique_ptr<trace::ExecutionContext> c = std::move(in.idle.back());
        in.idle.pop_back();
        return c;
      }
    }
    return std::make_unique<trace::ExecutionContext>(in.graph);
  }
  void release(Instance& in, std::unique_ptr<trace::ExecutionContext> c) {
    std::lock_guard<std::mutex> lock(mutex);
    if (in.idle.capacity() == in.idle.size()) in.idle.reserve(in.idle.size() + 8);
    in.idle.push_back(std::move(c));
  }
  // Checks `inputs` against the signature; returns the call's batch size (0 for fixed shapes).
  int64_t check_inputs(std::span<const Tensor> inputs, Site site) const;
  Shape shape_at(const TensorSignature& s, int64_t batch) const {
    Shape shape = s.shape;
    if (s.batch_axis >= 0 && batch > 0) shape[s.batch_axis] = batch;
    return shape;
  }
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
    t.batch_axis = s.has_batch_axis() ? s.batch_axis() : -1;
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
  if (!ops::accepts_operand_count(def, node.inputs.size()))
    refuse(path, what + " has " + std::to_string(node.inputs.size()) + " operands; the op takes " +
                     ops::operand_count_text(def));
  if (node.outputs.size() != 1) refuse(path, what + " must have one output");
  std::vector<Tensor> inputs;
  ops::OutputMeta out;
  try {
    for (int v : node.inputs) inputs.push_back(trace::meta_tensor(g.values[v].shape, g.values[v].dtype));
    out = ops::infer_result(def, inputs, node.attrs, node.site);
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

Program load_program(const ProgramPath& where, const ProgramLoadOptions& options) {
  const std::string& path = where.path;
  rt::Artifact a = rt::Artifact::open(path);
  const artifact::Program& p = a.program();
  auto impl = std::make_unique<Program::Impl>();
  impl->path = path;
  impl->inputs = signature_of(a.manifest().inputs(), path);
  impl->outputs = signature_of(a.manifest().outputs(), path);
  impl->description = rt::describe(a);
  impl->max_batch = a.manifest().max_batch();
  auto base = std::make_unique<Program::Impl::Instance>();
  trace::Graph& g = base->graph;
  g.name = "artifact";
  for (const artifact::ValueType& v : p.values()) {
    trace::Value value;
    for (int64_t d : v.shape()) value.shape.push_back(d);
    value.dtype = rt::dtype_from_artifact(v.dtype(), "'" + path + "': a value");
    g.values.push_back(value);
    impl->value_axis.push_back(v.has_batch_axis() ? v.batch_axis() : -1);
    const int axis = impl->value_axis.back();
    if (axis != -1 && (impl->max_batch <= 0 || axis < 0 || axis >= value.shape.size() ||
                       value.shape[axis] != impl->max_batch))
      refuse(path, "value %" + std::to_string(g.values.size() - 1) + " names batch axis " + std::to_string(axis) +
                       ", which is not a dim of size max_batch (" + std::to_string(impl->max_batch) + ")");
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
    impl->attr_batch.resize(g.nodes.size() + 1);
    for (const artifact::Attribute& at : pn.attrs()) {
      if (at.batch_entries().empty()) continue;
      // attrs_of accepted the name and type; the entries must name values equal to max_batch.
      const ops::AttrSpec& spec = *std::find_if(node.def->attrs.begin(), node.def->attrs.end(),
                                                [&](const ops::AttrSpec& sp) { return sp.name == at.name(); });
      ops::AttrValue value = ops::get_attr(node.attrs, spec.field);
      std::vector<int> entries;
      for (int e : at.batch_entries()) {
        const Shape* shape = std::get_if<Shape>(&value);
        const int64_t* i = std::get_if<int64_t>(&value);
        bool ok = impl->max_batch > 0 && ((shape && e >= 0 && e < shape->size() && (*shape)[e] == impl->max_batch) ||
                                          (i && e == 0 && *i == impl->max_batch));
        if (!ok) refuse(path, what + ": attribute '" + at.name() + "' marks entry " + std::to_string(e) +
                                  " as the batch size, but it is not max_batch");
        entries.push_back(e);
      }
      impl->attr_batch[g.nodes.size()].push_back({spec.field, entries});
    }
    if (!pn.file().empty()) node.site = Site{impl->file_name(pn.file().substr(0, 256)), static_cast<uint32_t>(pn.line())};
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
  impl->attr_batch.resize(g.nodes.size());
  for (size_t i = 0; i < impl->inputs.size(); ++i) {
    // An input's batch axis is its value's (export writes both; the reader checked each).
    const int axis = impl->value_axis[g.inputs[i].value];
    if (axis != impl->inputs[i].batch_axis)
      refuse(path, "input " + std::to_string(i) + "'s batch axis differs between the signature and the program");
  }
  for (size_t i = 0; i < impl->outputs.size(); ++i) {
    const trace::Value& v = g.values[g.outputs[i]];
    if (impl->value_axis[g.outputs[i]] != impl->outputs[i].batch_axis || v.shape != impl->outputs[i].shape ||
        v.dtype != impl->outputs[i].dtype)
      refuse(path, "output " + std::to_string(i) + " differs between the signature and the program");
  }
  base->arena_bytes = arena_bytes;
  if (options.max_memory > 0) {
    // Each value is under 2^62 bytes (the reader's bound), but the outputs may name one value
    // many times: a sum that overflows int64 is over any budget.
    int64_t weights = 0, outputs = 0, total = 0;
    bool overflows = false;
    for (const artifact::Constant& c : p.constants()) weights += static_cast<int64_t>(c.size());  // inside the file
    for (int v : g.outputs)
      overflows |= __builtin_add_overflow(
          outputs, g.values[v].shape.numel() * static_cast<int64_t>(dtype_size(g.values[v].dtype)), &outputs);
    overflows |= __builtin_add_overflow(weights, arena_bytes, &total) || __builtin_add_overflow(total, outputs, &total);
    if (overflows || total > options.max_memory)
      throw ValueError("tl::load_program('" + path + "'): the program needs " +
                       (overflows ? std::string("more than 2^63 bytes in all")
                                  : std::to_string(total) + " bytes (weights " + std::to_string(weights) + ", arena " +
                                        std::to_string(arena_bytes) + ", outputs " + std::to_string(outputs) + ")") +
                       ", more than max_memory " + std::to_string(options.max_memory) + " (at " + where.site.str() + ")");
  }
  base->idle.push_back(std::make_unique<trace::ExecutionContext>(g));  // the arena, allocated at load
  impl->instances.emplace(impl->max_batch, std::move(base));
  return Program(std::move(impl));
}

int64_t Program::Impl::check_inputs(std::span<const Tensor> inputs, Site site) const {
  const Impl& s = *this;
  if (inputs.size() != s.inputs.size())
    throw ValueError("tl::Program('" + s.path + "'): takes " + std::to_string(s.inputs.size()) + " inputs, got " +
                     std::to_string(inputs.size()) + " at " + site.str());
  int64_t batch = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSignature& want = s.inputs[i];
    // Built only on failure: a call that fits allocates nothing.
    auto which = [&] { return "input " + std::to_string(i) + " ('" + want.name + "')"; };
    if (!inputs[i].defined())
      throw ValueError("tl::Program('" + s.path + "'): " + which() + " is an undefined tensor at " + site.str());
    if (inputs[i].device().type != DeviceType::kCPU)
      throw DeviceError("tl::Program('" + s.path + "'): " + which() + " is on " + inputs[i].device().str() +
                        "; this program runs on CPU, at " + site.str());
    const Shape& got = inputs[i].shape();
    if (want.batch_axis >= 0 && got.size() == want.shape.size()) {
      const int64_t b = got[want.batch_axis];
      if (b < 1 || b > s.max_batch)
        throw ShapeError("tl::Program('" + s.path + "'): " + which() + " has batch size " + std::to_string(b) +
                         " (dim " + std::to_string(want.batch_axis) + " of " + got.str() +
                         "); this program runs batches of 1 to " + std::to_string(s.max_batch) + ", at " + site.str());
      if (batch != 0 && b != batch)
        throw ShapeError("tl::Program('" + s.path + "'): " + which() + " has batch size " + std::to_string(b) +
                         " but an earlier input has " + std::to_string(batch) + ", at " + site.str());
      batch = b;
    }
    if (got != shape_at(want, batch) || inputs[i].dtype() != want.dtype)
      throw ShapeError("tl::Program('" + s.path + "'): " + which() + " must be " + want.shape.str() + " " +
                       dtype_name(want.dtype) +
                       (want.batch_axis >= 0 ? " (dim " + std::to_string(want.batch_axis) + " any batch size up to " +
                                                   std::to_string(s.max_batch) + ")"
                                             : std::string()) +
                       ", got " + got.str() + " " + dtype_name(inputs[i].dtype()) + " at " + site.str());
  }
  return batch;
}

Program::Impl::Instance& Program::Impl::instance(int64_t batch) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = instances.find(batch);
  if (it != instances.end()) return *it->second;
  // The program at another batch size: the batch dims and attribute entries substituted, and
  // every node checked again against its shape rule.
  const Instance& base = *instances.at(max_batch);
  auto made = std::make_unique<Instance>();
  trace::Graph& g = made->graph;
  g = base.graph;
  for (size_t v = 0; v < g.values.size(); ++v)
    if (value_axis[v] >= 0) g.values[v].shape[value_axis[v]] = batch;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    trace::Node& n = g.nodes[k];
    for (const auto& [field, entries] : attr_batch[k]) {
      ops::AttrValue value = ops::get_attr(n.attrs, field);
      if (auto* shape = std::get_if<Shape>(&value)) {
        for (int e : entries) (*shape)[e] = batch;
      } else {
        value = batch;
      }
      ops::set_attr(n.attrs, field, value);
    }
  }
  try {
    for (size_t k = 0; k < g.nodes.size(); ++k)
      if (g.nodes[k].def != nullptr) check_node(g, g.nodes[k], "node " + std::to_string(k) + " (" + g.nodes[k].op + ")", path);
  } catch (const ArtifactError& e) {
    throw ShapeError("tl::Program('" + path + "'): cannot run at batch size " + std::to_string(batch) + ": " + e.what());
  }
  made->arena_bytes = trace::plan_memory(g).arena_bytes;
  return *instances.emplace(batch, std::move(made)).first->second;
}

namespace {
// Returns an execution context to its program when a call ends, however it ends.
struct ContextLease {
  Program::Impl& program;
  Program::Impl::Instance& instance;
  std::unique_ptr<trace::ExecutionContext> context;
  ContextLease(Program::Impl& p, Program::Impl::Instance& in) : program(p), instance(in), context(p.acquire(in)) {}
  ~ContextLease() { program.release(instance, std::move(context)); }
};
}  // namespace

int64_t Program::max_batch() const { return impl_->max_batch; }

int64_t Program::planned_bytes(int64_t batch) const {
  if (impl_->max_batch == 0) return impl_->instance(0).arena_bytes;
  if (batch < 1 || batch > impl_->max_batch)
    throw ValueError("tl::Program('" + impl_->path + "'): batch size " + std::to_string(batch) +
                     " is outside 1.." + std::to_string(impl_->max_batch));
  return impl_->instance(batch).arena_bytes;
}

std::vector<Tensor> Program::operator()(std::span<const Tensor> inputs, Site site) const {
  const int64_t batch = impl_->check_inputs(inputs, site);
  ContextLease lease(*impl_, impl_->instance(batch));
  std::span<const Tensor> out = lease.context->run(inputs);
  std::vector<Tensor> result;
  for (const Tensor& t : out) result.push_back(t.clone());  // the context's memory is reused
  return result;
}

void Program::run(std::span<const Tensor> inputs, std::span<Tensor> outputs, Site site) const {
  const Impl& s = *impl_;
  const int64_t batch = impl_->check_inputs(inputs, site);
  if (outputs.size() != s.outputs.size())
    throw ValueError("tl::Program('" + s.path + "')::run: takes " + std::to_string(s.outputs.size()) +
                     " output tensors, got " + std::to_string(outputs.size()) + " at " + site.str());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorSignature& want = s.outputs[i];
    if (!outputs[i].defined() || outputs[i].shape() != s.shape_at(want, batch) || outputs[i].dtype() != want.dtype ||
        outputs[i].device().type != DeviceType::kCPU)
      throw ShapeError("tl::Program('" + s.path + "')::run: output " + std::to_string(i) + " ('" + want.name +
                       "') must be a CPU tensor of " + s.shape_at(want, batch).str() + " " + dtype_name(want.dtype) +
                       " at " + site.str());
  }
  ContextLease lease(*impl_, impl_->instance(batch));
  std::span<const Tensor> out = lease.context->run(inputs);
  for (size_t i = 0; i < outputs.size(); ++i) ops::strided_copy(out[i], outputs[i]);
}

}  // namespace tl
