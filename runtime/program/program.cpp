// tl::load_program: a compiled artifact (runtime/artifact) read back as a trace::Graph and
// checked node by node against the op table (name, arity, attributes by name and type, the
// shape rule on the declared operand types) before the program can run; it then runs on the
// executor (runtime/exec), one execution context (an arena) per concurrent call.
#include <chrono>
#include "tl/program.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_set>

#include "runtime/artifact/artifact.h"
#include "runtime/artifact/machine_code.h"
#include "runtime/base/sha256.h"
#include "runtime/base/zstd_frame.h"
#include "runtime/cuda/fused_kernel.h"
#include "runtime/cuda/fused_reduction.h"
#include "runtime/cuda/launch.h"
#include "runtime/device_backend.h"
#include "runtime/exec/executor.h"
#include "runtime/exec/fused_kernel.h"
#include "runtime/exec/memory_plan.h"
#include "runtime/ops/pointwise/pointwise.h"
#include "runtime/program/cuda_code.h"

namespace tl {

using rt::ArtifactError;

// ---------------------------------------------------------------- loading

struct Program::Impl {
  std::string path;
  // The source file names the nodes' sites point into, owned by this program (a process that
  // loads many artifacts does not keep every name forever).
  std::unordered_set<std::string> files;  // node-based: c_str() stays valid
  const char* file_name(const std::string& name) { return files.insert(name).first->c_str(); }
  std::vector<TensorSignature> inputs, outputs;
  std::string description;
  Device device = kCPU;
  int64_t max_batch = 0;  // 0: fixed shapes
  // What depends on the batch size: per value its batch axis (or -1); per node the attribute
  // fields and the entries in them that are the batch size.
  std::vector<int> value_axis;
  std::vector<int64_t> value_multiple;  // the batch dim holds batch x this
  // Per node: the attributes with entries that scale with the batch, as (entry, multiple).
  std::vector<std::vector<std::pair<ops::AttrField, std::vector<std::pair<int, int64_t>>>>> attr_batch;

  // The program at one batch size: its graph (whose constants hold the weights, shared by
  // every instance and worker) and the arena its own plan would need (planned_bytes).
  struct Instance {
    trace::Graph graph;
    int64_t arena_bytes = 0;
  };
  // The memory of one call in progress: the arena and output storage planned at the maximum
  // batch size, allocated once, and an execution context per batch size this worker has run,
  // each running in that same memory. A call takes an idle worker or makes one, so concurrent
  // calls each get their own; a new batch size costs a context (host bookkeeping), not an arena.
  struct Worker {
    std::shared_ptr<const trace::ContextMemory> memory;
    std::map<int64_t, std::unique_ptr<trace::ExecutionContext>> contexts;  // by batch size
  };
  std::mutex mutex;
  std::map<int64_t, std::unique_ptr<Instance>> instances;  // by batch size (0 for fixed shapes)
  std::vector<std::unique_ptr<Worker>> idle;

