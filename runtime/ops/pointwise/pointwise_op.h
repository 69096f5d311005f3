// Registration of an elementwise op from its scalar math (scalar_builder.h): set_pointwise
// instantiates the math with EagerScalar for the eager CPU kernel and with ScalarBuilder for
// code generation, so both run the same expression. An op definition then reads:
//
//   constexpr auto softsign_math = [](const auto& s, auto x) {
//     return s.div(x, s.add(s.constant(1), s.select(s.less(x, s.constant(0)), s.neg(x), x)));
//   };
//   const OpDef& op_softsign = define_op("softsign", [](OpDef& op) {
//     op.doc = "x / (1 + |x|)";
//     op.infer = [](std::span<const Tensor> in, const Attrs&, Site site) {
//       return infer_unary(in, "softsign", Accepts::kFloating, site);
//     };
//     set_pointwise<Accepts::kFloating>(op, softsign_math);
//     op.grad = ...;
//     op.samples = ...;
//   });
//
// The math takes the evaluator and one argument per operand; math that reads attributes takes
// `const Attrs&` last. The first operand of a three-operand op is a truth value (where).
#pragma once

#include <cmath>
#include <type_traits>
#include <utility>

#include "runtime/ops/pointwise/pointwise.h"
#include "runtime/ops/pointwise/scalar_builder.h"

