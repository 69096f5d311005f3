// Fused elementwise groups -> native code: each group becomes one linalg.generic on memrefs
// (broadcast inputs read through constant-0 indexing maps), lowered to loops and to the LLVM
// dialect, then JIT-compiled with the host CPU's features at -O3, where LLVM's loop
// vectorizer turns the innermost loop into SIMD code. f32 transcendentals are expanded into
// MLIR's polynomial approximations first, so their loops vectorize too (f64 ones call libm).
#include "codegen/cpu/elementwise.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/CompileUtils.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/Host.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>
#include <mlir/Conversion/AffineToStandard/AffineToStandard.h>
#include <mlir/Conversion/ArithmeticToLLVM/ArithmeticToLLVM.h>
#include <mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h>
#include <mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h>
#include <mlir/Conversion/MathToLLVM/MathToLLVM.h>
#include <mlir/Conversion/MathToLibm/MathToLibm.h>
#include <mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h>
#include <mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h>
#include <mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h>
#include <mlir/Dialect/Affine/IR/AffineOps.h>
#include <mlir/Dialect/Arithmetic/IR/Arithmetic.h>
#include <mlir/Dialect/ControlFlow/IR/ControlFlow.h>
#include <mlir/Dialect/LLVMIR/LLVMDialect.h>
#include <mlir/Dialect/Linalg/IR/Linalg.h>
#include <mlir/Dialect/Linalg/Passes.h>
#include <mlir/Dialect/Math/IR/Math.h>
#include <mlir/Dialect/Math/Transforms/Passes.h>
#include <mlir/Dialect/MemRef/IR/MemRef.h>
#include <mlir/Dialect/SCF/IR/SCF.h>
#include <mlir/ExecutionEngine/OptUtils.h>
#include <mlir/IR/Diagnostics.h>
#include <mlir/IR/Verifier.h>
#include <mlir/Pass/PassManager.h>
#include <mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h>
#include <mlir/Target/LLVMIR/Export.h>
#include <mlir/Transforms/GreedyPatternRewriteDriver.h>

#include "runtime/base/disk_cache.h"
#include "runtime/exec/fused_kernel.h"
#include "frontend/compile/compiler_api.h"
#include "ir/attrs.h"
#include "ir/dialect.h"
#include "runtime/logging.h"
#include "runtime/base/env.h"

namespace tl::codegen::cpu {

using rt::FusedKernel;
using rt::FusedLayout;
using rt::collapse_layout;
using rt::DiskCache;
using rt::kernel_disk_cache;

namespace {

using mlir::Value;

// ---- the ops' scalar math (OpDef::pointwise, written once in frontend/ops/pointwise) emitted
// as arith/math ops on f32/f64.

using P = mlir::arith::CmpFPredicate;

class MlirScalar final : public ops::ScalarBuilder {
 public:
  // `type`: the op's result element type (f32 or f64), the type of its constants.
  MlirScalar(mlir::OpBuilder& b, mlir::Location loc, mlir::Type type) : b_(b), loc_(loc), type_(type) {}

  static ops::ScalarValue wrap(mlir::Value v) { return {v.getAsOpaquePointer()}; }
  static mlir::Value unwrap(ops::ScalarValue v) { return mlir::Value::getFromOpaquePointer(v.handle); }

