// The `tl` dialect and the base classes of its ops. The registry ops are generated from the
// op table into registry_ops.td (by tl-gen-ods); the structural ops of the traced graph are
// written by hand in structural_ops.td.
#ifndef TL_IR_DIALECT_TD
#define TL_IR_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Tl_Dialect : Dialect {
  let name = "tl";
  let cppNamespace = "::tl::ir";
  let summary = "Tracelight's value-semantics tensor ops, one per eager op";
  let description = [{
    One op per entry of the op table (tl.add, tl.matmul, ...), plus the structural ops of
    a traced function: tl.constant, tl.random, tl.grad, tl.assign and tl.guard. Functions
    are func.func; their arguments, results and the function itself carry tl.input,
    tl.name, tl.writeback, tl.to_grad and tl.rng_advance attributes.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
  // Ops of the op table defined outside libtl are registered at run time (registry_ops.cpp).
  let isExtensible = 1;
  let hasConstantMaterializer = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let emitAccessorPrefix = kEmitAccessorPrefix_Prefixed;
  let extraClassDeclaration = [{
   private:
    // Defined in registry_ops.cpp, the only file that sees the generated registry ops.
    void add_registry_ops();
  }];
}

class Tl_Op<string mnemonic, list<Trait> traits = []> : Op<Tl_Dialect, mnemonic, traits>;

// Runs the op table's shape/dtype rule on the operand types and attributes and checks the
// result type against it; `arity` is the number of operands every sample of the op has
// (-1: it varies). Implemented once in C++ (verify.cpp).
class Tl_RegistryOpTrait<int arity> : ParamNativeOpTrait<"RegistryOp", !cast<string>(arity)> {
  let cppNamespace = "::tl::ir";
}

// An op of the op table. Its attributes follow the ops::Attrs convention (ir/attrs.h:
// dims, stride, padding, dilation, axis, count, scalar, scalar2, keepdim, flag, flag2,
// dtype) and are checked by the shared verifier rather than declared here: declaring the
// twelve optional attributes on every op made the generated C++ six times larger (the file
// took 75 s to compile instead of 13 s), and generic code reads them with ir::attrs_of.
class Tl_RegistryOp<string mnemonic, int arity>
    : Tl_Op<mnemonic, [NoSideEffect, Tl_RegistryOpTrait<arity>]> {
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs);
  let results = (outs AnyRankedTensor:$out);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, results)";
}

#endif  // TL_IR_DIALECT_TD
