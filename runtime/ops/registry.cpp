#include "runtime/ops/registry.h"

#include "runtime/cuda/cuda_backend.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>

#include "runtime/ops/dispatch.h"
#include "runtime/device_backend.h"

namespace tl::ops {
namespace {
std::vector<const OpDef*>& registry() {
  static std::vector<const OpDef*> ops;
  return ops;
}
}  // namespace

void unsupported_dtype(const char* what, DType dtype) {
  throw DTypeError(std::string("tl::") + what + ": dtype " + dtype_name(dtype) +
                   " is not supported by this op");
}

namespace {

bool is_snake_case(const std::string& name) {
  if (name.empty() || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// The checks define_op makes.
void check_definition(const OpDef& op) {
  const std::string what = "op '" + op.name + "'";
  if (!is_snake_case(op.name)) throw ValueError(what + ": the name is not snake_case (the IR spells it tl." + op.name + ")");
  if (op.arity == OpDef::kUnsetArity)
    throw ValueError(what + " declares no arity (set OpDef::arity to its operand count or kVariadic)");
  if (op.arity < kVariadic) throw ValueError(what + " declares arity " + std::to_string(op.arity));
  std::vector<AttrField> used;
  for (const AttrSpec& spec : op.attrs) {
    if (!is_snake_case(spec.name)) throw ValueError(what + ": attribute name '" + spec.name + "' is not snake_case");
    if (spec.field == AttrField::kNone) throw ValueError(what + ": attribute '" + spec.name + "' names no field");
    for (const AttrSpec& other : op.attrs)
      if (&other != &spec && other.name == spec.name)
        throw ValueError(what + " declares attribute '" + spec.name + "' twice");
    for (AttrField f : {spec.field, spec.present}) {
      if (f == AttrField::kNone) continue;
      if (std::find(used.begin(), used.end(), f) != used.end())
        throw ValueError(what + ": two attributes are stored in field '" + std::string(field_name(f)) + "'");
      used.push_back(f);
    }
    if (spec.present != AttrField::kNone && attr_type(spec.present) != AttrType::kBool)
      throw ValueError(what + ": attribute '" + spec.name + "' has a presence field that is not a bool");
  }
}

}  // namespace

const OpDef& define_op(const char* name, const std::function<void(OpDef&)>& build) {
  auto* op = new OpDef();  // lives for the whole process, like the table itself
  op->name = name;
  build(*op);
  check_definition(*op);
  registry().push_back(op);
  return *op;
}

const OpDef& extend_op(const char* name, const std::function<void(OpDef&)>& build) {
  const OpDef* found = find_op(name);
  if (found == nullptr) throw ValueError(std::string("extend_op: no op '") + name + "' is defined (define_op)");
  build(const_cast<OpDef&>(*found));  // the table is filled at static initialization, before any lookup runs
  return *found;
}

AttrType attr_type(AttrField field) {
  switch (field) {
    case AttrField::kDims:
    case AttrField::kStride:
    case AttrField::kPadding:
    case AttrField::kDilation: return AttrType::kInts;
    case AttrField::kAxis:
    case AttrField::kCount:
    case AttrField::kCount2:
    case AttrField::kStep: return AttrType::kInt;
    case AttrField::kScalar:
    case AttrField::kScalar2: return AttrType::kFloat;
    case AttrField::kKeepdim:
    case AttrField::kFlag:
    case AttrField::kFlag2: return AttrType::kBool;
    case AttrField::kDtype: return AttrType::kDType;
    case AttrField::kNone: break;
  }
  TL_ASSERT(false, "attr_type of AttrField::kNone");
}

const char* attr_type_name(AttrType type) {
  switch (type) {
    case AttrType::kInts: return "i64 array";
    case AttrType::kInt: return "i64";
    case AttrType::kFloat: return "f64";
    case AttrType::kBool: return "unit";
    case AttrType::kDType: return "element type";
  }
  return "?";
}

const char* field_name(AttrField field) {
  switch (field) {
    case AttrField::kNone: return "none";
    case AttrField::kDims: return "dims";
    case AttrField::kStride: return "stride";
    case AttrField::kPadding: return "padding";
    case AttrField::kDilation: return "dilation";
    case AttrField::kAxis: return "axis";
    case AttrField::kCount: return "count";
    case AttrField::kCount2: return "count2";
    case AttrField::kStep: return "step";
    case AttrField::kScalar: return "scalar";
    case AttrField::kScalar2: return "scalar2";
    case AttrField::kKeepdim: return "keepdim";
    case AttrField::kFlag: return "flag";
    case AttrField::kFlag2: return "flag2";
    case AttrField::kDtype: return "dtype";
  }
  return "?";
}

namespace {
template <class F>
decltype(auto) with_field(Attrs& a, AttrField field, F&& f) {
  switch (field) {
    case AttrField::kDims: return f(a.dims);
    case AttrField::kStride: return f(a.stride);
    case AttrField::kPadding: return f(a.padding);
    case AttrField::kDilation: return f(a.dilation);
    case AttrField::kAxis: return f(a.axis);
    case AttrField::kCount: return f(a.count);
    case AttrField::kCount2: return f(a.count2);
    case AttrField::kStep: return f(a.step);
    case AttrField::kScalar: return f(a.scalar);
    case AttrField::kScalar2: return f(a.scalar2);
    case AttrField::kKeepdim: return f(a.keepdim);
    case AttrField::kFlag: return f(a.flag);
    case AttrField::kFlag2: return f(a.flag2);
    case AttrField::kDtype: return f(a.dtype);
    case AttrField::kNone: break;
  }
  TL_ASSERT(false, "attribute access through AttrField::kNone");
}
}  // namespace

AttrValue get_attr(const Attrs& attrs, AttrField field) {
  return with_field(const_cast<Attrs&>(attrs), field, [](auto& v) { return AttrValue(v); });
}

void set_attr(Attrs& attrs, AttrField field, const AttrValue& value) {
  with_field(attrs, field, [&](auto& v) {
    using T = std::decay_t<decltype(v)>;
    TL_ASSERT(std::holds_alternative<T>(value),
              std::string("attribute field '") + field_name(field) + "' set with a value of another type");
    v = std::get<T>(value);
  });
}

bool is_default(const Attrs& attrs, AttrField field) {
  static const Attrs defaults;
  return get_attr(attrs, field) == get_attr(defaults, field);
}

bool is_written(const Attrs& attrs, const AttrSpec& spec) {
  if (spec.required) return true;
  if (spec.present != AttrField::kNone) return std::get<bool>(get_attr(attrs, spec.present));
  return !is_default(attrs, spec.field);
}

AttrField undeclared_field(const Attrs& attrs, std::span<const AttrSpec> specs) {
  for (int f = static_cast<int>(AttrField::kDims); f <= static_cast<int>(AttrField::kDtype); ++f) {
    auto field = static_cast<AttrField>(f);
    if (is_default(attrs, field)) continue;
    bool declared = std::any_of(specs.begin(), specs.end(),
                                [&](const AttrSpec& s) { return s.field == field || s.present == field; });
    if (!declared) return field;
  }
  return AttrField::kNone;
}

const std::vector<const OpDef*>& all_ops() { return registry(); }

bool accepts_operand_count(const OpDef& op, size_t n) {
  if (op.arity == kVariadic) return true;
  const auto fewest = static_cast<size_t>(op.arity - static_cast<int>(op.optional_inputs.size()));
  return n <= static_cast<size_t>(op.arity) && n >= fewest;
}

std::string operand_count_text(const OpDef& op) {
  if (op.arity == kVariadic) return "any number of";
  const int fewest = op.arity - static_cast<int>(op.optional_inputs.size());
  return fewest == op.arity ? std::to_string(op.arity) : std::to_string(fewest) + " to " + std::to_string(op.arity);
}

OutputMeta infer_result(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Site site) {
  if (op.infer) return op.infer(inputs, attrs, site);
  if (!op.view) throw ValueError("tl::" + op.name + " has neither a shape rule nor a view function");
  if (inputs.size() != 1)
    throw ValueError("tl::" + op.name + " is a view op and takes 1 operand, got " + std::to_string(inputs.size()));
  Tensor view = op.view(inputs[0], attrs, site);
  return {view.shape(), view.dtype()};
}

const OpDef* find_op(const std::string& name) {
  for (const OpDef* op : registry())
    if (op->name == name) return op;
  return nullptr;
}

std::string describe(std::span<const Tensor> inputs, std::initializer_list<const char*> names) {
  std::string s;
  auto name_it = names.begin();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i) s += ", ";
    std::string name = name_it != names.end() ? *name_it++ : "input " + std::to_string(i);
    if (!inputs[i].defined()) {
      s += name + " is undefined";
      continue;
    }
    s += name + " is " + inputs[i].shape().str() + " " + dtype_name(inputs[i].dtype());
    if (inputs[i].device().type != DeviceType::kCPU) s += " on " + inputs[i].device().str();
  }
  return s;
}

void require_defined(const Tensor& t, const char* op, const char* what, Site site) {
  if (t.defined()) [[likely]] return;
  throw ValueError(std::string("tl::") + op + ": " + what + " is an undefined tensor (default-constructed or "
                   "moved-from); assign it a value before using it, at " + site.str());
}

int64_t normalize_dim(int64_t dim, int64_t rank, const char* op, Site site) {
  int64_t r = rank == 0 ? 1 : rank;
  if (dim < -r || dim >= r) {
    throw ShapeError(std::string("tl::") + op + ": dim " + std::to_string(dim) +
                     " is out of range for a tensor of rank " + std::to_string(rank) +
                     " (expected in [" + std::to_string(-r) + ", " + std::to_string(r - 1) +
                     "]) at " + site.str());
  }
  return dim < 0 ? dim + r : dim;
}

Shape normalize_dims(const Shape& dims, int64_t rank, const char* op, Site site) {
  Shape out;
  for (int64_t d : dims) {
    int64_t n = normalize_dim(d, rank, op, site);
    for (int64_t seen : out)
      if (seen == n) {
        throw ShapeError(std::string("tl::") + op + ": dim " + std::to_string(n) +
                         " appears twice in " + dims.str() + " at " + site.str());
      }
    out.push_back(n);
  }
  return out;
}

void require_floating(const Tensor& t, const char* op, const char* what, Site site) {
  if (!is_floating(t.dtype())) {
    throw DTypeError(std::string("tl::") + op + ": " + what + " must be a floating-point tensor, got " +
                     dtype_name(t.dtype()) + " " + t.shape().str() + " at " + site.str());
  }
}

void check_arity(std::span<const Tensor> inputs, size_t n, const char* op, Site site) {
  if (inputs.size() != n) {
    throw ValueError(std::string("tl::") + op + ": expected " + std::to_string(n) + " operand(s), got " +
                     std::to_string(inputs.size()) + " at " + site.str());
  }
  for (size_t i = 0; i < n; ++i)
    if (!inputs[i].defined())
      throw ValueError(std::string("tl::") + op + ": operand " + std::to_string(i) + " is undefined at " + site.str());
}

void check_axis(int64_t axis, int64_t rank, const char* op, Site site) {
  if (axis >= 0 && axis < rank) return;
  if (rank == 0) {
    throw ShapeError(std::string("tl::") + op + ": axis " + std::to_string(axis) +
                     " names no dim of a 0-d tensor at " + site.str());
  }
  throw ShapeError(std::string("tl::") + op + ": axis " + std::to_string(axis) + " is out of range for a tensor of rank " +
                   std::to_string(rank) + " (expected in [0, " + std::to_string(rank - 1) + "]) at " + site.str());
}

void check_dims(const Shape& dims, int64_t rank, const char* op, Site site) {
  for (int64_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0 || dims[i] >= rank) {
      throw ShapeError(std::string("tl::") + op + ": dim " + std::to_string(dims[i]) + " in dims " + dims.str() +
                       " is out of range for a tensor of rank " + std::to_string(rank) +
                       (rank > 0 ? " (expected in [0, " + std::to_string(rank - 1) + "])" : std::string()) + " at " +
                       site.str());
    }
    for (int64_t j = 0; j < i; ++j)
      if (dims[j] == dims[i]) {
        throw ShapeError(std::string("tl::") + op + ": dim " + std::to_string(dims[i]) + " appears twice in dims " +
                         dims.str() + " at " + site.str());
      }
  }
}

