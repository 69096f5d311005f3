// Fused elementwise groups -> native code: each group becomes one linalg.generic on memrefs
// (broadcast inputs read through constant-0 indexing maps), lowered to loops and to the LLVM
// dialect, then JIT-compiled with the host CPU's features at -O3, where LLVM's loop
// vectorizer turns the innermost loop into SIMD code. f32 transcendentals are expanded into
// MLIR's polynomial approximations first, so their loops vectorize too (f64 ones call libm).
#include "codegen/cpu/elementwise.h"

#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
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
#include <mlir/ExecutionEngine/ExecutionEngine.h>
#include <mlir/ExecutionEngine/OptUtils.h>
#include <mlir/IR/Diagnostics.h>
#include <mlir/IR/Verifier.h>
#include <mlir/Pass/PassManager.h>
#include <mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h>
#include <mlir/Transforms/GreedyPatternRewriteDriver.h>

#include "codegen/cpu/fused_kernel.h"
#include "ir/attrs.h"
#include "ir/dialect.h"

namespace tl::codegen::cpu {
namespace {

using mlir::Value;

// ---- scalar lowerings: each op's math, as its eager kernel states it (frontend/ops/pointwise)

struct Scalar {
  mlir::OpBuilder& b;
  mlir::Location loc;
  mlir::Type type;  // the op's result element type

