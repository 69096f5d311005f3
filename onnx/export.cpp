// tl::onnx::export_program: an inference function traced into a trace::Graph of plain registry
// ops (the tracing step tl::export_program uses, without the compiler's optimizations), then
// written as an ONNX model at opset 17. Each tl op becomes the ONNX nodes that compute the same
// thing, decomposed where ONNX has no such operator at opset 17 (gelu, mish, ...); the model
// must pass the ONNX checker and strict shape inference, with the traced output types, before
// the file is replaced.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <climits>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "frontend/compile/trace_inference.h"
#include "onnx/proto_tensor.h"
#include "runtime/base/file_io.h"
#include "tl/onnx.h"
#include "tl/ops.h"

#ifndef TL_VERSION_STRING
#define TL_VERSION_STRING "unknown"
#endif

namespace tl::onnx::detail {
namespace {

using onnx_import::dtype_to_onnx;
using onnx_import::tensor_to_proto;

constexpr int64_t kIrVersion = 8;

// Where the export was asked for, for every error message.
struct Target {
  const std::string& path;
  Site site;
};

[[noreturn]] void refuse(const Target& t, const std::string& why) {
  throw CompileError("tl::onnx::export_program('" + t.path + "'): " + why + " (at " + t.site.str() +
                     "); nothing was written");
}

bool is_half(DType d) { return d == kFloat16 || d == kBFloat16; }

// Ops whose results are exact in any dtype (they move, select or negate elements), so half
// inputs stay half. Every other op on float16/bfloat16 computes in float32 and rounds once,
// as tl's own kernels do (and ONNX has no bfloat16 form of Sin, Conv, MaxPool, ...).
const std::unordered_set<std::string>& exact_in_any_dtype() {
  static const std::unordered_set<std::string> ops = {
      "reshape", "permute", "expand", "slice", "cat", "gather", "index_select", "copy",
      "where",   "cast",    "amax",   "neg",   "abs"};
  return ops;
}

class Writer;

// One tl node being converted: its operands and result under the names the ONNX graph gives
// them, and helpers that add the ONNX nodes computing it.
struct Emit {
  Writer& w;
  const trace::Node& node;
  int index;         // the node's index in the traced graph
  DType compute;     // the dtype the ONNX nodes compute in (float32 for widened half ops)
  std::string out;   // the name the last ONNX node must write
  std::string result;  // the tl value's name (the node writing it is named "<op>_<index>")
  int temps = 0;

  const Shape& in_shape(int i) const;
  DType in_dtype(int i) const;
  size_t arity() const { return node.inputs.size(); }
  // Operand `i`, cast to `dtype` when it has another.
  std::string in(int i, DType dtype);
  // Operand `i` in the dtype the op computes in.
  std::string in(int i) { return in(i, compute); }
  // Operand `i` as it is.
  std::string raw(int i);
  std::string temp();
  ::onnx::NodeProto* add(const std::string& op_type, std::vector<std::string> inputs, const std::string& output);
  // Adds `op_type` writing a fresh temporary; returns its name.
  std::string tmp(const std::string& op_type, std::vector<std::string> inputs,
                  const std::function<void(::onnx::NodeProto*)>& attrs = {});
  std::string cast(const std::string& name, DType from, DType to);
  std::string scalar(double v, DType dtype);
  std::string scalar(double v) { return scalar(v, compute); }
  std::string ints(const std::vector<int64_t>& v);
};

void set_int(::onnx::NodeProto* n, const char* name, int64_t v) {
  ::onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(v);
}
void set_float(::onnx::NodeProto* n, const char* name, double v) {
  ::onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(static_cast<float>(v));
}
void set_ints(::onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
  ::onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void set_string(::onnx::NodeProto* n, const char* name, const std::string& v) {
  ::onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::STRING);
  a->set_s(v);
}
std::vector<int64_t> vec(const Shape& s) { return {s.begin(), s.end()}; }

void fill_value_info(::onnx::ValueInfoProto* info, const std::string& name, const Shape& shape, DType dtype,
                     bool dynamic_batch) {
  info->set_name(name);
  ::onnx::TypeProto_Tensor* t = info->mutable_type()->mutable_tensor_type();
  t->set_elem_type(dtype_to_onnx(dtype));
  ::onnx::TensorShapeProto* s = t->mutable_shape();
  for (int64_t d = 0; d < shape.size(); ++d) {
    if (d == 0 && dynamic_batch) s->add_dim()->set_dim_param("batch");
    else s->add_dim()->set_dim_value(shape[d]);
  }
}

class Writer {
 public:
  Writer(const trace::Graph& g, const ExportOptions& options, const Target& target, ::onnx::GraphProto& graph)
      : g_(g), options_(options), target_(target), graph_(graph), names_(g.values.size()) {}