  ops::ScalarValue constant(double v) const override { return wrap(cst(v)); }
  ops::ScalarValue add(ops::ScalarValue x, ops::ScalarValue y) const override { return make<mlir::arith::AddFOp>(x, y); }
  ops::ScalarValue sub(ops::ScalarValue x, ops::ScalarValue y) const override { return make<mlir::arith::SubFOp>(x, y); }
  ops::ScalarValue mul(ops::ScalarValue x, ops::ScalarValue y) const override { return make<mlir::arith::MulFOp>(x, y); }
  ops::ScalarValue div(ops::ScalarValue x, ops::ScalarValue y) const override { return make<mlir::arith::DivFOp>(x, y); }
  ops::ScalarValue pow(ops::ScalarValue x, ops::ScalarValue y) const override { return make<mlir::math::PowFOp>(x, y); }
  ops::ScalarValue neg(ops::ScalarValue x) const override { return make<mlir::arith::NegFOp>(x); }
  ops::ScalarValue exp(ops::ScalarValue x) const override { return make<mlir::math::ExpOp>(x); }
  ops::ScalarValue log(ops::ScalarValue x) const override { return make<mlir::math::LogOp>(x); }
  ops::ScalarValue sqrt(ops::ScalarValue x) const override { return make<mlir::math::SqrtOp>(x); }
  ops::ScalarValue tanh(ops::ScalarValue x) const override { return make<mlir::math::TanhOp>(x); }
  ops::ScalarValue sin(ops::ScalarValue x) const override { return make<mlir::math::SinOp>(x); }
  ops::ScalarValue cos(ops::ScalarValue x) const override { return make<mlir::math::CosOp>(x); }
  // f32: erf(x) = x P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf is 1 to f32 precision
  // beyond), a rational fit with max error 4.2e-7 over the reals. One branch-free formula:
  // MLIR's own approximation picks coefficients per interval, and its selects made the
  // vector loop several times slower. f64 calls libm.
  ops::ScalarValue erf(ops::ScalarValue x) const override {
    if (!unwrap(x).getType().isF32()) return make<mlir::math::ErfOp>(x);
    static constexpr double kP[] = {-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                                    -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                                    -1.60960333262415e-02};
    static constexpr double kQ[] = {-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                                    -7.37332916720468e-03, -1.42647390514189e-02};
    // x limited to [-4, 4]; NaN stays NaN (both compares are false for it).
    mlir::Value upper = sel(cmp(P::OGT, unwrap(x), cst(4)), cst(4), unwrap(x));
    mlir::Value xc = sel(cmp(P::OLT, upper, cst(-4)), cst(-4), upper);
    mlir::Value x2 = b_.create<mlir::arith::MulFOp>(loc_, xc, xc);
    auto fma = [&](mlir::Value p, double c) -> mlir::Value { return b_.create<mlir::math::FmaOp>(loc_, p, x2, cst(c)); };
    mlir::Value p = cst(kP[0]);
    for (size_t i = 1; i < std::size(kP); ++i) p = fma(p, kP[i]);
    mlir::Value q = cst(kQ[0]);
    for (size_t i = 1; i < std::size(kQ); ++i) q = fma(q, kQ[i]);
    return wrap(b_.create<mlir::arith::DivFOp>(loc_, b_.create<mlir::arith::MulFOp>(loc_, xc, p), q));
  }
  // Ordered predicates are false for NaN, as C++'s <, <=, >, >=, == are; != is unordered.
  ops::ScalarValue less(ops::ScalarValue x, ops::ScalarValue y) const override { return wrap(cmp(P::OLT, x, y)); }
  ops::ScalarValue less_equal(ops::ScalarValue x, ops::ScalarValue y) const override { return wrap(cmp(P::OLE, x, y)); }
  ops::ScalarValue greater(ops::ScalarValue x, ops::ScalarValue y) const override { return wrap(cmp(P::OGT, x, y)); }
  ops::ScalarValue greater_equal(ops::ScalarValue x, ops::ScalarValue y) const override { return wrap(cmp(P::OGE, x, y)); }
  ops::ScalarValue equal(ops::ScalarValue x, ops::ScalarValue y) const override { return wrap(cmp(P::OEQ, x, y)); }
  ops::ScalarValue not_equal(ops::ScalarValue x, ops::ScalarValue y) const override { return wrap(cmp(P::UNE, x, y)); }
  ops::ScalarValue is_nan(ops::ScalarValue x) const override { return wrap(cmp(P::UNO, x, x)); }
  ops::ScalarValue logical_and(ops::ScalarValue x, ops::ScalarValue y) const override { return make<mlir::arith::AndIOp>(x, y); }
  ops::ScalarValue logical_or(ops::ScalarValue x, ops::ScalarValue y) const override { return make<mlir::arith::OrIOp>(x, y); }
  ops::ScalarValue logical_not(ops::ScalarValue x) const override {
    mlir::Value yes = b_.create<mlir::arith::ConstantOp>(loc_, b_.getBoolAttr(true));
    return wrap(b_.create<mlir::arith::XOrIOp>(loc_, unwrap(x), yes));
  }
  ops::ScalarValue select(ops::ScalarValue c, ops::ScalarValue x, ops::ScalarValue y) const override {
    return wrap(sel(unwrap(c), unwrap(x), unwrap(y)));
  }
  ops::ScalarValue convert(ops::ScalarValue x) const override {
    mlir::Value v = unwrap(x);
    const unsigned from = v.getType().getIntOrFloatBitWidth(), to = type_.getIntOrFloatBitWidth();
    if (from < to) return wrap(b_.create<mlir::arith::ExtFOp>(loc_, type_, v));
    if (from > to) return wrap(b_.create<mlir::arith::TruncFOp>(loc_, type_, v));
    return x;
  }

 private:
  mlir::Value cst(double v) const { return b_.create<mlir::arith::ConstantOp>(loc_, b_.getFloatAttr(type_, v)); }
  mlir::Value cmp(P p, mlir::Value x, mlir::Value y) const { return b_.create<mlir::arith::CmpFOp>(loc_, p, x, y); }
  mlir::Value cmp(P p, ops::ScalarValue x, ops::ScalarValue y) const { return cmp(p, unwrap(x), unwrap(y)); }
  mlir::Value sel(mlir::Value c, mlir::Value x, mlir::Value y) const { return b_.create<mlir::arith::SelectOp>(loc_, c, x, y); }
  template <class Op, class... V>
  ops::ScalarValue make(V... operands) const {
    return wrap(b_.create<Op>(loc_, unwrap(operands)...));
  }

