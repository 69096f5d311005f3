#include "frontend/trace/graph.h"

#include <mutex>
#include <set>
#include <sstream>

namespace tl::trace {

const char* intern_file(const std::string& file) {
  static std::mutex mutex;
  static std::set<std::string> files;  // node-based: c_str() stays valid
  std::lock_guard<std::mutex> lock(mutex);
  return files.insert(file).first->c_str();
}

Tensor meta_tensor(const Shape& shape, DType dtype) {
  auto storage = std::make_shared<Storage>();
  // nbytes without data marks the storage as symbolic: Tensor::data_ptr() refuses it.
  storage->nbytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype) + 1;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  impl->is_contiguous = true;
  return Tensor(std::move(impl));
}

bool is_meta(const Tensor& t) {
  return t.defined() && t.impl()->storage && t.impl()->storage->data == nullptr &&
         t.impl()->storage->nbytes > 0;
}

namespace {
std::string value_str(const Graph& g, int v) {
  const Value& value = g.values.at(v);
  return "%" + std::to_string(v) + ":" + value.shape.str() + dtype_name(value.dtype);
}
const char* kind_name(InputKind kind) {
  switch (kind) {
    case InputKind::kArgument: return "argument";
    case InputKind::kCapture: return "capture";
    case InputKind::kGradOf: return "grad_of";
    case InputKind::kRng: return "rng";
  }
  return "?";
}
}  // namespace

std::string Graph::str() const {
  std::ostringstream out;
  out << "graph " << (name.empty() ? "traced" : name) << "\n";
  for (const Input& in : inputs)
    out << "  input " << value_str(*this, in.value) << " " << kind_name(in.kind) << " " << in.name << "\n";
  for (const Node& n : nodes) {
    out << "  ";
    for (size_t i = 0; i < n.outputs.size(); ++i) out << (i ? ", " : "") << value_str(*this, n.outputs[i]);
    out << (n.outputs.empty() ? "" : " = ") << n.op << "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) out << (i ? ", " : "") << "%" << n.inputs[i];
    out << ")";
    if (n.site.line) out << "  @ " << n.site.str();
    out << "\n";
  }
  out << "  return";
  for (int v : outputs) out << " %" << v;
  out << "\n";
  for (const Writeback& w : writebacks)
    out << "  writeback %" << w.value << " -> " << inputs.at(w.input).name << (w.to_grad ? ".grad" : "") << "\n";
  return out.str();
}

}  // namespace tl::trace
