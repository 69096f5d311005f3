// The CUDA C emitter: a ScalarBuilder whose values are named CUDA C variables.
#include "runtime/cuda/cuda_source.h"

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <sstream>

#include "runtime/exec/graph.h"
#include "runtime/ops/pointwise/scalar_builder.h"

namespace tl::rt::cuda {

namespace {

bool is_float_compute(DType dtype) { return is_floating(dtype); }

// Appends one statement per primitive to `body`; a value is "v<k>", the k-th statement's result.
class CudaCBuilder : public ops::ScalarBuilder {
 public:
  // `prefix` keeps the names of several builders in one kernel apart (a fused group's steps).
  CudaCBuilder(DType compute_dtype, DType result_dtype, std::string prefix = "v")
      : compute_(compute_dtype), result_(result_dtype), prefix_(std::move(prefix)) {}

  // The operand variable `name` (already declared by the kernel) as a value.
  Value named(const std::string& name, bool pred) const {
    names_.push_back(name);
    preds_.push_back(pred);
    return handle(names_.size() - 1);
  }
  const std::string& name_of(Value v) const { return names_.at(index(v)); }
  bool is_pred(Value v) const { return preds_.at(index(v)); }
  const std::string& body() const { return body_; }

  Value constant(double v) const override {
    char text[64];
    if (std::isnan(v)) std::snprintf(text, sizeof text, "__int_as_float(0x7fc00000)");
    else if (std::isinf(v)) std::snprintf(text, sizeof text, "%s__int_as_float(0x7f800000)", v < 0 ? "-" : "");
    else std::snprintf(text, sizeof text, "%.17g", v);
    return emit(std::string("(") + type() + ")(" + text + ")");
  }
  Value add(Value x, Value y) const override { return binary(x, "+", y); }
  Value sub(Value x, Value y) const override { return binary(x, "-", y); }
  Value mul(Value x, Value y) const override { return binary(x, "*", y); }
  Value div(Value x, Value y) const override { return binary(x, "/", y); }
  Value pow(Value x, Value y) const override { return call("pow", x, y); }
  Value neg(Value x) const override { return emit("-" + name_of(x)); }
  Value exp(Value x) const override { return call("exp", x); }
  Value log(Value x) const override { return call("log", x); }
  Value sqrt(Value x) const override { return call("sqrt", x); }
  Value tanh(Value x) const override { return call("tanh", x); }
  Value erf(Value x) const override { return call("erf", x); }
  Value sin(Value x) const override { return call("sin", x); }
  Value cos(Value x) const override { return call("cos", x); }
  // C's comparisons are false for NaN and != true, as the primitives require.
  Pred less(Value x, Value y) const override { return compare(x, "<", y); }
  Pred less_equal(Value x, Value y) const override { return compare(x, "<=", y); }
  Pred greater(Value x, Value y) const override { return compare(x, ">", y); }
  Pred greater_equal(Value x, Value y) const override { return compare(x, ">=", y); }
  Pred equal(Value x, Value y) const override { return compare(x, "==", y); }
  Pred not_equal(Value x, Value y) const override { return compare(x, "!=", y); }
  Pred is_nan(Value x) const override { return emit_pred(name_of(x) + " != " + name_of(x)); }
  Pred logical_and(Pred x, Pred y) const override { return emit_pred(name_of(x) + " && " + name_of(y)); }
  Pred logical_or(Pred x, Pred y) const override { return emit_pred(name_of(x) + " || " + name_of(y)); }
  Pred logical_not(Pred x) const override { return emit_pred("!" + name_of(x)); }
  Value select(Pred c, Value x, Value y) const override {
    return emit(name_of(c) + " ? " + name_of(x) + " : " + name_of(y), is_pred(x) && is_pred(y));
  }
  Value convert(Value x) const override {
    return emit_as(compute_type(result_), std::string("(") + compute_type(result_) + ")(" + name_of(x) + ")");
  }

 private:
  static Value handle(size_t i) { return Value{reinterpret_cast<const void*>(i + 1)}; }
  static size_t index(Value v) { return reinterpret_cast<uintptr_t>(v.handle) - 1; }
  const char* type() const { return compute_type(compute_); }