  mlir::OpBuilder& b_;
  mlir::Location loc_;
  mlir::Type type_;
};

bool is_float_tensor(mlir::Type type) {
  auto t = type.dyn_cast<mlir::RankedTensorType>();
  return t && t.hasStaticShape() && (t.getElementType().isF32() || t.getElementType().isF64());
}

// The reduction a group ends in (its returned value's producer), or null.
mlir::Operation* group_reduction(mlir::func::FuncOp group) {
  mlir::Operation* root = group.getBody().front().getTerminator()->getOperand(0).getDefiningOp();
  return root != nullptr && ir::is_fusible_reduction(root) ? root : nullptr;
}

// A splat tl.constant of a float type: lowered to one scalar constant.
bool is_float_splat(mlir::Operation* op) {
  return ir::is_splat_constant(op) && is_float_tensor(op->getResult(0).getType());
}

// Checks that every op of `group` has a lowering and computes the layout its kernel's caller
// passes. Returns why the group cannot be compiled, or an empty string.
std::string group_layout(mlir::func::FuncOp group, FusedLayout& layout) {
  mlir::FunctionType type = group.getFunctionType();
  if (type.getNumResults() != 1 || !is_float_tensor(type.getResult(0))) return "the group must return one f32/f64 tensor";
  auto out_type = type.getResult(0).cast<mlir::RankedTensorType>();
  // The iteration space: the output's shape, or for a group ending in a reduction the shape
  // it reduces.
  mlir::Operation* reduction = group_reduction(group);
  auto space_type = reduction ? reduction->getOperand(0).getType().cast<mlir::RankedTensorType>() : out_type;
  std::vector<Shape> in_shapes;
  std::vector<DType> in_dtypes;
  for (mlir::Type t : type.getInputs()) {
    if (!is_float_tensor(t)) return "a group input is not a static f32/f64 tensor";
    auto rt = t.cast<mlir::RankedTensorType>();
    in_shapes.push_back(ir::shape_of(rt));
    in_dtypes.push_back(ir::dtype_of(rt.getElementType()));
  }
  for (mlir::Operation& op : group.getBody().front().without_terminator()) {
    if (&op == reduction) continue;
    if (!is_float_splat(&op) && !ir::is_fusible_elementwise(&op)) {
      return "op '" + op.getName().getStringRef().str() + "' has no elementwise lowering";
    }
    if (!is_float_splat(&op) && op.getResult(0).getType().cast<mlir::RankedTensorType>().getShape() !=
                                       space_type.getShape()) {
      return "an intermediate of the group does not have the group's shape";
    }
  }
  if (!reduction) {
    layout = collapse_layout(ir::shape_of(out_type), ir::dtype_of(out_type.getElementType()), in_shapes, in_dtypes);
    return {};
  }
  // The output, seen with the reduced dims kept (size 1), is collapsed like one more input
  // broadcast along them: dims merge only where it agrees too.
  const Shape space = ir::shape_of(space_type);
  Shape kept = space;
  int64_t count = 1;
  for (int64_t d : ir::attrs_of(reduction).dims) {
    const int64_t axis = d < 0 ? d + space.size() : d;
    count *= space[axis];
    kept[axis] = 1;
  }
  in_shapes.push_back(kept);
  in_dtypes.push_back(ir::dtype_of(out_type.getElementType()));
  layout = collapse_layout(space, ir::dtype_of(out_type.getElementType()), in_shapes, in_dtypes);
  layout.reduced = layout.inputs.back().broadcast;
  layout.inputs.pop_back();
  layout.out_shape = ir::shape_of(out_type);
  // The mean of no values is NaN (0 * inf), matching the eager kernel and PyTorch.
  if (ir::attrs_of(reduction).flag) layout.scale = 1.0 / static_cast<double>(count);
  return {};
}

// Builds `@name(inputs..., out) attributes {llvm.emit_c_interface}` computing `group` with one
// linalg.generic, and returns the layout its caller must pass. Returns an error message when
// the group holds something this generator cannot lower.
std::string build_kernel(mlir::OpBuilder& builder, mlir::func::FuncOp group, const std::string& name,
                         FusedLayout& layout) {
  if (std::string error = group_layout(group, layout); !error.empty()) return error;
  mlir::MLIRContext* ctx = builder.getContext();
  mlir::Location loc = group.getLoc();
  mlir::FunctionType type = group.getFunctionType();
  auto out_type = type.getResult(0).cast<mlir::RankedTensorType>();

  const int64_t rank = layout.dims.size();
  const int64_t dynamic = mlir::ShapedType::kDynamicSize;
  llvm::SmallVector<mlir::Type> arg_types;
  llvm::SmallVector<mlir::AffineMap> maps;
  for (size_t k = 0; k < layout.inputs.size(); ++k) {
    llvm::SmallVector<int64_t> shape;
    llvm::SmallVector<mlir::AffineExpr> exprs;
    for (int64_t d = 0; d < rank; ++d) {
      const bool bc = layout.inputs[k].broadcast[d];
      shape.push_back(bc ? 1 : (d == 0 ? dynamic : layout.dims[d]));
      exprs.push_back(bc ? mlir::getAffineConstantExpr(0, ctx) : mlir::getAffineDimExpr(d, ctx));
    }
    arg_types.push_back(mlir::MemRefType::get(shape, type.getInput(k).cast<mlir::RankedTensorType>().getElementType()));
    maps.push_back(mlir::AffineMap::get(rank, 0, exprs, ctx));
  }
  // The output: reduced dims have size 1 and are read and written at index 0.
  mlir::Operation* reduction = group_reduction(group);
  auto is_reduced = [&](int64_t d) { return !layout.reduced.empty() && layout.reduced[d]; };
  llvm::SmallVector<int64_t> out_shape;
  llvm::SmallVector<mlir::AffineExpr> out_exprs;
  llvm::SmallVector<llvm::StringRef> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    out_shape.push_back(is_reduced(d) ? 1 : (d == 0 ? dynamic : layout.dims[d]));
    out_exprs.push_back(is_reduced(d) ? mlir::getAffineConstantExpr(0, ctx) : mlir::getAffineDimExpr(d, ctx));
    iterators.push_back(is_reduced(d) ? mlir::getReductionIteratorTypeName() : mlir::getParallelIteratorTypeName());
  }
  auto out_memref = mlir::MemRefType::get(out_shape, out_type.getElementType());
  arg_types.push_back(out_memref);
  maps.push_back(mlir::AffineMap::get(rank, 0, out_exprs, ctx));

