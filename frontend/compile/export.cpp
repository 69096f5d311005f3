// tl::export_program: a traced, optimized inference program written as a compiled artifact
// (runtime/artifact), which tl::load_program (runtime/program) runs.
#include "tl/export.h"

#include <cstring>
#include <unordered_set>
#include <map>
#include <mutex>

#include "frontend/compile/compiler_loader.h"
#include "frontend/compile/trace_inference.h"
#include "runtime/exec/memory_plan.h"
#include "frontend/ops/pointwise/pointwise.h"
#include "frontend/trace/tracer.h"
#include "runtime/artifact/artifact.h"
#include "runtime/base/cpu_features.h"
#include "runtime/base/env.h"
#include "runtime/cuda/cuda_source.h"
#include "runtime/exec/fused_kernel.h"
#include "runtime/logging.h"
#include "tl/autograd.h"
#include "tl/compile.h"

#ifndef TL_VERSION_STRING
#define TL_VERSION_STRING "unknown"
#endif

namespace tl {
namespace {

using rt::ArtifactError;

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

void add_attrs(google::protobuf::RepeatedPtrField<artifact::Attribute>* out, const ops::OpDef& def,
               const ops::Attrs& attrs) {
  for (const ops::AttrSpec& spec : def.attrs) {
    if (!ops::is_written(attrs, spec)) continue;
    artifact::Attribute* a = out->Add();
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

// `group`'s steps, as FusedCode.cuda records them.
void add_steps(artifact::FusedSteps* out, const rt::cuda::FusedGroup& group) {
  for (const rt::cuda::FusedStep& step : group.steps) {
    artifact::FusedStep* s = out->add_steps();
    if (step.op != nullptr) {
      s->set_op(step.op->name);
      add_attrs(s->mutable_attrs(), *step.op, step.attrs);
      for (int a : step.args) s->add_args(a);
    } else {
      s->set_constant(step.constant);
    }
    s->set_dtype(rt::to_artifact(step.dtype));
  }
  for (int64_t d : group.reduce_dims) out->add_reduce_dims(d);
  out->set_space_rank(group.space_rank);
  out->set_mean(group.mean);
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
  // Fused groups become generated code the artifact carries, compiled for the CPU features
  // the runtime's own kernels need (not the exporting host's), so it runs where they run.
  for (const std::string& f : rt::compiled_cpu_features()) options.target_features.push_back("+" + f);
  if (const char* dump = rt::env_value(rt::EnvSwitch::kDumpIr)) options.dump_dir = dump;
  compiler::PipelineResult result;
  run(traced, options, result);
  if (!result.ok) refuse_export(path, "the IR pipeline failed: " + result.error);
  return std::move(result.graph);
}

}  // namespace

namespace detail {

trace::Graph trace_inference(const ExportBody& body, std::span<const Tensor> args, Site site,
                             const std::function<void(const std::string&)>& refuse) {
  // `refuse` throws; the assertion after it keeps a caller that forgets from exporting anyway.
  auto fail = [&](const std::string& why) {
    refuse(why);
    TL_ASSERT(false, "trace_inference: the refuse callback returned instead of throwing");
  };
  NoGradGuard no_grad;
  trace::Tracer tracer(trace::Tracer::Mode::kRecord, "export");
  for (size_t i = 0; i < args.size(); ++i) tracer.bind_argument(args[i], static_cast<int>(i));
  std::vector<Tensor> outputs;
  {
    trace::TraceScope scope(tracer);
    try {
      outputs = body(args);
    } catch (const AutogradError& e) {
      // Under NoGradGuard, backward() and gradient reads fail eagerly before the tracer sees them.
      fail(std::string("the function needs autograd, which an exported program runs without (") + e.what() +
           "); export an inference function");
    }
    for (const Tensor& t : outputs) {
      if (!t.defined()) fail("the function returned an undefined tensor");
      tracer.graph().outputs.push_back(tracer.value_of(t, site));
    }
  }
  if (!tracer.untraceable().empty()) fail("cannot trace " + tracer.untraceable());
  if (!tracer.host_guards().empty()) {
    const trace::HostGuard& g = tracer.host_guards().front();
    fail("the function reads a host value (" + g.what + " at " + g.site.str() +
         ") that an exported program cannot re-check; make it a constant of the export");
  }
  if (tracer.has_backward()) fail("the function calls backward(); export an inference function");
  for (const trace::Node& n : tracer.graph().nodes) {
    if (n.op == trace::kRandom || n.op == trace::kGuard || n.op == trace::kAssign || n.op == trace::kGrad) {
      const char* what = n.op == trace::kRandom   ? "draws random numbers"
                         : n.op == trace::kGuard  ? "reads a tensor value on the host"
                         : n.op == trace::kAssign ? "updates a tensor in place"
                                                  : "asks for a gradient";
      fail(std::string("the function ") + what + " at " + n.site.str() +
           "; an exported program must be a pure inference function");
    }
  }
  return std::move(tracer.graph());
}

namespace {

// Traces `body` on `args` and returns the optimized program, refusing what an artifact cannot hold.
trace::Graph trace_for_export(const ExportBody& body, std::span<const Tensor> args, const ProgramPath& path) {
  trace::Graph traced =
      trace_inference(body, args, path.site, [&](const std::string& why) { refuse_export(path, why); });
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
  std::vector<int64_t> value_multiple;  // the batch dim is batch x this
  std::vector<std::map<std::string, std::vector<std::pair<int, int64_t>>>> attr_entries;  // per node: (entry, multiple)
};

// k when x1 == k * b1 and x2 == k * b2 for a whole k >= 1 (a dim or an entry that scales
// with the batch: the batch itself, or batch x heads), else 0.
int64_t batch_multiple(int64_t x1, int64_t x2, int64_t b1, int64_t b2) {
  if (b1 <= 0 || x1 % b1 != 0) return 0;
  const int64_t k = x1 / b1;
  return k >= 1 && x2 == k * b2 ? k : 0;
}

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
  m.value_multiple.assign(g1.values.size(), 1);
  for (size_t v = 0; v < g1.values.size(); ++v) {
    const Shape &s1 = g1.values[v].shape, &s2 = g2.values[v].shape;
    if (s1.size() != s2.size() || g1.values[v].dtype != g2.values[v].dtype)
      refuse("value %" + std::to_string(v) + " changes rank or dtype with the batch size");
    for (int64_t d = 0; d < s1.size(); ++d) {
      if (s1[d] == s2[d]) continue;
      const int64_t k = batch_multiple(s1[d], s2[d], b1, b2);
      if (k == 0 || m.value_axis[v] >= 0)
        refuse("value %" + std::to_string(v) + " has shape " + s1.str() + " at batch " + std::to_string(b1) + " and " +
               s2.str() + " at batch " + std::to_string(b2) +
               " (only one dim may change with the batch size, as the batch size or a multiple of it)");
      m.value_axis[v] = static_cast<int>(d);
      m.value_multiple[v] = k;
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
    if (n1.op == trace::kFused) {
      // The same group at both sizes, whose code (compiled at the maximum) runs at the other.
      if (!n1.kernel || !n2.kernel || n1.kernel->describe() != n2.kernel->describe())
        refuse(where + " fuses different ops at the two batch sizes");
      const auto* kernel = dynamic_cast<const rt::FusedKernel*>(n1.kernel.get());
      if (kernel == nullptr) refuse(where + " has no generated code an artifact can carry");
      std::vector<Shape> inputs;
      for (int v : n2.inputs) inputs.push_back(g2.values[v].shape);
      try {
        kernel->rebind(g2.values[n2.outputs[0]].shape, inputs, "fused group (" + n1.kernel->describe() + ")");
      } catch (const ShapeError& e) {
        refuse(e.what());
      }
      continue;
    }
    if (n1.def == nullptr) continue;
    for (const ops::AttrSpec& spec : n1.def->attrs) {
      ops::AttrValue v1 = ops::get_attr(n1.attrs, spec.field), v2 = ops::get_attr(n2.attrs, spec.field);
      if (v1 == v2) continue;
      std::vector<std::pair<int, int64_t>> entries;
      if (std::holds_alternative<Shape>(v1)) {
        const Shape &a1 = std::get<Shape>(v1), &a2 = std::get<Shape>(v2);
        if (a1.size() != a2.size()) refuse(where + ": attribute '" + spec.name + "' changes length with the batch size");
        for (int64_t i = 0; i < a1.size(); ++i) {
          if (a1[i] == a2[i]) continue;
          const int64_t k = batch_multiple(a1[i], a2[i], b1, b2);
          if (k == 0)
            refuse(where + ": attribute '" + spec.name + "' is " + a1.str() + " at batch " + std::to_string(b1) +
                   " and " + a2.str() + " at batch " + std::to_string(b2));
          entries.emplace_back(static_cast<int>(i), k);
        }
      } else if (std::holds_alternative<int64_t>(v1) &&
                 batch_multiple(std::get<int64_t>(v1), std::get<int64_t>(v2), b1, b2) != 0) {
        entries.emplace_back(0, batch_multiple(std::get<int64_t>(v1), std::get<int64_t>(v2), b1, b2));
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
    if (!marks.value_axis.empty() && marks.value_axis[v] >= 0) {
      type->set_batch_axis(marks.value_axis[v]);
      if (marks.value_multiple[v] != 1) type->set_batch_multiple(marks.value_multiple[v]);
    }
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
  std::string code;  // the "code" section: each object the fused groups came from, once
  std::map<const std::string*, int> object_index;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const trace::Node& n = g.nodes[k];
    if (n.op == trace::kConstant) {
      add_constant(program, weights, n.outputs.at(0), n.constant);
      planned.nodes.push_back(n);
      continue;
    }
    if (n.op == trace::kFused) {
      const auto* kernel = dynamic_cast<const rt::FusedKernel*>(n.kernel.get());
      if (kernel == nullptr || !kernel->machine_code().object)
        refuse_export(path, "a fused group (" + (n.kernel ? n.kernel->describe() : std::string("?")) +
                                ") has no object code an artifact can carry");
      const rt::MachineCode& mc = kernel->machine_code();
      auto [it, added] = object_index.emplace(mc.object.get(), program.code_objects_size());
      if (added) {
        code.resize((code.size() + 63) / 64 * 64, '\0');
        artifact::CodeObject* object = program.add_code_objects();
        object->set_offset(code.size());
        object->set_size(mc.object->size());
        code += *mc.object;
      }
      artifact::Node* node = program.add_nodes();
      node->set_op(trace::kFused);
      for (int v : n.inputs) node->add_inputs(v);
      for (int v : n.outputs) node->add_outputs(v);
      const rt::FusedLayout& l = kernel->layout();
      artifact::FusedCode* f = node->mutable_fused();
      f->set_object(it->second);
      f->set_symbol(mc.symbol);
      f->set_description(kernel->describe());
      for (int64_t d : l.dims) f->add_dims(d);
      for (const rt::FusedLayout::Operand& op : l.inputs)
        for (bool b : op.broadcast) f->add_input_broadcast(b);
      for (bool r : l.reduced) f->add_reduced(r);
      f->set_scale(l.scale);
      f->set_space_rank(static_cast<int32_t>(l.space_rank));
      f->set_leading_dims(static_cast<int32_t>(l.leading_dims));
      if (kernel->cuda_group()) add_steps(f->mutable_cuda(), *kernel->cuda_group());
      if (n.site.file) node->set_file(n.site.file);
      node->set_line(static_cast<int32_t>(n.site.line));
      planned.nodes.push_back(n);
      continue;
    }
    if (n.def == nullptr) refuse_export(path, "the optimized program holds a '" + n.op + "' node an artifact cannot store");
    artifact::Node* node = program.add_nodes();
    node->set_op(n.op);
    for (int v : n.inputs) node->add_inputs(v);
    for (int v : n.outputs) node->add_outputs(v);
    add_attrs(node->mutable_attrs(), *n.def, n.attrs);
    if (!marks.attr_entries.empty()) {
      for (artifact::Attribute& a : *node->mutable_attrs()) {
        auto it = marks.attr_entries[k].find(a.name());
        if (it == marks.attr_entries[k].end()) continue;
        const bool multiples = std::any_of(it->second.begin(), it->second.end(), [](const auto& e) { return e.second != 1; });
        for (const auto& [e, multiple] : it->second) {
          a.add_batch_entries(e);
          if (multiples) a.add_batch_multiples(multiple);
        }
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
    if (!marks.value_axis.empty() && marks.value_axis[g.outputs[i]] >= 0) {
      if (marks.value_multiple[g.outputs[i]] != 1)
        refuse_export(path, "output " + std::to_string(i) + " " + v.shape.str() + " has a dim that is " +
                                std::to_string(marks.value_multiple[g.outputs[i]]) +
                                " x the batch size; an output's batch dim must be the batch size itself");
      spec->set_batch_axis(marks.value_axis[g.outputs[i]]);
    }
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
  for (const std::string& f : rt::compiled_cpu_features()) manifest.add_cpu_features(f);
  manifest.set_producer("tl::export_program at " + path.site.str());
  manifest.set_max_batch(max_batch);
  std::vector<rt::SectionBytes> sections{{"program", program.SerializeAsString()}, {"weights", weights}};
  if (!code.empty()) sections.push_back({"code", code});
  rt::write_artifact(path.path, manifest, sections);
}

}  // namespace detail

}  // namespace tl
