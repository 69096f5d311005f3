// codegen/cpu/elementwise.cpp: every op it lowers, alone and in chains, with broadcast and
// strided inputs in f32 and f64, JIT-compiled and compared with the eager kernels.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include <mlir/IR/MLIRContext.h>

#include "codegen/cpu/elementwise.h"
#include "runtime/exec/fused_kernel.h"
#include "frontend/ops/registry.h"
#include "ir/attrs.h"
#include "ir/dialect.h"
#include "passes/graph_bridge.h"
#include "tl/autograd.h"
#include "tl/ops.h"
#include "tl/random.h"
#include "tl/threading.h"

using namespace tl;

namespace {

// One op of a chain: its operands index the chain's values (inputs first, then step results).
struct Step {
  std::string op;
  std::vector<int> in;
  ops::Attrs attrs = {};
};

struct Compiled {
  std::shared_ptr<const trace::CompiledKernel> kernel;
  Tensor expected;  // the eager result
  std::string error;
};

// Runs `steps` eagerly on `inputs`, and builds and compiles the same chain as a fused group.
Compiled compile_chain(const std::vector<Step>& steps, const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  std::vector<Tensor> values(inputs.begin(), inputs.end());
  for (const Step& s : steps) {
    std::vector<Tensor> operands;
    for (int i : s.in) operands.push_back(values[i]);
    values.push_back(ops::call(*ops::find_op(s.op), std::span<const Tensor>(operands), s.attrs, Site::here()));
  }

  std::unique_ptr<mlir::MLIRContext> owned_ctx = ir::make_context();
  mlir::MLIRContext& ctx = *owned_ctx;
  mlir::OpBuilder builder(&ctx);
  auto module = mlir::ModuleOp::create(builder.getUnknownLoc());
  builder.setInsertionPointToEnd(module.getBody());
  llvm::SmallVector<mlir::Type> arg_types;
  for (const Tensor& t : inputs) arg_types.push_back(ir::tensor_type(&ctx, t.shape(), t.dtype()));
  auto result_type = ir::tensor_type(&ctx, values.back().shape(), values.back().dtype());
  auto func = builder.create<mlir::func::FuncOp>(builder.getUnknownLoc(), "group",
                                                 builder.getFunctionType(arg_types, {result_type}));
  std::string description;
  for (const Step& s : steps) description += (description.empty() ? "" : "+") + s.op;
  func->setAttr(passes::kFusedAttr, builder.getStringAttr(description));
  mlir::Block* entry = func.addEntryBlock();
  builder.setInsertionPointToEnd(entry);
  std::vector<mlir::Value> ir_values(entry->getArguments().begin(), entry->getArguments().end());
  for (size_t k = 0; k < steps.size(); ++k) {
    trace::Node node;
    node.op = steps[k].op;
    node.def = ops::find_op(steps[k].op);
    node.attrs = steps[k].attrs;
    llvm::SmallVector<mlir::Value> operands;
    for (int i : steps[k].in) operands.push_back(ir_values[i]);
    const Tensor& v = values[inputs.size() + k];
    mlir::Operation* op = passes::emit_node(builder, node, operands, {ir::tensor_type(&ctx, v.shape(), v.dtype())});
    ir_values.push_back(op->getResult(0));
  }
  builder.create<mlir::func::ReturnOp>(builder.getUnknownLoc(), ir_values.back());

  Compiled out;
  out.expected = values.back();
  auto results = codegen::cpu::compile_groups({func});
  out.kernel = results.front().kernel;
  out.error = results.front().error;
  module.erase();
  return out;
}

Tensor run(const Compiled& c, const std::vector<Tensor>& inputs) {
  REQUIRE(c.kernel);
  Tensor out = empty(c.expected.shape(), {.dtype = c.expected.dtype()});
  c.kernel->run(std::span<const Tensor>(inputs), out);
  return out;
}

// max |got - want| / max(|want|, floor), in float64.
double max_rel_error(const Tensor& got, const Tensor& want, double floor) {
  auto g = got.to(kFloat64).contiguous().to_vector<double>();
  auto w = want.to(kFloat64).contiguous().to_vector<double>();
  REQUIRE(g.size() == w.size());
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i]) && std::isnan(g[i])) continue;
    if (w[i] == g[i]) continue;
    worst = std::max(worst, std::abs(g[i] - w[i]) / std::max(std::abs(w[i]), floor));
  }
  return worst;
}