  auto func = builder.create<mlir::func::FuncOp>(loc, name, builder.getFunctionType(arg_types, {}));
  func->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  mlir::Block* entry = func.addEntryBlock();
  mlir::OpBuilder body(ctx);
  body.setInsertionPointToStart(entry);
  llvm::SmallVector<Value> inputs(entry->getArguments().begin(), entry->getArguments().end() - 1);
  Value out = entry->getArguments().back();
  if (reduction) {
    Value zero = body.create<mlir::arith::ConstantOp>(loc, body.getFloatAttr(out_type.getElementType(), 0.0));
    body.create<mlir::linalg::FillOp>(loc, mlir::ValueRange{zero}, mlir::ValueRange{out});
  }
  std::string error;
  body.create<mlir::linalg::GenericOp>(
      loc, inputs, mlir::ValueRange{entry->getArguments().back()}, maps, iterators,
      [&](mlir::OpBuilder& b, mlir::Location l, mlir::ValueRange args) {
        llvm::DenseMap<Value, Value> scalar;
        mlir::Block& block = group.getBody().front();
        for (unsigned k = 0; k < block.getNumArguments(); ++k) scalar[block.getArgument(k)] = args[k];
        for (mlir::Operation& op : block.without_terminator()) {
          if (&op == reduction) {  // accumulated below
            scalar[op.getResult(0)] = scalar.lookup(op.getOperand(0));
            continue;
          }
          if (is_float_splat(&op)) {
            auto value = op.getAttrOfType<mlir::DenseElementsAttr>("value");
            scalar[op.getResult(0)] =
                b.create<mlir::arith::ConstantOp>(l, value.getSplatValue<mlir::FloatAttr>()).getResult();
            continue;
          }
          MlirScalar s(b, l, op.getResult(0).getType().cast<mlir::RankedTensorType>().getElementType());
          llvm::SmallVector<ops::ScalarValue> operands;
          for (Value v : op.getOperands()) operands.push_back(MlirScalar::wrap(scalar.lookup(v)));
          scalar[op.getResult(0)] = MlirScalar::unwrap(ir::op_def(&op)->pointwise.lower(s, operands, ir::attrs_of(&op)));
        }
        Value result = scalar.lookup(block.getTerminator()->getOperand(0));
        if (reduction) result = b.create<mlir::arith::AddFOp>(l, args.back(), result);
        b.create<mlir::linalg::YieldOp>(l, result);
      });
  if (reduction && layout.scale != 1) {
    // A mean: the sum times 1/count in the output's type, as the eager kernel scales it.
    auto identity = mlir::AffineMap::getMultiDimIdentityMap(rank, ctx);
    llvm::SmallVector<llvm::StringRef> parallel(rank, mlir::getParallelIteratorTypeName());
    body.create<mlir::linalg::GenericOp>(
        loc, mlir::TypeRange{}, mlir::ValueRange{}, mlir::ValueRange{out}, llvm::ArrayRef<mlir::AffineMap>{identity},
        parallel, [&](mlir::OpBuilder& b, mlir::Location l, mlir::ValueRange args) {
          Value scale = b.create<mlir::arith::ConstantOp>(l, b.getFloatAttr(out_type.getElementType(), layout.scale));
          b.create<mlir::linalg::YieldOp>(l, mlir::ValueRange{b.create<mlir::arith::MulFOp>(l, args[0], scale)});
        });
  }
  body.create<mlir::func::ReturnOp>(loc);
  return error;
}

void load_dialects(mlir::MLIRContext& ctx) {
  ctx.loadDialect<mlir::AffineDialect, mlir::arith::ArithmeticDialect, mlir::cf::ControlFlowDialect,
                  mlir::func::FuncDialect, mlir::linalg::LinalgDialect, mlir::LLVM::LLVMDialect, mlir::math::MathDialect,
                  mlir::memref::MemRefDialect, mlir::scf::SCFDialect>();
  mlir::registerLLVMDialectTranslation(ctx);
}

// Lowers the kernels in `module` to the LLVM dialect.
mlir::LogicalResult lower_to_llvm(mlir::ModuleOp module) {
  mlir::MLIRContext* ctx = module.getContext();
  mlir::PassManager loops(ctx);
  loops.addNestedPass<mlir::func::FuncOp>(mlir::createConvertLinalgToLoopsPass());
  loops.addPass(mlir::createLowerAffinePass());
  if (mlir::failed(loops.run(module))) return mlir::failure();
  // f32 exp, log, tanh, erf, ... become polynomials of arith ops, which vectorize.
  mlir::RewritePatternSet approximations(ctx);
  mlir::populateMathPolynomialApproximationPatterns(approximations);
  if (mlir::failed(mlir::applyPatternsAndFoldGreedily(module, std::move(approximations)))) return mlir::failure();
  mlir::PassManager llvm_ir(ctx);
  llvm_ir.addPass(mlir::createConvertSCFToCFPass());
  llvm_ir.addPass(mlir::createConvertMathToLLVMPass());
  // What LLVM has no intrinsic for (f64 tanh, erf) calls libm. This pass fails on any math
  // op it cannot convert, so it runs after the intrinsics took theirs.
  llvm_ir.addPass(mlir::createConvertMathToLibmPass());
  llvm_ir.addPass(mlir::createMemRefToLLVMPass());
  llvm_ir.addPass(mlir::arith::createConvertArithmeticToLLVMPass());
  llvm_ir.addPass(mlir::createConvertFuncToLLVMPass());
  llvm_ir.addPass(mlir::cf::createConvertControlFlowToLLVMPass());
  llvm_ir.addPass(mlir::createReconcileUnrealizedCastsPass());
  return llvm_ir.run(module);
}

// The group's IR without names or locations: equal keys compute the same function.
std::string cache_key(mlir::func::FuncOp group) {
  mlir::OwningOpRef<mlir::func::FuncOp> copy(group.clone());
  copy->setName("group");
  std::string text;
  llvm::raw_string_ostream os(text);
  copy->print(os);
  return os.str();
}

// ---- native code: one LLVM module per batch of groups, compiled to an object file for the
// host CPU and linked in process by an ORC LLJIT. The object is what the disk cache keeps.

// The build id (ELF NT_GNU_BUILD_ID note) of the loaded binary holding `address`, in hex; for
// a binary linked without one, its path, size and modification time.
std::string build_id_of(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fbase == nullptr) return "unknown";
  struct Search {
    const void* base;
    std::string id;
  } search{info.dli_fbase, {}};
  dl_iterate_phdr(
      [](dl_phdr_info* phdr, size_t, void* data) {
        auto* s = static_cast<Search*>(data);
        // The binary whose first loadable segment starts at dli_fbase.
        bool mine = false;
        for (int i = 0; i < phdr->dlpi_phnum && !mine; ++i) {
          const ElfW(Phdr)& ph = phdr->dlpi_phdr[i];
          mine = ph.p_type == PT_LOAD && reinterpret_cast<const void*>(phdr->dlpi_addr + ph.p_vaddr) == s->base;
        }
        if (!mine) return 0;
        for (int i = 0; i < phdr->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = phdr->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const char* p = reinterpret_cast<const char*>(phdr->dlpi_addr + ph.p_vaddr);
          const char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof(ElfW(Nhdr));
            const char* desc = name + ((note->n_namesz + 3) & ~3u);
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0 &&
                desc + note->n_descsz <= end) {
              static const char* digits = "0123456789abcdef";
              for (unsigned k = 0; k < note->n_descsz; ++k) {
                s->id += digits[static_cast<uint8_t>(desc[k]) >> 4];
                s->id += digits[static_cast<uint8_t>(desc[k]) & 15];
              }
              return 1;
            }
            p = desc + ((note->n_descsz + 3) & ~3u);
          }
        }
        return 1;
      },
      &search);
  if (!search.id.empty()) return search.id;
  struct stat st {};
  if (info.dli_fname == nullptr || ::stat(info.dli_fname, &st) != 0) return "unknown";
  return std::string(info.dli_fname) + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// Everything besides the groups' IR that decides the code compiled for them: this build of the
