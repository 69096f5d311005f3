// Sweeps over the op table: every sample of every registered op is run through gradcheck,
// re-run on non-contiguous inputs, and re-run in float32, and the registry itself is checked
// for ops missing a kernel, a derivative, samples or a doc string. New ops are picked up
// automatically; each failure names the op and the sample.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <sstream>

#include "frontend/ops/registry.h"
#include "tl/autograd.h"
#include "tl/ops.h"
#include "tl/random.h"
#include "tests/support/op_samples.h"

using namespace tl;
using tl::ops::OpDef;
using tl::ops::Sample;

namespace {

using tl::test::is_integer_input;
using tl::test::SplitMix;
using tl::test::kSweepEps;
using tl::test::make_inputs;
using tl::test::seed_for;

// The same values as `t`, laid out as a transposed, strided view (stride 2, storage offset 1)
// of a larger buffer whose other elements are NaN, so a kernel that ignores strides or the
// offset reads NaN and fails loudly.
Tensor non_contiguous_copy(const Tensor& t) {
  NoGradGuard no_grad;
  const Shape& s = t.shape();
  int64_t r = s.size();
  if (r == 0) {
    Tensor buf = full({3}, NAN, {.dtype = t.dtype()});
    if (!is_floating(t.dtype())) buf = full({3}, -7, {.dtype = t.dtype()});
    Tensor v = buf.select(0, 1);
    v.copy_(t);
    return v;
  }
  Shape buffer_shape;
  for (int64_t d = r - 1; d >= 1; --d) buffer_shape.push_back(s[d]);
  buffer_shape.push_back(2 * s[0] + 1);
  Tensor buf = is_floating(t.dtype()) ? full(buffer_shape, NAN, {.dtype = t.dtype()})
                                      : full(buffer_shape, -7, {.dtype = t.dtype()});
  Tensor v = buf.slice(r - 1, 1, 2 * s[0] + 1, 2);
  Shape reverse;
  for (int64_t d = r - 1; d >= 0; --d) reverse.push_back(d);
  v = v.permute(reverse);
  v.copy_(t);
  return v;
}

// Runs the sample's call with the default generator reseeded, so ops that draw random
// numbers give the same result on every evaluation.
Tensor run(const Sample& s, const std::vector<Tensor>& in) {
  manual_seed(20240601);
  return s.call(in);
}

bool is_differentiable(const OpDef& op) { return op.grad != nullptr; }

std::string sample_label(const OpDef& op, size_t k, const Sample& s) {
  std::ostringstream os;
  os << op.name << " sample " << k << " (shapes";
  for (const Shape& shape : s.shapes) os << " " << shape.str();
  os << ")";
  return os.str();
}

// Loss gradients of sum(out * w) for the float inputs that require grad (undefined when unused).
std::vector<Tensor> input_grads(const Tensor& out, const std::vector<Tensor>& in, const Tensor& w) {
  std::vector<Tensor> wrt;
  for (const Tensor& t : in)
    if (t.requires_grad()) wrt.push_back(t);
  if (wrt.empty() || !out.requires_grad()) return std::vector<Tensor>(wrt.size());
  return grad(sum(mul(out, w)), wrt, Tensor(), false, /*allow_unused=*/true);
}

void report(const std::vector<std::string>& failures, size_t checked) {
  std::string all;
  for (const auto& f : failures) all += "\n  " + f;
  INFO(failures.size() << " of " << checked << " samples failed:" << all);
  CHECK(failures.empty());
}

}  // namespace

TEST_CASE("gradcheck accepts a correct derivative and names the element of a wrong one", "[autograd][gradcheck]") {
  Tensor x = from_vector<double>({0.5, -1.0, 2.0}).requires_grad_();
  auto good = gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[0]); }, {x});
  CHECK(good.ok);
  CHECK(good.message.empty());

  // A custom op whose backward is off by a factor 2 at element 1 only.
  auto wrong = [](const std::vector<Tensor>& in) {
    return custom_op(
        "bad_square", in, [](const std::vector<Tensor>& v) { return mul(v[0], v[0]); },
        [](const std::vector<Tensor>& v, const Tensor&, const Tensor& dout) {
          Tensor scale = from_vector<double>({2.0, 4.0, 2.0});
          return std::vector<Tensor>{mul(mul(dout, v[0]), scale)};
        });
  };
  Tensor y = from_vector<double>({0.5, -1.0, 2.0}).requires_grad_();
  auto bad = gradcheck(wrong, {y});
  CHECK_FALSE(bad.ok);
  CHECK_THAT(bad.message, Catch::Contains("input 0") && Catch::Contains("element 1 (index [1], value -1)") &&
                              Catch::Contains("analytic gradient") && Catch::Contains("vs numeric"));
}

TEST_CASE("gradcheck checks only the inputs that require grad and refuses float32", "[autograd][gradcheck]") {
  Tensor a = from_vector<double>({1.0, 2.0}).requires_grad_();
  Tensor b = from_vector<double>({3.0, 4.0});
  auto result = gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {a, b});
  CHECK(result.ok);
  Tensor f = from_vector<float>({1.0f}).requires_grad_();
  CHECK_THROWS_AS(gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]); }, {f}), DTypeError);
  CHECK_THROWS_AS(gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]); }, {b}), ValueError);
}

