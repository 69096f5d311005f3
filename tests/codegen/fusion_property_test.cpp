// Random programs of elementwise and broadcasting ops, with reductions (fused with their
// producers when small enough) and matmuls (Linear
// layers: bias and relu, folded into oneDNN post-ops by tl-matmul-epilogue) between them,
// compiled through tl::compile (fusion + generated code) and compared with eager execution:
// outputs, and the gradients the autodiff pass builds when the program calls loss.backward().
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <sstream>

#include "tl/autograd.h"
#include "tl/compile.h"
#include "tl/ops.h"
#include "tl/random.h"

using namespace tl;

namespace {

enum class Kind { kUnary, kBinary, kReduce, kLinear };

struct Step {
  Kind kind;
  int op;    // which unary/binary op, 0 sum / 1 mean, or for kLinear: bit 0 bias, bit 1 relu
  int a, b;  // operand values (kLinear: b is the layer, whose weight is weights[2b], bias 2b+1)
  Shape dims;  // reductions: the dims reduced (keepdim)
};

struct Program {
  DType dtype = kFloat64;
  Shape shape;                // every value broadcasts to it
  std::vector<Shape> inputs;  // values 0..inputs.size()-1
  std::vector<Step> steps;    // value inputs.size() + k is steps[k]'s result
  std::vector<Shape> weights;  // kLinear layers: [C, C] weight, [C] bias (C: shape's last dim)
  std::vector<int> outputs;
  bool backward = false;      // inputs after the first are parameters; loss.backward()
};

constexpr int kUnaryOps = 14;
constexpr int kBinaryOps = 7;

// Each op keeps its operands inside its domain with ops that are themselves fusible.
Tensor unary(int op, const Tensor& x) {
  switch (op) {
    case 0: return neg(x);
    case 1: return abs(x);
    case 2: return exp(clamp(x, -10.0, 10.0));
    case 3: return log(abs(x) + 0.5);
    case 4: return sqrt(abs(x) + 0.1);
    case 5: return rsqrt(abs(x) + 0.5);
    case 6: return tanh(x);
    case 7: return sigmoid(x);
    case 8: return relu(x);
    case 9: return gelu(x);
    case 10: return silu(x);
    case 11: return erf(x);
    case 12: return pow(abs(x) + 0.5, 1.5);
    default: return clamp(x, -1.0, 2.0);
  }
}

Tensor binary(int op, const Tensor& a, const Tensor& b) {
  switch (op) {
    case 0: return add(a, b);
    case 1: return sub(a, b);
    case 2: return mul(a, b);
    case 3: return div(a, abs(b) + 0.5);
    case 4: return maximum(a, b);
    case 5: return minimum(a, b);
    default: return pow(abs(a) + 0.5, clamp(b, -2.0, 2.0));
  }
}

std::vector<Tensor> run_program(const Program& p, const std::vector<Tensor>& inputs,
                                const std::vector<Tensor>& weights) {
  std::vector<Tensor> v(inputs.begin(), inputs.end());
  for (const Step& s : p.steps) {
    switch (s.kind) {
      case Kind::kLinear: {
        Tensor y = matmul(v[s.a].expand(p.shape), weights[2 * s.b]);
        if (s.op & 1) y = y + weights[2 * s.b + 1];
        if (s.op & 2) y = relu(y);
        v.push_back(y);
        break;
      }
      case Kind::kUnary: v.push_back(unary(s.op, v[s.a])); break;
      case Kind::kBinary: v.push_back(binary(s.op, v[s.a], v[s.b])); break;
      case Kind::kReduce: {
        Shape kept = v[s.a].shape();
        for (int64_t d : s.dims) kept[d] = 1;
        Tensor r = s.op == 0 ? sum(v[s.a], s.dims) : mean(v[s.a], s.dims);
        v.push_back(r.reshape(kept));
        break;
      }
    }
  }
  std::vector<Tensor> out;
  for (int i : p.outputs) out.push_back(v[i]);
  return out;
}

Program random_program(std::mt19937_64& rng, bool large) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  Program p;
  p.dtype = chance(0.5) ? kFloat32 : kFloat64;
  const int64_t sizes[] = {1, 2, 3, 5, 8, 17, 64};
  const int rank = 1 + pick(4);
  for (int d = 0; d < rank; ++d) p.shape.push_back(sizes[pick(7)]);
  if (large) p.shape[rank - 1] = 70001;  // several chunks of rows: the threaded path
  const int n_inputs = 1 + pick(4);
  for (int k = 0; k < n_inputs; ++k) {
    Shape s;
    const int drop = k == 0 ? 0 : pick(rank);  // leading dims broadcast away
    for (int d = drop; d < rank; ++d) s.push_back(k > 0 && chance(0.3) ? 1 : p.shape[d]);
    p.inputs.push_back(s);
  }
  const int n_steps = 3 + pick(10);
  for (int k = 0; k < n_steps; ++k) {
    const int n_values = n_inputs + k;
    // Mostly chains: the newest value is the likeliest operand.
    auto operand = [&] { return chance(0.6) ? n_values - 1 : pick(n_values); };
    Step s{};
    const int r = pick(10);
    if (r == 1 && !large && chance(0.7)) {
      s.kind = Kind::kLinear;
      s.op = pick(4);
      s.a = operand();
      s.b = static_cast<int>(p.weights.size() / 2);
      const int64_t c = p.shape[rank - 1];
      p.weights.push_back({c, c});
      p.weights.push_back({c});
    } else if (r == 0) {
      s.kind = Kind::kReduce;
      s.op = pick(2);
      s.a = operand();
      for (int d = 0; d < rank; ++d)
        if (chance(0.5)) s.dims.push_back(d);
      if (s.dims.empty()) s.dims.push_back(rank - 1);
    } else if (r < 5) {
      s.kind = Kind::kUnary;
      s.op = pick(kUnaryOps);
      s.a = operand();
    } else {
      s.kind = Kind::kBinary;
      s.op = pick(kBinaryOps);
      s.a = operand();
      s.b = pick(n_values);
    }
    p.steps.push_back(s);
  }
  p.outputs.push_back(n_inputs + n_steps - 1);
  if (chance(0.3)) p.outputs.push_back(n_inputs + pick(n_steps));  // an intermediate escapes
  p.backward = chance(0.3);
  return p;
}

