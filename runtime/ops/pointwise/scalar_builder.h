// The vocabulary in which an elementwise op states its scalar math once. The math is a generic
// lambda over an evaluator `s` (pointwise_op.h shows how an op registers it):
//
//   constexpr auto gelu_math = [](const auto& s, auto x) {
//     return s.mul(s.mul(s.constant(0.5), x), s.add(s.constant(1), s.erf(s.mul(x, s.constant(M_SQRT1_2)))));
//   };
//
// Eager kernels instantiate it with EagerScalar<C> (plain C++ on the compute type C; it
// inlines to the loop a hand-written expression gives). Code generation instantiates it with
// a ScalarBuilder, an interface whose implementation in codegen/cpu emits MLIR, reached
// through OpDef::pointwise. This header is plain C++: no compiler headers.
//
// The primitives every evaluator provides (Value: a number, Pred: a truth value):
//   constant(double) -> Value                 the number in the op's compute type
//   add, sub, mul, div, pow (Value, Value) -> Value;  neg (Value) -> Value
//   exp, log, sqrt, tanh, erf, sin, cos (Value) -> Value
//   less, less_equal, greater, greater_equal, equal (Value, Value) -> Pred   false for NaN
//   not_equal (Value, Value) -> Pred                                         true for NaN
//   is_nan (Value) -> Pred
//   logical_and, logical_or (Pred, Pred) -> Pred;  logical_not (Pred) -> Pred
//   select (Pred, Value, Value) -> Value      the first Value where Pred holds
// Rounding of the arithmetic and comparisons is IEEE in every evaluator, so math built from
// them alone gives the same bits everywhere. The transcendentals may differ per evaluator:
// eager calls <cmath> (libmvec when vectorized), generated code uses polynomial or rational
// approximations for f32 (the measured differences are in docs/codegen.md).
#pragma once

#include <span>

namespace tl::ops {

struct Attrs;

// A value in the program a ScalarBuilder is building; opaque to the math (in codegen/cpu, an
// mlir::Value's opaque pointer). Numbers and truth values share this handle.
struct ScalarValue {
  const void* handle = nullptr;
};

// The primitives above, building code instead of computing. Each call appends one operation
// and returns its result; the math never inspects a handle.
class ScalarBuilder {
 public:
  using Value = ScalarValue;
  using Pred = ScalarValue;
  virtual ~ScalarBuilder() = default;

  virtual Value constant(double v) const = 0;
  virtual Value add(Value x, Value y) const = 0;
  virtual Value sub(Value x, Value y) const = 0;
  virtual Value mul(Value x, Value y) const = 0;
  virtual Value div(Value x, Value y) const = 0;
  virtual Value pow(Value x, Value y) const = 0;
  virtual Value neg(Value x) const = 0;
  virtual Value exp(Value x) const = 0;
  virtual Value log(Value x) const = 0;
  virtual Value sqrt(Value x) const = 0;
  virtual Value tanh(Value x) const = 0;
  virtual Value erf(Value x) const = 0;
  virtual Value sin(Value x) const = 0;
  virtual Value cos(Value x) const = 0;
  virtual Pred less(Value x, Value y) const = 0;
  virtual Pred less_equal(Value x, Value y) const = 0;
  virtual Pred greater(Value x, Value y) const = 0;
  virtual Pred greater_equal(Value x, Value y) const = 0;
  virtual Pred equal(Value x, Value y) const = 0;
  virtual Pred not_equal(Value x, Value y) const = 0;
  virtual Pred is_nan(Value x) const = 0;
  virtual Pred logical_and(Pred x, Pred y) const = 0;
  virtual Pred logical_or(Pred x, Pred y) const = 0;
  virtual Pred logical_not(Pred x) const = 0;
  virtual Value select(Pred c, Value x, Value y) const = 0;
  // `x` converted to the op's result type. Only cast uses it; its eager kernel is the dtype
  // conversion loop (unary.cpp), which has no single compute type.
  virtual Value convert(Value x) const = 0;
};

// An elementwise op's math for code generation: the result of the op on `operands` (one per
// input, in order), given the op's attributes.
using PointwiseLowering = ScalarValue (*)(const ScalarBuilder& s, std::span<const ScalarValue> operands,
                                          const Attrs& attrs);

}  // namespace tl::ops
