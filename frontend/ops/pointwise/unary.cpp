// Unary elementwise ops as the frontend adds them: their derivatives (with Tensor ops), the
// samples the generic tests sweep, and the public functions. Their math and kernels are the
// runtime's (runtime/ops/pointwise/unary.cpp).
#include <cmath>

#include "frontend/ops/pointwise/pointwise.h"

namespace tl {
namespace ops {
namespace {

Tensor two(const Tensor& like) { return scalar_like(2.0, like); }
Tensor one(const Tensor& like) { return scalar_like(1.0, like); }

std::vector<Sample> unary_samples(Tensor (*fn)(const Tensor&, Site), double low, double high) {
  auto call = [fn](const std::vector<Tensor>& in) { return fn(in[0], Site::here()); };
  return {Sample{{Shape{}}, call, low, high}, Sample{{Shape{7}}, call, low, high},
          Sample{{Shape{2, 3, 4}}, call, low, high}};
}

// GRAD reads the result as `y()`: g.output() refuses a result modified in place since the
// forward, so only derivatives that read it (and would be wrong) refuse such a write.
#define TL_DEFINE_UNARY(name, low, high, GRAD)                        \
  const OpDef& op_##name = extend_op(#name, [](OpDef& op) {                \
    op.grad = [](const GradContext& g) -> std::vector<Tensor> {            \
      const Tensor& x = g.input(0);                                        \
      auto y = [&g]() -> const Tensor& { return g.output(); };             \
      const Tensor& dy = g.dout;                                           \
      (void)x;                                                             \
      (void)y;                                                             \
      return {GRAD};                                                       \
    };                                                                     \
    op.samples = unary_samples(tl::name, low, high);                       \
  });

}  // namespace

TL_DEFINE_UNARY(neg, -2, 2, neg(dy))
TL_DEFINE_UNARY(abs, 0.1, 2, mul(dy, sign(x)))
TL_DEFINE_UNARY(exp, -2, 2, mul(dy, y()))
TL_DEFINE_UNARY(log, 0.1, 3, div(dy, x))
TL_DEFINE_UNARY(sqrt, 0.1, 3, div(dy, mul(y(), two(y()))))
TL_DEFINE_UNARY(rsqrt, 0.1, 3, mul(dy, mul(scalar_like(-0.5, y()), mul(y(), mul(y(), y())))))
TL_DEFINE_UNARY(sin, -3, 3, mul(dy, cos(x)))
TL_DEFINE_UNARY(cos, -3, 3, neg(mul(dy, sin(x))))
TL_DEFINE_UNARY(tanh, -2, 2, mul(dy, sub(one(y()), mul(y(), y()))))
TL_DEFINE_UNARY(sigmoid, -3, 3, mul(dy, mul(y(), sub(one(y()), y()))))
TL_DEFINE_UNARY(relu, 0.1, 2, relu_backward(dy, y()))
TL_DEFINE_UNARY(gelu, -3, 3,
                mul(dy, add(mul(scalar_like(0.5, x), add(one(x), erf(mul(x, scalar_like(0.70710678118654752440, x))))),
                            mul(x, mul(scalar_like(0.39894228040143267794, x),
                                       exp(mul(scalar_like(-0.5, x), mul(x, x))))))))
TL_DEFINE_UNARY(silu, -3, 3,
                [&] {
                  Tensor s = sigmoid(x);
                  return mul(dy, add(s, mul(x, mul(s, sub(one(s), s)))));
                }())
TL_DEFINE_UNARY(erf, -2, 2,
                mul(dy, mul(scalar_like(1.12837916709551257390, x), exp(neg(mul(x, x))))))
TL_DEFINE_UNARY(reciprocal, 0.5, 2, neg(mul(dy, mul(y(), y()))))