// code generator (tl's version, the compiler ABI stamp, the build ids of the binaries holding
// this lowering, MLIR and LLVM), LLVM's version, and the CPU and features the code targets
// (compile_batch always optimizes at -O3).
std::string code_stamp(const llvm::orc::JITTargetMachineBuilder& host) {
  static const std::string build = [] {
    std::string s = "tl " TL_VERSION_STRING " abi " + std::to_string(compiler::kAbiStamp) + "\nllvm " LLVM_VERSION_STRING;
    s += "\ncodegen " + build_id_of(reinterpret_cast<const void*>(&compile_groups));
    s += "\nlibMLIR " + build_id_of(reinterpret_cast<const void*>(&mlir::createConvertSCFToCFPass));
    s += "\nlibLLVM " + build_id_of(reinterpret_cast<const void*>(&llvm::sys::getHostCPUName));
    return s;
  }();
  // Sorted: the feature list comes out of a hash map.
  std::vector<std::string> features = host.getFeatures().getFeatures();
  std::sort(features.begin(), features.end());
  std::string feature_list;
  for (const std::string& f : features) feature_list += (feature_list.empty() ? "" : ",") + f;
  return build + "\ntarget " + host.getTargetTriple().str() + " cpu " + host.getCPU() + " features " + feature_list +
         " -O3 large code model";
}

