// Binary elementwise ops: arithmetic, min/max, comparisons, logical ops and where, each
// stating its math once as a scalar expression (pointwise_op.h) and its derivative with
// Tensor ops. Operands broadcast by NumPy rules and are promoted to a common dtype first.
#include <cmath>

#include "frontend/ops/pointwise/pointwise_op.h"

namespace tl {
namespace ops {
namespace {

// A captureless shape rule for op `name` (a string literal) that calls infer_binary.
#define TL_BINARY_INFER(name, accepts) \
  [](std::span<const Tensor> in, const Attrs&, Site site) { return infer_binary(in, name, accepts, site); }

// ---- each op's scalar math (scalar_builder.h lists the primitives)

constexpr auto add_math = [](const auto& s, auto x, auto y) { return s.add(x, y); };
constexpr auto sub_math = [](const auto& s, auto x, auto y) { return s.sub(x, y); };
constexpr auto mul_math = [](const auto& s, auto x, auto y) { return s.mul(x, y); };
constexpr auto div_math = [](const auto& s, auto x, auto y) { return s.div(x, y); };
constexpr auto pow_math = [](const auto& s, auto x, auto y) { return s.pow(x, y); };
// NaN propagates through maximum/minimum, as in PyTorch: (x != x || x > y) ? x : y.
constexpr auto maximum_math = [](const auto& s, auto x, auto y) {
  return s.select(s.logical_or(s.is_nan(x), s.greater(x, y)), x, y);
};
constexpr auto minimum_math = [](const auto& s, auto x, auto y) {
  return s.select(s.logical_or(s.is_nan(x), s.less(x, y)), x, y);
};
// relu's derivative in one pass: dy where the output y is positive, else 0.
constexpr auto relu_backward_math = [](const auto& s, auto dy, auto y) {
  return s.select(s.greater(y, s.constant(0)), dy, s.constant(0));
};
constexpr auto eq_math = [](const auto& s, auto x, auto y) { return s.equal(x, y); };
constexpr auto ne_math = [](const auto& s, auto x, auto y) { return s.not_equal(x, y); };
constexpr auto lt_math = [](const auto& s, auto x, auto y) { return s.less(x, y); };
constexpr auto le_math = [](const auto& s, auto x, auto y) { return s.less_equal(x, y); };
constexpr auto gt_math = [](const auto& s, auto x, auto y) { return s.greater(x, y); };
constexpr auto ge_math = [](const auto& s, auto x, auto y) { return s.greater_equal(x, y); };
// Nonzero is true.
constexpr auto logical_and_math = [](const auto& s, auto x, auto y) {
  return s.logical_and(s.not_equal(x, s.constant(0)), s.not_equal(y, s.constant(0)));
};
constexpr auto logical_or_math = [](const auto& s, auto x, auto y) {
  return s.logical_or(s.not_equal(x, s.constant(0)), s.not_equal(y, s.constant(0)));
};
constexpr auto where_math = [](const auto& s, auto cond, auto x, auto y) { return s.select(cond, x, y); };

std::vector<Sample> binary_samples(Tensor (*fn)(const Tensor&, const Tensor&, Site), double low,
                                   double high) {
  auto call = [fn](const std::vector<Tensor>& in) { return fn(in[0], in[1], Site::here()); };
  return {Sample{{Shape{2, 3}, Shape{2, 3}}, call, low, high},
          Sample{{Shape{4, 1, 3}, Shape{2, 1}}, call, low, high},
          Sample{{Shape{3}, Shape{}}, call, low, high}};
}

}  // namespace

const OpDef& op_add = define_op("add", [](OpDef& op) {
  op.doc = "a + b";
  op.infer = TL_BINARY_INFER("add", Accepts::kNumeric);
  set_pointwise<Accepts::kNumeric>(op, add_math);
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{g.dout, g.dout}; };
  op.samples = binary_samples(add, -2, 2);
});
const OpDef& op_sub = define_op("sub", [](OpDef& op) {
  op.doc = "a - b";
  op.infer = TL_BINARY_INFER("sub", Accepts::kNumeric);
  set_pointwise<Accepts::kNumeric>(op, sub_math);
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{g.dout, neg(g.dout)}; };
  op.samples = binary_samples(sub, -2, 2);
});
const OpDef& op_mul = define_op("mul", [](OpDef& op) {
  op.doc = "a * b";
  op.infer = TL_BINARY_INFER("mul", Accepts::kNumeric);
  set_pointwise<Accepts::kNumeric>(op, mul_math);
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{g.needs_input_grad(0) ? mul(g.dout, g.input(1)) : Tensor(),
                               g.needs_input_grad(1) ? mul(g.dout, g.input(0)) : Tensor()};
  };
  op.samples = binary_samples(mul, -2, 2);
});
const OpDef& op_div = define_op("div", [](OpDef& op) {
  op.doc = "a / b (true division: integer operands give float32)";
  op.infer = TL_BINARY_INFER("div", Accepts::kFloating);
  set_pointwise<Accepts::kFloating>(op, div_math);
  op.grad = [](const GradContext& g) {
    Tensor da = div(g.dout, g.input(1));
    return std::vector<Tensor>{da, g.needs_input_grad(1) ? neg(mul(da, g.output())) : Tensor()};
  };
  op.samples = binary_samples(div, 0.5, 2);
});
const OpDef& op_pow = define_op("pow", [](OpDef& op) {
  op.doc = "a ** b";
  op.infer = TL_BINARY_INFER("pow", Accepts::kFloating);
  set_pointwise<Accepts::kFloating>(op, pow_math);
  op.grad = [](const GradContext& g) {
    const Tensor& a = g.input(0);
    const Tensor& b = g.input(1);
    return std::vector<Tensor>{
        g.needs_input_grad(0) ? mul(g.dout, mul(b, pow(a, sub(b, scalar_like(1.0, b))))) : Tensor(),
        g.needs_input_grad(1) ? mul(g.dout, mul(g.output(), log(a))) : Tensor()};
  };
  op.samples = binary_samples(static_cast<Tensor (*)(const Tensor&, const Tensor&, Site)>(pow), 0.5, 2);
});
const OpDef& op_maximum = define_op("maximum", [](OpDef& op) {
  op.doc = "elementwise max(a, b); ties send the gradient to a";
  op.infer = TL_BINARY_INFER("maximum", Accepts::kNumeric);
  set_pointwise<Accepts::kNumeric>(op, maximum_math);
  op.grad = [](const GradContext& g) {
    Tensor take_a = ge(g.input(0), g.input(1));
    Tensor zero = zeros_like(g.dout);
    return std::vector<Tensor>{where(take_a, g.dout, zero), where(take_a, zero, g.dout)};
  };
  op.samples = binary_samples(maximum, -2, 2);
});
const OpDef& op_minimum = define_op("minimum", [](OpDef& op) {
  op.doc = "elementwise min(a, b); ties send the gradient to a";
  op.infer = TL_BINARY_INFER("minimum", Accepts::kNumeric);
  set_pointwise<Accepts::kNumeric>(op, minimum_math);
  op.grad = [](const GradContext& g) {
    Tensor take_a = le(g.input(0), g.input(1));
    Tensor zero = zeros_like(g.dout);
    return std::vector<Tensor>{where(take_a, g.dout, zero), where(take_a, zero, g.dout)};
  };
  op.samples = binary_samples(minimum, -2, 2);
});