// Inputs in [low, high) of `dtype`.
Tensor uniform(Shape shape, DType dtype, double low, double high) {
  return rand(shape, {.dtype = dtype}) * (high - low) + low;
}

struct OpCase {
  const char* op;
  int arity;
  double low, high;
  double f32_bound;  // max relative error allowed in f32 (measured; see docs/codegen.md)
  ops::Attrs attrs = {};
  double floor = 1e-30;  // errors are relative to max(|eager|, floor)
};

// Rational ops (and sqrt) round exactly as the eager kernels; transcendentals use MLIR's
// polynomial approximations in f32 (erf: a rational fit with absolute error 4.2e-7; eager:
// glibc's libmvec), libm in f64.
const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      {"add", 2, -3, 3, 1e-6},   {"sub", 2, -3, 3, 1e-6},     {"mul", 2, -3, 3, 1e-6},
      {"div", 2, 0.5, 3, 1e-6},  {"maximum", 2, -3, 3, 1e-6}, {"minimum", 2, -3, 3, 1e-6},
      {"relu_backward", 2, -3, 3, 1e-6},
      {"pow", 2, 0.5, 2, 1e-6},  {"neg", 1, -3, 3, 1e-6},     {"abs", 1, -3, 3, 1e-6},
      {"relu", 1, -3, 3, 1e-6},  {"sqrt", 1, 0.01, 9, 1e-6},  {"rsqrt", 1, 0.01, 9, 1e-6},
      {"exp", 1, -20, 20, 5e-6}, {"log", 1, 1e-3, 1e3, 5e-7}, {"tanh", 1, -8, 8, 5e-7},
      {"sigmoid", 1, -20, 20, 5e-6}, {"silu", 1, -20, 20, 5e-6}, {"erf", 1, -4, 4, 5e-7},
      // gelu's 1 + erf(x / sqrt(2)) cancels for x << 0 in both versions: its error is
      // measured relative to max(|gelu(x)|, 1), where erf's absolute error times x / 2 shows.
      {"gelu", 1, -6, 6, 1e-6, {}, 1.0},
      {"pow_scalar", 1, 0.1, 3, 1e-6, {.scalar = 2.5}},
      {"clamp", 1, -3, 3, 1e-6, {.scalar = -0.5, .scalar2 = 0.7, .flag = true, .flag2 = true}},
      {"clamp", 1, -3, 3, 1e-6, {.scalar2 = 0.7, .flag2 = true}},
      {"sign", 1, -3, 3, 1e-6},
      // Relative to max(|y|, 1): near their zeros the approximation's absolute error shows.
      {"sin", 1, -10, 10, 1e-6, {}, 1.0},  {"cos", 1, -10, 10, 1e-6, {}, 1.0},
  };
  return cases;
}

}  // namespace

TEST_CASE("each elementwise op alone matches eager in f32 and f64", "[codegen][elementwise]") {
  manual_seed(7);
  std::ostringstream errors;
  for (const OpCase& c : op_cases()) {
    for (DType dtype : {kFloat32, kFloat64}) {
      std::vector<Tensor> in;
      for (int k = 0; k < c.arity; ++k) in.push_back(uniform({1000, 37}, dtype, c.low, c.high));
      std::vector<int> operands;
      for (int k = 0; k < c.arity; ++k) operands.push_back(k);
      Compiled compiled = compile_chain({{c.op, operands, c.attrs}}, in);
      INFO(c.op << " " << dtype_name(dtype) << ": " << compiled.error);
      REQUIRE(compiled.kernel);
      const double err = max_rel_error(run(compiled, in), compiled.expected, c.floor);
      const double bound = dtype == kFloat32 ? c.f32_bound : 1e-14;
      errors << c.op << " " << dtype_name(dtype) << ": max relative error " << err << "\n";
      CHECK(err <= bound);
    }
  }
  WARN(errors.str());
}