void check_sizes(const Shape& sizes, const char* op, const char* what, Site site) {
  try {
    (void)sizes.numel();  // throws on a negative size or overflow
  } catch (const ShapeError&) {
    throw ShapeError(std::string("tl::") + op + ": " + what + " " + sizes.str() +
                     " is not a shape (sizes must be >= 0 and their product must fit in int64) at " + site.str());
  }
}

void require_same_dtype(std::span<const Tensor> inputs, const char* op, Site site) {
  for (const Tensor& t : inputs) {
    if (t.dtype() != inputs[0].dtype()) {
      throw DTypeError(std::string("tl::") + op + ": operands must share one dtype: " + describe(inputs) + " at " +
                       site.str() + " (the public function casts them to the promoted dtype first)");
    }
  }
}

void require_numeric(const Tensor& t, const char* op, const char* what, Site site) {
  if (t.dtype() == kBool) {
    throw DTypeError(std::string("tl::") + op + ": " + what + " must be a numeric tensor, got bool " +
                     t.shape().str() + " at " + site.str());
  }
}

void require_index_dtype(const Tensor& t, const char* op, const char* what, Site site) {
  if (t.dtype() != kInt32 && t.dtype() != kInt64) {
    throw DTypeError(std::string("tl::") + op + ": " + what + " must be int32 or int64, got " +
                     dtype_name(t.dtype()) + " " + t.shape().str() + " at " + site.str());
  }
}