const OpDef& op_relu_backward = define_op("relu_backward", [](OpDef& op) {
  op.doc = "dy * (y > 0): relu's derivative given its output y";
  op.infer = TL_BINARY_INFER("relu_backward", Accepts::kNumeric);
  set_pointwise<Accepts::kNumeric>(op, relu_backward_math);
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{relu_backward(g.dout, g.input(1)), zeros_like(g.input(1))};
  };
});

#define TL_DEFINE_COMPARE(name, text)                                                  \
  const OpDef& op_##name = define_op(#name, [](OpDef& op) {                            \
    op.doc = text;                                                                     \
    op.infer = [](std::span<const Tensor> in, const Attrs&, Site site) {               \
      return OutputMeta{infer_binary(in, #name, Accepts::kAll, site).shape, kBool};    \
    };                                                                                 \
    set_pointwise<Accepts::kAll>(op, name##_math);                                     \
    op.not_differentiable = "boolean result";                                          \
  });
TL_DEFINE_COMPARE(eq, "a == b")
TL_DEFINE_COMPARE(ne, "a != b")
TL_DEFINE_COMPARE(lt, "a < b")
TL_DEFINE_COMPARE(le, "a <= b")
TL_DEFINE_COMPARE(gt, "a > b")
TL_DEFINE_COMPARE(ge, "a >= b")
TL_DEFINE_COMPARE(logical_and, "a && b (nonzero is true)")
TL_DEFINE_COMPARE(logical_or, "a || b (nonzero is true)")

const OpDef& op_where = define_op("where", [](OpDef& op) {
  op.doc = "cond ? a : b";
  op.infer = [](std::span<const Tensor> in, const Attrs&, Site site) {
    check_arity(in, 3, "where", site);
    if (in[0].dtype() != kBool) {
      throw DTypeError("tl::where: the condition must be bool, got " + std::string(dtype_name(in[0].dtype())) +
                       " " + in[0].shape().str() + " at " + site.str() + " (compare first, e.g. x > 0)");
    }
    require_same_dtype(in.subspan(1), "where", site);
    return OutputMeta{infer_broadcast(in, "where", site).shape, in[1].dtype()};
  };
  set_pointwise<Accepts::kAll>(op, where_math);
  op.grad = [](const GradContext& g) {
    Tensor zero = zeros_like(g.dout);
    return std::vector<Tensor>{Tensor(), where(g.input(0), g.dout, zero),
                               where(g.input(0), zero, g.dout)};
  };
  op.samples = {Sample{{Shape{2, 3}, Shape{2, 3}, Shape{3}},
                       [](const std::vector<Tensor>& in) { return where(gt(in[0], in[1]), in[1], in[2]); }}};
});

}  // namespace ops