TEST_CASE("gradcheck sees an input the output does not depend on as a zero gradient", "[autograd][gradcheck]") {
  Tensor a = from_vector<double>({1.0, 2.0}).requires_grad_();
  Tensor b = from_vector<double>({3.0, 4.0}).requires_grad_();
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]); }, {a, b}).ok);
}

namespace {

// Runs `check` (gradcheck or gradgradcheck) on every sample of every differentiable op, in
// float64, and reports each sample that fails it.
void sweep_differentiable(const std::function<GradcheckResult(const std::function<Tensor(const std::vector<Tensor>&)>&,
                                                              const std::vector<Tensor>&, GradcheckOptions)>& check) {
  std::vector<std::string> failures;
  size_t checked = 0;
  for (const OpDef* op : ops::all_ops()) {
    if (!is_differentiable(*op)) continue;
    for (size_t k = 0; k < op->samples.size(); ++k) {
      const Sample& s = op->samples[k];
      ++checked;
      try {
        auto in = make_inputs(s, seed_for(op->name, k), true);
        auto result = check([&](const std::vector<Tensor>& v) { return run(s, v); }, in, {.eps = kSweepEps});
        if (!result.ok) failures.push_back(sample_label(*op, k, s) + ": " + result.message);
      } catch (const std::exception& e) {
        failures.push_back(sample_label(*op, k, s) + ": threw " + e.what());
      }
    }
  }
  CHECK(checked > 0);
  report(failures, checked);
}

}  // namespace

TEST_CASE("every op sample passes gradcheck in float64", "[autograd][sweep]") { sweep_differentiable(gradcheck); }

TEST_CASE("every op sample passes gradgradcheck in float64", "[autograd][sweep]") {
  // Every derivative rule is written with differentiable ops, so the gradient of every
  // differentiable op is differentiable again (in its inputs and in the incoming gradient).
  sweep_differentiable(gradgradcheck);
}

TEST_CASE("every op sample gives the same values and gradients on non-contiguous inputs", "[autograd][sweep]") {
  std::vector<std::string> failures;
  size_t checked = 0;
  for (const OpDef* op : ops::all_ops()) {
    for (size_t k = 0; k < op->samples.size(); ++k) {
      const Sample& s = op->samples[k];
      ++checked;
      std::string label = sample_label(*op, k, s);
      try {
        bool diff = is_differentiable(*op);
        auto dense = make_inputs(s, seed_for(op->name, k), diff);
        std::vector<Tensor> strided;
        for (const Tensor& t : dense) {
          Tensor v = non_contiguous_copy(t.detach());
          if (t.requires_grad()) v.requires_grad_();
          strided.push_back(v);
        }
        for (const Tensor& t : strided)
          if (t.numel() > 1 && t.is_contiguous()) failures.push_back(label + ": test bug, input is contiguous");

        Tensor out_dense = run(s, dense);
        Tensor out_strided = run(s, strided);
        if (out_dense.shape() != out_strided.shape() || out_dense.dtype() != out_strided.dtype()) {
          failures.push_back(label + ": output " + out_strided.shape().str() + " " + dtype_name(out_strided.dtype()) +
                             " on strided inputs vs " + out_dense.shape().str() + " " + dtype_name(out_dense.dtype()));
          continue;
        }
        if (!allclose(out_strided, out_dense, 1e-12, 1e-12)) {
          failures.push_back(label + ": forward values differ on strided inputs");
          continue;
        }
        if (!diff || !is_floating(out_dense.dtype())) continue;
        SplitMix rng{seed_for(op->name, k) ^ 0x5555};
        std::vector<double> wv(static_cast<size_t>(out_dense.numel()));
        for (auto& x : wv) x = rng.uniform(-1.5, 1.5);
        Tensor w = from_vector<double>(wv, out_dense.shape()).to(out_dense.dtype());
        auto g_dense = input_grads(out_dense, dense, w);
        auto g_strided = input_grads(out_strided, strided, w);
        for (size_t i = 0; i < g_dense.size(); ++i) {
          if (g_dense[i].defined() != g_strided[i].defined()) {
            failures.push_back(label + ": gradient of float input " + std::to_string(i) +
                               " is defined in only one of the two runs");
          } else if (g_dense[i].defined() &&
                     (g_dense[i].shape() != g_strided[i].shape() || !allclose(g_strided[i], g_dense[i], 1e-10, 1e-12))) {
            failures.push_back(label + ": gradient of float input " + std::to_string(i) + " differs on strided inputs");
          }
        }
      } catch (const std::exception& e) {
        failures.push_back(label + ": threw " + e.what());
      }
    }
  }
  report(failures, checked);
}

