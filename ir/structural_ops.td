// The structural ops of a traced function (frontend/trace/graph.h): constants, random
// draws, gradient requests, in-place assignments and host-value guards.
#ifndef TL_IR_STRUCTURAL_OPS_TD
#define TL_IR_STRUCTURAL_OPS_TD

include "ir/dialect.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def Tl_ConstantOp : Tl_Op<"constant",
    [ConstantLike, NoSideEffect, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "a tensor known at trace time";
  let description = [{
    A tensor created on the host while tracing. The result type is the type of `value`.

        %c = tl.constant dense<[1.0, 2.0]> : tensor<2xf32>
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$out);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

def Tl_RandomOp : Tl_Op<"random", [NoSideEffect]> {
  let summary = "a counter-based (Philox) random draw";
  let description = [{
    Draws a tensor of shape `shape` and element type `dtype` (the result's type must agree
    with both) from the generator state `rng` (tensor<2xi64>: seed, offset when the call
    started). `distribution`, with parameters `a` and `b`: 0 uniform U[a, b), 1 normal
    N(a, b^2), 2 bernoulli (1 with probability a), 3 randint [a, b). `offset` is the Philox
    counter offset of this draw relative to `rng`'s offset. The numbers depend only on the
    operand and the attributes, so the op is pure: two draws with equal attributes are the
    same numbers, and draws at different offsets differ. Absent attributes are 0 (an empty
    shape).

        %r = tl.random %rng {distribution = 1 : i64, shape = array<i64: 2, 3>, dtype = f32, b = 1.0 : f64} : (tensor<2xi64>) -> tensor<2x3xf32>
  }];
  let arguments = (ins
    TensorOf<[I64]>:$rng,
    OptionalAttr<I64Attr>:$distribution,
    OptionalAttr<DenseI64ArrayAttr>:$shape,
    TypeAttr:$dtype,
    OptionalAttr<F64Attr>:$a,
    OptionalAttr<F64Attr>:$b,
    OptionalAttr<I64Attr>:$offset
  );
  let results = (outs AnyRankedTensor:$out);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tl_GradOp : Tl_Op<"grad", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "seed-weighted gradients of `loss` with respect to `wrt`";
  let description = [{
    Result i is d loss / d wrt_i weighted by `seed` (which has the type of `loss`), with
    the type of wrt_i; zeros when `loss` does not depend on it. Recorded by
    `loss.backward()` in a traced function and expanded by the autodiff pass
    (tl-autodiff). It is marked as having side effects so that no pass removes or merges it
    before autodiff runs.
  }];
  let arguments = (ins AnyRankedTensor:$loss, AnyRankedTensor:$seed, Variadic<AnyRankedTensor>:$wrt);
  let results = (outs Variadic<AnyRankedTensor>:$grads);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tl_AssignOp : Tl_Op<"assign", [MemoryEffects<[MemWrite]>]> {
  let summary = "an in-place update of a function input";
  let description = [{
    From here on the function input `target` holds `value` (with `to_grad`: its .grad slot
    instead of its data). Removed by functionalization (tl-functionalize), which turns the
    last assignment of each target into a function result marked tl.writeback.
  }];
  let arguments = (ins AnyRankedTensor:$target, AnyRankedTensor:$value, UnitAttr:$to_grad);
  let assemblyFormat = "operands attr-dict `:` type(operands)";
  let hasVerifier = 1;
}

def Tl_GuardOp : Tl_Op<"guard", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "checks a value the host read at trace time";
  let description = [{
    `x` has one element; `value` is the value the host read while tracing. When they
    differ at run time the call is abandoned (nothing is written back) and the function is
    traced again.
  }];
  let arguments = (ins AnyRankedTensor:$x, F64Attr:$value);
  let assemblyFormat = "operands attr-dict `:` type(operands)";
  let hasVerifier = 1;
}

#endif  // TL_IR_STRUCTURAL_OPS_TD
