#include "runtime/exec/graph.h"

#include <mutex>
#include <set>
#include <sstream>

namespace tl::trace {

std::span<const StructuralOp> structural_ops() {
  using ops::AttrField;
  static const std::vector<StructuralOp> table = {
      {kConstant, 0, {}},  // its value is a dense attribute of its own, not an Attrs field
      {kRandom,
       1,
       {{"distribution", AttrField::kCount, "0 uniform U[a, b), 1 normal N(a, b^2), 2 bernoulli(a), 3 randint [a, b)"},
        {"shape", AttrField::kDims, "the result's shape"},
        {"dtype", AttrField::kDtype, "the result's element type", AttrField::kNone, /*required=*/true},
        {"a", AttrField::kScalar, "first parameter of the distribution"},
        {"b", AttrField::kScalar2, "second parameter of the distribution"},
        {"offset", AttrField::kAxis, "Philox counter offset of the draw from the generator state's offset"}}},
      {kGrad, ops::kVariadic, {}},
      {kAssign, 2, {{"to_grad", AttrField::kFlag, "the target's .grad slot instead of its data"}}},
      {kGuard, 1, {{"value", AttrField::kScalar, "the value the host read while tracing", AttrField::kNone, true}}},
  };
  return table;
}

const StructuralOp* find_structural(std::string_view name) {
  for (const StructuralOp& op : structural_ops())
    if (name == op.name) return &op;
  return nullptr;
}

const std::vector<ops::AttrSpec>* attr_specs(std::string_view op) {
  if (const StructuralOp* s = find_structural(op)) return &s->attrs;
  if (const ops::OpDef* def = ops::find_op(std::string(op))) return &def->attrs;
  return nullptr;
}

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