TEST_CASE("transcendentals stay accurate on wide ranges and special values", "[codegen][elementwise]") {
  std::vector<float> xs = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-6f, 88.0f, 89.0f, -87.0f, -104.0f, 1e4f, -1e4f,
                           INFINITY, -INFINITY, NAN};
  Tensor x = from_vector<float>(xs, {static_cast<int64_t>(xs.size())});
  for (const char* op : {"exp", "tanh", "erf", "sigmoid", "gelu", "silu"}) {
    Compiled c = compile_chain({{op, {0}}}, {x});
    INFO(op << ": " << c.error);
    auto got = run(c, {x}).to_vector<float>();
    auto want = c.expected.to_vector<float>();
    for (size_t i = 0; i < xs.size(); ++i) {
      INFO(op << "(" << xs[i] << "): got " << got[i] << ", eager " << want[i]);
      if (std::isnan(want[i])) {
        CHECK(std::isnan(got[i]));
      } else if (std::isinf(want[i])) {
        CHECK(got[i] == want[i]);
      } else {
        CHECK(std::abs(got[i] - want[i]) <= 5e-6f * std::max(1.0f, std::abs(want[i])));
      }
    }
  }
}

TEST_CASE("chains broadcast inputs along any dims and read strided inputs", "[codegen][elementwise]") {
  manual_seed(11);
  for (DType dtype : {kFloat32, kFloat64}) {
    // gelu(x * a + b): x [6, 5, 40], a [5, 1] (broadcast along 0 and 2), b [40] (along 0 and 1)
    Tensor x = uniform({6, 5, 40}, dtype, -3, 3);
    Tensor a = uniform({5, 1}, dtype, -2, 2);
    Tensor b = uniform({40}, dtype, -1, 1);
    std::vector<Step> chain = {{"mul", {0, 1}}, {"add", {3, 2}}, {"gelu", {4}}};
    Compiled c = compile_chain(chain, {x, a, b});
    INFO(c.error);
    CHECK(max_rel_error(run(c, {x, a, b}), c.expected, 1.0) < 1e-6);

    // The same group on strided inputs: a transposed x and a sliced bias.
    Tensor xt = uniform({40, 5, 6}, dtype, -3, 3).permute({2, 1, 0});
    Tensor bs = uniform({1}, dtype, -1, 1).expand({40});  // stride 0
    REQUIRE_FALSE(xt.is_contiguous());
    REQUIRE_FALSE(bs.is_contiguous());
    Tensor want = gelu(add(mul(xt, a), bs));
    CHECK(max_rel_error(run(c, {xt, a, bs}), want, 1.0) < 1e-6);

    // A scalar input and a diamond (y used twice), with a cast to the other float type.
    DType other = dtype == kFloat32 ? kFloat64 : kFloat32;
    Tensor s = uniform({}, dtype, 0.5, 1);
    Tensor y = uniform({3, 1, 7}, dtype, -2, 2);
    std::vector<Step> diamond = {{"mul", {0, 1}},  {"tanh", {2}}, {"sigmoid", {2}}, {"sub", {3, 4}},
                                 {"cast", {5}, {.dtype = other}}, {"exp", {6}}};
    Compiled d = compile_chain(diamond, {y, s});
    INFO(d.error);
    Tensor got = run(d, {y, s});
    CHECK(got.dtype() == other);
    CHECK(max_rel_error(got, d.expected, 1.0) < 5e-6);
  }
}