// Adds `void tl_packed_fused<i>(void** args)` for each group's C interface function: args[k]
// points at argument k (a pointer to a memref descriptor), as FusedKernel::Entry expects.
// A reduction's output is never memory an input reads: the memory plan gives it its own
// slot or fresh memory and never computes it in place (FusedKernel::is_elementwise). Saying so
// (noalias on its pointers) lets LLVM keep the accumulator in a register across the reduced
// loop instead of storing and reloading it per element. Elementwise groups may write over an
// input they read at the same index, so they get no such promise. MLIR 15 drops
// `llvm.noalias` on memref arguments, hence the attribute is added to the LLVM function.
void mark_reduction_outputs_noalias(llvm::Module& module, const std::vector<FusedLayout>& layouts) {
  for (size_t i = 0; i < layouts.size(); ++i) {
    const FusedLayout& l = layouts[i];
    if (std::none_of(l.reduced.begin(), l.reduced.end(), [](bool r) { return r; })) continue;
    llvm::Function* fn = module.getFunction("fused" + std::to_string(i));
    if (fn == nullptr) continue;
    // Each memref operand is expanded into (allocated ptr, aligned ptr, offset, sizes[rank],
    // strides[rank]); the output comes after the inputs.
    const unsigned per_memref = 3 + 2 * static_cast<unsigned>(l.dims.size());
    const unsigned out_first = per_memref * static_cast<unsigned>(l.inputs.size());
    if (fn->arg_size() != out_first + per_memref) continue;
    // Only the aligned pointer is used to access memory.
    if (fn->getArg(out_first + 1)->getType()->isPointerTy()) fn->addParamAttr(out_first + 1, llvm::Attribute::NoAlias);
  }
}

void add_packed_entries(llvm::Module& module, size_t count) {
  llvm::LLVMContext& ctx = module.getContext();
  llvm::IRBuilder<> b(ctx);
  llvm::Type* ptr = b.getInt8PtrTy();
  auto* packed_type = llvm::FunctionType::get(b.getVoidTy(), {ptr->getPointerTo()}, false);
  for (size_t i = 0; i < count; ++i) {
    llvm::Function* callee = module.getFunction("_mlir_ciface_fused" + std::to_string(i));
    TL_ASSERT(callee != nullptr, "the lowered module lacks the C interface of group " + std::to_string(i));
    auto* packed = llvm::Function::Create(packed_type, llvm::GlobalValue::ExternalLinkage,
                                          "tl_packed_fused" + std::to_string(i), module);
    b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", packed));
    llvm::SmallVector<llvm::Value*> args;
    for (llvm::Argument& param : callee->args()) {
      llvm::Value* slot = b.CreateGEP(ptr, packed->getArg(0), b.getInt64(param.getArgNo()));
      llvm::Value* arg_ptr = b.CreateBitCast(b.CreateLoad(ptr, slot), param.getType()->getPointerTo());
      args.push_back(b.CreateLoad(param.getType(), arg_ptr));
    }
    b.CreateCall(callee, args);
    b.CreateRetVoid();
  }
}