TEST_CASE("every op sample in float32 matches float64 within tolerance", "[autograd][sweep]") {
  std::vector<std::string> failures;
  size_t checked = 0;
  for (const OpDef* op : ops::all_ops()) {
    for (size_t k = 0; k < op->samples.size(); ++k) {
      const Sample& s = op->samples[k];
      ++checked;
      std::string label = sample_label(*op, k, s);
      try {
        NoGradGuard no_grad;
        auto in64 = make_inputs(s, seed_for(op->name, k), false);
        std::vector<Tensor> in32;
        for (const Tensor& t : in64) in32.push_back(is_floating(t.dtype()) ? t.to(kFloat32) : t);
        Tensor out64 = run(s, in64);
        Tensor out32 = run(s, in32);
        if (out32.shape() != out64.shape()) {
          failures.push_back(label + ": float32 output is " + out32.shape().str() + ", float64 output is " +
                             out64.shape().str());
        } else if (!allclose(out32.to(kFloat64), out64.to(kFloat64), 1e-4, 1e-5)) {
          failures.push_back(label + ": float32 and float64 forward results differ beyond rtol 1e-4, atol 1e-5");
        }
      } catch (const std::exception& e) {
        failures.push_back(label + ": threw " + e.what());
      }
    }
  }
  report(failures, checked);
}

namespace {

// The registry rule, checked for every op:
//   - it runs somewhere: a CPU kernel (with a shape rule) or a view function;
//   - it states its derivative: a grad rule or a not_differentiable reason, not both;
//   - a differentiable op has samples, so the sweeps above test its derivative. Backward
//     helpers (ops named *_backward, called only from another op's grad rule) are exempt:
//     the sweep reaches them through the op they differentiate;
//   - an elementwise op states its scalar math (OpDef::pointwise: the lowering code generation
//     uses), and only an elementwise op does; samples have the op's declared operand count;
//   - it has a doc string.
std::vector<std::string> registry_problems(const OpDef& op) {
  std::vector<std::string> missing;
  const std::string& n = op.name;
  bool has_kernel = op.kernels[ops::kCpu] != nullptr && op.infer != nullptr;
  if (!has_kernel && op.view == nullptr) missing.push_back(n + ": no CPU kernel (with a shape rule) and no view function");
  if (op.grad == nullptr && op.not_differentiable.empty())
    missing.push_back(n + ": no grad rule and no not_differentiable reason");
  if (op.grad != nullptr && !op.not_differentiable.empty())
    missing.push_back(n + ": has both a grad rule and a not_differentiable reason");
  bool backward_helper = n.size() > 9 && n.ends_with("_backward");
  if (op.grad != nullptr && op.samples.empty() && !backward_helper)
    missing.push_back(n + ": differentiable but has no samples");
  const bool elementwise = op.kind == ops::OpKind::kElementwise;
  if (elementwise && (op.pointwise.lower == nullptr || op.arity <= 0))
    missing.push_back(n + ": elementwise but states no scalar math (OpDef::pointwise), so it has no lowering");
  if (!elementwise && op.pointwise.lower != nullptr)
    missing.push_back(n + ": has scalar math (OpDef::pointwise) but is not marked elementwise");
  // A sample passes `arity` operands, or leaves out trailing optional ones (conv2d's bias).
  const int optional = static_cast<int>(op.optional_inputs.size());
  for (const Sample& s : op.samples) {
    const int n_in = static_cast<int>(s.shapes.size());
    if (op.arity != ops::kVariadic && (n_in > op.arity || n_in < op.arity - optional)) {
      missing.push_back(n + ": a sample has " + std::to_string(n_in) + " inputs, the op's arity is " +
                        std::to_string(op.arity));
    }
  }
  if (op.doc.empty()) missing.push_back(n + ": no doc string");
  return missing;
}

}  // namespace

TEST_CASE("every registered op has a kernel, a derivative rule, samples and a doc string", "[autograd][registry]") {
  std::vector<std::string> missing;
  std::vector<std::string> names;
  for (const OpDef* op : ops::all_ops()) {
    for (std::string& m : registry_problems(*op)) missing.push_back(std::move(m));
    if (std::find(names.begin(), names.end(), op->name) != names.end()) missing.push_back(op->name + ": registered twice");
    names.push_back(op->name);
  }
  std::string all;
  for (const auto& m : missing) all += "\n  " + m;
  INFO(missing.size() << " problems in " << ops::all_ops().size() << " ops:" << all);
  CHECK(missing.empty());
  CHECK(ops::all_ops().size() > 0);
}

TEST_CASE("the registry rule names an elementwise op without a lowering", "[autograd][registry]") {
  // Unregistered copies of real ops, so the table itself stays as it is.
  OpDef gelu = *ops::find_op("gelu");
  REQUIRE(registry_problems(gelu).empty());
  gelu.pointwise.lower = nullptr;
  auto problems = registry_problems(gelu);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("gelu: elementwise but states no scalar math"));

  OpDef matmul = *ops::find_op("matmul");
  REQUIRE(registry_problems(matmul).empty());
  matmul.pointwise = ops::find_op("add")->pointwise;
  problems = registry_problems(matmul);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("not marked elementwise"));
}