  Value cst(double v) const { return b.create<mlir::arith::ConstantOp>(loc, b.getFloatAttr(type, v)); }
  Value add(Value x, Value y) const { return b.create<mlir::arith::AddFOp>(loc, x, y); }
  Value sub(Value x, Value y) const { return b.create<mlir::arith::SubFOp>(loc, x, y); }
  Value mul(Value x, Value y) const { return b.create<mlir::arith::MulFOp>(loc, x, y); }
  Value div(Value x, Value y) const { return b.create<mlir::arith::DivFOp>(loc, x, y); }
  Value neg(Value x) const { return b.create<mlir::arith::NegFOp>(loc, x); }
  Value exp(Value x) const { return b.create<mlir::math::ExpOp>(loc, x); }
  Value fma(Value x, Value y, Value z) const { return b.create<mlir::math::FmaOp>(loc, x, y, z); }
  // x limited to [lo, hi]; NaN stays NaN (both compares are false for it).
  Value clamp(Value x, double lo, double hi) const {
    Value upper = select(cmp(mlir::arith::CmpFPredicate::OGT, x, cst(hi)), cst(hi), x);
    return select(cmp(mlir::arith::CmpFPredicate::OLT, upper, cst(lo)), cst(lo), upper);
  }
  // f32: erf(x) = x P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf is 1 to f32 precision
  // beyond), a rational fit with max error 4.2e-7 over the reals. One branch-free formula:
  // MLIR's own approximation picks coefficients per interval, and its selects made the
  // vector loop several times slower. f64 calls libm.
  Value erf(Value x) const {
    if (!type.isF32()) return b.create<mlir::math::ErfOp>(loc, x);
    static constexpr double kP[] = {-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                                    -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                                    -1.60960333262415e-02};
    static constexpr double kQ[] = {-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                                    -7.37332916720468e-03, -1.42647390514189e-02};
    Value xc = clamp(x, -4, 4);
    Value x2 = mul(xc, xc);
    Value p = cst(kP[0]);
    for (size_t i = 1; i < std::size(kP); ++i) p = fma(p, x2, cst(kP[i]));
    Value q = cst(kQ[0]);
    for (size_t i = 1; i < std::size(kQ); ++i) q = fma(q, x2, cst(kQ[i]));
    return div(mul(xc, p), q);
  }
  Value cmp(mlir::arith::CmpFPredicate p, Value x, Value y) const {
    return b.create<mlir::arith::CmpFOp>(loc, p, x, y);
  }
  Value select(Value c, Value x, Value y) const { return b.create<mlir::arith::SelectOp>(loc, c, x, y); }
  // 1 / (1 + e^-x)
  Value sigmoid(Value x) const { return div(cst(1), add(cst(1), exp(neg(x)))); }
};

using Lowering = std::function<Value(const Scalar&, llvm::ArrayRef<Value>, const ops::Attrs&)>;
using P = mlir::arith::CmpFPredicate;

struct OpLowering {
  int arity;
  Lowering emit;
};

const std::map<std::string, OpLowering, std::less<>>& lowerings() {
  static const std::map<std::string, OpLowering, std::less<>> table = {
      {"add", {2, [](const Scalar& s, auto x, auto&) { return s.add(x[0], x[1]); }}},
      {"sub", {2, [](const Scalar& s, auto x, auto&) { return s.sub(x[0], x[1]); }}},
      {"mul", {2, [](const Scalar& s, auto x, auto&) { return s.mul(x[0], x[1]); }}},
      {"div", {2, [](const Scalar& s, auto x, auto&) { return s.div(x[0], x[1]); }}},
      {"pow", {2, [](const Scalar& s, auto x, auto&) -> Value { return s.b.create<mlir::math::PowFOp>(s.loc, x[0], x[1]); }}},
      // NaN propagates: (x != x || x > y) ? x : y
      {"maximum", {2, [](const Scalar& s, auto x, auto&) {
         Value take_x = s.b.create<mlir::arith::OrIOp>(s.loc, s.cmp(P::UNO, x[0], x[0]), s.cmp(P::OGT, x[0], x[1]));
         return s.select(take_x, x[0], x[1]);
       }}},
      {"minimum", {2, [](const Scalar& s, auto x, auto&) {
         Value take_x = s.b.create<mlir::arith::OrIOp>(s.loc, s.cmp(P::UNO, x[0], x[0]), s.cmp(P::OLT, x[0], x[1]));
         return s.select(take_x, x[0], x[1]);
       }}},
      // relu_backward(dy, y) = y > 0 ? dy : 0
      {"relu_backward", {2, [](const Scalar& s, auto x, auto&) { return s.select(s.cmp(P::OGT, x[1], s.cst(0)), x[0], s.cst(0)); }}},
      {"neg", {1, [](const Scalar& s, auto x, auto&) { return s.neg(x[0]); }}},
      // x < 0 ? -x : x (keeps -0.0 and NaN as the eager kernel does)
      {"abs", {1, [](const Scalar& s, auto x, auto&) { return s.select(s.cmp(P::OLT, x[0], s.cst(0)), s.neg(x[0]), x[0]); }}},
      {"exp", {1, [](const Scalar& s, auto x, auto&) { return s.exp(x[0]); }}},
      {"log", {1, [](const Scalar& s, auto x, auto&) -> Value { return s.b.create<mlir::math::LogOp>(s.loc, x[0]); }}},
      {"sqrt", {1, [](const Scalar& s, auto x, auto&) -> Value { return s.b.create<mlir::math::SqrtOp>(s.loc, x[0]); }}},
      {"rsqrt", {1, [](const Scalar& s, auto x, auto&) {
         return s.div(s.cst(1), s.b.create<mlir::math::SqrtOp>(s.loc, x[0]));
       }}},
      {"tanh", {1, [](const Scalar& s, auto x, auto&) -> Value { return s.b.create<mlir::math::TanhOp>(s.loc, x[0]); }}},
      {"erf", {1, [](const Scalar& s, auto x, auto&) { return s.erf(x[0]); }}},
      {"sigmoid", {1, [](const Scalar& s, auto x, auto&) { return s.sigmoid(x[0]); }}},
      {"silu", {1, [](const Scalar& s, auto x, auto&) { return s.mul(x[0], s.sigmoid(x[0])); }}},
      {"relu", {1, [](const Scalar& s, auto x, auto&) { return s.select(s.cmp(P::OGT, x[0], s.cst(0)), x[0], s.cst(0)); }}},
      // 0.5 * x * (1 + erf(x / sqrt(2)))
      {"gelu", {1, [](const Scalar& s, auto x, auto&) {
         return s.mul(s.mul(s.cst(0.5), x[0]), s.add(s.cst(1), s.erf(s.mul(x[0], s.cst(0.70710678118654752440)))));
       }}},
      {"pow_scalar", {1, [](const Scalar& s, auto x, auto& a) -> Value {
         return s.b.create<mlir::math::PowFOp>(s.loc, x[0], s.cst(a.scalar));
       }}},
      // flag: has min (scalar); flag2: has max (scalar2); NaN stays NaN.
      {"clamp", {1, [](const Scalar& s, auto x, auto& a) {
         Value v = x[0];
         if (a.flag2) v = s.select(s.cmp(P::OGT, x[0], s.cst(a.scalar2)), s.cst(a.scalar2), v);
         if (a.flag) v = s.select(s.cmp(P::OLT, x[0], s.cst(a.scalar)), s.cst(a.scalar), v);
         return v;
       }}},
      {"cast", {1, [](const Scalar& s, auto x, auto&) -> Value {
         const unsigned from = x[0].getType().getIntOrFloatBitWidth(), to = s.type.getIntOrFloatBitWidth();
         if (from < to) return s.b.create<mlir::arith::ExtFOp>(s.loc, s.type, x[0]);
         if (from > to) return s.b.create<mlir::arith::TruncFOp>(s.loc, s.type, x[0]);
         return x[0];
       }}},
  };
  return table;
}

bool is_float_tensor(mlir::Type type) {
  auto t = type.dyn_cast<mlir::RankedTensorType>();
  return t && t.hasStaticShape() && (t.getElementType().isF32() || t.getElementType().isF64());
}

}  // namespace

bool is_elementwise(mlir::Operation* op) {
  const ops::OpDef* def = ir::op_def(op);
  if (def == nullptr) return false;
  auto it = lowerings().find(def->name);
  if (it == lowerings().end() || static_cast<int>(op->getNumOperands()) != it->second.arity) return false;
  if (op->getNumResults() != 1 || !is_float_tensor(op->getResult(0).getType())) return false;
  for (Value v : op->getOperands())
    if (!is_float_tensor(v.getType())) return false;
  return true;
}

namespace {

bool is_splat_constant(mlir::Operation* op) {
  if (op->getName().getStringRef() != "tl.constant") return false;
  auto value = op->getAttrOfType<mlir::DenseElementsAttr>("value");
  return value && value.isSplat() && is_float_tensor(value.getType());
}

// Builds `@name(inputs..., out) attributes {llvm.emit_c_interface}` computing `group` with one
// linalg.generic, and returns the layout its caller must pass. Returns an error message when
// the group holds something this generator cannot lower.
std::string build_kernel(mlir::OpBuilder& builder, mlir::func::FuncOp group, const std::string& name,
                         FusedLayout& layout) {
  mlir::MLIRContext* ctx = builder.getContext();
  mlir::Location loc = group.getLoc();
  mlir::FunctionType type = group.getFunctionType();
  if (type.getNumResults() != 1 || !is_float_tensor(type.getResult(0))) return "the group must return one f32/f64 tensor";
  auto out_type = type.getResult(0).cast<mlir::RankedTensorType>();
  std::vector<Shape> in_shapes;
  std::vector<DType> in_dtypes;
  for (mlir::Type t : type.getInputs()) {
    if (!is_float_tensor(t)) return "a group input is not a static f32/f64 tensor";
    auto rt = t.cast<mlir::RankedTensorType>();
    in_shapes.push_back(ir::shape_of(rt));
    in_dtypes.push_back(ir::dtype_of(rt.getElementType()));
  }
  for (mlir::Operation& op : group.getBody().front().without_terminator()) {
    if (!is_splat_constant(&op) && !is_elementwise(&op)) {
      return "op '" + op.getName().getStringRef().str() + "' has no elementwise lowering";
    }
    if (!is_splat_constant(&op) && op.getResult(0).getType().cast<mlir::RankedTensorType>().getShape() !=
                                       out_type.getShape()) {
      return "an intermediate of the group does not have the group's shape";
    }
  }
  layout = collapse_layout(ir::shape_of(out_type), ir::dtype_of(out_type.getElementType()), in_shapes, in_dtypes);

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
  llvm::SmallVector<int64_t> out_shape(layout.dims.begin(), layout.dims.end());
  out_shape[0] = dynamic;
  arg_types.push_back(mlir::MemRefType::get(out_shape, out_type.getElementType()));
  maps.push_back(mlir::AffineMap::getMultiDimIdentityMap(rank, ctx));

  auto func = builder.create<mlir::func::FuncOp>(loc, name, builder.getFunctionType(arg_types, {}));
  func->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  mlir::Block* entry = func.addEntryBlock();
  mlir::OpBuilder body(ctx);
  body.setInsertionPointToStart(entry);
  llvm::SmallVector<Value> inputs(entry->getArguments().begin(), entry->getArguments().end() - 1);
  llvm::SmallVector<llvm::StringRef> iterators(rank, mlir::getParallelIteratorTypeName());
  std::string error;
  body.create<mlir::linalg::GenericOp>(
      loc, inputs, mlir::ValueRange{entry->getArguments().back()}, maps, iterators,
      [&](mlir::OpBuilder& b, mlir::Location l, mlir::ValueRange args) {
        llvm::DenseMap<Value, Value> scalar;
        mlir::Block& block = group.getBody().front();
        for (unsigned k = 0; k < block.getNumArguments(); ++k) scalar[block.getArgument(k)] = args[k];
        for (mlir::Operation& op : block.without_terminator()) {
          mlir::Type elem = op.getResult(0).getType().cast<mlir::RankedTensorType>().getElementType();
          Scalar s{b, l, elem};
          if (is_splat_constant(&op)) {
            auto value = op.getAttrOfType<mlir::DenseElementsAttr>("value");
            scalar[op.getResult(0)] =
                b.create<mlir::arith::ConstantOp>(l, value.getSplatValue<mlir::FloatAttr>()).getResult();
            continue;
          }
          llvm::SmallVector<Value> operands;
          for (Value v : op.getOperands()) operands.push_back(scalar.lookup(v));
          const OpLowering& lowering = lowerings().find(ir::op_def(&op)->name)->second;
          scalar[op.getResult(0)] = lowering.emit(s, operands, ir::attrs_of(&op));
        }
        Value result = scalar.lookup(block.getTerminator()->getOperand(0));
        b.create<mlir::linalg::YieldOp>(l, result);
      });
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

struct Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const FusedKernel>> kernels;
  CacheStats stats;
};
Cache& cache() {
  static Cache* c = new Cache();  // outlives every kernel user at exit
  return *c;
}

// JIT-compiles `groups` into one LLVM module. On failure every result carries the error.
std::vector<KernelResult> compile_batch(llvm::ArrayRef<mlir::func::FuncOp> groups) {
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

  mlir::OpBuilder builder(ctx);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(builder.getUnknownLoc());
  builder.setInsertionPointToEnd(module->getBody());
  std::vector<FusedLayout> layouts(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string error = build_kernel(builder, groups[i], "fused" + std::to_string(i), layouts[i]);
    if (!error.empty()) return fail_all(error);
  }
  if (mlir::failed(mlir::verify(*module))) return fail_all("the generated loops do not verify");
  if (mlir::failed(lower_to_llvm(*module))) return fail_all("lowering to the LLVM dialect failed");

  static std::once_flag native;
  std::call_once(native, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  auto machine_builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machine_builder) return fail_all("cannot detect the host CPU: " + llvm::toString(machine_builder.takeError()));
  auto machine = machine_builder->createTargetMachine();
  if (!machine) return fail_all("no LLVM target for the host CPU: " + llvm::toString(machine.takeError()));
  // With the host's target machine, the -O3 pipeline knows the vector width (TTI).
  auto transformer = mlir::makeOptimizingTransformer(3, 0, machine->get());
  mlir::ExecutionEngineOptions options;
  options.transformer = transformer;
  options.jitCodeGenOptLevel = llvm::CodeGenOpt::Aggressive;
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
  auto engine = mlir::ExecutionEngine::create(*module, options);
  if (!engine) return fail_all("JIT compilation failed: " + llvm::toString(engine.takeError()));
  std::shared_ptr<const void> owner(std::move(*engine));
  auto* jit = static_cast<const mlir::ExecutionEngine*>(owner.get());
  for (size_t i = 0; i < groups.size(); ++i) {
    auto entry = jit->lookupPacked("_mlir_ciface_fused" + std::to_string(i));
    if (!entry) {
      results[i].error = "the JIT has no entry point for the group: " + llvm::toString(entry.takeError());
      continue;
    }
    std::string description;
    if (auto attr = groups[i]->getAttrOfType<mlir::StringAttr>("fused")) description = attr.getValue().str();
    results[i].kernel = std::make_shared<FusedKernel>(std::move(layouts[i]), *entry, owner, description);
  }
  return results;
}

// A test hook: TL_CODEGEN_FAIL=<text> makes every group whose description contains <text>
// fail to compile, to exercise the unfused fallback.
bool forced_failure(mlir::func::FuncOp group) {
  const char* text = std::getenv("TL_CODEGEN_FAIL");
  if (text == nullptr || *text == '\0') return false;
  auto attr = group->getAttrOfType<mlir::StringAttr>("fused");
  return attr && attr.getValue().contains(text);
}

}  // namespace

std::vector<KernelResult> compile_groups(llvm::ArrayRef<mlir::func::FuncOp> groups) {
  std::vector<KernelResult> results(groups.size());
  std::vector<std::string> keys(groups.size());
  std::vector<size_t> todo;
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    for (size_t i = 0; i < groups.size(); ++i) {
      if (forced_failure(groups[i])) {
        results[i].error = "compilation disabled by TL_CODEGEN_FAIL";
        continue;
      }
      keys[i] = cache_key(groups[i]);
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
  for (size_t i : todo) batch.push_back(groups[i]);
  std::vector<KernelResult> compiled = compile_batch(batch);
  // One bad group must not cost the others their code: retry each alone.
  bool any_failed = false;
  for (const auto& r : compiled) any_failed = any_failed || !r.kernel;
  if (any_failed && batch.size() > 1) {
    for (size_t j = 0; j < batch.size(); ++j) compiled[j] = compile_batch({batch[j]}).front();
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  for (size_t j = 0; j < todo.size(); ++j) {
    if (compiled[j].kernel) {
      c.kernels[keys[todo[j]]] = std::static_pointer_cast<const FusedKernel>(compiled[j].kernel);
      ++c.stats.compiled;
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

}  // namespace tl::codegen::cpu
