// Binary elementwise ops: arithmetic, min/max, comparisons, logical ops and where, each
// stating its math once as a scalar expression, from which both its eager kernel and its
// generated code come (pointwise_op.h). Operands broadcast by NumPy rules; the shape rules
// require one dtype (the public functions promote first). Their derivatives are the
// frontend's (frontend/ops/pointwise/binary.cpp).
#include <cmath>

#include "runtime/ops/pointwise/pointwise_op.h"

namespace tl::ops {
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

#define TL_DEFINE_BINARY(name, text, accepts)                                      \
  [[maybe_unused]] const OpDef& op_##name = define_op(#name, [](OpDef& op) {       \
    op.doc = text;                                                                 \
    op.infer = TL_BINARY_INFER(#name, accepts);                                    \
    set_pointwise<accepts>(op, name##_math);                                       \
  });

TL_DEFINE_BINARY(add, "a + b", Accepts::kNumeric)
TL_DEFINE_BINARY(sub, "a - b", Accepts::kNumeric)
TL_DEFINE_BINARY(mul, "a * b", Accepts::kNumeric)
TL_DEFINE_BINARY(div, "a / b (true division: integer operands give float32)", Accepts::kFloating)
TL_DEFINE_BINARY(pow, "a ** b", Accepts::kFloating)
TL_DEFINE_BINARY(maximum, "elementwise max(a, b); ties send the gradient to a", Accepts::kNumeric)
TL_DEFINE_BINARY(minimum, "elementwise min(a, b); ties send the gradient to a", Accepts::kNumeric)
TL_DEFINE_BINARY(relu_backward, "dy * (y > 0): relu's derivative given its output y", Accepts::kNumeric)

#define TL_DEFINE_COMPARE(name, text)                                                  \
  [[maybe_unused]] const OpDef& op_##name = define_op(#name, [](OpDef& op) {           \
    op.doc = text;                                                                     \
    op.infer = [](std::span<const Tensor> in, const Attrs&, Site site) {               \
      return OutputMeta{infer_binary(in, #name, Accepts::kAll, site).shape, kBool};    \
    };                                                                                 \
    set_pointwise<Accepts::kAll>(op, name##_math);                                     \
  });
TL_DEFINE_COMPARE(eq, "a == b")
TL_DEFINE_COMPARE(ne, "a != b")
TL_DEFINE_COMPARE(lt, "a < b")
TL_DEFINE_COMPARE(le, "a <= b")
TL_DEFINE_COMPARE(gt, "a > b")
TL_DEFINE_COMPARE(ge, "a >= b")
TL_DEFINE_COMPARE(logical_and, "a && b (nonzero is true)")
TL_DEFINE_COMPARE(logical_or, "a || b (nonzero is true)")

[[maybe_unused]] const OpDef& op_where = define_op("where", [](OpDef& op) {
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
});

}  // namespace
}  // namespace tl::ops