// Reductions name dims of the program's shape; values of lower rank need them shifted.
void fix_reductions(Program& p) {
  std::vector<int64_t> ranks;
  for (const Shape& s : p.inputs) ranks.push_back(s.size());
  for (Step& s : p.steps) {
    int64_t r = ranks[s.a];
    if (s.kind == Kind::kBinary) r = std::max(r, ranks[s.b]);
    if (s.kind == Kind::kLinear) r = static_cast<int64_t>(p.shape.size());
    if (s.kind == Kind::kReduce) {
      const int64_t offset = static_cast<int64_t>(p.shape.size()) - r;
      Shape dims;
      for (int64_t d : s.dims)
        if (d >= offset) dims.push_back(d - offset);
      if (dims.empty()) dims.push_back(r - 1);
      s.dims = dims;
    }
    ranks.push_back(r);
  }
}

// Elements may differ by rounding relative to the result's largest magnitude: more so with
// matmuls (`reductions_of_products`), whose sums may cancel and which oneDNN may accumulate in
// another order when it applies an epilogue.
std::string compare(const Tensor& got, const Tensor& want, DType dtype, bool reductions_of_products) {
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) return "shape or dtype differs";
  auto g = got.to(kFloat64).contiguous().to_vector<double>();
  auto w = want.to(kFloat64).contiguous().to_vector<double>();
  double scale = 1;
  for (double x : w)
    if (std::isfinite(x)) scale = std::max(scale, std::abs(x));
  const double tol = dtype == kFloat32 ? 1e-4 : 1e-9;
  for (size_t i = 0; i < g.size(); ++i) {
    if (g[i] == w[i] || (std::isnan(g[i]) && std::isnan(w[i]))) continue;
    const double floor = reductions_of_products ? 1e-2 : 1e-3;
    if (!(std::abs(g[i] - w[i]) <= tol * (std::abs(w[i]) + floor * scale))) {
      std::ostringstream o;
      o << "element " << i << ": compiled " << g[i] << ", eager " << w[i];
      return o.str();
    }
  }
  return {};
}

}  // namespace

