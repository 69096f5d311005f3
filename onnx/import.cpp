// tl::onnx::load: parse, check (the ONNX library's checker and shape inference), build the
// verified graph, refuse what tl cannot run (every unsupported node at once), optimize, and
// run the nodes as tl ops, eagerly or through tl::compile.
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <new>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <sstream>
#include <unordered_map>

#include "frontend/trace/tracer.h"
#include "onnx/model_graph.h"
#include "onnx/op_converters.h"
#include "onnx/optimize.h"
#include "runtime/base/file_io.h"
#include "tl/compile.h"
#include "tl/onnx.h"
#include "tl/ops.h"

namespace tl::onnx {

std::string ValueInfo::str() const {
  std::string s = name + ": " + dtype_name(dtype) + "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    if (dims[i] >= 0) s += std::to_string(dims[i]);
    else s += dim_names.size() > i && !dim_names[i].empty() ? dim_names[i] : "?";
  }
  return s + "]";
}

struct Model::Impl {
  onnx_import::Graph graph;
  LoadOptions options;
  onnx_import::OptimizeStats stats;
  std::string file_label;          // the model file's base name, for node sites
  const char* site_file = nullptr;  // file_label interned: nodes' Sites point at it
  // Per node: the graph values whose last reader it is (freed after it runs).
  std::vector<std::vector<std::string>> release_after;
  std::mutex compile_mutex;
  std::unique_ptr<tl::detail::CompiledFunction> compiled;

  std::vector<Tensor> run_graph(std::span<const Tensor> inputs) const;
  void check_inputs(std::span<const Tensor> inputs, Site site) const;
};

namespace {

// The last node reading each value, so eager runs free intermediates as soon as they can.
std::vector<std::vector<std::string>> last_uses(const onnx_import::Graph& g) {
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& in : g.nodes[i].inputs) {
      if (!in.empty()) last[in] = i;
    }
  }
  for (const auto& o : g.outputs) last.erase(o.name);
  std::vector<std::vector<std::string>> out(g.nodes.size());
  for (const auto& [name, i] : last) {
    if (!g.constants.count(name)) out[i].push_back(name);
  }
  return out;
}