  Value emit_as(const std::string& type, const std::string& expr, bool pred = false) const {
    const std::string name = prefix_ + std::to_string(names_.size());
    body_ += "    const " + type + " " + name + " = " + expr + ";\n";
    names_.push_back(name);
    preds_.resize(names_.size(), false);
    preds_.back() = pred;
    return handle(names_.size() - 1);
  }
  Value emit(const std::string& expr, bool pred = false) const { return emit_as(pred ? "bool" : type(), expr, pred); }
  Pred emit_pred(const std::string& expr) const { return emit_as("bool", expr, true); }
  Value binary(Value x, const char* op, Value y) const {
    return emit(std::string("(") + type() + ")(" + name_of(x) + " " + op + " " + name_of(y) + ")");
  }
  Pred compare(Value x, const char* op, Value y) const { return emit_pred(name_of(x) + " " + op + " " + name_of(y)); }
  // Single precision has its own functions (expf, ...); double and integers use the double ones.
  Value call(const char* fn, Value x) const {
    const bool f32 = compute_ == kFloat32 || compute_ == kFloat16 || compute_ == kBFloat16;
    return emit(std::string(fn) + (f32 ? "f" : "") + "(" + name_of(x) + ")");
  }
  Value call(const char* fn, Value x, Value y) const {
    const bool f32 = compute_ == kFloat32 || compute_ == kFloat16 || compute_ == kBFloat16;
    if (!is_float_compute(compute_)) {
      return emit(std::string("(") + type() + ")" + fn + "((double)" + name_of(x) + ", (double)" + name_of(y) + ")");
    }
    return emit(std::string(fn) + (f32 ? "f" : "") + "(" + name_of(x) + ", " + name_of(y) + ")");
  }