TEST_CASE("random elementwise programs compile to the eager results", "[codegen][fusion][property]") {
  std::mt19937_64 rng(20261125);
  const int cases = 300;
  int fused_programs = 0;
  int epilogue_programs = 0;
  int reduction_programs = 0;
  std::ostringstream failures;
  for (int c = 0; c < cases; ++c) {
    Program p = random_program(rng, c % 50 == 49);
    fix_reductions(p);
    manual_seed(c);
    std::vector<Tensor> in;
    for (size_t k = 0; k < p.inputs.size(); ++k) {
      in.push_back(randn(p.inputs[k], {.dtype = p.dtype}));
      if (p.backward && k > 0) in.back().requires_grad_(true);
    }
    const Tensor x = in[0];
    std::vector<Tensor> params(in.begin() + 1, in.end());
    const size_t n_value_params = params.size();
    for (const Shape& w : p.weights) {
      // Scaled like a layer's initialization, so stacked layers keep values of order one.
      params.push_back(randn(w, {.dtype = p.dtype}) * (1.0 / std::sqrt(static_cast<double>(w[0]))));
      if (p.backward) params.back().requires_grad_(true);
    }
    auto body = [&](Tensor arg) {
      std::vector<Tensor> values{arg};
      values.insert(values.end(), params.begin(), params.begin() + static_cast<std::ptrdiff_t>(n_value_params));
      std::vector<Tensor> weights(params.begin() + static_cast<std::ptrdiff_t>(n_value_params), params.end());
      std::vector<Tensor> out = run_program(p, values, weights);
      if (p.backward) {
        Tensor loss = sum(mul(out[0], out[0]));
        if (loss.requires_grad()) loss.backward();
      }
      return out;
    };
    auto take_grads = [&] {
      std::vector<Tensor> grads;
      for (Tensor& t : params) {
        grads.push_back(t.grad());
        t.set_grad(Tensor());
      }
      return grads;
    };

    std::vector<Tensor> want = body(x);
    std::vector<Tensor> want_grads = take_grads();
    auto compiled = compile(body, {.name = "case" + std::to_string(c), .warmup_calls = 0});
    compiled(x);  // traces
    take_grads();
    std::vector<Tensor> got = compiled(x);
    std::vector<Tensor> got_grads = take_grads();

    std::string why;
    if (compiled.stats().compiled_calls != 1) why = "did not run compiled: " + explain(compiled, x);
    const bool linear = !p.weights.empty();
    for (size_t i = 0; i < want.size() && why.empty(); ++i) why = compare(got[i], want[i], p.dtype, linear);
    for (size_t i = 0; i < want_grads.size() && why.empty(); ++i) {
      if (want_grads[i].defined() != got_grads[i].defined()) why = "gradient presence differs";
      else if (want_grads[i].defined()) why = compare(got_grads[i], want_grads[i], p.dtype, linear);
    }
    if (!why.empty()) failures << "case " << c << " (" << dtype_name(p.dtype) << " " << p.shape.str() << "): " << why << "\n";
    const std::string report = explain(compiled, x);
    if (report.find("fused = ") != std::string::npos) ++fused_programs;
    if (report.find("tl.matmul_bias") != std::string::npos) ++epilogue_programs;
    if (report.find("+sum\"") != std::string::npos) ++reduction_programs;
  }
  INFO(failures.str());
  CHECK(failures.str().empty());
  // Most programs hold a group of two or more fusible ops (264 of 300 with this seed), so the
  // comparison above covers generated code, not only the reference path.
  CHECK(fused_programs > cases / 4);
  // And some run a Linear layer's bias or relu as oneDNN post-ops.
  CHECK(epilogue_programs > cases / 20);
  // And some a group ending in a sum or mean (their own, or autodiff's for a broadcast).
  CHECK(reduction_programs > cases / 20);
  WARN(fused_programs << " of " << cases << " programs ran generated code, " << epilogue_programs
                      << " a matmul with a folded epilogue, " << reduction_programs << " a fused reduction");
}