// Where the bytes stop being a protobuf message, as far as a walk of the model's top-level
// fields can tell (protobuf reports only that parsing failed): the byte offset and field of a
// truncated or malformed field, or the top-level field inside which the damage lies.
std::string locate_parse_error(std::string_view bytes) {
  auto field_name = [](uint64_t field) -> std::string {
    switch (field) {
      case 7: return "field 7 (graph)";
      case 8: return "field 8 (opset_import)";
      default: return "field " + std::to_string(field);
    }
  };
  size_t at = 0;
  auto varint = [&](uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && at < bytes.size(); shift += 7) {
      const auto b = static_cast<uint8_t>(bytes[at++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  const std::string end = std::to_string(bytes.size());
  while (at < bytes.size()) {
    const std::string start = std::to_string(at);
    uint64_t tag = 0, value = 0;
    if (!varint(tag)) return "the field tag at byte " + start + " is cut off or malformed";
    const uint64_t field = tag >> 3, wire = tag & 7;
    if (field == 0) return "byte " + start + " holds field number 0, which protobuf does not allow";
    const std::string name = field_name(field) + " at byte " + start;
    switch (wire) {
      case 0:
        if (!varint(value)) {
          return name + ": its integer is cut off or malformed (the data ends at byte " + end + ")";
        }
        break;
      case 1:
      case 5: {
        const size_t n = wire == 1 ? 8 : 4;
        if (bytes.size() - at < n) {
          return name + " needs " + std::to_string(n) + " bytes, but the data ends at byte " + end + " (truncated?)";
        }
        at += n;
        break;
      }
      case 2: {
        if (!varint(value)) return name + ": its length is cut off or malformed";
        if (value > bytes.size() - at) {
          return name + " declares " + std::to_string(value) + " bytes from byte " + std::to_string(at) +
                 ", but the data ends at byte " + end + " (truncated?)";
        }
        const size_t field_end = at + static_cast<size_t>(value);
        if (field == 7) {
          ::onnx::GraphProto graph;
          if (!graph.ParseFromArray(bytes.data() + at, static_cast<int>(value))) {
            return "the damage lies inside " + name + ", bytes [" + std::to_string(at) + ", " +
                   std::to_string(field_end) + ")";
          }
        }
        at = field_end;
        break;
      }
      default: return name + " has wire type " + std::to_string(wire) + ", which an ONNX model does not use";
    }
  }
  return "the damage lies inside a nested message";
}

bool compile_by_default() {
  const char* v = std::getenv("TL_COMPILE");
  return !(v && std::string(v) == "0");
}

}  // namespace

void Model::Impl::check_inputs(std::span<const Tensor> inputs, Site site) const {
  const auto& decl = graph.inputs;
  if (inputs.size() != decl.size()) {
    std::string names;
    for (const auto& d : decl) names += (names.empty() ? "" : ", ") + d.str();
    throw ValueError("tl::onnx: model '" + graph.file + "' takes " + std::to_string(decl.size()) + " input(s) (" +
                     names + "), got " + std::to_string(inputs.size()) + " (at " + site.str() + ")");
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    const ValueInfo& d = decl[i];
    if (!t.defined()) throw ValueError("tl::onnx: input '" + d.name + "' is undefined (at " + site.str() + ")");
    if (t.dtype() != d.dtype) {
      throw DTypeError("tl::onnx: input '" + d.name + "' must be " + dtype_name(d.dtype) + ", got " +
                       dtype_name(t.dtype()) + " (at " + site.str() + ")");
    }
    bool ok = d.dims.empty() || static_cast<int64_t>(d.dims.size()) == t.dim();
    for (size_t k = 0; ok && k < d.dims.size(); ++k) ok = d.dims[k] < 0 || d.dims[k] == t.shape()[static_cast<int64_t>(k)];
    if (!ok) {
      throw ShapeError("tl::onnx: input " + d.str() + " cannot take a tensor of shape " + t.shape().str() + " (at " +
                       site.str() + ")");
    }
  }
}

std::vector<Tensor> Model::Impl::run_graph(std::span<const Tensor> inputs) const {
  struct Slot {
    Tensor t;
    bool known = false;
  };
  std::unordered_map<std::string, Slot> env;
  env.reserve(graph.constants.size() + graph.nodes.size() * 2);
  for (const auto& [name, t] : graph.constants) env[name] = {t, true};
  for (size_t i = 0; i < inputs.size(); ++i) env[graph.inputs[i].name] = {inputs[i], false};
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const onnx_import::Node& n = graph.nodes[i];
    onnx_import::NodeInputs in;
    bool all_known = true;
    for (const std::string& name : n.inputs) {
      if (name.empty()) {
        in.values.emplace_back();
        in.known.push_back(true);
        continue;
      }
      const Slot& s = env.at(name);
      in.values.push_back(s.t);
      in.known.push_back(s.known);
      all_known = all_known && s.known;
    }
    const bool known = (all_known && n.op_type != "Dropout") || onnx_import::reads_only_shapes(n);
    const Site site(site_file, static_cast<uint32_t>(i + 1));
    std::vector<Tensor> out;
    try {
      if (known) {  // host values (shapes, and what is computed from them): not part of the program
        trace::PauseScope pause;
        NoGradGuard no_grad;
        out = onnx_import::run_node(n, graph.opset, in, site);
      } else {
        out = onnx_import::run_node(n, graph.opset, in, site);
      }
    } catch (const Error&) {
      throw;
    } catch (const std::bad_alloc&) {
      // Converters build host values (a Range's elements, index lists) in std containers.
      throw Error("tl::onnx: " + n.label() + ": out of memory computing its outputs (std::bad_alloc)");
    } catch (const std::exception& e) {
      // A converter that missed a check on its inputs (a bug in tl) still fails this call
      // with an error the caller can catch, not std::terminate.
      throw Error("tl::onnx: " + n.label() + ": internal error in Tracelight (please report it): " + e.what());
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k].empty()) continue;
      if (k >= out.size() || !out[k].defined()) {
        throw ValueError("tl::onnx: " + n.label() + " does not compute its output " + std::to_string(k) + " ('" +
                         n.outputs[k] + "')");
      }
      env[n.outputs[k]] = {out[k], known};
    }
    for (const std::string& dead : release_after[i]) env.erase(dead);
  }
  std::vector<Tensor> results;
  for (const auto& o : graph.outputs) {
    Tensor t = env.at(o.name).t;
    // Outputs are new tensors the caller owns: never a view of a weight or an input.
    results.push_back(t);
  }
  return results;
}