  DType compute_, result_;
  std::string prefix_;
  mutable std::vector<std::string> names_;
  mutable std::vector<bool> preds_;
  mutable std::string body_;
};

DType compute_dtype(DType dtype) { return dtype == kFloat16 || dtype == kBFloat16 ? kFloat32 : dtype; }

}  // namespace

const char* storage_type(DType dtype) {
  switch (dtype) {
    case kFloat32: return "float";
    case kFloat64: return "double";
    case kFloat16: return "__half";
    case kBFloat16: return "__nv_bfloat16";
    case kInt32: return "int";
    case kInt64: return "long long";
    case kBool: return "bool";
  }
  return "void";
}

const char* compute_type(DType dtype) { return storage_type(compute_dtype(dtype)); }

std::string kernel_preamble_for(DType dtype) { return kernel_preamble(dtype == kFloat16, dtype == kBFloat16); }

std::string kernel_preamble(bool half, bool bfloat16) {
  return std::string(half ? "#include <cuda_fp16.h>\n" : "") + (bfloat16 ? "#include <cuda_bf16.h>\n" : "") +
         "struct TlShape { int rank; long long size[8]; };\n"
         "struct TlStrides { long long stride[8]; };\n";
}

std::optional<std::string> elementwise_kernel(const ops::OpDef& op, DType input_dtype, const ops::Attrs& attrs,
                                              const std::string& name, unsigned by_value) {
  if (op.kind != ops::OpKind::kElementwise || op.pointwise.lower == nullptr || op.arity < 1 || op.arity > 3)
    return std::nullopt;
  const int arity = op.arity;
  // The operand dtypes (where's condition is bool) and the result's, by the op's shape rule.
  std::vector<DType> dtypes(static_cast<size_t>(arity), input_dtype);
  if (arity == 3) dtypes[0] = kBool;
  DType result = input_dtype;
  try {
    std::vector<Tensor> metas;
    for (DType d : dtypes) metas.push_back(trace::meta_tensor(Shape{2}, d));
    result = ops::infer_result(op, metas, attrs, Site{}).dtype;
  } catch (const Error&) {
    return std::nullopt;  // the op does not take this dtype
  }
  CudaCBuilder builder(input_dtype, result);
  std::vector<ops::ScalarValue> operands;
  std::ostringstream src;
  src << "extern \"C\" __global__ void " << name << "(";
  for (int k = 0; k < arity; ++k) {
    if (by_value & (1u << k)) src << "const " << storage_type(dtypes[k]) << " in" << k << ", ";
    else src << "const " << storage_type(dtypes[k]) << "* __restrict__ in" << k << ", ";
  }
  src << storage_type(result) << "* __restrict__ out, TlShape shape, ";
  for (int k = 0; k < arity; ++k) src << "TlStrides s" << k << ", ";
  src << "TlStrides s_out, long long n) {\n"
      << "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
      << "       i += (long long)gridDim.x * blockDim.x) {\n"
      // Element i's coordinates (row-major in `shape`), once, and each operand's offset from them.
      << "    long long rest = i, o_out = 0";
  for (int k = 0; k < arity; ++k) src << ", o" << k << " = 0";
  src << ";\n"
      << "#pragma unroll 1\n"
      << "    for (int d = shape.rank - 1; d >= 0; --d) {\n"
      << "      const long long c = rest % shape.size[d];\n"
      << "      rest /= shape.size[d];\n"
      << "      o_out += c * s_out.stride[d];\n";
  for (int k = 0; k < arity; ++k) src << "      o" << k << " += c * s" << k << ".stride[d];\n";
  src << "    }\n";
  for (int k = 0; k < arity; ++k) {
    const std::string var = "x" + std::to_string(k);
    const char* type = dtypes[k] == kBool ? "bool" : compute_type(dtypes[k]);
    if (by_value & (1u << k)) src << "    const " << type << " " << var << " = (" << type << ")in" << k << ";\n";
    else src << "    const " << type << " " << var << " = (" << type << ")in" << k << "[o" << k << "];\n";
    operands.push_back(builder.named(var, dtypes[k] == kBool));
  }
  const ops::ScalarValue r = op.pointwise.lower(builder, operands, attrs);
  src << builder.body();
  src << "    out[o_out] = (" << storage_type(result) << ")(" << builder.name_of(r) << ");\n"
      << "  }\n}\n";
  return src.str();
}

namespace {

// The preamble of a fused group's source: the half headers only where a dtype needs them.
std::string fused_preamble(const FusedGroup& group) {
  bool half = false, bfloat16 = false;
  auto note = [&](DType d) {
    half |= d == kFloat16;
    bfloat16 |= d == kBFloat16;
  };
  for (DType d : group.inputs) note(d);
  for (const FusedStep& step : group.steps) note(step.dtype);
  return kernel_preamble(half, bfloat16);
}

// The statements computing the group's steps at input offsets o<k> (at one indent, whatever
// loop they sit in); the last step's value is r<steps - 1>. Each input is loaded once, in its
// storage type; each step's result is kept in its storage type too, so every intermediate is
// rounded as the eager op's result is. Throws ValueError for a step that is not elementwise or
// that reads ahead.
std::string fused_steps(const FusedGroup& group) {
  const int n_in = static_cast<int>(group.inputs.size());
  std::ostringstream src;
  for (int k = 0; k < n_in; ++k)
    src << "    const " << storage_type(group.inputs[k]) << " x" << k << " = in" << k << "[o" << k << "];\n";
  auto stored = [&](int ref) { return ref < 0 ? "x" + std::to_string(-ref - 1) : "r" + std::to_string(ref); };
  auto dtype_of = [&](int ref) { return ref < 0 ? group.inputs[static_cast<size_t>(-ref - 1)] : group.steps[static_cast<size_t>(ref)].dtype; };
  for (size_t k = 0; k < group.steps.size(); ++k) {
    const FusedStep& step = group.steps[k];
    const std::string r = "r" + std::to_string(k);
    if (step.op == nullptr) {  // a constant of the step's dtype
      CudaCBuilder b(compute_dtype(step.dtype), step.dtype, "c" + std::to_string(k) + "_");
      const ops::ScalarValue c = b.constant(step.constant);
      src << b.body() << "    const " << storage_type(step.dtype) << " " << r << " = ("
          << storage_type(step.dtype) << ")(" << b.name_of(c) << ");\n";
      continue;
    }
    const ops::OpDef& op = *step.op;
    if (op.kind != ops::OpKind::kElementwise || op.pointwise.lower == nullptr ||
        static_cast<int>(step.args.size()) != op.arity)
      throw ValueError("tl: fused step " + std::to_string(k) + " (" + op.name + ") is not an elementwise op with " +
                       std::to_string(step.args.size()) + " operands");
    for (int a : step.args)
      if (a >= static_cast<int>(k) || -a - 1 >= n_in)
        throw ValueError("tl: fused step " + std::to_string(k) + " (" + op.name + ") reads an operand not yet computed");
    // The op computes in its (value) operands' dtype, as its eager kernel: where's first is bool.
    const DType input = dtype_of(step.args[op.arity == 3 ? 1 : 0]);
    CudaCBuilder b(compute_dtype(input), step.dtype, "s" + std::to_string(k) + "_");
    std::vector<ops::ScalarValue> operands;
    for (size_t a = 0; a < step.args.size(); ++a) {
      const DType d = dtype_of(step.args[a]);
      const std::string var = "a" + std::to_string(k) + "_" + std::to_string(a);
      const char* type = d == kBool ? "bool" : compute_type(input);
      src << "    const " << type << " " << var << " = (" << type << ")(" << stored(step.args[a]) << ");\n";
      operands.push_back(b.named(var, d == kBool));
    }
    const ops::ScalarValue v = op.pointwise.lower(b, operands, step.attrs);
    src << b.body() << "    const " << storage_type(step.dtype) << " " << r << " = ("
        << storage_type(step.dtype) << ")(" << b.name_of(v) << ");\n";
  }
  return src.str();
}

// What both forms of a reduction need: steps, dims to reduce, and a floating result to add.
void check_fused_reduction(const FusedGroup& group) {
  if (group.steps.empty()) throw ValueError("tl: a fused group without steps");
  const DType result = group.steps.back().dtype;
  if (group.reduce_dims.empty()) throw ValueError("tl: a fused reduction kernel for a group that reduces nothing");
  if (!is_floating(result)) throw ValueError("tl: a fused sum of " + std::string(dtype_name(result)));
}

// A loop, each line after `indent`, that splits the linear index in `rest` (declared by the
// caller, consumed) into the coordinates of `shape` and adds each coordinate times
// `<strides>k.stride[d]` to `<offset>k`, input k's offset (declared by the caller).
void write_offset_loop(std::ostringstream& src, int n_in, const std::string& indent, const char* rest,
                       const char* shape, const char* strides, const char* offset) {
  src << "#pragma unroll 1\n"
      << indent << "for (int d = " << shape << ".rank - 1; d >= 0; --d) {\n"
      << indent << "  const long long c = " << rest << " % " << shape << ".size[d];\n"
      << indent << "  " << rest << " /= " << shape << ".size[d];\n";
  for (int k = 0; k < n_in; ++k) src << indent << "  " << offset << k << " += c * " << strides << k << ".stride[d];\n";
  src << indent << "}\n";
}

}  // namespace

std::string fused_kernel_source(const FusedGroup& group, const std::string& name) {
  if (group.steps.empty()) throw ValueError("tl: a fused group without steps");
  const int n_in = static_cast<int>(group.inputs.size());
  const DType result = group.steps.back().dtype;
  const bool reduce = !group.reduce_dims.empty();
  if (reduce) check_fused_reduction(group);
  std::ostringstream src;
  src << fused_preamble(group) << "extern \"C\" __global__ void " << name << "(";
  for (int k = 0; k < n_in; ++k) src << "const " << storage_type(group.inputs[k]) << "* __restrict__ in" << k << ", ";
  if (!reduce) {
    src << storage_type(result) << "* __restrict__ out, TlShape shape, ";
    for (int k = 0; k < n_in; ++k) src << "TlStrides s" << k << ", ";
    src << "long long n) {\n"
        << "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
        << "       i += (long long)gridDim.x * blockDim.x) {\n"
        << "    long long rest = i";
    for (int k = 0; k < n_in; ++k) src << ", o" << k << " = 0";
    src << ";\n";
    write_offset_loop(src, n_in, "    ", "rest", "shape", "s", "o");
  } else {
    // Output element i: its kept coordinates give each input's base offset; the loop over
    // the reduced coordinates adds each input's offset there.
    src << storage_type(result) << "* __restrict__ out, TlShape kept, TlShape reduced, ";
    for (int k = 0; k < n_in; ++k) src << "TlStrides ks" << k << ", ";
    for (int k = 0; k < n_in; ++k) src << "TlStrides rs" << k << ", ";
    src << "long long n, long long per_output, double scale) {\n"
        << "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
        << "       i += (long long)gridDim.x * blockDim.x) {\n"
        << "    long long rest = i";
    for (int k = 0; k < n_in; ++k) src << ", b" << k << " = 0";
    src << ";\n";
    write_offset_loop(src, n_in, "    ", "rest", "kept", "ks", "b");
    src << "    " << compute_type(result) << " acc = 0;\n"
        << "    for (long long j = 0; j < per_output; ++j) {\n"
        << "      long long r = j";
    for (int k = 0; k < n_in; ++k) src << ", o" << k << " = b" << k;
    src << ";\n";
    write_offset_loop(src, n_in, "      ", "r", "reduced", "rs", "o");
  }
  src << fused_steps(group);
  if (!reduce) {
    src << "    out[i] = r" << group.steps.size() - 1 << ";\n  }\n}\n";
  } else {
    src << "      acc += (" << compute_type(result) << ")r" << group.steps.size() - 1 << ";\n    }\n"
        << "    out[i] = (" << storage_type(result) << ")(acc * (" << compute_type(result) << ")scale);\n  }\n}\n";
  }
  return src.str();
}

std::string fused_block_reduction_source(const FusedGroup& group, const std::string& name) {
  check_fused_reduction(group);
  const int n_in = static_cast<int>(group.inputs.size());
  const DType result = group.steps.back().dtype;
  const std::string out_type = storage_type(result), acc = compute_type(result);
  std::ostringstream src;
  src << fused_preamble(group)
      << "// in<k>: strided (0 along broadcast dims); output i's values are the steps at kept offset\n"
         "// i (ks<k>) plus reduced offset j (rs<k>), j < per_output. out: [rows]. partial:\n"
         "// [gridDim.y, rows] when blockIdx.y splits each output's values into chunks of `chunk`.\n"
         "// threadIdx.x runs across outputs, threadIdx.y along one output's values (consecutive\n"
         "// threads on consecutive j); each thread adds a strided share in the compute type, and a\n"
         "// tree over threadIdx.y (a power of two) adds the shares in a fixed order.\n"
      << "extern \"C\" __global__ void " << name << "(";
  for (int k = 0; k < n_in; ++k) src << "const " << storage_type(group.inputs[k]) << "* __restrict__ in" << k << ", ";
  src << out_type << "* __restrict__ out, " << acc << "* __restrict__ partial, TlShape kept, TlShape reduced, ";
  for (int k = 0; k < n_in; ++k) src << "TlStrides ks" << k << ", ";
  for (int k = 0; k < n_in; ++k) src << "TlStrides rs" << k << ", ";
  src << "long long rows, long long per_output, long long chunk, double scale) {\n"
      << "  __shared__ " << acc << " part[256];\n"
      << "  const unsigned tx = threadIdx.x, ty = threadIdx.y, slot = ty * blockDim.x + tx;\n"
      << "  const long long j_begin = (long long)blockIdx.y * chunk;\n"
      << "  const long long j_end = per_output - j_begin < chunk ? per_output : j_begin + chunk;\n"
      << "  for (long long first = (long long)blockIdx.x * blockDim.x; first < rows;\n"
      << "       first += (long long)gridDim.x * blockDim.x) {\n"
      << "    const long long i = first + tx;\n"
      << "    " << acc << " acc = 0;\n"
      << "    if (i < rows) {\n"
      << "      long long rest = i";
  for (int k = 0; k < n_in; ++k) src << ", b" << k << " = 0";
  src << ";\n";
  write_offset_loop(src, n_in, "      ", "rest", "kept", "ks", "b");
  src << "      for (long long j = j_begin + ty; j < j_end; j += blockDim.y) {\n"
      << "        long long r = j";
  for (int k = 0; k < n_in; ++k) src << ", o" << k << " = b" << k;
  src << ";\n"
      // One reduced dim (a row, or dims the host merged into one): no division per value.
      << "        if (reduced.rank == 1) {\n";
  for (int k = 0; k < n_in; ++k) src << "          o" << k << " += j * rs" << k << ".stride[0];\n";
  src << "        } else {\n";
  write_offset_loop(src, n_in, "          ", "r", "reduced", "rs", "o");
  src << "        }\n"
      << fused_steps(group)
      << "        acc += (" << acc << ")r" << group.steps.size() - 1 << ";\n"
      << "      }\n"
      << "    }\n"
      << "    part[slot] = acc;\n"
      << "    __syncthreads();\n"
      << "    for (unsigned half = blockDim.y / 2; half > 0; half /= 2) {\n"
      << "      if (ty < half) part[slot] += part[slot + half * blockDim.x];\n"
      << "      __syncthreads();\n"
      << "    }\n"
      << "    if (ty == 0 && i < rows) {\n"
      << "      if (gridDim.y > 1) partial[(long long)blockIdx.y * rows + i] = part[tx];\n"
      << "      else out[i] = (" << out_type << ")(part[tx] * (" << acc << ")scale);\n"
      << "    }\n"
      << "    __syncthreads();\n"
      << "  }\n"
      << "}\n\n"
      << "// partial: [splits, rows], each output's chunk sums; out: [rows], the chunks added in order.\n"
      << "extern \"C\" __global__ void " << name << "_combine(const " << acc << "* __restrict__ partial, " << out_type
      << "* __restrict__ out, long long rows, long long splits, double scale) {\n"
      << "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < rows;\n"
      << "       i += (long long)gridDim.x * blockDim.x) {\n"
      << "    " << acc << " s = 0;\n"
      << "    for (long long k = 0; k < splits; ++k) s += partial[k * rows + i];\n"
      << "    out[i] = (" << out_type << ")(s * (" << acc << ")scale);\n"
      << "  }\n"
      << "}\n";
  return src.str();
}

std::string random_preamble() {
  return std::string("#ifndef TL_HD\n#define TL_HD __device__\n#endif\n") +
         "#ifdef __CUDACC_RTC__\n"
         "typedef unsigned int uint32_t;\ntypedef unsigned long long uint64_t;\ntypedef long long int64_t;\n"
         "#endif\n" +
         philox_header_text() + "\n";
}

std::optional<std::string> random_kernel(int kind, DType dtype, const std::string& name, bool key_in_memory) {
  if (kind < 0 || kind > 3) return std::nullopt;
  if (kind == 3 ? dtype != kInt64 : !is_floating(dtype)) return std::nullopt;
  static const char* draws[] = {"tl::rt::random_uniform(w, a, b)", "tl::rt::random_normal(w, a, b)",
                                "tl::rt::random_bernoulli(w, a)",
                                "tl::rt::random_int(w, (long long)a, (unsigned long long)((long long)b - (long long)a))"};
  std::ostringstream src;
  src << "extern \"C\" __global__ void " << name << "(" << storage_type(dtype) << "* __restrict__ out, long long n, "
      << (key_in_memory ? "const long long* __restrict__ key, long long delta, double a, double b) {\n"
                        : "unsigned long long seed, unsigned long long offset, double a, double b) {\n");
  if (key_in_memory) {
    src << "  const unsigned long long seed = (unsigned long long)key[0];\n"
        << "  const unsigned long long offset = (unsigned long long)(key[1] + delta);\n";
  }
  src << "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
      << "       i += (long long)gridDim.x * blockDim.x) {\n"
      << "    uint32_t w[4];\n"
      << "    tl::rt::Philox4x32::generate(seed, offset + (unsigned long long)i, w);\n"
      << "    out[i] = (" << storage_type(dtype) << ")(" << (dtype == kFloat16 || dtype == kBFloat16 ? "(float)" : "")
      << draws[kind] << ");\n"
      << "  }\n}\n";
  return src.str();
}

std::vector<KernelSource> all_elementwise_kernels() {
  std::vector<KernelSource> kernels;
  for (const ops::OpDef* op : ops::all_ops()) {
    if (op->kind != ops::OpKind::kElementwise) continue;
    for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kBool}) {
      const std::string name = "tl_" + op->name + "_" + dtype_name(dtype);
      std::optional<std::string> source = elementwise_kernel(*op, dtype, ops::Attrs{}, name);
      if (source) kernels.push_back({op->name, dtype, name, std::move(*source)});
    }
  }
  return kernels;
}

std::vector<KernelSource> all_random_kernels() {
  std::vector<KernelSource> kernels;
  for (int kind = 0; kind < 4; ++kind) {
    for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64}) {
      const std::string name = "tl_random" + std::to_string(kind) + "_" + dtype_name(dtype);
      std::optional<std::string> source = random_kernel(kind, dtype, name);
      if (source) kernels.push_back({"random_" + std::to_string(kind), dtype, name, std::move(*source)});
    }
  }
  return kernels;
}

}  // namespace tl::rt::cuda
