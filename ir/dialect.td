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

// Checks the op against its op-table entry: operand count, declared attributes, and the
// result type its shape/dtype rule infers from the operand types. Implemented once in C++
// (dialect.cpp).
def Tl_RegistryOpTrait : NativeOpTrait<"RegistryOp"> {
  let cppNamespace = "::tl::ir";
}

// An op of the op table. tl-gen-ods writes one per entry with the op's declared attributes
// (OpDef::attrs) as its ODS arguments, all optional: an attribute at its default value is
// left out. Operands stay one variadic list whose count the shared verifier checks against
// the declared arity (one generated operand accessor per op instead of one per operand).
class Tl_RegistryOp<string mnemonic>
    : Tl_Op<mnemonic, [NoSideEffect, Tl_RegistryOpTrait]> {
  let results = (outs AnyRankedTensor:$out);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, results)";
}

#endif  // TL_IR_DIALECT_TD