bool compute_contiguous(const Shape& shape, const Shape& strides) {
  int64_t expected = 1;
  for (int64_t i = shape.size() - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

namespace {
std::atomic<AllocationObserver> g_allocation_observer{nullptr};
}  // namespace

Tensor empty_tensor(const Shape& shape, DType dtype, Device device, const char* op, Site site) {
  // "tl::zeros: ... at train.cpp:7" when the caller named itself, else "tl: ...".
  auto where = [&](const std::string& what) {
    if (op == nullptr) return "tl: " + what;
    return std::string("tl::") + op + ": " + what + (site.line != 0 ? " at " + site.str() : std::string());
  };
  int64_t n;
  try {
    n = shape.numel();
  } catch (const ShapeError& e) {
    if (op == nullptr) throw;
    std::string what = e.what();
    throw ShapeError(where(what.rfind("tl: ", 0) == 0 ? what.substr(4) : what));
  }
  size_t bytes;
  if (__builtin_mul_overflow(static_cast<size_t>(n), dtype_size(dtype), &bytes)) {
    throw ShapeError(where("a tensor of shape " + shape.str() + " " + dtype_name(dtype) + " is too large to allocate"));
  }
  auto& allocator = rt::backend_for(device, "empty").allocator(device.index);
  auto storage = std::make_shared<Storage>();
  try {
    storage->data = allocator.allocate(bytes);
  } catch (const Error& e) {
    throw Error(where(std::string(e.what()) + " for a tensor of shape " + shape.str() + " " + dtype_name(dtype) +
                      " on " + device.str()));
  }
  storage->nbytes = bytes;
  storage->device = device;
  storage->allocator = &allocator;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  impl->device = device;
  impl->is_contiguous = true;
  Tensor t(std::move(impl));
  if (AllocationObserver observe = g_allocation_observer.load(std::memory_order_relaxed)) observe(t);
  return t;
}

void set_allocation_observer(AllocationObserver observer) { g_allocation_observer.store(observer); }

Tensor make_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = x.dtype();
  impl->device = x.device();
  impl->is_contiguous = compute_contiguous(shape, strides);
  return Tensor(std::move(impl));
}

bool has_kernel(const OpDef& op, DeviceType type) {
  return op.kernels[static_cast<int>(type)] != nullptr ||
         (type == DeviceType::kCUDA && op.kind == OpKind::kElementwise);
}

void run_kernel(const OpDef& op, DeviceType type, std::span<const Tensor> inputs, Tensor& out, const Attrs& attrs) {
  if (KernelFn kernel = op.kernels[static_cast<int>(type)]) {
    kernel(inputs, out, attrs);
    return;
  }
  TL_ASSERT(has_kernel(op, type), "an op run on a device it has no kernel for");
  rt::cuda::run_elementwise(op, inputs, out, attrs);
}

}  // namespace tl::ops