TEST_CASE("large outputs split across threads give the same bits at any thread count", "[codegen][elementwise]") {
  manual_seed(3);
  Tensor x = uniform({3, 100003}, kFloat32, -4, 4);
  Tensor b = uniform({3, 1}, kFloat32, -1, 1);
  Compiled c = compile_chain({{"add", {0, 1}}, {"tanh", {2}}, {"silu", {3}}}, {x, b});
  INFO(c.error);
  const int threads = get_num_threads();
  set_num_threads(1);
  Tensor one = run(c, {x, b});
  set_num_threads(std::max(2, threads));
  Tensor many = run(c, {x, b});
  set_num_threads(threads);
  CHECK(equal(one, many));
  CHECK(max_rel_error(one, c.expected, 1.0) < 1e-6);
}

TEST_CASE("identical groups compile once per process", "[codegen][cache]") {
  Tensor x = rand({17, 3});
  Compiled first = compile_chain({{"exp", {0}}, {"log", {1}}}, {x});
  const auto before = codegen::cpu::cache_stats();
  Compiled second = compile_chain({{"exp", {0}}, {"log", {1}}}, {x});
  const auto after = codegen::cpu::cache_stats();
  CHECK(first.kernel == second.kernel);
  CHECK(after.hits == before.hits + 1);
  CHECK(after.compiled == before.compiled);
}

TEST_CASE("a chain ending in a sum or mean accumulates into the reduced output", "[codegen][elementwise][reduce]") {
  manual_seed(11);
  struct Case {
    Shape shape;
    Shape dims;
    bool keepdim, mean;
  };
  // Leading and middle dims; keepdim both ways; shapes of more than one chunk of rows
  // (threaded) reducing across rows or within each chunk.
  const std::vector<Case> cases = {
      {{8, 10}, {0}, false, false},      {{8, 10}, {0}, true, true},        {{4, 5, 6}, {1}, true, false},
      {{4, 5, 6}, {0, 1}, false, true},  {{4, 5, 6}, {0}, false, false},    {{3, 1, 7}, {1}, true, false},
      {{4096, 33}, {0}, false, true},    {{300, 257}, {0}, false, false},   {{64, 700, 3}, {1}, false, false},
  };
  for (const Case& c : cases) {
    for (DType dtype : {kFloat32, kFloat64}) {
      const int64_t last = c.shape[c.shape.size() - 1];
      std::vector<Tensor> in = {uniform(c.shape, dtype, -2, 2), uniform({last}, dtype, -1, 1)};
      ops::Attrs reduce;
      reduce.dims = c.dims;
      reduce.keepdim = c.keepdim;
      reduce.flag = c.mean;
      // sum((exp(x) * bias)) over dims: softmax's denominator with a broadcast factor
      Compiled compiled = compile_chain({{"exp", {0}}, {"mul", {2, 1}}, {"sum", {3}, reduce}}, in);
      INFO(c.shape.str() << " dims " << c.dims.str() << " keepdim " << c.keepdim << " mean " << c.mean << " "
                         << dtype_name(dtype) << ": " << compiled.error);
      REQUIRE(compiled.kernel);
      int64_t per_output = 1;
      for (int64_t d : c.dims) per_output *= c.shape[d];
      // Summing size-1 dims is elementwise: each output element reads one input element.
      CHECK(compiled.kernel->is_elementwise() == (per_output == 1));
      Tensor got = run(compiled, in);
      REQUIRE(got.shape() == compiled.expected.shape());
      // Accumulated in order here, with 16 lanes in the eager kernel: rounding differs.
      CHECK(max_rel_error(got, compiled.expected, 1.0) <= (dtype == kFloat32 ? 2e-5 : 1e-12));
    }
  }
}