using namespace ops;

namespace {
// Arithmetic and comparisons alike: both operands promoted to their common dtype.
Tensor binary(const OpDef& op, Tensor a, Tensor b, Site site) {
  require_defined(a, op.name.c_str(), "the left operand", site);
  require_defined(b, op.name.c_str(), "the right operand", site);
  promote_operands(a, b, site);
  return call(op, {a, b}, {}, site);
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, Site site) { return binary(op_add, a, b, site); }
Tensor sub(const Tensor& a, const Tensor& b, Site site) { return binary(op_sub, a, b, site); }
Tensor mul(const Tensor& a, const Tensor& b, Site site) { return binary(op_mul, a, b, site); }
Tensor div(const Tensor& a, const Tensor& b, Site site) {
  Tensor x = a, y = b;
  promote_operands(x, y, site);
  if (!is_floating(x.dtype())) {
    x = cast(x, kFloat32, site);
    y = cast(y, kFloat32, site);
  }
  return call(op_div, {x, y}, {}, site);
}
Tensor pow(const Tensor& a, const Tensor& b, Site site) {
  Tensor x = a, y = b;
  promote_operands(x, y, site);
  return call(op_pow, {x, y}, {}, site);
}
Tensor maximum(const Tensor& a, const Tensor& b, Site site) { return binary(op_maximum, a, b, site); }
Tensor minimum(const Tensor& a, const Tensor& b, Site site) { return binary(op_minimum, a, b, site); }
Tensor ops::relu_backward(const Tensor& dy, const Tensor& y, Site site) { return binary(op_relu_backward, dy, y, site); }
Tensor eq(const Tensor& a, const Tensor& b, Site site) { return binary(op_eq, a, b, site); }
Tensor ne(const Tensor& a, const Tensor& b, Site site) { return binary(op_ne, a, b, site); }
Tensor lt(const Tensor& a, const Tensor& b, Site site) { return binary(op_lt, a, b, site); }
Tensor le(const Tensor& a, const Tensor& b, Site site) { return binary(op_le, a, b, site); }
Tensor gt(const Tensor& a, const Tensor& b, Site site) { return binary(op_gt, a, b, site); }
Tensor ge(const Tensor& a, const Tensor& b, Site site) { return binary(op_ge, a, b, site); }
Tensor logical_and(const Tensor& a, const Tensor& b, Site site) { return binary(op_logical_and, a, b, site); }
Tensor logical_or(const Tensor& a, const Tensor& b, Site site) { return binary(op_logical_or, a, b, site); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b, Site site) {
  Tensor x = a, y = b;
  promote_operands(x, y, site);
  return call(op_where, {cond, x, y}, {}, site);
}

Tensor operator+(Operand a, const Tensor& b) { return add(a.t, b, a.site); }
Tensor operator-(Operand a, const Tensor& b) { return sub(a.t, b, a.site); }
Tensor operator*(Operand a, const Tensor& b) { return mul(a.t, b, a.site); }
Tensor operator/(Operand a, const Tensor& b) { return div(a.t, b, a.site); }
Tensor operator+(Operand a, double b) { return add(a.t, scalar_like(b, a.t), a.site); }
Tensor operator-(Operand a, double b) { return sub(a.t, scalar_like(b, a.t), a.site); }
Tensor operator*(Operand a, double b) { return mul(a.t, scalar_like(b, a.t), a.site); }
Tensor operator/(Operand a, double b) { return div(a.t, scalar_like(b, a.t), a.site); }
Tensor operator+(double a, Operand b) { return add(scalar_like(a, b.t), b.t, b.site); }
Tensor operator-(double a, Operand b) { return sub(scalar_like(a, b.t), b.t, b.site); }
Tensor operator*(double a, Operand b) { return mul(scalar_like(a, b.t), b.t, b.site); }
Tensor operator/(double a, Operand b) { return div(scalar_like(a, b.t), b.t, b.site); }
Tensor operator-(Operand a) { return neg(a.t, a.site); }
Tensor operator<(Operand a, const Tensor& b) { return lt(a.t, b, a.site); }
Tensor operator<=(Operand a, const Tensor& b) { return le(a.t, b, a.site); }
Tensor operator>(Operand a, const Tensor& b) { return gt(a.t, b, a.site); }
Tensor operator>=(Operand a, const Tensor& b) { return ge(a.t, b, a.site); }
Tensor operator<(Operand a, double b) { return lt(a.t, scalar_like(b, a.t), a.site); }
Tensor operator<=(Operand a, double b) { return le(a.t, scalar_like(b, a.t), a.site); }
Tensor operator>(Operand a, double b) { return gt(a.t, scalar_like(b, a.t), a.site); }
Tensor operator>=(Operand a, double b) { return ge(a.t, scalar_like(b, a.t), a.site); }

}  // namespace tl
