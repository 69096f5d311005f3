// An elementwise op defined entirely here, through the public registration path (define_op and
// its scalar math, pointwise_op.h), runs eagerly, under autograd and through generated code
// with no edit anywhere else: the math written once serves the eager kernel and the lowering.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "frontend/ops/registry.h"
#include "runtime/ops/pointwise/pointwise_op.h"
#include "tl/autograd.h"
#include "tl/compile.h"
#include "tl/random.h"

using namespace tl;

namespace {

// softsign(x) = x / (1 + |x|)
constexpr auto softsign_math = [](const auto& s, auto x) {
  return s.div(x, s.add(s.constant(1), s.select(s.less(x, s.constant(0)), s.neg(x), x)));
};

Tensor softsign(const Tensor& x, Site site = Site::here());

const ops::OpDef& op_softsign = ops::define_op("softsign", [](ops::OpDef& op) {
  op.doc = "x / (1 + |x|)";
  op.infer = [](std::span<const Tensor> in, const ops::Attrs&, Site site) {
    return ops::infer_unary(in, "softsign", ops::Accepts::kFloating, site);
  };
  ops::set_pointwise<ops::Accepts::kFloating>(op, softsign_math);
  // d/dx = 1 / (1 + |x|)^2
  op.grad = [](const ops::GradContext& g) {
    Tensor d = 1.0 + abs(g.input(0));
    return std::vector<Tensor>{g.dout / (d * d)};
  };
  op.samples = {ops::Sample{{Shape{2, 3}}, [](const std::vector<Tensor>& in) { return softsign(in[0]); }, -3, 3}};
});

Tensor softsign(const Tensor& x, Site site) { return ops::call(op_softsign, {x}, {}, site); }

}  // namespace

TEST_CASE("an op defined in a test file is registered as elementwise with its math", "[ops][pointwise]") {
  const ops::OpDef* def = ops::find_op("softsign");
  REQUIRE(def == &op_softsign);
  CHECK(def->kind == ops::OpKind::kElementwise);
  CHECK(def->arity == 1);
  CHECK(def->pointwise.lower != nullptr);
  CHECK(def->kernels[ops::kCpu] != nullptr);
}

TEST_CASE("softsign runs eagerly in float32 and float64, keeping -0.0 and NaN", "[ops][pointwise]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> xs = {-1e30, -3.0, -0.5, -0.0, 0.0, 0.25, 2.0, 1e30, nan};
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = from_vector<double>(xs).to(dtype);
    Tensor y = softsign(x);
    CHECK(y.dtype() == dtype);
    auto got = y.to(kFloat64).to_vector<double>();
    for (size_t i = 0; i < xs.size(); ++i) {
      INFO(dtype_name(dtype) << " softsign(" << xs[i] << ") = " << got[i]);
      if (std::isnan(xs[i])) {
        CHECK(std::isnan(got[i]));
        continue;
      }
      const double want = xs[i] / (1 + std::abs(xs[i]));
      CHECK(std::abs(got[i] - want) <= (dtype == kFloat32 ? 1e-7 : 1e-16) * std::max(1.0, std::abs(want)));
      CHECK(std::signbit(got[i]) == std::signbit(xs[i]));
    }
    // Broadcast and strided inputs go through the same engine.
    Tensor m = randn({5, 4}, {.dtype = dtype}).t();
    CHECK(allclose(softsign(m), m / (1.0 + abs(m))));
  }
  CHECK_THROWS_AS(softsign(from_vector<int64_t>({1, 2})), DTypeError);
}

TEST_CASE("softsign's derivative passes gradcheck", "[ops][pointwise][autograd]") {
  manual_seed(4);
  Tensor x = randn({3, 5}, {.dtype = kFloat64}).requires_grad_();
  auto result = gradcheck([](const std::vector<Tensor>& in) { return softsign(in[0] * 2.0); }, {x});
  INFO(result.message);
  CHECK(result.ok);
}

TEST_CASE("softsign compiles into a fused kernel that matches eager", "[ops][pointwise][compile]") {
  manual_seed(9);
  for (DType dtype : {kFloat32, kFloat64}) {
    NoGradGuard no_grad;
    auto f = compile([](Tensor x, Tensor a) { return softsign(x * a) + x; });
    Tensor x = randn({64, 33}, {.dtype = dtype}) * 4.0;
    Tensor a = randn({33}, {.dtype = dtype});
    Tensor want = softsign(x * a) + x;
    for (int i = 0; i < 3; ++i) {
      Tensor got = f(x, a);
      REQUIRE(got.dtype() == dtype);
      // Only rational ops: the generated loop rounds as the eager kernels do.
      CHECK(equal(got, want));
    }
    CHECK(f.stats().compiled_calls >= 1);
    const std::string report = explain(f, x, a);
    INFO(report);
    CHECK_THAT(report, Catch::Contains("fused = \"mul+softsign+add\""));
    CHECK_THAT(report, !Catch::Contains("runs unfused"));
  }
}

TEST_CASE("tensors of rank 8 run through elementwise ops, reductions, views, matmul and softmax, eagerly and compiled",
          "[ops][rank]") {
  manual_seed(11);
  const Shape shape{2, 1, 3, 2, 1, 2, 3, 4};  // kMaxRank dims
  auto fn = [](Tensor x, Tensor w, Tensor b) {
    Tensor h = tanh(matmul(x, w) + b);                      // batched matmul over 6 batch dims, broadcast bias
    Tensor s = softmax(h.permute({7, 6, 5, 4, 3, 2, 1, 0}), 0).permute({7, 6, 5, 4, 3, 2, 1, 0});
    return (s * h).sum({1, 3, 7}) + h.mean({0, 2, 4, 6}, true).sum();
  };
  Tensor x = randn(shape, {.dtype = kFloat64}).requires_grad_();
  Tensor w = randn({4, 5}, {.dtype = kFloat64}).requires_grad_();
  Tensor b = randn({1, 1, 3, 1, 1, 1, 1, 5}, {.dtype = kFloat64}).requires_grad_();
  Tensor y = fn(x, w, b);
  CHECK(y.shape() == Shape{2, 3, 1, 2, 3});
  GradcheckResult result = gradcheck([&](const std::vector<Tensor>& in) { return fn(in[0], in[1], in[2]); }, {x, w, b});
  INFO(result.message);
  CHECK(result.ok);
  auto compiled = compile([&](Tensor a, Tensor c, Tensor d) { return fn(a, c, d); });
  Tensor x32 = x.detach().to(kFloat32), w32 = w.detach().to(kFloat32), b32 = b.detach().to(kFloat32);
  Tensor eager = fn(x32, w32, b32);
  for (int call = 0; call < 3; ++call) CHECK(allclose(compiled(x32, w32, b32), eager, 1e-5, 1e-5));
  CHECK(compiled.stats().compiled_calls == 1);
  // A ninth dim is refused where the shape is made, naming the line.
  CHECK_THROWS_WITH(x.unsqueeze(0), Catch::Contains("8"));
}