const OpDef& op_sign = extend_op("sign", [](OpDef& op) {
  op.not_differentiable = "piecewise constant (zero gradient almost everywhere)";
});
const OpDef& op_logical_not = extend_op("logical_not", [](OpDef& op) { op.not_differentiable = "boolean result"; });
const OpDef& op_pow_scalar = extend_op("pow_scalar", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    double p = g.attrs.scalar;
    return std::vector<Tensor>{mul(g.dout, mul(scalar_like(p, g.dout), pow(g.input(0), p - 1)))};
  };
  op.samples = {Sample{{Shape{2, 3}}, [](const std::vector<Tensor>& in) { return pow(in[0], 3.0); }, -2, 2},
                Sample{{Shape{5}}, [](const std::vector<Tensor>& in) { return pow(in[0], 0.5); }, 0.5, 2}};
});
const OpDef& op_clamp = extend_op("clamp", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    Tensor inside = ones_like(x).to(kBool);
    if (g.attrs.flag) inside = logical_and(inside, ge(x, scalar_like(g.attrs.scalar, x)));
    if (g.attrs.flag2) inside = logical_and(inside, le(x, scalar_like(g.attrs.scalar2, x)));
    return std::vector<Tensor>{where(inside, g.dout, zeros_like(g.dout))};
  };
  op.samples = {Sample{{Shape{3, 4}},
                       [](const std::vector<Tensor>& in) { return clamp(in[0], -0.5, 0.7); }, -2, 2}};
});
const OpDef& op_cast = extend_op("cast", [](OpDef& op) {
  // The engine casts every gradient back to its input's dtype, so the rule is the identity.
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{g.dout}; };
  op.samples = {Sample{{Shape{2, 3}}, [](const std::vector<Tensor>& in) {
                         return cast(cast(in[0], kFloat32), kFloat64);
                       }}};
});

}  // namespace ops

using namespace ops;


#define TL_PUBLIC_UNARY(name, floating)                                        \
  Tensor name(const Tensor& x, Site site) {                                   \
    require_defined(x, #name, "the input", site);                             \
    return call(op_##name, {floating ? as_floating(x, site) : x}, {}, site);   \
  }
TL_PUBLIC_UNARY(neg, false)
TL_PUBLIC_UNARY(abs, false)
TL_PUBLIC_UNARY(exp, true)
TL_PUBLIC_UNARY(log, true)
TL_PUBLIC_UNARY(sqrt, true)
TL_PUBLIC_UNARY(rsqrt, true)
TL_PUBLIC_UNARY(sin, true)
TL_PUBLIC_UNARY(cos, true)
TL_PUBLIC_UNARY(tanh, true)
TL_PUBLIC_UNARY(sigmoid, true)
TL_PUBLIC_UNARY(relu, false)
TL_PUBLIC_UNARY(gelu, true)
TL_PUBLIC_UNARY(silu, true)
TL_PUBLIC_UNARY(erf, true)
TL_PUBLIC_UNARY(reciprocal, true)
TL_PUBLIC_UNARY(sign, false)
TL_PUBLIC_UNARY(logical_not, false)

Tensor pow(const Tensor& x, double exponent, Site site) {
  Attrs a;
  a.scalar = exponent;
  require_defined(x, "pow", "the input", site);
  return call(op_pow_scalar, {as_floating(x, site)}, a, site);
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max, Site site) {
  Attrs a;
  a.flag = min.has_value();
  a.scalar = min.value_or(0);
  a.flag2 = max.has_value();
  a.scalar2 = max.value_or(0);
  return call(op_clamp, {x}, a, site);
}

Tensor cast(const Tensor& x, DType dtype, Site site) {
  if (x.dtype() == dtype) return x;
  Attrs a;
  a.dtype = dtype;
  if (!is_floating(dtype) && is_grad_enabled() && x.requires_grad()) {
    NoGradGuard no_grad;  // integer results carry no gradient
    return call(op_cast, {x}, a, site);
  }
  return call(op_cast, {x}, a, site);
}

}  // namespace tl