  void write(std::span<const Tensor> args);

  // ---- for Emit ----
  const trace::Graph& graph() const { return g_; }
  bool dynamic_batch() const { return options_.dynamic_batch; }
  const std::string& name_of(int value) const { return names_.at(static_cast<size_t>(value)); }
  ::onnx::GraphProto& proto() { return graph_; }
  // `base`, or `base` with a suffix when the graph already holds that name.
  std::string unique(const std::string& base) {
    std::string name = base;
    for (int k = 1; !used_.insert(name).second; ++k) name = base + "_" + std::to_string(k);
    return name;
  }
  std::string initializer(const Tensor& t, const std::string& base) {
    std::string name = unique(base);
    ::onnx::TensorProto* p = graph_.add_initializer();
    {
      NoGradGuard no_grad;
      tensor_to_proto(t, *p);
    }
    p->set_name(name);
    return name;
  }
  [[noreturn]] void refuse_node(const trace::Node& n, const std::string& why) const {
    refuse(target_, "the op '" + n.op + "'" + (n.site.line != 0 ? " at " + n.site.str() : std::string()) + " " + why);
  }

 private:
  void convert(const trace::Node& n, int index);

  const trace::Graph& g_;
  const ExportOptions& options_;
  const Target& target_;
  ::onnx::GraphProto& graph_;
  std::vector<std::string> names_;  // per value
  std::unordered_set<std::string> used_;
};

const Shape& Emit::in_shape(int i) const { return w.graph().values.at(node.inputs.at(i)).shape; }
DType Emit::in_dtype(int i) const { return w.graph().values.at(node.inputs.at(i)).dtype; }
std::string Emit::raw(int i) { return w.name_of(node.inputs.at(i)); }
std::string Emit::in(int i, DType dtype) { return cast(raw(i), in_dtype(i), dtype); }

std::string Emit::temp() { return w.unique(out + "_" + std::to_string(++temps)); }

::onnx::NodeProto* Emit::add(const std::string& op_type, std::vector<std::string> inputs, const std::string& output) {
  ::onnx::NodeProto* n = w.proto().add_node();
  n->set_op_type(op_type);
  std::string base = node.op + "_" + std::to_string(index);
  n->set_name(w.unique(output == result ? base : base + "_" + op_type));
  for (std::string& s : inputs) n->add_input(std::move(s));
  n->add_output(output);
  if (node.site.line != 0) n->set_doc_string(node.site.str());
  return n;
}

std::string Emit::tmp(const std::string& op_type, std::vector<std::string> inputs,
                      const std::function<void(::onnx::NodeProto*)>& attrs) {
  std::string t = temp();
  ::onnx::NodeProto* n = add(op_type, std::move(inputs), t);
  if (attrs) attrs(n);
  return t;
}

std::string Emit::cast(const std::string& name, DType from, DType to) {
  if (from == to) return name;
  return tmp("Cast", {name}, [&](::onnx::NodeProto* n) { set_int(n, "to", dtype_to_onnx(to)); });
}

std::string Emit::scalar(double v, DType dtype) {
  return w.initializer(full(Shape{}, v, TensorOptions{.dtype = dtype}), out + "_c");
}

std::string Emit::ints(const std::vector<int64_t>& v) {
  return w.initializer(from_vector<int64_t>(v, Shape{static_cast<int64_t>(v.size())}), out + "_c");
}

// ---------------------------------------------------------------- the op table
// Each converter writes `e.out` from the node's operands. Pointwise math follows the op's
// definition in runtime/ops/pointwise/ (same constants, same branch structure).

using Convert = void (*)(Emit& e);

void unary(Emit& e, const char* op_type) { e.add(op_type, {e.in(0)}, e.out); }
void binary(Emit& e, const char* op_type) { e.add(op_type, {e.in(0), e.in(1)}, e.out); }

#define TL_UNARY(onnx_op) [](Emit& e) { unary(e, onnx_op); }
#define TL_BINARY(onnx_op) [](Emit& e) { binary(e, onnx_op); }

// Comparisons see both operands in their common dtype; ONNX orders no bools (int32 instead).
void compare(Emit& e, const char* op_type, bool negate) {
  DType common = promote_types(e.in_dtype(0), e.in_dtype(1));
  if (common == kBool && std::string(op_type) != "Equal") common = kInt32;
  std::vector<std::string> in = {e.in(0, common), e.in(1, common)};
  if (!negate) {
    e.add(op_type, in, e.out);
  } else {
    e.add("Not", {e.tmp(op_type, in)}, e.out);
  }
}

// softplus with PyTorch's beta and threshold: x where beta x > threshold, else
// log(1 + e^(beta x)) / beta (ONNX Softplus is log(e^z + 1)).
void softplus(Emit& e) {
  const ops::Attrs& a = e.node.attrs;
  std::string x = e.in(0);
  std::string z = a.scalar == 1.0 ? x : e.tmp("Mul", {x, e.scalar(a.scalar)});
  std::string sp = e.tmp("Softplus", {z});
  if (a.scalar != 1.0) sp = e.tmp("Div", {sp, e.scalar(a.scalar)});
  e.add("Where", {e.tmp("Greater", {z, e.scalar(a.scalar2)}), x, sp}, e.out);
}

void gelu(Emit& e) {
  std::string x = e.in(0);
  std::string erf = e.tmp("Erf", {e.tmp("Mul", {x, e.scalar(0.70710678118654752440)})});
  std::string half_x = e.tmp("Mul", {e.scalar(0.5), x});
  e.add("Mul", {half_x, e.tmp("Add", {e.scalar(1), erf})}, e.out);
}

void gelu_tanh(Emit& e) {
  std::string x = e.in(0);
  std::string cube = e.tmp("Mul", {x, e.tmp("Mul", {x, x})});
  std::string inner = e.tmp("Add", {x, e.tmp("Mul", {e.scalar(0.044715), cube})});
  std::string t = e.tmp("Tanh", {e.tmp("Mul", {e.scalar(0.79788456080286535588), inner})});
  std::string half_x = e.tmp("Mul", {e.scalar(0.5), x});
  e.add("Mul", {half_x, e.tmp("Add", {e.scalar(1), t})}, e.out);
}

// log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|): finite for every finite x, as tl computes it.
void logsigmoid(Emit& e) {
  std::string x = e.in(0);
  std::string min0 = e.tmp("Min", {x, e.scalar(0)});
  std::string sp = e.tmp("Softplus", {e.tmp("Neg", {e.tmp("Abs", {x})})});
  e.add("Sub", {min0, sp}, e.out);
}

// Clip with the bounds tl's attributes give (present or not).
void clip(Emit& e, bool has_min, double min, bool has_max, double max) {
  std::string x = e.in(0);
  if (!has_min && !has_max) {
    e.add("Identity", {x}, e.out);
    return;
  }
  e.add("Clip", {x, has_min ? e.scalar(min) : std::string(), has_max ? e.scalar(max) : std::string()}, e.out);
}

void reduce(Emit& e) {
  const ops::Attrs& a = e.node.attrs;
  std::string x = e.in(0);
  if (a.dims.empty()) {  // nothing reduced (a 0-d input)
    e.add("Identity", {x}, e.out);
    return;
  }
  ::onnx::NodeProto* n;
  if (e.node.op == "sum" && !a.flag) {
    n = e.add("ReduceSum", {x, e.ints(vec(a.dims))}, e.out);
  } else {
    const char* op_type = e.node.op == "sum" ? "ReduceMean" : a.flag2 ? "ReduceMin" : "ReduceMax";
    n = e.add(op_type, {x}, e.out);
    set_ints(n, "axes", vec(a.dims));  // an attribute up to opset 17 (an input from 18)
  }
  set_int(n, "keepdims", a.keepdim ? 1 : 0);
}

// The operand of an op whose result has another dtype (argmax, argsort): as it is, or in
// float32 when it is a half type (TopK takes no bfloat16).
std::string widened(Emit& e, int i) { return is_half(e.in_dtype(i)) ? e.in(i, kFloat32) : e.raw(i); }

void argmax(Emit& e) {
  const ops::Attrs& a = e.node.attrs;
  if (a.dims.size() != 1) e.w.refuse_node(e.node, "reduces " + a.dims.str() + "; ONNX ArgMax takes one axis");
  ::onnx::NodeProto* n = e.add(a.flag2 ? "ArgMin" : "ArgMax", {widened(e, 0)}, e.out);
  set_int(n, "axis", a.dims[0]);
  set_int(n, "keepdims", a.keepdim ? 1 : 0);
}

void conv2d(Emit& e) {
  const ops::Attrs& a = e.node.attrs;
  std::vector<std::string> in = {e.in(0), e.in(1)};
  if (e.arity() > 2) in.push_back(e.in(2));
  ::onnx::NodeProto* n = e.add("Conv", in, e.out);
  set_ints(n, "kernel_shape", {e.in_shape(1)[2], e.in_shape(1)[3]});
  set_ints(n, "strides", vec(a.stride));
  set_ints(n, "pads", {a.padding[0], a.padding[1], a.padding[0], a.padding[1]});
  set_ints(n, "dilations", vec(a.dilation));
  set_int(n, "group", a.count);
}

void pool2d(Emit& e, bool is_max) {
  const ops::Attrs& a = e.node.attrs;
  ::onnx::NodeProto* n = e.add(is_max ? "MaxPool" : "AveragePool", {e.in(0)}, e.out);
  set_ints(n, "kernel_shape", vec(a.dims));
  set_ints(n, "strides", vec(a.stride));
  set_ints(n, "pads", {a.padding[0], a.padding[1], a.padding[0], a.padding[1]});
  if (!is_max) set_int(n, "count_include_pad", 1);  // tl's avg pool counts padding as zeros
}

void reshape(Emit& e) {
  const Shape& in = e.in_shape(0);
  std::vector<int64_t> shape = vec(e.node.attrs.dims);
  bool has_zero = false;
  for (int64_t d : shape) has_zero = has_zero || d == 0;
  // With a symbolic batch, a 0 copies the input's dim 0 (flatten keeps the batch). A shape
  // holding real zeros needs allowzero instead, and then the batch stays fixed.
  bool keep_batch = e.w.dynamic_batch() && !has_zero && !shape.empty() && in.size() > 0 && in[0] == shape[0];
  if (keep_batch) shape[0] = 0;
  ::onnx::NodeProto* n = e.add("Reshape", {e.in(0), e.ints(shape)}, e.out);
  if (has_zero) set_int(n, "allowzero", 1);
}

void expand(Emit& e) {
  const Shape& in = e.in_shape(0);
  std::vector<int64_t> shape = vec(e.node.attrs.dims);
  // With a symbolic batch, a 1 keeps whatever size the input has in that dim.
  if (e.w.dynamic_batch()) {
    int64_t lead = static_cast<int64_t>(shape.size()) - in.size();
    for (int64_t i = 0; i < in.size(); ++i)
      if (in[i] == shape[static_cast<size_t>(lead + i)]) shape[static_cast<size_t>(lead + i)] = 1;
  }
  e.add("Expand", {e.in(0), e.ints(shape)}, e.out);
}

void slice(Emit& e) {
  const ops::Attrs& a = e.node.attrs;
  int64_t end = a.count2;
  // To the end of a symbolic batch dim: past any size.
  if (e.w.dynamic_batch() && a.axis == 0 && end == e.in_shape(0)[0]) end = std::numeric_limits<int64_t>::max();
  e.add("Slice", {e.in(0), e.ints({a.count}), e.ints({end}), e.ints({a.axis}), e.ints({a.step})}, e.out);
}

void cat(Emit& e) {
  std::vector<std::string> in;
  for (size_t i = 0; i < e.arity(); ++i) in.push_back(e.in(static_cast<int>(i)));
  set_int(e.add("Concat", in, e.out), "axis", e.node.attrs.axis);
}

void matmul_bias(Emit& e) {
  std::string y = e.tmp("MatMul", {e.in(0), e.in(1)});
  bool relu = e.node.attrs.flag;
  if (e.arity() > 2) {
    std::string b = e.in(2);
    if (relu) y = e.tmp("Add", {y, b});
    else e.add("Add", {y, b}, e.out);
  }
  if (relu) e.add("Relu", {y}, e.out);
  else if (e.arity() <= 2) e.add("Identity", {y}, e.out);
}

// index_add: rows of src added at index along axis into zeros = ScatterElements(add) with the
// 1-D index broadcast to src's shape.
void scatter_add(Emit& e, bool rows) {
  const ops::Attrs& a = e.node.attrs;
  std::string zeros = e.temp();
  ::onnx::NodeProto* z = e.add("ConstantOfShape", {e.ints(vec(a.dims))}, zeros);
  {
    ::onnx::AttributeProto* v = z->add_attribute();
    v->set_name("value");
    v->set_type(::onnx::AttributeProto::TENSOR);
    tensor_to_proto(full(Shape{1}, 0.0, TensorOptions{.dtype = e.compute}), *v->mutable_t());
  }
  std::string index = e.raw(1);
  if (rows) {
    const Shape& src = e.in_shape(0);
    std::vector<int64_t> line(static_cast<size_t>(src.size()), 1);
    line[static_cast<size_t>(a.axis)] = src[a.axis];
    index = e.tmp("Expand", {e.tmp("Reshape", {index, e.ints(line)}), e.ints(vec(src))});
  }
  ::onnx::NodeProto* n = e.add("ScatterElements", {zeros, index, e.in(0)}, e.out);
  set_int(n, "axis", a.axis);
  set_string(n, "reduction", "add");
}

void argsort(Emit& e) {
  const ops::Attrs& a = e.node.attrs;
  std::string values = e.temp();
  ::onnx::NodeProto* n = e.add("TopK", {widened(e, 0), e.ints({e.in_shape(0)[a.axis]})}, values);
  n->add_output(e.out);  // the indices
  if (e.out == e.result) n->set_name(e.w.unique("argsort_" + std::to_string(e.index)));
  set_int(n, "axis", a.axis);
  set_int(n, "largest", a.flag ? 1 : 0);
  set_int(n, "sorted", 1);
}

// The fused attention op as the composite it stands for (frontend/ops/nn/attention_op.cpp):
// softmax(q k^T * scale + mask) v, with the causal mask as a constant (L, S) table and rows
// whose keys are all masked given weights of zero (ONNX's Softmax would give NaN).
void attention(Emit& e) {
  const ops::Attrs& a = e.node.attrs;
  const Shape& kshape = e.in_shape(1);
  const int64_t rank = kshape.size(), L = e.in_shape(0)[e.in_shape(0).size() - 2], S = kshape[rank - 2];
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  for (int64_t i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = i;
  std::swap(perm[static_cast<size_t>(rank - 2)], perm[static_cast<size_t>(rank - 1)]);
  std::string kt = e.tmp("Transpose", {e.in(1)}, [&](::onnx::NodeProto* n) { set_ints(n, "perm", perm); });
  std::string scores = e.tmp("MatMul", {e.tmp("Mul", {e.in(0), e.scalar(a.scalar)}), kt});
  const std::string neg_inf = e.scalar(-std::numeric_limits<double>::infinity());
  const bool masked = e.arity() > 3;
  if (masked)
    scores = e.in_dtype(3) == kBool ? e.tmp("Where", {e.raw(3), scores, neg_inf}) : e.tmp("Add", {scores, e.in(3)});
  if (a.flag) {
    std::vector<bool> lower(static_cast<size_t>(L * S));
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = 0; j < S; ++j) lower[static_cast<size_t>(i * S + j)] = j <= i;
    std::string causal = e.w.initializer(from_vector<bool>(lower, Shape{L, S}), e.out + "_causal");
    scores = e.tmp("Where", {causal, scores, neg_inf});
  }
  auto softmax = [&](const std::string& x) {
    return e.tmp("Softmax", {x}, [](::onnx::NodeProto* n) { set_int(n, "axis", -1); });
  };
  std::string weights;
  if (!masked) {
    weights = softmax(scores);  // under the causal mask every row keeps key 0
  } else {
    const std::string zero = e.scalar(0.0);
    std::string row_max = e.tmp("ReduceMax", {scores}, [](::onnx::NodeProto* n) {
      set_ints(n, "axes", {-1});
      set_int(n, "keepdims", 1);
    });
    std::string open = e.tmp("Not", {e.tmp("Equal", {row_max, neg_inf})});
    weights = e.tmp("Where", {open, softmax(e.tmp("Where", {open, scores, zero})), zero});
  }
  e.add("MatMul", {weights, e.in(2)}, e.out);
}

const std::unordered_map<std::string, Convert>& converters() {
  static const std::unordered_map<std::string, Convert> table = {
      {"add", TL_BINARY("Add")},
      {"sub", TL_BINARY("Sub")},
      {"mul", TL_BINARY("Mul")},
      {"div", TL_BINARY("Div")},
      {"pow", TL_BINARY("Pow")},
      {"maximum", TL_BINARY("Max")},
      {"minimum", TL_BINARY("Min")},
      {"eq", [](Emit& e) { compare(e, "Equal", false); }},
      {"ne", [](Emit& e) { compare(e, "Equal", true); }},
      {"lt", [](Emit& e) { compare(e, "Less", false); }},
      {"le", [](Emit& e) { compare(e, "LessOrEqual", false); }},
      {"gt", [](Emit& e) { compare(e, "Greater", false); }},
      {"ge", [](Emit& e) { compare(e, "GreaterOrEqual", false); }},
      {"logical_and", [](Emit& e) { e.add("And", {e.in(0, kBool), e.in(1, kBool)}, e.out); }},
      {"logical_or", [](Emit& e) { e.add("Or", {e.in(0, kBool), e.in(1, kBool)}, e.out); }},
      {"logical_not", [](Emit& e) { e.add("Not", {e.in(0, kBool)}, e.out); }},
      {"where", [](Emit& e) { e.add("Where", {e.in(0, kBool), e.in(1), e.in(2)}, e.out); }},
      {"neg", TL_UNARY("Neg")},
      {"abs", TL_UNARY("Abs")},
      {"exp", TL_UNARY("Exp")},
      {"log", TL_UNARY("Log")},
      {"sqrt", TL_UNARY("Sqrt")},
      {"rsqrt", [](Emit& e) { e.add("Reciprocal", {e.tmp("Sqrt", {e.in(0)})}, e.out); }},
      {"sin", TL_UNARY("Sin")},
      {"cos", TL_UNARY("Cos")},
      {"tanh", TL_UNARY("Tanh")},
      {"sigmoid", TL_UNARY("Sigmoid")},
      {"relu", TL_UNARY("Relu")},
      {"erf", TL_UNARY("Erf")},
      {"reciprocal", TL_UNARY("Reciprocal")},
      {"sign", TL_UNARY("Sign")},
      {"gelu", gelu},
      {"gelu_tanh", gelu_tanh},
      {"silu", [](Emit& e) { e.add("Mul", {e.in(0), e.tmp("Sigmoid", {e.in(0)})}, e.out); }},
      {"elu", [](Emit& e) { set_float(e.add("Elu", {e.in(0)}, e.out), "alpha", e.node.attrs.scalar); }},
      {"selu",
       [](Emit& e) {
         // SELU's constants as tl writes them (runtime/ops/pointwise/activations.cpp).
         ::onnx::NodeProto* n = e.add("Selu", {e.in(0)}, e.out);
         set_float(n, "alpha", 1.6732632423543772848170429916717);
         set_float(n, "gamma", 1.0507009873554804934193349852946);
       }},
      {"leaky_relu",
       [](Emit& e) { set_float(e.add("LeakyRelu", {e.in(0)}, e.out), "alpha", e.node.attrs.scalar); }},
      {"softplus", softplus},
      {"hardtanh",
       [](Emit& e) { clip(e, true, e.node.attrs.scalar, true, e.node.attrs.scalar2); }},
      {"clamp",
       [](Emit& e) {
         const ops::Attrs& a = e.node.attrs;
         clip(e, a.flag, a.scalar, a.flag2, a.scalar2);
       }},
      {"hardswish", TL_UNARY("HardSwish")},
      // x * tanh(softplus(x)); Mish itself is opset 18.
      {"mish", [](Emit& e) { e.add("Mul", {e.in(0), e.tmp("Tanh", {e.tmp("Softplus", {e.in(0)})})}, e.out); }},
      {"logsigmoid", logsigmoid},
      {"pow_scalar", [](Emit& e) { e.add("Pow", {e.in(0), e.scalar(e.node.attrs.scalar)}, e.out); }},
      {"cast",
       [](Emit& e) {
         if (e.in_dtype(0) == e.node.attrs.dtype) e.add("Identity", {e.raw(0)}, e.out);
         else set_int(e.add("Cast", {e.raw(0)}, e.out), "to", dtype_to_onnx(e.node.attrs.dtype));
       }},
      {"matmul", TL_BINARY("MatMul")},
      {"matmul_bias", matmul_bias},
      {"attention", attention},
      {"conv2d", conv2d},
      {"max_pool2d", [](Emit& e) { pool2d(e, true); }},
      {"avg_pool2d", [](Emit& e) { pool2d(e, false); }},
      {"sum", reduce},
      {"amax", reduce},
      {"argmax", argmax},
      {"softmax",
       [](Emit& e) {
         set_int(e.add(e.node.attrs.flag ? "LogSoftmax" : "Softmax", {e.in(0)}, e.out), "axis", e.node.attrs.axis);
       }},
      {"cumsum",
       [](Emit& e) { e.add("CumSum", {e.in(0), e.scalar(static_cast<double>(e.node.attrs.axis), kInt64)}, e.out); }},
      {"argsort", argsort},
      {"reshape", reshape},
      {"permute", [](Emit& e) { set_ints(e.add("Transpose", {e.in(0)}, e.out), "perm", vec(e.node.attrs.dims)); }},
      {"expand", expand},
      {"slice", slice},
      {"cat", cat},
      {"copy", [](Emit& e) { e.add("Identity", {e.in(0)}, e.out); }},
      {"gather",
       [](Emit& e) { set_int(e.add("GatherElements", {e.in(0), e.raw(1)}, e.out), "axis", e.node.attrs.axis); }},
      {"index_select",
       [](Emit& e) { set_int(e.add("Gather", {e.in(0), e.raw(1)}, e.out), "axis", e.node.attrs.axis); }},
      {"one_hot",
       [](Emit& e) {
         std::string values = e.w.initializer(from_vector<float>({0.0f, 1.0f}, Shape{2}), e.out + "_c");
         std::string depth = e.scalar(static_cast<double>(e.node.attrs.count), kInt64);
         set_int(e.add("OneHot", {e.raw(0), depth, values}, e.out), "axis", -1);
       }},
      {"scatter_add", [](Emit& e) { scatter_add(e, false); }},
      {"index_add", [](Emit& e) { scatter_add(e, true); }},
  };
  return table;
}

#undef TL_UNARY
#undef TL_BINARY

void Writer::convert(const trace::Node& n, int index) {
  if (n.op == trace::kConstant) {
    names_[n.outputs.at(0)] = initializer(n.constant, "const_" + std::to_string(n.outputs.at(0)));
    return;
  }
  if (n.def == nullptr) refuse_node(n, "is not a registry op and has no ONNX equivalent");
  auto it = converters().find(n.op);
  if (it == converters().end()) {
    std::string hint = n.op.find("_backward") != std::string::npos
                           ? " (a derivative: export the inference function, not its gradient)"
                           : "";
    refuse_node(n, "has no ONNX equivalent" + hint);
  }
  const trace::Value& result = g_.values.at(n.outputs.at(0));
  bool widen = is_half(result.dtype) && !exact_in_any_dtype().count(n.op);
  std::string& out = names_[n.outputs.at(0)];
  if (out.empty()) out = unique("v" + std::to_string(n.outputs.at(0)));
  Emit e{*this, n, index, widen ? kFloat32 : result.dtype, {}, out};
  if (!widen) {
    e.out = out;
    it->second(e);
    return;
  }
  e.out = unique(out + "_f32");
  it->second(e);
  set_int(e.add("Cast", {e.out}, out), "to", dtype_to_onnx(result.dtype));
}

void Writer::write(std::span<const Tensor> args) {
  graph_.set_name(options_.graph_name);
  if (options_.input_names.size() > args.size())
    refuse(target_, std::to_string(options_.input_names.size()) + " input names for " + std::to_string(args.size()) +
                        " arguments");
  if (options_.output_names.size() > g_.outputs.size())
    refuse(target_, std::to_string(options_.output_names.size()) + " output names for " +
                        std::to_string(g_.outputs.size()) + " outputs");
  auto name_or = [](const std::vector<std::string>& names, size_t i, const char* prefix) {
    return i < names.size() && !names[i].empty() ? names[i] : prefix + std::to_string(i);
  };
  // The interface's names first: they are the user's and must come out as given.
  std::vector<std::string> input_names, output_names;
  for (size_t i = 0; i < args.size(); ++i) input_names.push_back(name_or(options_.input_names, i, "input_"));
  for (size_t i = 0; i < g_.outputs.size(); ++i) output_names.push_back(name_or(options_.output_names, i, "output_"));
  for (const std::vector<std::string>* names : {&input_names, &output_names}) {
    for (const std::string& n : *names)
      if (!used_.insert(n).second) refuse(target_, "the name '" + n + "' is given to two inputs or outputs");
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (options_.dynamic_batch && args[i].dim() == 0)
      refuse(target_, "with dynamic_batch, input " + std::to_string(i) + " ('" + input_names[i] +
                          "') needs a dim 0, but it is a 0-d tensor");
  }

  for (const trace::Input& in : g_.inputs) {
    switch (in.kind) {
      case trace::InputKind::kArgument:
        names_.at(in.value) = input_names.at(static_cast<size_t>(in.arg_index));
        break;
      case trace::InputKind::kCapture: names_.at(in.value) = initializer(in.source, in.name); break;
      default: refuse(target_, "the program reads " + in.name + ", which an ONNX model cannot bind");
    }
  }
  for (size_t i = 0; i < args.size(); ++i)
    fill_value_info(graph_.add_input(), input_names[i], args[i].shape(), args[i].dtype(), options_.dynamic_batch);

  // An output computed by a node is written under the output's name directly; one that is an
  // input, a weight or an earlier output gets an Identity node (ONNX names are single-assignment).
  std::vector<bool> via_identity(g_.outputs.size(), false);
  std::vector<bool> produced(g_.values.size(), false);
  for (const trace::Node& n : g_.nodes)
    if (n.op != trace::kConstant)
      for (int v : n.outputs) produced.at(v) = true;
  for (size_t i = 0; i < g_.outputs.size(); ++i) {
    int v = g_.outputs[i];
    if (produced.at(v) && names_.at(v).empty()) names_.at(v) = output_names[i];
    else via_identity[i] = true;
  }
  for (size_t k = 0; k < g_.nodes.size(); ++k) convert(g_.nodes[k], static_cast<int>(k));
  for (size_t i = 0; i < g_.outputs.size(); ++i) {
    const trace::Value& v = g_.values.at(g_.outputs[i]);
    if (options_.dynamic_batch && v.shape.size() == 0)
      refuse(target_, "with dynamic_batch, output " + std::to_string(i) + " ('" + output_names[i] +
                          "') needs a dim 0, but it is a 0-d tensor");
    if (via_identity[i]) {
      ::onnx::NodeProto* n = graph_.add_node();
      n->set_op_type("Identity");
      n->set_name(unique("output_identity_" + std::to_string(i)));
      n->add_input(names_.at(g_.outputs[i]));
      n->add_output(output_names[i]);
    }
    fill_value_info(graph_.add_output(), output_names[i], v.shape, v.dtype, options_.dynamic_batch);
  }
}

// "float32[batch, 10]" for messages.
std::string describe_type(const ::onnx::TypeProto& type) {
  if (!type.has_tensor_type()) return "(no tensor type)";
  const ::onnx::TypeProto_Tensor& t = type.tensor_type();
  std::string s = onnx_import::onnx_type_name(t.elem_type());
  if (!t.has_shape()) return s + "[unknown shape]";
  s += "[";
  for (int i = 0; i < t.shape().dim_size(); ++i) {
    const ::onnx::TensorShapeProto_Dimension& d = t.shape().dim(i);
    if (i) s += ", ";
    s += d.has_dim_value() ? std::to_string(d.dim_value()) : d.has_dim_param() ? d.dim_param() : "?";
  }
  return s + "]";
}

// Whether the inferred type `got` agrees with the declared `want`: the same element type and
// rank, and every dim the same where inference knows it. Inference leaves some dims unknown
// (OneHot's depth comes from a tensor it does not read); an unknown dim is no contradiction,
// but a fixed size where the batch is symbolic is.
bool agrees(const ::onnx::TypeProto& want, const ::onnx::TypeProto& got) {
  if (!got.has_tensor_type() || got.tensor_type().elem_type() != want.tensor_type().elem_type()) return false;
  if (!got.tensor_type().has_shape()) return false;
  const ::onnx::TensorShapeProto &w = want.tensor_type().shape(), &g = got.tensor_type().shape();
  if (w.dim_size() != g.dim_size()) return false;
  for (int d = 0; d < w.dim_size(); ++d) {
    const ::onnx::TensorShapeProto_Dimension &wd = w.dim(d), &gd = g.dim(d);
    bool unknown = !gd.has_dim_value() && (!gd.has_dim_param() || gd.dim_param().rfind("unk__", 0) == 0);
    if (unknown) continue;
    if (wd.has_dim_value() != gd.has_dim_value()) return false;
    if (wd.has_dim_value() ? wd.dim_value() != gd.dim_value() : wd.dim_param() != gd.dim_param()) return false;
  }
  return true;
}

// Runs the ONNX checker and strict shape inference (with type checks) on `model`, and checks
// that the inferred type of every output is the declared one; returns what failed, or "".
std::string verify(const ::onnx::ModelProto& model) {
  try {
    ::onnx::checker::check_model(model);
    // Inference on a copy whose outputs declare only their element type: what ONNX infers
    // must then equal what tl traced.
    ::onnx::ModelProto inferred = model;
    for (::onnx::ValueInfoProto& out : *inferred.mutable_graph()->mutable_output())
      out.mutable_type()->mutable_tensor_type()->clear_shape();
    ::onnx::shape_inference::InferShapes(inferred, ::onnx::OpSchemaRegistry::Instance(),
                                         ::onnx::ShapeInferenceOptions{true, 1, false});
    for (int i = 0; i < model.graph().output_size(); ++i) {
      const ::onnx::ValueInfoProto& want = model.graph().output(i);
      const ::onnx::ValueInfoProto& got = inferred.graph().output(i);
      if (!agrees(want.type(), got.type()))
        return "ONNX shape inference gives output '" + want.name() + "' the type " + describe_type(got.type()) +
               ", but tl traced " + describe_type(want.type());
    }
    // And the model as written, with its declared output shapes, must infer without conflict.
    ::onnx::ModelProto declared = model;
    ::onnx::shape_inference::InferShapes(declared, ::onnx::OpSchemaRegistry::Instance(),
                                         ::onnx::ShapeInferenceOptions{true, 1, false});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

void export_traced(const tl::detail::ExportBody& body, std::span<const Tensor> args, const std::string& path,
                   const ExportOptions& options, Site site) {
  const Target target{path, site};
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].defined()) refuse(target, "example argument " + std::to_string(i) + " is an undefined tensor");
    if (args[i].device().type != DeviceType::kCPU)
      refuse(target, "example argument " + std::to_string(i) + " is on " + args[i].device().str() +
                         "; ONNX models are exported from CPU tensors");
  }
  trace::Graph g = tl::detail::trace_inference(body, args, site, [&](const std::string& why) { refuse(target, why); });

  ::onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("tracelight");
  model.set_producer_version(TL_VERSION_STRING);
  ::onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kMaxOpset);
  Writer(g, options, target, *model.mutable_graph()).write(args);

  if (model.ByteSizeLong() > static_cast<size_t>(INT_MAX))
    refuse(target, "the model takes " + std::to_string(model.ByteSizeLong()) +
                       " bytes; an ONNX file without external data holds at most 2 GiB");
  std::string failure = verify(model);
  if (!failure.empty()) refuse(target, "the exported model fails the ONNX checker: " + failure);
  std::string bytes;
  if (!model.SerializeToString(&bytes)) refuse(target, "protobuf could not serialize the model");
  tl::detail::write_file_atomically(path, bytes, "tl::onnx::export_program", site);
}

}  // namespace tl::onnx::detail