  // The instance for `batch` (made and verified on first use; later calls only look it up).
  Instance& instance(int64_t batch);
  Instance& base() { return *instances.at(max_batch); }
  std::unique_ptr<Worker> acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!idle.empty()) {
        std::unique_ptr<Worker> w = std::move(idle.back());
        idle.pop_back();
        return w;
      }
    }
    auto w = std::make_unique<Worker>();
    w->memory = trace::allocate_context_memory(base().graph);
    return w;
  }
  void release(std::unique_ptr<Worker> w) {
    std::lock_guard<std::mutex> lock(mutex);
    if (idle.capacity() == idle.size()) idle.reserve(idle.size() + 8);
    idle.push_back(std::move(w));
  }
  // `worker`'s context for the instance at `batch` (made on its first call at that size).
  trace::ExecutionContext& context(Worker& worker, int64_t batch, Instance& in) {
    auto it = worker.contexts.find(batch);
    if (it == worker.contexts.end())
      it = worker.contexts.emplace(batch, std::make_unique<trace::ExecutionContext>(in.graph, worker.memory)).first;
    return *it->second;
  }
  // Checks `inputs` against the signature; returns the call's batch size (0 for fixed shapes).
  int64_t check_inputs(std::span<const Tensor> inputs, Site site) const;
  // `inputs` on the program's device: a CUDA program's CPU inputs copied there, into `staged`.
  std::span<const Tensor> on_device(std::span<const Tensor> inputs, std::vector<Tensor>& staged) const {
    if (device.type == DeviceType::kCPU) return inputs;
    staged.assign(inputs.begin(), inputs.end());
    for (Tensor& t : staged) {
      if (t.device() == device) continue;
      Tensor copy = ops::empty_tensor(t.shape(), t.dtype(), device);
      ops::strided_copy(t, copy);
      t = std::move(copy);
    }
    return staged;
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

// The attributes `written` for op `def` (a node's, a fused step's), each checked by name and type.
ops::Attrs attrs_of(const google::protobuf::RepeatedPtrField<artifact::Attribute>& written, const ops::OpDef& def,
                    const std::string& what, const std::string& path) {
  ops::Attrs attrs;
  std::vector<const ops::AttrSpec*> seen;
  for (const artifact::Attribute& a : written) {
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

// The kernel of fused node `pn` (its values already in `g`): the layout the artifact states,
// which for an elementwise group must be the one its operand shapes give, and the entry in its
// loaded code object.
std::shared_ptr<const trace::CompiledKernel> fused_kernel_of(
    const artifact::Node& pn, const trace::Graph& g, const std::vector<std::shared_ptr<const rt::LoadedObject>>& objects,
    const std::string& what, const std::string& path) {
  const artifact::FusedCode& f = pn.fused();
  if (pn.attrs_size() != 0) refuse(path, what + " has attributes; a fused node has none");
  rt::FusedLayout l;
  const trace::Value& out = g.values[pn.outputs(0)];
  l.out_shape = out.shape;
  l.out_dtype = out.dtype;
  for (int64_t d : f.dims()) l.dims.push_back(d);
  const int64_t rank = l.dims.size();
  std::vector<Shape> in_shapes;
  std::vector<DType> in_dtypes;
  for (int i = 0; i < pn.inputs_size(); ++i) {
    rt::FusedLayout::Operand op;
    op.shape = g.values[pn.inputs(i)].shape;
    op.dtype = g.values[pn.inputs(i)].dtype;
    for (int64_t d = 0; d < rank; ++d) op.broadcast.push_back(f.input_broadcast(static_cast<int>(i * rank + d)));
    in_shapes.push_back(op.shape);
    in_dtypes.push_back(op.dtype);
    l.inputs.push_back(std::move(op));
  }
  l.reduced.assign(f.reduced().begin(), f.reduced().end());
  l.scale = f.scale();
  l.space_rank = f.space_rank();
  l.leading_dims = f.leading_dims();
  if (l.reduced.empty()) {
    bool fits = true;
    for (const Shape& s : in_shapes) fits = fits && s.size() <= out.shape.size();
    if (fits) {
      for (int64_t d = 0; d < out.shape.size(); ++d)
        for (const Shape& s : in_shapes) {
          const int64_t pad = out.shape.size() - s.size();
          fits = fits && (d < pad || s[d - pad] == 1 || s[d - pad] == out.shape[d]);
        }
    }
    rt::FusedLayout expected;
    if (fits) expected = rt::collapse_layout(out.shape, out.dtype, in_shapes, in_dtypes);
    bool same = fits && expected.dims == l.dims && expected.space_rank == l.space_rank &&
                expected.leading_dims == l.leading_dims;
    for (size_t i = 0; same && i < l.inputs.size(); ++i) same = expected.inputs[i].broadcast == l.inputs[i].broadcast;
    if (!same) refuse(path, what + ": its generated code's layout is not the one its operands' shapes give");
  }
  const std::shared_ptr<const rt::LoadedObject>& object = objects[f.object()];
  void* entry = object->symbol(f.symbol());
  if (entry == nullptr)
    refuse(path, what + " calls '" + f.symbol().substr(0, 64) + "', which code object " + std::to_string(f.object()) +
                     " does not define");
  return std::make_shared<rt::FusedKernel>(std::move(l), reinterpret_cast<rt::FusedKernel::Entry>(entry),
                                           std::shared_ptr<const void>(object), f.description().substr(0, 256));
}

// Whether `in` broadcasts to `out` by NumPy rules (trailing dims equal or 1).
bool broadcasts_to(const Shape& in, const Shape& out) {
  if (in.size() > out.size()) return false;
  for (int64_t d = 1; d <= in.size(); ++d)
    if (in[in.size() - d] != 1 && in[in.size() - d] != out[out.size() - d]) return false;
  return true;
}

// Bounds the steps of one fused group, so a hostile file cannot make the loader build a huge source.
constexpr int kMaxFusedSteps = 4096;

// Why CUDA group `group`, ending in a sum, cannot take `inputs` to result `out`; empty when it
// can: the inputs broadcast together to its iteration space (fused_reduce_space), and the
// result is that space without the summed dims, or with them kept as size 1.
std::string reduction_mismatch(const rt::cuda::FusedGroup& group, const std::string& description,
                               const std::vector<Shape>& inputs, const Shape& out) {
  Shape space;
  try {
    space = rt::cuda::fused_reduce_space(group, inputs, description);
  } catch (const Error& e) {
    return e.what();
  }
  const std::vector<int64_t>& dims = group.reduce_dims;
  Shape kept, kept_as_one = space;
  for (int64_t d = 0; d < space.size(); ++d) {
    if (std::binary_search(dims.begin(), dims.end(), d)) kept_as_one[d] = 1;
    else kept.push_back(space[d]);
  }
  if (out == kept || out == kept_as_one) return {};
  std::string list;
  for (int64_t d : dims) list += (list.empty() ? "" : ", ") + std::to_string(d);
  return "its result " + out.str() + " is not its iteration space " + space.str() + " with dims [" + list + "] summed";
}

// The CUDA kernel of fused node `pn` (node `k`) from the steps it records (FusedCode.cuda), each
// step checked as a node is: an elementwise op of the table, its attributes by name and type,
// operands that are the node's inputs or earlier steps, and the dtype its rule computes.
std::shared_ptr<const rt::cuda::CudaFusedKernel> cuda_fused_kernel_of(const artifact::Node& pn, int k, const trace::Graph& g,
                                                                 const std::string& what, const std::string& path) {
  const artifact::FusedCode& f = pn.fused();
  const std::string ops = f.description().substr(0, 256);
  if (!f.has_cuda() || f.cuda().steps_size() == 0)
    throw DeviceError("tl::load_program('" + path + "'): cannot run on CUDA: this artifact's fused group " +
                      std::to_string(k) + " (" + ops + ") has no CUDA form (an older tl exported it); re-export " +
                      "it with this tl, or load it on the CPU (ProgramLoadOptions::device)");
  if (f.cuda().steps_size() > kMaxFusedSteps)
    refuse(path, what + " has " + std::to_string(f.cuda().steps_size()) + " CUDA steps (at most " +
                     std::to_string(kMaxFusedSteps) + ")");
  rt::cuda::FusedGroup group;
  for (int v : pn.inputs()) group.inputs.push_back(g.values[v].dtype);
  const trace::Value& out = g.values[pn.outputs(0)];
  const artifact::FusedSteps& cs = f.cuda();
  if (cs.reduce_dims().empty()) {
    if (cs.mean()) refuse(path, what + ": its CUDA steps are marked as a mean but sum over no dims");
    if (cs.space_rank() != 0)
      refuse(path, what + ": its CUDA steps declare a rank-" + std::to_string(cs.space_rank()) +
                       " iteration space to sum over but sum over no dims");
    for (int v : pn.inputs())
      if (!broadcasts_to(g.values[v].shape, out.shape))
        refuse(path, what + ": its input %" + std::to_string(v) + " " + g.values[v].shape.str() +
                         " does not broadcast to its result " + out.shape.str());
  } else {
    // A group ending in a sum: the dims it sums, inside its iteration space, which the
    // inputs and the result must agree with.
    if (cs.space_rank() < 1 || cs.space_rank() > rt::cuda::kMaxKernelRank)
      refuse(path, what + ": its CUDA steps sum over a rank-" + std::to_string(cs.space_rank()) +
                       " iteration space (1 to " + std::to_string(rt::cuda::kMaxKernelRank) + " dims)");
    for (int i = 0; i < cs.reduce_dims_size(); ++i) {
      const int64_t d = cs.reduce_dims(i);
      if (d < 0 || d >= cs.space_rank())
        refuse(path, what + ": its CUDA steps sum over dim " + std::to_string(d) + " of a rank-" +
                         std::to_string(cs.space_rank()) + " iteration space");
      if (i > 0 && d <= cs.reduce_dims(i - 1))
        refuse(path, what + ": its CUDA steps sum over dims that are not ascending and distinct (" +
                         std::to_string(cs.reduce_dims(i - 1)) + " then " + std::to_string(d) + ")");
    }
    group.reduce_dims.assign(cs.reduce_dims().begin(), cs.reduce_dims().end());
    group.space_rank = cs.space_rank();
    group.mean = cs.mean();
    std::vector<Shape> in_shapes;
    for (int v : pn.inputs()) in_shapes.push_back(g.values[v].shape);
    if (std::string why = reduction_mismatch(group, ops, in_shapes, out.shape); !why.empty())
      refuse(path, what + ": its CUDA steps' sum does not fit the node: " + why);
  }
  const int n_inputs = pn.inputs_size();
  for (int i = 0; i < f.cuda().steps_size(); ++i) {
    const artifact::FusedStep& ps = f.cuda().steps(i);
    const std::string step_what = what + ": CUDA step " + std::to_string(i);
    rt::cuda::FusedStep step;
    step.dtype = rt::dtype_from_artifact(ps.dtype(), "'" + path + "': " + step_what);
    if (ps.op().empty()) {
      if (ps.args_size() != 0 || ps.attrs_size() != 0) refuse(path, step_what + " is a constant with operands or attributes");
      step.constant = ps.constant();
      group.steps.push_back(std::move(step));
      continue;
    }
    step.op = ops::find_op(ps.op());
    if (step.op == nullptr || trace::find_structural(ps.op()) != nullptr)
      refuse(path, step_what + " names an op '" + ps.op().substr(0, 64) + "' this build of tl does not have");
    if (step.op->kind != ops::OpKind::kElementwise || step.op->pointwise.lower == nullptr)
      refuse(path, step_what + " (" + step.op->name + ") is not an elementwise op");
    step.attrs = attrs_of(ps.attrs(), *step.op, step_what + " (" + step.op->name + ")", path);
    if (!ops::accepts_operand_count(*step.op, ps.args_size()))
      refuse(path, step_what + " (" + step.op->name + ") has " + std::to_string(ps.args_size()) + " operands; the op takes " +
                       ops::operand_count_text(*step.op));
    std::vector<Tensor> operands;
    for (int a : ps.args()) {
      // k >= 0: an earlier step; k < 0: input -k-1 (in int64: -INT_MIN overflows an int).
      const int64_t input = -static_cast<int64_t>(a) - 1;
      if (a >= i || (a < 0 && input >= n_inputs))
        refuse(path, step_what + " (" + step.op->name + ") reads " +
                         (a >= 0 ? "step " + std::to_string(a) + ", which is not computed before it"
                                 : "input " + std::to_string(input) + ", but the node has " + std::to_string(n_inputs)));
      step.args.push_back(a);
      operands.push_back(trace::meta_tensor(Shape{}, a < 0 ? group.inputs[input] : group.steps[a].dtype));
    }
    DType computed = step.dtype;
    try {
      computed = ops::infer_result(*step.op, operands, step.attrs, Site{}).dtype;
    } catch (const Error& e) {
      refuse(path, step_what + " (" + step.op->name + ") is malformed: " + e.what());
    }
    if (computed != step.dtype)
      refuse(path, step_what + " (" + step.op->name + ") declares its result " + dtype_name(step.dtype) +
                       " but the op computes " + dtype_name(computed));
    group.steps.push_back(std::move(step));
  }
  if (group.steps.back().dtype != out.dtype)
    refuse(path, what + ": its last CUDA step is " + dtype_name(group.steps.back().dtype) + " but its result is " +
                     dtype_name(out.dtype));
  try {
    return std::make_shared<rt::cuda::CudaFusedKernel>(std::move(group), ops);
  } catch (const Error& e) {
    refuse(path, what + ": its CUDA steps do not make a kernel: " + e.what());
  }
}

// The sources `kernel` launches: its own and, for a group ending in a sum, its block form's.
std::vector<rt::CudaKernelSource> kernel_sources(const rt::cuda::CudaFusedKernel& kernel) {
  std::vector<rt::CudaKernelSource> sources{{kernel.entry(), kernel.source()}};
  if (!kernel.is_elementwise()) sources.push_back({kernel.block_kernel().entry, kernel.block_kernel().source});
  return sources;
}

std::string hex_of(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes.substr(0, 64)) out += {digits[c >> 4], digits[c & 15]};
  return out.empty() ? "(none)" : out;
}

// One image of prebuilt device code as the "cuda" section stores it.
struct StoredImage {
  std::string arch;
  bool is_ptx = false;
  std::string_view bytes;  // a view into the section
  uint64_t raw_size = 0;   // 0: `bytes` is the image; else a zstd frame of an image of this size
};

// Prebuilt device code of one kernel source, to load with it.
struct Prebuilt {
  std::string what;  // the node
  std::string label;
  rt::CudaKernelSource kernel;
  std::vector<StoredImage> images;
};

// The device code fused node `pn` carries (FusedSteps.code), checked against `kernel` (what its
// verified steps give): each set of binaries compiled from one of the kernel's sources, by its
// SHA-256, so the code cannot be another kernel than the steps; each image for a known
// architecture, inside the "cuda" section, stored raw (a cubin an ELF image) or as one zstd
// frame of a declared size under rt::cuda::kMaxKernelImageBytes (decompressed, and its cubin
// checked, only when a device chooses it: chosen_image).
std::vector<Prebuilt> prebuilt_code_of(const artifact::Node& pn, const rt::cuda::CudaFusedKernel& kernel,
                                       std::span<const uint8_t> cuda_section, const std::string& what,
                                       const std::string& path) {
  const artifact::FusedSteps& cs = pn.fused().cuda();
  const std::vector<rt::CudaKernelSource> sources = kernel_sources(kernel);
  std::vector<std::string> digests;
  for (const rt::CudaKernelSource& s : sources) {
    const rt::Sha256Digest d = rt::sha256(s.source.data(), s.source.size());
    digests.emplace_back(reinterpret_cast<const char*>(d.data()), d.size());
  }
  std::vector<bool> taken(sources.size(), false);
  std::vector<Prebuilt> out;
  for (int c = 0; c < cs.code_size(); ++c) {
    const artifact::CudaKernelCode& code = cs.code(c);
    const auto match = std::find(digests.begin(), digests.end(), code.source_sha256());
    if (match == digests.end()) {
      std::string given;
      for (const std::string& d : digests) given += (given.empty() ? "" : " or ") + hex_of(d);
      refuse(path, what + ": its device code " + std::to_string(c) + " was compiled from a source with SHA-256 " +
                       hex_of(code.source_sha256()) + ", but its CUDA steps give " + given +
                       " (another tl compiled it, or it was altered): run this tl's tlc --target cuda on the "
                       "artifact again");
    }
    const size_t i = static_cast<size_t>(match - digests.begin());
    if (taken[i]) refuse(path, what + ": its device code " + std::to_string(c) + " repeats a kernel source's");
    taken[i] = true;
    Prebuilt p{what, "fused " + kernel.describe(), sources[i], {}};
    for (const artifact::CudaImage& image : code.images()) {
      const std::string arch = image.arch().substr(0, 32);
      const std::optional<rt::cuda::CudaArch> parsed = rt::cuda::parse_cuda_arch(image.arch());
      if (!parsed)
        refuse(path, what + ": its device code is for an unknown architecture '" + arch + "' (sm_NN or compute_NN)");
      if (std::any_of(p.images.begin(), p.images.end(), [&](const StoredImage& k) { return k.arch == arch; }))
        refuse(path, what + ": its device code " + std::to_string(c) + " has two " + arch + " images");
      uint64_t end = 0;
      if (image.size() == 0 || __builtin_add_overflow(image.offset(), image.size(), &end) || end > cuda_section.size())
        refuse(path, what + ": its " + arch + " code covers bytes [" + std::to_string(image.offset()) + ", +" +
                         std::to_string(image.size()) + ") outside the cuda section (" +
                         std::to_string(cuda_section.size()) + " bytes)");
      const std::string_view bytes(reinterpret_cast<const char*>(cuda_section.data()) + image.offset(), image.size());
      if (image.encoding() == artifact::CudaImage::RAW) {
        if (image.raw_size() != 0)
          refuse(path, what + ": its " + arch + " code is stored raw but declares a decompressed size (" +
                           std::to_string(image.raw_size()) + " bytes)");
        if (!parsed->is_ptx && !bytes.starts_with("\x7f" "ELF"))
          refuse(path, what + ": its " + arch + " code is not a cubin (an ELF image)");
      } else if (image.encoding() == artifact::CudaImage::ZSTD) {
        if (image.raw_size() == 0 || image.raw_size() > rt::cuda::kMaxKernelImageBytes)
          refuse(path, what + ": its " + arch + " code declares a decompressed size of " +
                           std::to_string(image.raw_size()) + " bytes (1 to " +
                           std::to_string(rt::cuda::kMaxKernelImageBytes) + ")");
        // The frame's headers only: the image is decompressed if a device chooses it.
        if (const std::string why = rt::zstd_frame_mismatch(bytes, image.raw_size()); !why.empty())
          refuse(path, what + ": its " + arch + " code " + why);
      } else {
        refuse(path, what + ": its " + arch + " code is stored in an unknown encoding " +
                         std::to_string(static_cast<int>(image.encoding())) + " (raw or zstd)");
      }
      p.images.push_back({arch, parsed->is_ptx, bytes, image.encoding() == artifact::CudaImage::ZSTD ? image.raw_size() : 0});
    }
    out.push_back(std::move(p));
  }
  return out;
}

// Decompressed images by the stored frame they came from (its address and size, and the size
// it declares): groups of the same ops and dtypes share one stored image, decompressed once.
using DecompressedImages = std::map<std::tuple<const char*, size_t, uint64_t>, std::string>;

// The image of `pb` that a device of `device_arch` runs (choose_image), decompressed into
// `*decompressed` when stored compressed; nullopt when none fits (the source is compiled
// instead). Refuses the artifact, naming the node and image, for a frame that does not
// decompress to exactly its declared size and for a cubin that is not an ELF image.
std::optional<rt::cuda::KernelImage> chosen_image(const Prebuilt& pb, const std::string& device_arch,
                                                  DecompressedImages* decompressed, const std::string& path) {
  std::vector<std::string> archs;
  for (const StoredImage& image : pb.images) archs.push_back(image.arch);
  const int chosen = rt::cuda::choose_image(archs, device_arch);
  if (chosen < 0) return std::nullopt;
  const StoredImage& image = pb.images[chosen];
  if (image.raw_size == 0) return rt::cuda::KernelImage{image.arch, image.bytes};  // checked as stored
  const auto [at, is_new] = decompressed->try_emplace({image.bytes.data(), image.bytes.size(), image.raw_size});
  if (is_new) {
    std::string why;
    std::optional<std::string> bytes = rt::zstd_decompress(image.bytes, image.raw_size, &why);
    if (!bytes) refuse(path, pb.what + ": its " + image.arch + " code " + why);
    at->second = std::move(*bytes);
  }
  if (!image.is_ptx && !at->second.starts_with("\x7f" "ELF"))
    refuse(path, pb.what + ": its " + image.arch + " code is not a cubin (an ELF image) once decompressed");
  return rt::cuda::KernelImage{image.arch, at->second};
}

// A fused node's kernel for the node's operand shapes in `g` (another batch size).
void rebind_fused(trace::Graph& g, trace::Node& n, const std::string& what) {
  const auto* kernel = dynamic_cast<const rt::FusedKernel*>(n.kernel.get());
  if (kernel == nullptr) {
    // A CUDA kernel runs at any shapes whose inputs broadcast to the result (or, for a group
    // ending in a sum, to the space it sums into the result).
    const Shape& out = g.values[n.outputs[0]].shape;
    const auto* cuda = dynamic_cast<const rt::cuda::CudaFusedKernel*>(n.kernel.get());
    if (cuda != nullptr && !cuda->group().reduce_dims.empty()) {
      std::vector<Shape> inputs;
      for (int v : n.inputs) inputs.push_back(g.values[v].shape);
      if (std::string why = reduction_mismatch(cuda->group(), cuda->describe(), inputs, out); !why.empty())
        throw ShapeError(what + ": " + why);
      return;
    }
    for (int v : n.inputs)
      if (!broadcasts_to(g.values[v].shape, out))
        throw ShapeError(what + ": input " + g.values[v].shape.str() + " does not broadcast to the result " + out.str());
    return;
  }
  std::vector<Shape> inputs;
  for (int v : n.inputs) inputs.push_back(g.values[v].shape);
  n.kernel = kernel->rebind(g.values[n.outputs[0]].shape, inputs, what);
}

}  // namespace

namespace rt {

std::vector<CudaGroupSources> cuda_group_sources(const Artifact& artifact) {
  const std::string& path = artifact.path();
  const artifact::Program& p = artifact.program();
  trace::Graph g;  // the values the steps are checked against
  for (const artifact::ValueType& v : p.values()) {
    trace::Value value;
    for (int64_t d : v.shape()) value.shape.push_back(d);
    value.dtype = dtype_from_artifact(v.dtype(), "'" + path + "': a value");
    g.values.push_back(value);
  }
  std::vector<CudaGroupSources> groups;
  for (int k = 0; k < p.nodes_size(); ++k) {
    const artifact::Node& pn = p.nodes(k);
    if (!pn.has_fused()) continue;
    const std::string what = "node " + std::to_string(k) + " (" + pn.op().substr(0, 64) + ")";
    std::shared_ptr<const cuda::CudaFusedKernel> kernel = cuda_fused_kernel_of(pn, k, g, what, path);
    groups.push_back({k, kernel->describe(), kernel_sources(*kernel)});
  }
  return groups;
}

}  // namespace rt

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
  const std::string& default_device = a.manifest().default_device();
  if (!default_device.empty() && default_device != "cuda")
    refuse(path, "its default device '" + default_device.substr(0, 64) + "' is not one this build knows (cuda, or none: the CPU)");
  const Device device = options.device ? *options.device : default_device == "cuda" ? kCUDA : kCPU;
  impl->device = device;
  auto base = std::make_unique<Program::Impl::Instance>();
  trace::Graph& g = base->graph;
  g.name = "artifact";
  for (const artifact::ValueType& v : p.values()) {
    trace::Value value;
    for (int64_t d : v.shape()) value.shape.push_back(d);
    value.dtype = rt::dtype_from_artifact(v.dtype(), "'" + path + "': a value");
    g.values.push_back(value);
    impl->value_axis.push_back(v.has_batch_axis() ? v.batch_axis() : -1);
    impl->value_multiple.push_back(v.has_batch_multiple() ? v.batch_multiple() : 1);
    const int axis = impl->value_axis.back();
    const int64_t multiple = impl->value_multiple.back();
    if (axis != -1 && (impl->max_batch <= 0 || axis < 0 || axis >= value.shape.size() || multiple < 1 ||
                       value.shape[axis] != impl->max_batch * multiple))
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
  // Generated code: each object loaded (checked, relocated, mapped executable) once.
  std::vector<std::shared_ptr<const rt::LoadedObject>> objects;
  std::span<const uint8_t> code = a.section("code");
  for (int i = 0; i < p.code_objects_size(); ++i) {
    const artifact::CodeObject& c = p.code_objects(i);
    try {
      objects.push_back(rt::LoadedObject::load(
          std::string_view(reinterpret_cast<const char*>(code.data()) + c.offset(), c.size()),
          "code object " + std::to_string(i)));
    } catch (const ArtifactError& e) {
      refuse(path, e.what());
    }
  }
  std::vector<Prebuilt> prebuilt;  // device code tlc --target cuda stored (on CUDA)
  for (int k = 0; k < p.nodes_size(); ++k) {
    const artifact::Node& pn = p.nodes(k);
    const std::string what = "node " + std::to_string(k) + " (" + pn.op().substr(0, 64) + ")";
    trace::Node node;
    node.op = pn.op();
    if (pn.has_fused()) {
      node.op = trace::kFused;
      node.inputs.assign(pn.inputs().begin(), pn.inputs().end());
      node.outputs.assign(pn.outputs().begin(), pn.outputs().end());
      // The CPU code is verified whatever the device: a CUDA program's artifact still loads on the CPU.
      node.kernel = fused_kernel_of(pn, g, objects, what, path);
      if (device.type == DeviceType::kCUDA) {
        std::shared_ptr<const rt::cuda::CudaFusedKernel> kernel = cuda_fused_kernel_of(pn, k, g, what, path);
        for (Prebuilt& p : prebuilt_code_of(pn, *kernel, a.section("cuda"), what, path)) prebuilt.push_back(std::move(p));
        node.kernel = std::move(kernel);
      }
      if (!pn.file().empty()) node.site = Site{impl->file_name(pn.file().substr(0, 256)), static_cast<uint32_t>(pn.line())};
      impl->attr_batch.resize(g.nodes.size() + 1);
      g.nodes.push_back(std::move(node));
      continue;
    }
    node.def = ops::find_op(pn.op());
    if (node.def == nullptr || trace::find_structural(pn.op()) != nullptr)
      refuse(path, what + " names an op this build of tl does not have");
    node.inputs.assign(pn.inputs().begin(), pn.inputs().end());
    node.outputs.assign(pn.outputs().begin(), pn.outputs().end());
    node.attrs = attrs_of(pn.attrs(), *node.def, what, path);
    impl->attr_batch.resize(g.nodes.size() + 1);
    for (const artifact::Attribute& at : pn.attrs()) {
      if (at.batch_entries().empty()) continue;
      // attrs_of accepted the name and type; the entries must name values equal to max_batch.
      const ops::AttrSpec& spec = *std::find_if(node.def->attrs.begin(), node.def->attrs.end(),
                                                [&](const ops::AttrSpec& sp) { return sp.name == at.name(); });
      ops::AttrValue value = ops::get_attr(node.attrs, spec.field);
      std::vector<std::pair<int, int64_t>> entries;
      if (!at.batch_multiples().empty() && at.batch_multiples_size() != at.batch_entries_size())
        refuse(path, what + ": attribute '" + at.name() + "' has " + std::to_string(at.batch_multiples_size()) +
                         " batch multiples for " + std::to_string(at.batch_entries_size()) + " batch entries");
      for (int j = 0; j < at.batch_entries_size(); ++j) {
        const int e = at.batch_entries(j);
        const int64_t multiple = at.batch_multiples().empty() ? 1 : at.batch_multiples(j);
        const Shape* shape = std::get_if<Shape>(&value);
        const int64_t* i = std::get_if<int64_t>(&value);
        const int64_t want = impl->max_batch * multiple;
        bool ok = impl->max_batch > 0 && multiple >= 1 && multiple <= (int64_t{1} << 32) &&
                  ((shape && e >= 0 && e < shape->size() && (*shape)[e] == want) || (i && e == 0 && *i == want));
        if (!ok) refuse(path, what + ": attribute '" + at.name() + "' marks entry " + std::to_string(e) +
                                  " as " + std::to_string(multiple) + " x the batch size, but it is not " +
                                  std::to_string(multiple) + " x max_batch");
        entries.emplace_back(e, multiple);
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
  if (device.type == DeviceType::kCUDA) {
    // Everything is verified; only now is the device needed. Weights move there once.
    try {
      rt::backend_for(device, "load_program").allocator(device.index);
    } catch (const DeviceError& e) {
      throw DeviceError("tl::load_program('" + path + "'): cannot run on " + device.str() + ": " + e.what() + " (at " +
                        where.site.str() + ")");
    }
    // Only the image each source's device runs is decompressed, every one of them before any is
    // loaded: a corrupt one refuses the artifact with no device code loaded.
    const std::string device_arch = rt::cuda::runner().device_arch();
    DecompressedImages decompressed;
    std::vector<std::optional<rt::cuda::KernelImage>> chosen(prebuilt.size());
    for (size_t i = 0; i < prebuilt.size(); ++i) chosen[i] = chosen_image(prebuilt[i], device_arch, &decompressed, path);
    // Device code the artifact carries is loaded now: a GPU that none of it fits, and that
    // cannot compile the source either (no NVRTC), is refused here rather than at the first call.
    for (size_t i = 0; i < prebuilt.size(); ++i) {
      const Prebuilt& pb = prebuilt[i];
      try {
        rt::cuda::runner().function_from_images(
            pb.kernel.source, pb.kernel.entry, pb.label,
            chosen[i] ? std::span<const rt::cuda::KernelImage>(&*chosen[i], 1) : std::span<const rt::cuda::KernelImage>());
      } catch (const Error& e) {
        std::string archs;
        for (const StoredImage& image : pb.images) archs += (archs.empty() ? "" : ", ") + image.arch;
        throw DeviceError("tl::load_program('" + path + "'): " + pb.what + " cannot run on " + device.str() +
                          ": its device code (" + (archs.empty() ? std::string("none") : archs) +
                          ") does not load there and its source does not compile: " + e.what() + " (at " +
                          where.site.str() + ")");
      }
    }
    g.device = device;
    for (trace::Node& n : g.nodes) {
      if (n.op != trace::kConstant) continue;
      Tensor on_device = ops::empty_tensor(n.constant.shape(), n.constant.dtype(), device);
      ops::strided_copy(n.constant, on_device);
      n.constant = std::move(on_device);
    }
    const auto fused = std::count_if(g.nodes.begin(), g.nodes.end(), [](const trace::Node& n) { return n.op == trace::kFused; });
    impl->description =
        "runs on " + device.str() + ": " + std::to_string(fused) + " fused groups as CUDA kernels\n" + impl->description;
  }
  impl->instances.emplace(impl->max_batch, std::move(base));
  // The first worker: the arena and outputs at the maximum batch size, allocated at load.
  auto worker = std::make_unique<Program::Impl::Worker>();
  worker->memory = trace::allocate_context_memory(impl->base().graph);
  impl->context(*worker, impl->max_batch, impl->base());
  impl->idle.push_back(std::move(worker));
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
    if (inputs[i].device() != s.device && inputs[i].device().type != DeviceType::kCPU)
      throw DeviceError("tl::Program('" + s.path + "'): " + which() + " is on " + inputs[i].device().str() +
                        "; this program runs on " + (s.device.type == DeviceType::kCPU ? std::string("CPU")
                                                                                   : s.device.str() + " (or takes CPU inputs)") +
                        ", at " + site.str());
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
    if (got != want.shape_at(batch) || inputs[i].dtype() != want.dtype)
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
    if (value_axis[v] >= 0) g.values[v].shape[value_axis[v]] = batch * value_multiple[v];
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    trace::Node& n = g.nodes[k];
    for (const auto& [field, entries] : attr_batch[k]) {
      ops::AttrValue value = ops::get_attr(n.attrs, field);
      if (auto* shape = std::get_if<Shape>(&value)) {
        for (const auto& [e, multiple] : entries) (*shape)[e] = batch * multiple;
      } else {
        value = batch * entries.front().second;
      }
      ops::set_attr(n.attrs, field, value);
    }
  }
  try {
    for (size_t k = 0; k < g.nodes.size(); ++k) {
      const std::string what = "node " + std::to_string(k) + " (" + g.nodes[k].op + ")";
      if (g.nodes[k].def != nullptr) check_node(g, g.nodes[k], what, path);
      if (g.nodes[k].op == trace::kFused)
        rebind_fused(g, g.nodes[k], "tl::Program('" + path + "'): cannot run at batch size " + std::to_string(batch) + ": " + what);
    }
  } catch (const ArtifactError& e) {
    throw ShapeError("tl::Program('" + path + "'): cannot run at batch size " + std::to_string(batch) + ": " + e.what());
  }
  made->arena_bytes = trace::plan_memory(g).arena_bytes;
  return *instances.emplace(batch, std::move(made)).first->second;
}

namespace {
// Takes a worker for one call and returns it to the program when the call ends, however it ends.
struct WorkerLease {
  Program::Impl& program;
  std::unique_ptr<Program::Impl::Worker> worker;
  explicit WorkerLease(Program::Impl& p) : program(p), worker(p.acquire()) {}
  ~WorkerLease() { program.release(std::move(worker)); }
  trace::ExecutionContext& context(int64_t batch) {
    // A worker that ran this batch size before has its context: no lock, no lookup of the instance.
    auto it = worker->contexts.find(batch);
    if (it != worker->contexts.end()) return *it->second;
    return program.context(*worker, batch, program.instance(batch));
  }
};
}  // namespace

int64_t Program::max_batch() const { return impl_->max_batch; }
Device Program::device() const { return impl_->device; }

int64_t Program::planned_bytes(int64_t batch) const {
  if (impl_->max_batch == 0) return impl_->instance(0).arena_bytes;
  if (batch < 1 || batch > impl_->max_batch)
    throw ValueError("tl::Program('" + impl_->path + "'): batch size " + std::to_string(batch) +
                     " is outside 1.." + std::to_string(impl_->max_batch));
  return impl_->instance(batch).arena_bytes;
}

std::vector<Tensor> Program::operator()(std::span<const Tensor> inputs, Site site) const {
  const int64_t batch = impl_->check_inputs(inputs, site);
  std::vector<Tensor> staged;
  inputs = impl_->on_device(inputs, staged);
  WorkerLease lease(*impl_);
  std::span<const Tensor> out = lease.context(batch).run(inputs);
  std::vector<Tensor> result;
  for (const Tensor& t : out) result.push_back(ops::fresh_copy(t));  // the context's memory is reused
  return result;
}

namespace {

// "conv2d+relu": the op and the flags set on it.
std::string op_label(const trace::Node& n) {
  std::string label = n.op;
  if (n.kernel) return label + "(" + n.kernel->describe() + ")";
  if (!n.def) return label;
  for (const ops::AttrSpec& spec : n.def->attrs) {
    if (ops::attr_type(spec.field) == ops::AttrType::kBool && ops::is_written(n.attrs, spec)) label += "+" + spec.name;
  }
  return label;
}

// 2 x multiply-adds of the products: conv2d (result x C/groups x KH x KW) and matmuls
// (result x K); 0 for the rest, whose cost is the memory they move.
double node_flops(const trace::Graph& g, const trace::Node& n) {
  if (n.outputs.size() != 1 || n.inputs.size() < 2) return 0;
  const Shape& out = g.values[n.outputs[0]].shape;
  const Shape& a = g.values[n.inputs[0]].shape;
  const Shape& w = g.values[n.inputs[1]].shape;
  const double results = static_cast<double>(out.numel());
  if (n.op == "conv2d" && w.size() == 4) return 2.0 * results * static_cast<double>(w[1] * w[2] * w[3]);
  if ((n.op == "matmul" || n.op == "matmul_bias") && a.size() >= 2) return 2.0 * results * static_cast<double>(a[a.size() - 1]);
  return 0;
}

}  // namespace

ProgramProfile Program::profile(std::span<const Tensor> inputs, int runs, Site site) const {
  if (runs < 1) throw ValueError("tl::Program::profile: runs must be at least 1 at " + site.str());
  const int64_t batch = impl_->check_inputs(inputs, site);
  std::vector<Tensor> staged;
  inputs = impl_->on_device(inputs, staged);
  WorkerLease lease(*impl_);
  trace::ExecutionContext& context = lease.context(batch);
  context.run(inputs);  // untimed: first-call costs (packed weights, primitives) stay out
  std::vector<double> seconds;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) context.run(inputs, &seconds);
  ProgramProfile p;
  p.runs = runs;
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const trace::Graph& g = impl_->instance(batch).graph;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const trace::Node& n = g.nodes[k];
    if (n.op == trace::kConstant) continue;  // nothing runs
    NodeProfile row;
    row.op = op_label(n);
    row.site = n.site.line > 0 ? n.site.str() : "";
    if (!n.outputs.empty()) row.shape = g.values[n.outputs[0]].shape;
    row.seconds = k < seconds.size() ? seconds[k] : 0;
    row.flops = node_flops(g, n);
    if (!n.def || !n.def->view) {  // a view moves no data
      for (int v : n.inputs) row.bytes += static_cast<double>(g.values[v].shape.numel() * dtype_size(g.values[v].dtype));
      for (int v : n.outputs) row.bytes += static_cast<double>(g.values[v].shape.numel() * dtype_size(g.values[v].dtype));
    }
    p.nodes.push_back(std::move(row));
  }
  return p;
}

void Program::run(std::span<const Tensor> inputs, std::span<Tensor> outputs, Site site) const {
  const Impl& s = *impl_;
  const int64_t batch = impl_->check_inputs(inputs, site);
  if (outputs.size() != s.outputs.size())
    throw ValueError("tl::Program('" + s.path + "')::run: takes " + std::to_string(s.outputs.size()) +
                     " output tensors, got " + std::to_string(outputs.size()) + " at " + site.str());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorSignature& want = s.outputs[i];
    if (!outputs[i].defined() || outputs[i].shape() != want.shape_at(batch) || outputs[i].dtype() != want.dtype ||
        outputs[i].device() != s.device)
      throw ShapeError("tl::Program('" + s.path + "')::run: output " + std::to_string(i) + " ('" + want.name +
                       "') must be a " + (s.device.type == DeviceType::kCPU ? std::string("CPU") : s.device.str()) +
                       " tensor of " + want.shape_at(batch).str() + " " + dtype_name(want.dtype) + " at " + site.str());
  }
  std::vector<Tensor> staged;
  inputs = impl_->on_device(inputs, staged);
  WorkerLease lease(*impl_);
  std::span<const Tensor> out = lease.context(batch).run(inputs);
  for (size_t i = 0; i < outputs.size(); ++i) ops::strided_copy(out[i], outputs[i]);
}

}  // namespace tl