Model::Model() = default;
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::vector<Tensor> Model::run(std::span<const Tensor> inputs, Site site) const {
  if (!impl_) throw ValueError("tl::onnx::Model: the model is empty (default-constructed or moved from) (at " + site.str() + ")");
  impl_->check_inputs(inputs, site);
  const bool compile = impl_->options.compile < 0 ? compile_by_default() : impl_->options.compile != 0;
  if (!compile) return run_eager(inputs, site);
  std::lock_guard<std::mutex> lock(impl_->compile_mutex);
  if (!impl_->compiled) {
    std::shared_ptr<Impl> impl = impl_;
    CompileOptions options;
    options.name = "onnx:" + impl_->file_label;
    options.warmup_calls = 0;
    impl_->compiled = std::make_unique<tl::detail::CompiledFunction>(
        [impl](std::span<const Tensor> a) { return impl->run_graph(a); }, options, site);
  }
  NoGradGuard no_grad;
  return impl_->compiled->call(inputs);
}

std::vector<Tensor> Model::run_eager(std::span<const Tensor> inputs, Site site) const {
  if (!impl_) throw ValueError("tl::onnx::Model: the model is empty (at " + site.str() + ")");
  impl_->check_inputs(inputs, site);
  NoGradGuard no_grad;
  return impl_->run_graph(inputs);
}

std::vector<Tensor> Model::trace_body(std::span<const Tensor> inputs) const { return impl_->run_graph(inputs); }

Tensor Model::operator()(const Tensor& x, Site site) const {
  if (impl_ && (impl_->graph.inputs.size() != 1 || impl_->graph.outputs.size() != 1)) {
    throw ValueError("tl::onnx: model '" + impl_->graph.file + "' has " + std::to_string(impl_->graph.inputs.size()) +
                     " inputs and " + std::to_string(impl_->graph.outputs.size()) +
                     " outputs; call it with a std::vector<Tensor> (at " + site.str() + ")");
  }
  const Tensor args[] = {x};
  return run(std::span<const Tensor>(args, 1), site)[0];
}

const std::vector<ValueInfo>& Model::inputs() const { return impl_->graph.inputs; }
const std::vector<ValueInfo>& Model::outputs() const { return impl_->graph.outputs; }
int Model::opset() const { return impl_->graph.opset; }
const std::string& Model::producer() const { return impl_->graph.producer; }

std::string Model::plan() const {
  const onnx_import::Graph& g = impl_->graph;
  std::ostringstream s;
  s << "model " << g.file << " (opset " << g.opset << ", " << (g.producer.empty() ? "unknown producer" : g.producer)
    << ")\n";
  s << "load-time optimizations: " << impl_->stats.folded_constants << " constant node(s) folded, "
    << impl_->stats.folded_batch_norms << " batch norm(s) folded into convolutions, " << impl_->stats.removed_nodes
    << " unused node(s) removed\n";
  int64_t weight_bytes = 0;
  for (const auto& [name, t] : g.constants) weight_bytes += static_cast<int64_t>(t.nbytes());
  s << g.constants.size() << " constant(s), " << weight_bytes << " bytes\n";
  for (const auto& in : g.inputs) s << "input  " << in.str() << "\n";
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const onnx_import::Node& n = g.nodes[i];
    s << "  " << i + 1 << ": ";
    for (size_t k = 0; k < n.outputs.size(); ++k) s << (k ? ", " : "") << n.outputs[k];
    s << " = " << n.op_type << "(";
    for (size_t k = 0; k < n.inputs.size(); ++k) s << (k ? ", " : "") << n.inputs[k];
    s << ")\n";
  }
  for (const auto& out : g.outputs) s << "output " << out.str() << "\n";
  return s.str();
}