namespace tl::ops {

// The eager evaluator: the primitives on the compute type C (compute_t of the element type).
// Every function is a one-line inline expression, so an op's math compiles to the loop the
// expression written out by hand gives; the transcendentals go through <cmath>, which
// vector_math.h maps to glibc's vector math library in vectorized loops.
template <class C>
struct EagerScalar {
  using Value = C;
  using Pred = bool;
  static C constant(double v) { return static_cast<C>(v); }
  static C add(C x, C y) { return x + y; }
  static C sub(C x, C y) { return x - y; }
  static C mul(C x, C y) { return x * y; }
  static C div(C x, C y) { return x / y; }
  static C pow(C x, C y) { return std::pow(x, y); }
  static C neg(C x) { return -x; }
  static C exp(C x) { return std::exp(x); }
  static C log(C x) { return std::log(x); }
  static C sqrt(C x) { return std::sqrt(x); }
  static C tanh(C x) { return std::tanh(x); }
  static C erf(C x) { return std::erf(x); }
  static C sin(C x) { return std::sin(x); }
  static C cos(C x) { return std::cos(x); }
  static bool less(C x, C y) { return x < y; }
  static bool less_equal(C x, C y) { return x <= y; }
  static bool greater(C x, C y) { return x > y; }
  static bool greater_equal(C x, C y) { return x >= y; }
  static bool equal(C x, C y) { return x == y; }
  static bool not_equal(C x, C y) { return x != y; }
  static bool is_nan(C x) { return x != x; }
  static bool logical_and(bool x, bool y) { return x && y; }
  static bool logical_or(bool x, bool y) { return x || y; }
  static bool logical_not(bool x) { return !x; }
  static C select(bool c, C x, C y) { return c ? x : y; }
};

// Which input dtypes an op's kernel takes; the public functions promote or cast to float first
// where the op needs it.
enum class Accepts { kFloating, kNumeric, kAll };

// The shape rules of one- and two-operand elementwise ops: the input's shape (or the broadcast
// shape) and dtype, after checking the operand count, that the dtypes agree and that `accepts`
// allows them. Errors name `op` and `site`.
OutputMeta infer_unary(std::span<const Tensor> in, const char* op, Accepts accepts, Site site);
OutputMeta infer_binary(std::span<const Tensor> in, const char* op, Accepts accepts, Site site);

namespace detail {

template <class Math, class S, class V, size_t N, bool kAttrs>
constexpr bool invocable_with() {
  return []<size_t... I>(std::index_sequence<I...>) {
    if constexpr (kAttrs) return std::is_invocable_v<const Math&, const S&, decltype((void)I, V())..., const Attrs&>;
    else return std::is_invocable_v<const Math&, const S&, decltype((void)I, V())...>;
  }(std::make_index_sequence<N>{});
}

// The operand count of `Math` and whether it reads attributes. The probes run in this order
// and stop at the first match: probing a math of two operands with (operand, attrs) would
// instantiate its body with an Attrs as operand, which is a hard error.
template <class Math>
constexpr std::pair<int, bool> signature() {
  using S = ScalarBuilder;
  using V = ScalarValue;
  if constexpr (invocable_with<Math, S, V, 1, false>()) return {1, false};
  else if constexpr (invocable_with<Math, S, V, 2, false>()) return {2, false};
  else if constexpr (invocable_with<Math, S, V, 3, false>()) return {3, false};
  else if constexpr (invocable_with<Math, S, V, 1, true>()) return {1, true};
  else if constexpr (invocable_with<Math, S, V, 2, true>()) return {2, true};
  else if constexpr (invocable_with<Math, S, V, 3, true>()) return {3, true};
  else return {0, false};
}
template <class Math>
struct Signature {
  static constexpr int kArity = signature<Math>().first;
  static constexpr bool kAttrs = signature<Math>().second;
  static_assert(kArity > 0, "pointwise math takes (evaluator, operands...) or (evaluator, operands..., const Attrs&)");
};

template <class Math, class S, class... V>
auto apply(const S& s, const Attrs& a, V... v) {
  if constexpr (Signature<Math>::kAttrs) return Math{}(s, v..., a);
  else return (void)a, Math{}(s, v...);
}

template <class Math>
ScalarValue lower(const ScalarBuilder& s, std::span<const ScalarValue> v, const Attrs& a) {
  return [&]<size_t... I>(std::index_sequence<I...>) {
    return apply<Math>(s, a, v[I]...);
  }(std::make_index_sequence<Signature<Math>::kArity>{});
}

template <Accepts kAccepts, class F>
void dispatch(DType dtype, const F& f) {
  if constexpr (kAccepts == Accepts::kFloating) {
    TL_DISPATCH_FLOATING(dtype, "elementwise op", f(std::type_identity<T>{}));
  } else if constexpr (kAccepts == Accepts::kNumeric) {
    TL_DISPATCH_NUMERIC(dtype, "elementwise op", f(std::type_identity<T>{}));
  } else {
    TL_DISPATCH_ALL(dtype, "elementwise op", f(std::type_identity<T>{}));
  }
}

// The eager kernel: the math on each element, in the element type's compute type. A result
// that is a truth value makes a bool tensor.
template <Accepts kAccepts, class Math>
void kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  constexpr int kArity = Signature<Math>::kArity;
  dispatch<kAccepts>(in[kArity == 3 ? 1 : 0].dtype(), [&]<class T>(std::type_identity<T>) {
    using C = compute_t<T>;
    using S = EagerScalar<C>;
    if constexpr (kArity == 1) {
      using Out = std::conditional_t<std::is_same_v<decltype(apply<Math>(S{}, a, C())), bool>, bool, T>;
      unary_loop<T, Out>(in[0], out, [&](T x) -> Out { return static_cast<Out>(apply<Math>(S{}, a, static_cast<C>(x))); });
    } else if constexpr (kArity == 2) {
      using Out = std::conditional_t<std::is_same_v<decltype(apply<Math>(S{}, a, C(), C())), bool>, bool, T>;
      binary_loop<T, T, Out>(in[0], in[1], out, [&](T x, T y) -> Out {
        return static_cast<Out>(apply<Math>(S{}, a, static_cast<C>(x), static_cast<C>(y)));
      });
    } else {
      ternary_loop<bool, T, T, T>(in[0], in[1], in[2], out, [&](bool c, T x, T y) -> T {
        return static_cast<T>(apply<Math>(S{}, a, c, static_cast<C>(x), static_cast<C>(y)));
      });
    }
  });
}

}  // namespace detail

// Makes `op` elementwise with the scalar math `math` (a captureless generic lambda, see the
// top of this file): its CPU kernel over the dtypes `kAccepts` allows, its lowering for code
// generation, its operand count and OpKind::kElementwise.
template <Accepts kAccepts, class Math>
void set_pointwise(OpDef& op, Math) {
  static_assert(std::is_empty_v<Math> && std::is_default_constructible_v<Math>, "the math must capture nothing");
  op.kind = OpKind::kElementwise;
  op.kernels[kCpu] = detail::kernel<kAccepts, Math>;
  op.arity = detail::Signature<Math>::kArity;
  op.pointwise.lower = detail::lower<Math>;
}

}  // namespace tl::ops
