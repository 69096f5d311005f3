// Unary elementwise ops: each states its math once as a scalar expression, from which both
// its eager kernel and its generated code come (pointwise_op.h). Their derivatives are the
// frontend's (frontend/ops/pointwise/unary.cpp).
#include <cmath>

#include "runtime/ops/pointwise/pointwise_op.h"

namespace tl::ops {
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
constexpr auto reciprocal_math = [](const auto& s, auto x) { return s.div(s.constant(1), x); };
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

#define TL_DEFINE_UNARY(name, text, accepts)             \
  [[maybe_unused]] const OpDef& op_##name = define_op(#name, [](OpDef& op) { \
    op.doc = text;                                         \
    op.infer = TL_UNARY_INFER(#name, accepts);             \
    set_pointwise<accepts>(op, name##_math);               \
  });

TL_DEFINE_UNARY(neg, "-x", Accepts::kNumeric)
TL_DEFINE_UNARY(abs, "|x|", Accepts::kNumeric)
TL_DEFINE_UNARY(exp, "e^x", Accepts::kFloating)
TL_DEFINE_UNARY(log, "natural logarithm", Accepts::kFloating)
TL_DEFINE_UNARY(sqrt, "square root", Accepts::kFloating)
TL_DEFINE_UNARY(rsqrt, "1 / sqrt(x)", Accepts::kFloating)
TL_DEFINE_UNARY(sin, "sine", Accepts::kFloating)
TL_DEFINE_UNARY(cos, "cosine", Accepts::kFloating)
TL_DEFINE_UNARY(tanh, "hyperbolic tangent", Accepts::kFloating)
TL_DEFINE_UNARY(sigmoid, "1 / (1 + e^-x)", Accepts::kFloating)
TL_DEFINE_UNARY(relu, "max(x, 0)", Accepts::kNumeric)
TL_DEFINE_UNARY(gelu, "x * Phi(x), the exact (erf) form", Accepts::kFloating)
TL_DEFINE_UNARY(silu, "x * sigmoid(x)", Accepts::kFloating)
TL_DEFINE_UNARY(erf, "the error function", Accepts::kFloating)
TL_DEFINE_UNARY(reciprocal, "1 / x", Accepts::kFloating)

[[maybe_unused]] const OpDef& op_sign = define_op("sign", [](OpDef& op) {
  op.doc = "-1, 0 or 1";
  op.infer = TL_UNARY_INFER("sign", Accepts::kNumeric);
  set_pointwise<Accepts::kNumeric>(op, sign_math);
});
const OpDef& op_logical_not [[maybe_unused]] = define_op("logical_not", [](OpDef& op) {
  op.doc = "!x (nonzero is true)";
  op.infer = [](std::span<const Tensor> in, const Attrs&, Site site) {
    return OutputMeta{infer_unary(in, "logical_not", Accepts::kAll, site).shape, kBool};
  };
  set_pointwise<Accepts::kAll>(op, logical_not_math);
});
const OpDef& op_pow_scalar [[maybe_unused]] = define_op("pow_scalar", [](OpDef& op) {
  op.doc = "x ** exponent";
  op.attrs = {{"exponent", AttrField::kScalar, "the power"}};
  op.infer = TL_UNARY_INFER("pow_scalar", Accepts::kFloating);
  set_pointwise<Accepts::kFloating>(op, pow_scalar_math);
});
const OpDef& op_clamp [[maybe_unused]] = define_op("clamp", [](OpDef& op) {
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
});
const OpDef& op_cast [[maybe_unused]] = define_op("cast", [](OpDef& op) {
  op.doc = "conversion to another element type";
  op.arity = 1;
  op.attrs = {{"dtype", AttrField::kDtype, "the result's element type", AttrField::kNone, /*required=*/true}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    return OutputMeta{infer_unary(in, "cast", Accepts::kAll, site).shape, a.dtype};
  };
  op.kernels[kCpu] = cast_kernel;
  op.kind = OpKind::kElementwise;
  op.pointwise.lower = [](const ScalarBuilder& s, std::span<const ScalarValue> x, const Attrs&) { return s.convert(x[0]); };
});

}  // namespace
}  // namespace tl::ops