namespace {

Model load_model(std::string_view bytes, const std::string& file, const std::string& folder, LoadOptions options,
                 Site site) {
  const std::string at = " (at " + site.str() + ")";
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    throw IoError("tl::onnx::load('" + file + "'): the model is " + std::to_string(bytes.size()) + " bytes, over protobuf's 2 GiB limit" + at);
  }
  if (bytes.empty()) throw IoError("tl::onnx::load('" + file + "'): not a valid ONNX model: the file is empty" + at);
  ::onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw IoError("tl::onnx::load('" + file + "'): not a valid ONNX model: the protobuf data (" +
                  std::to_string(bytes.size()) + " bytes) is truncated or corrupt: " + locate_parse_error(bytes) + at);
  }
  if (!model.has_graph()) throw IoError("tl::onnx::load('" + file + "'): not a valid ONNX model: it has no graph" + at);
  // What the checker would refuse with a less direct message.
  int opset = 0;
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") opset = static_cast<int>(op.version());
  }
  if (opset > kMaxOpset) {
    throw ValueError("tl::onnx::load('" + file + "'): the model uses opset " + std::to_string(opset) +
                     " of the default domain, newer than the newest tl supports (" + std::to_string(kMaxOpset) + ")" + at);
  }
  if (model.ir_version() > ::onnx::IR_VERSION) {
    throw ValueError("tl::onnx::load('" + file + "'): the model's IR version " + std::to_string(model.ir_version()) +
                     " is newer than the ONNX library tl uses reads (" + std::to_string(::onnx::IR_VERSION) + ")" + at);
  }

  // Build the graph first: it reads external data (confined to `folder`) and checks every
  // tensor's size against its data, which the checker does not.
  onnx_import::Graph g;
  try {
    g = onnx_import::build_graph(model, file, folder);
  } catch (const IoError& e) {
    throw IoError(e.what() + at);
  } catch (const ValueError& e) {
    throw ValueError(e.what() + at);
  }
  try {
    // The checker sees the model without external data references (already verified and read).
    ::onnx::ModelProto checked = model;
    for (auto& init : *checked.mutable_graph()->mutable_initializer()) {
      if (init.data_location() == ::onnx::TensorProto::EXTERNAL) {
        const Tensor& t = g.constants.at(init.name());
        init.clear_external_data();
        init.set_data_location(::onnx::TensorProto::DEFAULT);
        init.set_raw_data(std::string(static_cast<const char*>(t.data_ptr()), t.nbytes()));
      }
    }
    // The checker requires the file's nodes in topological order; ONNX runtimes accept any
    // order (onnxruntime sorts), and build_graph has sorted them, so it sees that order.
    ::google::protobuf::RepeatedPtrField<::onnx::NodeProto> sorted;
    for (const onnx_import::Node& n : g.nodes) *sorted.Add() = model.graph().node(n.index);
    checked.mutable_graph()->mutable_node()->Swap(&sorted);
    ::onnx::checker::check_model(checked);
    ::onnx::ShapeInferenceOptions inference{/*check_type=*/true, /*error_mode=*/1, /*enable_data_propagation=*/false};
    ::onnx::shape_inference::InferShapes(checked, ::onnx::OpSchemaRegistry::Instance(), inference);
  } catch (const std::exception& e) {
    throw ValueError("tl::onnx::load('" + file + "'): the model fails the ONNX checker: " + e.what() + at);
  }

  std::string unsupported;
  int count = 0;
  for (const onnx_import::Node& n : g.nodes) {
    std::string why = onnx_import::check_node(n, g.opset);
    if (why.empty()) continue;
    ++count;
    unsupported += "\n  " + n.label() + " at opset " + std::to_string(g.opset) + ": " + why;
  }
  if (count) {
    throw ValueError("tl::onnx::load('" + file + "'): " + std::to_string(count) + " node(s) cannot be imported:" + unsupported +
                     "\n(docs/onnx.md lists the supported operators)" + at);
  }

  auto impl = std::make_shared<Model::Impl>();
  impl->options = options;
  // Folding runs nodes on the model's constants: their failures are the model's, at load.
  try {
    if (options.optimize) impl->stats = onnx_import::optimize(g);
    else impl->stats.removed_nodes = onnx_import::remove_unused(g);
  } catch (const Error& e) {
    throw ValueError("tl::onnx::load('" + file + "'): computing the model's constants: " + e.what() + at);
  } catch (const std::bad_alloc&) {
    throw ValueError("tl::onnx::load('" + file + "'): computing the model's constants ran out of memory" + at);
  } catch (const std::exception& e) {
    throw ValueError("tl::onnx::load('" + file + "'): computing the model's constants: internal error in Tracelight "
                     "(please report it): " + e.what() + at);
  }
  impl->graph = std::move(g);
  impl->file_label = std::filesystem::path(file).filename().string();
  impl->site_file = trace::intern_file(impl->file_label);
  impl->release_after = last_uses(impl->graph);
  return Model(impl);
}

}  // namespace

Model load(const std::string& path, LoadOptions options, Site site) {
  std::string bytes = tl::detail::read_file_capped(path, onnx_import::kMaxModelBytes, "tl::onnx::load", site);
  std::filesystem::path p(path);
  std::string folder = p.has_parent_path() ? p.parent_path().string() : std::string(".");
  return load_model(bytes, path, folder, options, site);
}

Model load_bytes(std::string_view bytes, const std::string& folder, LoadOptions options, Site site) {
  return load_model(bytes, "<bytes>", folder, options, site);
}

}  // namespace tl::onnx
