// The activation functions beyond relu/gelu/silu (PyTorch's torch.nn.functional names and
// defaults): each states its math once as a scalar expression, from which its eager kernel
// and its generated code come (pointwise_op.h). Derivatives are the frontend's
// (frontend/ops/pointwise/activations.cpp).
#include <cmath>

#include "runtime/ops/pointwise/pointwise_op.h"

namespace tl::ops {
namespace {

#define TL_ACTIVATION_INFER(name) \
  [](std::span<const Tensor> in, const Attrs&, Site site) { return infer_unary(in, name, Accepts::kFloating, site); }

// log(1 + e^x) without overflow: e^x is only taken where it stays finite (for x > 20 the
// result is x to float precision, as in PyTorch's softplus threshold).
constexpr auto softplus_unit = [](const auto& s, auto x) {
  return s.select(s.greater(x, s.constant(20)), x, s.log(s.add(s.constant(1), s.exp(x))));
};

// alpha * (e^x - 1) for x <= 0, x above.
constexpr auto elu_math = [](const auto& s, auto x, const Attrs& a) {
  return s.select(s.greater(x, s.constant(0)), x, s.mul(s.constant(a.scalar), s.sub(s.exp(x), s.constant(1))));
};
// SELU's constants (Klambauer et al. 2017), as PyTorch writes them.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr auto selu_math = [](const auto& s, auto x) {
  return s.mul(s.constant(kSeluScale),
               s.select(s.greater(x, s.constant(0)), x, s.mul(s.constant(kSeluAlpha), s.sub(s.exp(x), s.constant(1)))));
};
constexpr auto leaky_relu_math = [](const auto& s, auto x, const Attrs& a) {
  return s.select(s.greater(x, s.constant(0)), x, s.mul(x, s.constant(a.scalar)));
};
// log(1 + e^(beta x)) / beta, and x itself where beta x > threshold.
constexpr auto softplus_math = [](const auto& s, auto x, const Attrs& a) {
  auto z = s.mul(x, s.constant(a.scalar));
  return s.select(s.greater(z, s.constant(a.scalar2)), x,
                  s.div(s.log(s.add(s.constant(1), s.exp(z))), s.constant(a.scalar)));
};
// x clipped to [min_val, max_val]; NaN stays NaN (both compares are false for it).
constexpr auto hardtanh_math = [](const auto& s, auto x, const Attrs& a) {
  return s.select(s.less(x, s.constant(a.scalar)), s.constant(a.scalar),
                  s.select(s.greater(x, s.constant(a.scalar2)), s.constant(a.scalar2), x));
};
// x * relu6(x + 3) / 6
constexpr auto hardswish_math = [](const auto& s, auto x) {
  auto shifted = s.add(x, s.constant(3));
  auto relu6 = s.select(s.less(shifted, s.constant(0)), s.constant(0),
                        s.select(s.greater(shifted, s.constant(6)), s.constant(6), shifted));
  return s.div(s.mul(x, relu6), s.constant(6));
};
// x * tanh(softplus(x))
constexpr auto mish_math = [](const auto& s, auto x) { return s.mul(x, s.tanh(softplus_unit(s, x))); };
// log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|), finite for every finite x.
constexpr auto logsigmoid_math = [](const auto& s, auto x) {
  auto negative_abs = s.select(s.less(x, s.constant(0)), x, s.neg(x));
  auto min0 = s.select(s.less(x, s.constant(0)), x, s.constant(0));
  return s.sub(min0, s.log(s.add(s.constant(1), s.exp(negative_abs))));
};
// GELU's tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
constexpr auto gelu_tanh_math = [](const auto& s, auto x) {
  auto inner = s.mul(s.constant(0.79788456080286535588), s.add(x, s.mul(s.constant(0.044715), s.mul(x, s.mul(x, x)))));
  return s.mul(s.mul(s.constant(0.5), x), s.add(s.constant(1), s.tanh(inner)));
};

#define TL_DEFINE_ACTIVATION(name, text, ...)                                     \
  [[maybe_unused]] const OpDef& op_##name = define_op(#name, [](OpDef& op) {     \
    op.doc = text;                                                               \
    op.attrs = {__VA_ARGS__};                                                    \
    op.infer = TL_ACTIVATION_INFER(#name);                                       \
    set_pointwise<Accepts::kFloating>(op, name##_math);                          \
  });

TL_DEFINE_ACTIVATION(elu, "x for x > 0, else alpha * (e^x - 1)", {"alpha", AttrField::kScalar, "the negative saturation"})
TL_DEFINE_ACTIVATION(selu, "scale * elu(x, alpha) with SELU's fixed alpha and scale")
TL_DEFINE_ACTIVATION(leaky_relu, "x for x > 0, else negative_slope * x",
                     {"negative_slope", AttrField::kScalar, "the slope below 0"})
TL_DEFINE_ACTIVATION(softplus, "log(1 + e^(beta x)) / beta; x where beta x > threshold",
                     {"beta", AttrField::kScalar, "the sharpness"},
                     {"threshold", AttrField::kScalar2, "above it (in beta x) the result is x"})
TL_DEFINE_ACTIVATION(hardtanh, "x clipped to [min_val, max_val]",
                     {"min_val", AttrField::kScalar, "the lower bound"},
                     {"max_val", AttrField::kScalar2, "the upper bound"})
TL_DEFINE_ACTIVATION(hardswish, "x * relu6(x + 3) / 6")
TL_DEFINE_ACTIVATION(mish, "x * tanh(softplus(x))")
TL_DEFINE_ACTIVATION(logsigmoid, "log(sigmoid(x)), computed without overflow")
TL_DEFINE_ACTIVATION(gelu_tanh, "GELU's tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))")

}  // namespace
}  // namespace tl::ops
