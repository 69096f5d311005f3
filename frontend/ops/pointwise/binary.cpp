// Binary elementwise ops as the frontend adds them: their derivatives (with Tensor ops), the
// samples the generic tests sweep, and the public functions and operators, which promote both
// operands to a common dtype first. Their math and kernels are the runtime's
// (runtime/ops/pointwise/binary.cpp).
#include <cmath>

#include "frontend/ops/pointwise/pointwise.h"

namespace tl {
namespace ops {
namespace {

std::vector<Sample> binary_samples(Tensor (*fn)(const Tensor&, const Tensor&, Site), double low,
                                   double high) {
  auto call = [fn](const std::vector<Tensor>& in) { return fn(in[0], in[1], Site::here()); };
  return {Sample{{Shape{2, 3}, Shape{2, 3}}, call, low, high},
          Sample{{Shape{4, 1, 3}, Shape{2, 1}}, call, low, high},
          Sample{{Shape{3}, Shape{}}, call, low, high}};
}

}  // namespace

const OpDef& op_add = extend_op("add", [](OpDef& op) {
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{g.dout, g.dout}; };
  op.samples = binary_samples(add, -2, 2);
});
const OpDef& op_sub = extend_op("sub", [](OpDef& op) {
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{g.dout, neg(g.dout)}; };
  op.samples = binary_samples(sub, -2, 2);
});
const OpDef& op_mul = extend_op("mul", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{g.needs_input_grad(0) ? mul(g.dout, g.input(1)) : Tensor(),
                               g.needs_input_grad(1) ? mul(g.dout, g.input(0)) : Tensor()};
  };
  op.samples = binary_samples(mul, -2, 2);
});
const OpDef& op_div = extend_op("div", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    Tensor da = div(g.dout, g.input(1));
    return std::vector<Tensor>{da, g.needs_input_grad(1) ? neg(mul(da, g.output())) : Tensor()};
  };
  op.samples = binary_samples(div, 0.5, 2);
});
const OpDef& op_pow = extend_op("pow", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& a = g.input(0);
    const Tensor& b = g.input(1);
    return std::vector<Tensor>{
        g.needs_input_grad(0) ? mul(g.dout, mul(b, pow(a, sub(b, scalar_like(1.0, b))))) : Tensor(),
        g.needs_input_grad(1) ? mul(g.dout, mul(g.output(), log(a))) : Tensor()};
  };
  op.samples = binary_samples(static_cast<Tensor (*)(const Tensor&, const Tensor&, Site)>(pow), 0.5, 2);
});
const OpDef& op_maximum = extend_op("maximum", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    Tensor take_a = ge(g.input(0), g.input(1));
    Tensor zero = zeros_like(g.dout);
    return std::vector<Tensor>{where(take_a, g.dout, zero), where(take_a, zero, g.dout)};
  };
  op.samples = binary_samples(maximum, -2, 2);
});
const OpDef& op_minimum = extend_op("minimum", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    Tensor take_a = le(g.input(0), g.input(1));
    Tensor zero = zeros_like(g.dout);
    return std::vector<Tensor>{where(take_a, g.dout, zero), where(take_a, zero, g.dout)};
  };
  op.samples = binary_samples(minimum, -2, 2);
});

const OpDef& op_relu_backward = extend_op("relu_backward", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{relu_backward(g.dout, g.input(1)), zeros_like(g.input(1))};
  };
});

#define TL_EXTEND_COMPARE(name) \
  const OpDef& op_##name = extend_op(#name, [](OpDef& op) { op.not_differentiable = "boolean result"; });
TL_EXTEND_COMPARE(eq)
TL_EXTEND_COMPARE(ne)
TL_EXTEND_COMPARE(lt)
TL_EXTEND_COMPARE(le)
TL_EXTEND_COMPARE(gt)
TL_EXTEND_COMPARE(ge)
TL_EXTEND_COMPARE(logical_and)
TL_EXTEND_COMPARE(logical_or)

const OpDef& op_where = extend_op("where", [](OpDef& op) {
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

Tensor clamp(const Tensor& x, const Tensor& min, const Tensor& max, Site site) {
  require_defined(x, "clamp", "x", site);
  require_defined(min, "clamp", "min", site);
  require_defined(max, "clamp", "max", site);
  // NaN in x or in a bound gives NaN, as in PyTorch (maximum and minimum propagate it).
  return minimum(maximum(x, min, site), max, site);
}

}  // namespace tl
