// Unary elementwise ops: each states its math once as a scalar expression, from which both
// its eager kernel and its generated code come (pointwise_op.h), and its derivative with
// Tensor ops.
#include <cmath>

#include "frontend/ops/pointwise/pointwise_op.h"

namespace tl {
namespace ops {
namespace {

// A captureless shape rule for op `name` (a string literal) that calls infer_unary.
#define TL_UNARY_INFER(name, accepts) \
  [](std::span<const Tensor> in, const Attrs&, Site site) { return infer_unary(in, name, accepts, site); }

// ---- each op's scalar math (scalar_builder.h lists the primitives)

constexpr auto neg_math = [](const auto& s, auto x) { return s.neg(x); };
// x < 0 ? -x : x keeps -0.0 and NaN as they are.
constexpr auto abs_math = [](const auto& s, auto x) { return s.select(s.less(x, s.constant(0)), s.neg(x), x); };
constexpr auto exp_math = [](const auto& s, auto x) { return s.exp(x); };
constexpr auto log_math = [](const auto& s, auto x) { return s.log(x); };
constexpr auto sqrt_math = [](const auto& s, auto x) { return s.sqrt(x); };
constexpr auto rsqrt_math = [](const auto& s, auto x) { return s.div(s.constant(1), s.sqrt(x)); };
constexpr auto sin_math = [](const auto& s, auto x) { return s.sin(x); };
constexpr auto cos_math = [](const auto& s, auto x) { return s.cos(x); };
constexpr auto tanh_math = [](const auto& s, auto x) { return s.tanh(x); };
// 1 / (1 + e^-x)
constexpr auto sigmoid_math = [](const auto& s, auto x) {
  return s.div(s.constant(1), s.add(s.constant(1), s.exp(s.neg(x))));
};
constexpr auto relu_math = [](const auto& s, auto x) { return s.select(s.greater(x, s.constant(0)), x, s.constant(0)); };
// 0.5 * x * (1 + erf(x / sqrt(2)))
constexpr auto gelu_math = [](const auto& s, auto x) {
  return s.mul(s.mul(s.constant(0.5), x), s.add(s.constant(1), s.erf(s.mul(x, s.constant(0.70710678118654752440)))));
};
constexpr auto silu_math = [](const auto& s, auto x) { return s.mul(x, sigmoid_math(s, x)); };
constexpr auto erf_math = [](const auto& s, auto x) { return s.erf(x); };
// -1, 0 or 1; NaN gives 0.
constexpr auto sign_math = [](const auto& s, auto x) {
  return s.select(s.less(s.constant(0), x), s.constant(1), s.select(s.less(x, s.constant(0)), s.constant(-1), s.constant(0)));
};
// Nonzero is true.
constexpr auto logical_not_math = [](const auto& s, auto x) { return s.logical_not(s.not_equal(x, s.constant(0))); };
constexpr auto pow_scalar_math = [](const auto& s, auto x, const Attrs& a) { return s.pow(x, s.constant(a.scalar)); };
// flag: has a min (scalar); flag2: has a max (scalar2). NaN stays NaN (both compares are
// false for it); the shape rule ensures min <= max.
constexpr auto clamp_math = [](const auto& s, auto x, const Attrs& a) {
  auto v = x;
  if (a.flag2) v = s.select(s.greater(x, s.constant(a.scalar2)), s.constant(a.scalar2), v);
  if (a.flag) v = s.select(s.less(x, s.constant(a.scalar)), s.constant(a.scalar), v);
  return v;
};

void cast_kernel(std::span<const Tensor> in, Tensor& out, const Attrs&) {
  TL_DISPATCH_ALL(in[0].dtype(), "cast", {
    using In = T;
    TL_DISPATCH_ALL(out.dtype(), "cast", {
      using Out = T;
      unary_loop<In, Out>(in[0], out, [](In x) {
        if constexpr (std::is_same_v<Out, bool>) {
          return static_cast<compute_t<In>>(x) != compute_t<In>(0);
        } else {
          return static_cast<Out>(static_cast<compute_t<Out>>(static_cast<compute_t<In>>(x)));
        }
      });
    })
  })
}

Tensor two(const Tensor& like) { return scalar_like(2.0, like); }
Tensor one(const Tensor& like) { return scalar_like(1.0, like); }

std::vector<Sample> unary_samples(Tensor (*fn)(const Tensor&, Site), double low, double high) {
  auto call = [fn](const std::vector<Tensor>& in) { return fn(in[0], Site::here()); };
  return {Sample{{Shape{}}, call, low, high}, Sample{{Shape{7}}, call, low, high},
          Sample{{Shape{2, 3, 4}}, call, low, high}};
}

// GRAD reads the result as `y()`: g.output() refuses a result modified in place since the
// forward, so only derivatives that read it (and would be wrong) refuse such a write.
#define TL_DEFINE_UNARY(name, text, accepts, low, high, GRAD)              \
  const OpDef& op_##name = define_op(#name, [](OpDef& op) {                \
    op.doc = text;                                                         \
    op.infer = TL_UNARY_INFER(#name, accepts);                             \
    set_pointwise<accepts>(op, name##_math);                               \
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

TL_DEFINE_UNARY(neg, "-x", Accepts::kNumeric, -2, 2, neg(dy))
TL_DEFINE_UNARY(abs, "|x|", Accepts::kNumeric, 0.1, 2, mul(dy, sign(x)))
TL_DEFINE_UNARY(exp, "e^x", Accepts::kFloating, -2, 2, mul(dy, y()))
TL_DEFINE_UNARY(log, "natural logarithm", Accepts::kFloating, 0.1, 3, div(dy, x))
TL_DEFINE_UNARY(sqrt, "square root", Accepts::kFloating, 0.1, 3, div(dy, mul(y(), two(y()))))
TL_DEFINE_UNARY(rsqrt, "1 / sqrt(x)", Accepts::kFloating, 0.1, 3, mul(dy, mul(scalar_like(-0.5, y()), mul(y(), mul(y(), y())))))
TL_DEFINE_UNARY(sin, "sine", Accepts::kFloating, -3, 3, mul(dy, cos(x)))
TL_DEFINE_UNARY(cos, "cosine", Accepts::kFloating, -3, 3, neg(mul(dy, sin(x))))
TL_DEFINE_UNARY(tanh, "hyperbolic tangent", Accepts::kFloating, -2, 2, mul(dy, sub(one(y()), mul(y(), y()))))
TL_DEFINE_UNARY(sigmoid, "1 / (1 + e^-x)", Accepts::kFloating, -3, 3, mul(dy, mul(y(), sub(one(y()), y()))))
TL_DEFINE_UNARY(relu, "max(x, 0)", Accepts::kNumeric, 0.1, 2, relu_backward(dy, y()))
TL_DEFINE_UNARY(gelu, "x * Phi(x), the exact (erf) form", Accepts::kFloating, -3, 3,
                mul(dy, add(mul(scalar_like(0.5, x), add(one(x), erf(mul(x, scalar_like(0.70710678118654752440, x))))),
                            mul(x, mul(scalar_like(0.39894228040143267794, x),
                                       exp(mul(scalar_like(-0.5, x), mul(x, x))))))))
TL_DEFINE_UNARY(silu, "x * sigmoid(x)", Accepts::kFloating, -3, 3,
                [&] {
                  Tensor s = sigmoid(x);
                  return mul(dy, add(s, mul(x, mul(s, sub(one(s), s)))));
                }())
TL_DEFINE_UNARY(erf, "the error function", Accepts::kFloating, -2, 2,
                mul(dy, mul(scalar_like(1.12837916709551257390, x), exp(neg(mul(x, x))))))

const OpDef& op_sign = define_op("sign", [](OpDef& op) {
  op.doc = "-1, 0 or 1";
  op.infer = TL_UNARY_INFER("sign", Accepts::kNumeric);
  set_pointwise<Accepts::kNumeric>(op, sign_math);
  op.not_differentiable = "piecewise constant (zero gradient almost everywhere)";
});
const OpDef& op_logical_not = define_op("logical_not", [](OpDef& op) {
  op.doc = "!x (nonzero is true)";
  op.infer = [](std::span<const Tensor> in, const Attrs&, Site site) {
    return OutputMeta{infer_unary(in, "logical_not", Accepts::kAll, site).shape, kBool};
  };
  set_pointwise<Accepts::kAll>(op, logical_not_math);
  op.not_differentiable = "boolean result";
});
const OpDef& op_pow_scalar = define_op("pow_scalar", [](OpDef& op) {
  op.doc = "x ** exponent";
  op.attrs = {{"exponent", AttrField::kScalar, "the power"}};
  op.infer = TL_UNARY_INFER("pow_scalar", Accepts::kFloating);
  set_pointwise<Accepts::kFloating>(op, pow_scalar_math);
  op.grad = [](const GradContext& g) {
    double p = g.attrs.scalar;
    return std::vector<Tensor>{mul(g.dout, mul(scalar_like(p, g.dout), pow(g.input(0), p - 1)))};
  };
  op.samples = {Sample{{Shape{2, 3}}, [](const std::vector<Tensor>& in) { return pow(in[0], 3.0); }, -2, 2},
                Sample{{Shape{5}}, [](const std::vector<Tensor>& in) { return pow(in[0], 0.5); }, 0.5, 2}};
});
const OpDef& op_clamp = define_op("clamp", [](OpDef& op) {
  op.doc = "min(max(x, min), max); the gradient passes where x is inside [min, max]";
  op.attrs = {{"min", AttrField::kScalar, "lower bound (absent: none)", AttrField::kFlag},
              {"max", AttrField::kScalar2, "upper bound (absent: none)", AttrField::kFlag2}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    if (a.flag && a.flag2 && a.scalar > a.scalar2) {
      throw ValueError("tl::clamp: min " + std::to_string(a.scalar) + " is greater than max " +
                       std::to_string(a.scalar2) + " at " + site.str());
    }
    return infer_unary(in, "clamp", Accepts::kNumeric, site);
  };
  set_pointwise<Accepts::kNumeric>(op, clamp_math);
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
const OpDef& op_cast = define_op("cast", [](OpDef& op) {
  op.doc = "conversion to another element type";
  op.arity = 1;
  op.attrs = {{"dtype", AttrField::kDtype, "the result's element type", AttrField::kNone, /*required=*/true}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    return OutputMeta{infer_unary(in, "cast", Accepts::kAll, site).shape, a.dtype};
  };
  op.kernels[kCpu] = cast_kernel;
  op.kind = OpKind::kElementwise;
  op.pointwise.lower = [](const ScalarBuilder& s, std::span<const ScalarValue> x, const Attrs&) { return s.convert(x[0]); };
  // The engine casts every gradient back to its input's dtype, so the rule is the identity.
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{g.dout}; };
  op.samples = {Sample{{Shape{2, 3}}, [](const std::vector<Tensor>& in) {
                         return cast(cast(in[0], kFloat32), kFloat64);
                       }}};
});

}  // namespace ops

using namespace ops;

namespace {
// Float-only ops promote integer inputs to float32, like PyTorch.
Tensor as_floating(const Tensor& x, Site site) {
  return is_floating(x.dtype()) ? x : cast(x, kFloat32, site);
}
}  // namespace

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