// Builds `groups` (with `layouts` already checked) into one module, lowers it to LLVM IR,
// optimizes it at -O3 for `host` and compiles it to an object file. Sets `error` on failure.
std::string emit_object(mlir::MLIRContext* ctx, llvm::ArrayRef<mlir::func::FuncOp> groups,
                        std::vector<FusedLayout>& layouts, llvm::orc::JITTargetMachineBuilder& host,
                        std::string& error) {
  mlir::OpBuilder builder(ctx);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(builder.getUnknownLoc());
  builder.setInsertionPointToEnd(module->getBody());
  for (size_t i = 0; i < groups.size(); ++i) {
    error = build_kernel(builder, groups[i], "fused" + std::to_string(i), layouts[i]);
    if (!error.empty()) return {};
  }
  if (mlir::failed(mlir::verify(*module))) return error = "the generated loops do not verify", "";
  if (mlir::failed(lower_to_llvm(*module))) return error = "lowering to the LLVM dialect failed", "";

  auto machine = host.createTargetMachine();
  if (!machine) return error = "no LLVM target for the host CPU: " + llvm::toString(machine.takeError()), "";
  llvm::LLVMContext llvm_ctx;
  std::unique_ptr<llvm::Module> llvm_module = mlir::translateModuleToLLVMIR(*module, llvm_ctx, "tl_kernels");
  if (!llvm_module) return error = "translation to LLVM IR failed", "";
  llvm_module->setDataLayout((*machine)->createDataLayout());
  llvm_module->setTargetTriple((*machine)->getTargetTriple().str());
  add_packed_entries(*llvm_module, groups.size());
  mark_reduction_outputs_noalias(*llvm_module, layouts);
  // With the host's target machine, the -O3 pipeline knows the vector width (TTI).
  if (llvm::Error e = mlir::makeOptimizingTransformer(3, 0, machine->get())(llvm_module.get())) {
    return error = "LLVM optimization failed: " + llvm::toString(std::move(e)), "";
  }
  auto object = llvm::orc::SimpleCompiler(**machine)(*llvm_module);
  if (!object) return error = "LLVM code generation failed: " + llvm::toString(object.takeError()), "";
  return (*object)->getBuffer().str();
}

// The code of a batch linked into this process: `owner` keeps it alive.
struct LinkedBatch {
  std::shared_ptr<const void> owner;
  std::vector<FusedKernel::Entry> entries;
  std::shared_ptr<const std::string> object;  // what was linked, for compiled artifacts
};

// Links `object` (from emit_object, possibly read back from the disk cache) into a new LLJIT
// and looks up the packed entry of each of its `count` groups. Calls into libm and the
// process resolve against the symbols already loaded.
llvm::Expected<LinkedBatch> link_object(const llvm::orc::JITTargetMachineBuilder& host, std::string_view object,
                                        size_t count) {
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(host).create();
  if (!jit) return jit.takeError();
  // A link error reaches the caller through lookup(); ORC would also print it to stderr.
  (*jit)->getExecutionSession().setErrorReporter([](llvm::Error e) { llvm::consumeError(std::move(e)); });
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process) return process.takeError();
  (*jit)->getMainJITDylib().addGenerator(std::move(*process));
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(object.data(), object.size()), "tl_kernels.o");
  if (llvm::Error e = (*jit)->addObjectFile(std::move(buffer))) return e;
  LinkedBatch linked;
  for (size_t i = 0; i < count; ++i) {
    auto address = (*jit)->lookup("tl_packed_fused" + std::to_string(i));
    if (!address) return address.takeError();
    linked.entries.push_back(address->toPtr<FusedKernel::Entry>());
  }
  linked.owner = std::shared_ptr<const void>(std::move(*jit));
  linked.object = std::make_shared<const std::string>(object);
  return linked;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const FusedKernel>> kernels;
  CacheStats stats;
};
Cache& cache() {
  static Cache* c = new Cache();  // outlives every kernel user at exit
  return *c;
}