TEST_CASE("reductions along rows or over too many elements are not fused", "[codegen][elementwise][reduce]") {
  // Over the innermost dim: an in-order scalar chain, slower than the eager ops.
  for (Shape dims : {Shape{1}, Shape{0, 1}}) {
    Tensor x = uniform({8, 10}, kFloat32, -1, 1);
    ops::Attrs reduce;
    reduce.dims = dims;
    Compiled compiled = compile_chain({{"exp", {0}}, {"sum", {1}, reduce}}, {x});
    CHECK_FALSE(compiled.kernel);
  }
  // More than kMaxFusedReduction elements into each output.
  Tensor x = uniform({ir::kMaxFusedReduction + 1, 2}, kFloat32, -1, 1);
  ops::Attrs reduce;
  reduce.dims = {0};
  Compiled compiled = compile_chain({{"exp", {0}}, {"sum", {1}, reduce}}, {x});
  CHECK_FALSE(compiled.kernel);
  CHECK_FALSE(compiled.error.empty());
}

namespace {

// Distance in units in the last place: how many representable values lie between a and b.
template <class T>
int64_t ulp_distance(T a, T b) {
  using Bits = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  auto ordered = [](T v) {
    Bits i;
    std::memcpy(&i, &v, sizeof(v));
    return i < 0 ? std::numeric_limits<Bits>::min() - i : i;
  };
  const int64_t d = static_cast<int64_t>(ordered(a)) - static_cast<int64_t>(ordered(b));
  return d < 0 ? -d : d;
}

}  // namespace

// The transcendental primitives differ per backend (eager: glibc's libm and libmvec; generated
// code: MLIR's polynomial approximations and a rational erf in f32, libm in f64), while the
// composite math around them is one expression. This measures the difference over a dense
// sweep of [-10, 10] (docs/codegen.md quotes it). Where the result is near zero (gelu for
// x << 0, where 1 + erf cancels; sin and cos at their zeros) the approximations' absolute
// error dominates, so the error is relative to max(|y|, 1) and ulps are counted where
// |y| >= 1e-3.
TEST_CASE("a dense sweep of [-10, 10] bounds generated transcendentals against eager", "[codegen][elementwise][accuracy]") {
  struct Bound {
    const char* op;
    double f32, f64;  // max |generated - eager| / max(|eager|, 1)
  };
  const std::vector<Bound> bounds = {{"erf", 5e-7, 1e-15},  {"gelu", 2e-6, 1e-15},    {"tanh", 5e-7, 1e-15},
                                     {"exp", 5e-6, 1e-15},  {"sigmoid", 5e-6, 1e-15}, {"silu", 5e-6, 1e-15},
                                     {"sin", 1e-6, 1e-15},  {"cos", 1e-6, 1e-15}};
  constexpr int64_t n = 1 << 21;
  std::ostringstream measured;
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = arange(0, n, 1, {.dtype = kFloat64}) * (20.0 / (n - 1)) - 10.0;
    x = x.to(dtype);
    for (const Bound& b : bounds) {
      Compiled c = compile_chain({{b.op, {0}}}, {x});
      INFO(b.op << " " << dtype_name(dtype) << ": " << c.error);
      REQUIRE(c.kernel);
      Tensor got = run(c, {x});
      const double err = max_rel_error(got, c.expected, 1.0);
      int64_t ulps = 0;
      if (dtype == kFloat32) {
        auto g = got.to_vector<float>(), w = c.expected.to_vector<float>();
        for (size_t i = 0; i < g.size(); ++i)
          if (std::abs(w[i]) >= 1e-3) ulps = std::max(ulps, ulp_distance(g[i], w[i]));
      } else {
        auto g = got.to_vector<double>(), w = c.expected.to_vector<double>();
        for (size_t i = 0; i < g.size(); ++i)
          if (std::abs(w[i]) >= 1e-3) ulps = std::max(ulps, ulp_distance(g[i], w[i]));
      }
      measured << b.op << " " << dtype_name(dtype) << ": max error / max(|y|, 1) " << err << ", max ulp where |y| >= 1e-3 " << ulps
               << "\n";
      CHECK(err <= (dtype == kFloat32 ? b.f32 : b.f64));
    }
  }
  WARN(measured.str());
}