// JIT-compiles `groups`, whose in-process cache keys are `keys`, into one LLVM module, or
// links the object a previous process compiled for the same groups from the disk cache. On
// failure every result carries the error.
std::vector<KernelResult> compile_batch(llvm::ArrayRef<mlir::func::FuncOp> groups, llvm::ArrayRef<std::string> keys,
                                        const std::vector<std::string>& target_features) {
  std::vector<KernelResult> results(groups.size());
  if (groups.empty()) return results;
  mlir::MLIRContext* ctx = groups.front()->getContext();
  load_dialects(*ctx);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(ctx, [&](mlir::Diagnostic& diag) {
    diagnostics += diag.str() + "\n";
    return mlir::success();
  });
  auto fail_all = [&](const std::string& what) {
    for (auto& r : results) r.error = what + (diagnostics.empty() ? "" : ": " + diagnostics);
    return results;
  };

  std::vector<FusedLayout> layouts(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string error = group_layout(groups[i], layouts[i]);
    if (!error.empty()) return fail_all(error);
  }
  static std::once_flag native;
  std::call_once(native, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  auto host = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!host) return fail_all("cannot detect the host CPU: " + llvm::toString(host.takeError()));
  if (!target_features.empty()) {
    // A portable target for a compiled artifact: generic x86-64 plus the named features only.
    host->setCPU("x86-64");
    host->getFeatures() = llvm::SubtargetFeatures();
    for (const std::string& f : target_features) host->getFeatures().AddFeature(f);
  }
  host->setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
  // Absolute 64-bit addresses for everything (R_X86_64_64 relocations only), so the object
  // loads anywhere, by the JIT or by the runtime's loader (runtime/artifact/machine_code.h).
  host->setCodeModel(llvm::CodeModel::Large);

  std::shared_ptr<DiskCache> disk = kernel_disk_cache();
  std::string disk_key;
  std::optional<LinkedBatch> linked;
  bool from_disk = false;
  if (disk) {
    disk_key = "tl fused elementwise kernels\n" + code_stamp(*host);
    for (size_t i = 0; i < keys.size(); ++i) disk_key += "\ngroup " + std::to_string(i) + "\n" + keys[i];
    if (std::optional<std::string> object = disk->load(disk_key)) {
      auto loaded = link_object(*host, *object, groups.size());
      if (loaded) {
        linked = std::move(*loaded);
        from_disk = true;
      } else {
        rt::logger("tl.compile")->debug("ignoring the compile cache entry {}: it does not link: {}",
                                        disk->path_for(disk_key), llvm::toString(loaded.takeError()));
      }
    }
  }
  if (!linked) {
    std::string error;
    const std::string object = emit_object(ctx, groups, layouts, *host, error);
    if (!error.empty()) return fail_all(error);
    auto compiled = link_object(*host, object, groups.size());
    if (!compiled) return fail_all("linking the compiled kernels failed: " + llvm::toString(compiled.takeError()));
    linked = std::move(*compiled);
    // A failed store is logged once by the cache; the kernels work without it.
    if (disk) disk->store(disk_key, object);
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string description;
    if (auto attr = groups[i]->getAttrOfType<mlir::StringAttr>("fused")) description = attr.getValue().str();
    rt::MachineCode code{linked->object, "tl_packed_fused" + std::to_string(i), target_features};
    results[i].kernel =
        std::make_shared<FusedKernel>(std::move(layouts[i]), linked->entries[i], linked->owner, description, std::move(code));
    results[i].from_disk = from_disk;
  }
  return results;
}

// A test hook: TL_CODEGEN_FAIL=<text> makes every group whose description contains <text>
// fail to compile, to exercise the unfused fallback.
bool forced_failure(mlir::func::FuncOp group) {
  const char* text = rt::env_value(rt::EnvSwitch::kCodegenFail);
  if (text == nullptr) return false;
  auto attr = group->getAttrOfType<mlir::StringAttr>("fused");
  return attr && attr.getValue().contains(text);
}

}  // namespace

std::vector<KernelResult> compile_groups(llvm::ArrayRef<mlir::func::FuncOp> groups,
                                        const std::vector<std::string>& target_features) {
  std::vector<KernelResult> results(groups.size());
  std::vector<std::string> keys(groups.size());
  std::string target = "host";
  for (const std::string& f : target_features) target += " " + f;
  std::vector<size_t> todo;
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    for (size_t i = 0; i < groups.size(); ++i) {
      if (forced_failure(groups[i])) {
        results[i].error = "compilation disabled by TL_CODEGEN_FAIL";
        continue;
      }
      keys[i] = target + "\n" + cache_key(groups[i]);
      auto it = c.kernels.find(keys[i]);
      if (it != c.kernels.end()) {
        results[i].kernel = it->second;
        results[i].from_cache = true;
        ++c.stats.hits;
        continue;
      }
      // Two identical groups in one program compile once.
      bool duplicate = false;
      for (size_t j : todo) duplicate = duplicate || keys[j] == keys[i];
      if (!duplicate) todo.push_back(i);
    }
  }
  llvm::SmallVector<mlir::func::FuncOp> batch;
  std::vector<std::string> batch_keys;
  for (size_t i : todo) {
    batch.push_back(groups[i]);
    batch_keys.push_back(keys[i]);
  }
  std::vector<KernelResult> compiled = compile_batch(batch, batch_keys, target_features);
  // One bad group must not cost the others their code: retry each alone.
  bool any_failed = false;
  for (const auto& r : compiled) any_failed = any_failed || !r.kernel;
  if (any_failed && batch.size() > 1) {
    for (size_t j = 0; j < batch.size(); ++j) compiled[j] = compile_batch({batch[j]}, {batch_keys[j]}, target_features).front();
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  for (size_t j = 0; j < todo.size(); ++j) {
    if (compiled[j].kernel) {
      c.kernels[keys[todo[j]]] = std::static_pointer_cast<const FusedKernel>(compiled[j].kernel);
      ++(compiled[j].from_disk ? c.stats.loaded : c.stats.compiled);
    }
    results[todo[j]] = compiled[j];
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    if (results[i].kernel || !results[i].error.empty()) continue;
    auto it = c.kernels.find(keys[i]);  // a duplicate of a group compiled above
    if (it != c.kernels.end()) {
      results[i].kernel = it->second;
      results[i].from_cache = true;
    } else {
      results[i].error = "its identical group failed to compile";
    }
  }
  return results;
}

CacheStats cache_stats() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  return cache().stats;
}

void clear_cache() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  cache().kernels.clear();
}

}  // namespace tl::codegen::cpu
