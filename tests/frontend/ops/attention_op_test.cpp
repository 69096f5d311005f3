// The fused attention op against the composite it optimizes (matmul + softmax, float64, forward
// and all three gradients) across shapes that leave partial blocks, L != S, E != Ev, causal
// and masked rows; finite differences; tl::compile against eager; thread-count independence;
// float32 against float64; errors; and a child process's peak RSS at L = S = 4096, which an
// (L, S) buffer would exceed.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "frontend/ops/nn/attention_op.h"
#include "tl/tl.h"

using namespace tl;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const TensorOptions f64{.dtype = kFloat64};

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  if (a.numel() == 0) return 0;
  return amax(abs(a.to(kFloat64) - b.to(kFloat64))).item<double>();
}

// One attention problem: shapes, options, and how its mask is made.
enum class MaskKind { kNone, kAdditive, kBool };
struct Case {
  std::string name;
  Shape q, k, v;  // (..., L, E), (..., S, E), (..., S, Ev)
  bool causal = false;
  MaskKind mask = MaskKind::kNone;
  Shape mask_shape = {};
};

// A mask of `shape` for (L, S) scores: additive with finite values and about a third -inf, or
// bool with about a third false; rows 1 and L - 2 are masked entirely (in every batch element).
Tensor make_mask(MaskKind kind, const Shape& shape) {
  if (kind == MaskKind::kNone) return {};
  const int64_t L = shape[shape.size() - 2];
  Tensor open = rand(shape, f64) > 0.33;
  Tensor rows = arange(L).reshape({L, 1});
  open = logical_and(open, logical_and(ne(rows, full({}, 1, {.dtype = kInt64})),
                                       ne(rows, full({}, L - 2, {.dtype = kInt64}))));
  if (kind == MaskKind::kBool) return open;
  return where(open, randn(shape, f64), full({}, -kInf, f64));
}

struct Result {
  Tensor out;
  std::vector<Tensor> grads;  // dq, dk, dv
};

// The output and the gradients of sum(out * w) w.r.t. q, k, v, by the fused op or the composite.
Result run(bool fused, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double scale,
           bool causal, const Tensor& w) {
  std::vector<Tensor> in{q.detach().requires_grad_(), k.detach().requires_grad_(), v.detach().requires_grad_()};
  Tensor out = fused ? ops::attention(in[0], in[1], in[2], mask, scale, causal)
                     : matmul(ops::attention_weights(in[0], in[1], mask, scale, causal), in[2]);
  return {out.detach(), grad(sum(mul(out, w)), in)};
}

std::vector<Case> cases() {
  return {
      {"small, L != S, E != Ev", {2, 5, 4}, {2, 7, 4}, {2, 7, 3}},
      {"partial blocks: L = 50, S = 97", {1, 50, 5}, {1, 97, 5}, {1, 97, 7}},
      {"causal, L > S", {2, 150, 6}, {2, 110, 6}, {2, 110, 4}, true},
      {"causal, L < S", {1, 61, 6}, {1, 100, 6}, {1, 100, 9}, true},
      {"additive (L, S) mask with fully masked rows", {3, 70, 8}, {3, 55, 8}, {3, 55, 8}, false, MaskKind::kAdditive,
       {70, 55}},
      {"bool (B, L, S) mask with fully masked rows", {2, 49, 4}, {2, 130, 4}, {2, 130, 3}, false, MaskKind::kBool,
       {2, 49, 130}},
      {"bool mask and causal", {2, 60, 4}, {2, 60, 4}, {2, 60, 5}, true, MaskKind::kBool, {60, 60}},
      {"broadcast batch dims and a (B, 1, 1, S) padding mask", {2, 1, 40, 8}, {1, 3, 50, 8}, {2, 3, 50, 6}, false,
       MaskKind::kBool, {2, 1, 1, 50}},
      {"unbatched", {97, 3}, {96, 3}, {96, 2}},
  };
}

// A field of /proc/self/status in KiB ("VmRSS:" now, "VmHWM:" the peak), or -1.
long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  return -1;
}

}  // namespace

TEST_CASE("fused attention equals the composite in float64: output and gradients", "[ops][attention]") {
  manual_seed(11);
  for (const Case& c : cases()) {
    INFO(c.name);
    const Tensor q = randn(c.q, f64), k = randn(c.k, f64), v = randn(c.v, f64);
    const Tensor mask = make_mask(c.mask, c.mask_shape);
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.q[c.q.size() - 1]));
    Tensor probe = ops::attention(q, k, v, mask, scale, c.causal);
    const Tensor w = randn(probe.shape(), f64);
    Result fused = run(true, q, k, v, mask, scale, c.causal, w);
    Result reference = run(false, q, k, v, mask, scale, c.causal, w);
    CHECK(max_abs_diff(fused.out, reference.out) < 1e-12);
    for (int i = 0; i < 3; ++i) {
      INFO("gradient of input " << i);
      CHECK(max_abs_diff(fused.grads[i], reference.grads[i]) < 1e-11);
    }
  }
}

TEST_CASE("fully masked rows are zeros with zero gradients, and a NaN input row stays NaN", "[ops][attention]") {
  manual_seed(12);
  const int64_t L = 60, S = 70;
  std::vector<bool> open(L * S, true);
  for (int64_t j = 0; j < S; ++j) open[3 * S + j] = open[55 * S + j] = false;  // rows 3 and 55 see nothing
  const Tensor mask = from_vector<bool>(open, {L, S});
  const Tensor q = randn({L, 4}, f64).requires_grad_(), k = randn({S, 4}, f64).requires_grad_(),
               v = randn({S, 2}, f64).requires_grad_();
  Tensor y = ops::attention(q, k, v, mask, 0.5, false);
  for (int64_t row : {3, 55}) CHECK(y.select(0, row).to_vector<double>() == std::vector<double>{0.0, 0.0});
  y.sum().backward();
  for (int64_t row : {3, 55}) CHECK(q.grad().select(0, row).to_vector<double>() == std::vector<double>(4, 0.0));
  CHECK(std::isfinite(sum(abs(k.grad())).item<double>()));
  CHECK(std::isfinite(sum(abs(v.grad())).item<double>()));
  // A NaN in q's row 7 makes output row 7 NaN and leaves the others alone.
  Tensor qn = q.detach().clone();
  qn.select(0, 7).fill_(NAN);
  Tensor yn = ops::attention(qn, k.detach(), v.detach(), Tensor(), 0.5, false);
  CHECK(std::isnan(yn.select(0, 7).to_vector<double>()[0]));
  CHECK(std::isfinite(sum(yn.select(0, 8)).item<double>()));
}

TEST_CASE("fused attention handles empty dims as the composite does", "[ops][attention]") {
  manual_seed(18);
  // No keys: every row is masked, so zeros; no queries: dk and dv are zeros; E = 0: uniform weights.
  for (auto [L, S, E] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{5, 0, 3}, {0, 4, 3}, {5, 4, 0}}) {
    INFO("L = " << L << ", S = " << S << ", E = " << E);
    const Tensor q = randn({2, L, E}, f64), k = randn({2, S, E}, f64), v = randn({2, S, 3}, f64),
                 w = randn({2, L, 3}, f64);
    Result fused = run(true, q, k, v, Tensor(), 0.5, false, w);
    CHECK(fused.out.shape() == (Shape{2, L, 3}));
    if (S == 0) CHECK(amax(abs(fused.out)).item<double>() == 0.0);
    if (L == 0) CHECK(amax(abs(fused.grads[2])).item<double>() == 0.0);
    if (S > 0) {
      Result reference = run(false, q, k, v, Tensor(), 0.5, false, w);
      CHECK(max_abs_diff(fused.out, reference.out) < 1e-12);
      for (int i = 0; i < 3; ++i) CHECK(max_abs_diff(fused.grads[i], reference.grads[i]) < 1e-12);
    }
  }
}

TEST_CASE("fused attention passes gradcheck across block edges", "[ops][attention][grad]") {
  manual_seed(13);
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    std::vector<Tensor> in{randn({1, 50, 3}, f64).requires_grad_(), randn({1, 100, 3}, f64).requires_grad_(),
                           randn({1, 100, 2}, f64).requires_grad_()};
    GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>& x) { return ops::attention(x[0], x[1], x[2], Tensor(), 0.6, causal); }, in);
    INFO(r.message);
    CHECK(r.ok);
  }
  // With a bool mask (no gradient) the fused backward runs too.
  std::vector<Tensor> in{randn({49, 3}, f64).requires_grad_(), randn({100, 3}, f64).requires_grad_(),
                         randn({100, 2}, f64).requires_grad_()};
  const Tensor mask = make_mask(MaskKind::kBool, {49, 100});
  GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& x) { return ops::attention(x[0], x[1], x[2], mask, 0.4, false); }, in);
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("compiled attention forward and backward equal eager", "[ops][attention][compile]") {
  manual_seed(14);
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    Tensor q = randn({2, 70, 16}).requires_grad_(), k = randn({2, 50, 16}).requires_grad_(),
           v = randn({2, 50, 8}).requires_grad_();
    const Tensor mask = causal ? Tensor() : make_mask(MaskKind::kBool, {70, 50});
    const Tensor w = randn({2, 70, 8});
    auto body = [&]() {
      Tensor out = ops::attention(q, k, v, mask, 0.25, causal);
      sum(mul(out, w)).backward();
      return out;
    };
    auto take = [&] {
      std::vector<Tensor> g{q.grad(), k.grad(), v.grad()};
      for (Tensor* t : {&q, &k, &v}) t->set_grad(Tensor());
      return g;
    };
    Tensor eager = body();
    std::vector<Tensor> eager_grads = take();
    auto compiled = compile(body, {.warmup_calls = 0});
    compiled();  // traces
    take();
    Tensor out = compiled();
    std::vector<Tensor> grads = take();
    CHECK(compiled.stats().compiled_calls >= 1);
    CHECK(max_abs_diff(out, eager) < 1e-6);
    for (int i = 0; i < 3; ++i) {
      INFO("gradient of input " << i);
      REQUIRE(grads[i].defined());
      CHECK(max_abs_diff(grads[i], eager_grads[i]) < 1e-6);
    }
  }
}

TEST_CASE("fused attention gives bitwise the same results at any thread count", "[ops][attention]") {
  manual_seed(15);
  const Tensor q = randn({1, 300, 32}), k = randn({1, 260, 32}), v = randn({1, 260, 16}), w = randn({1, 300, 16});
  const int threads = get_num_threads();
  std::vector<Result> results;
  for (int n : {1, 2, 3}) {
    set_num_threads(n);
    results.push_back(run(true, q, k, v, Tensor(), 0.2, true, w));
  }
  set_num_threads(threads);
  for (size_t r = 1; r < results.size(); ++r) {
    CHECK(equal(results[r].out, results[0].out));
    for (int i = 0; i < 3; ++i) CHECK(equal(results[r].grads[i], results[0].grads[i]));
  }
}

TEST_CASE("fused attention in float32 agrees with float64", "[ops][attention]") {
  manual_seed(16);
  const Tensor q = randn({2, 200, 64}, f64), k = randn({2, 230, 64}, f64), v = randn({2, 230, 64}, f64),
               w = randn({2, 200, 64}, f64);
  Result r64 = run(true, q, k, v, Tensor(), 0.125, false, w);
  Result r32 = run(true, q.to(kFloat32), k.to(kFloat32), v.to(kFloat32), Tensor(), 0.125, false, w.to(kFloat32));
  CHECK(r32.out.dtype() == kFloat32);
  CHECK(max_abs_diff(r32.out, r64.out) < 1e-5);
  for (int i = 0; i < 3; ++i) CHECK(max_abs_diff(r32.grads[i], r64.grads[i]) < 1e-4);
}

TEST_CASE("attention errors name the op, the operands and the caller's line", "[ops][attention][errors]") {
  const Tensor q = ones({2, 4, 8}), k = ones({2, 5, 8}), v = ones({2, 5, 3});
  CHECK_THROWS_AS(ops::attention(q, ones({2, 5, 7}), v, Tensor(), 1.0, false), ShapeError);
  CHECK_THROWS_WITH(ops::attention(q, ones({2, 5, 7}), v, Tensor(), 1.0, false),
                    Catch::Contains("tl::attention") && Catch::Contains("k is [2, 5, 7] float32") &&
                        Catch::Contains("attention_op_test.cpp:"));
  CHECK_THROWS_WITH(ops::attention(q, k, ones({2, 6, 3}), Tensor(), 1.0, false),
                    Catch::Contains("same sequence length S"));
  CHECK_THROWS_WITH(ops::attention(q, k, v, ones({3, 5}), 1.0, false),
                    Catch::Contains("must broadcast to the scores' shape [2, 4, 5]"));
  CHECK_THROWS_AS(ops::attention(q, k, v, ones({4, 5}, f64), 1.0, false), DTypeError);
  CHECK_THROWS_AS(ops::attention(q.to(kFloat16), k.to(kFloat16), v.to(kFloat16), Tensor(), 1.0, false), DTypeError);
  CHECK_THROWS_AS(ops::attention(q, k.to(kFloat64), v, Tensor(), 1.0, false), DTypeError);
}

// Run by the test below in a child process of its own, so that its peak RSS is its own.
TEST_CASE("attention memory probe (run in a child process)", "[.][attention_memory_child]") {
  const char* path = std::getenv("TL_ATTENTION_MEMORY_PATH");
  const bool fused = path == nullptr || std::string(path) != "composite";
  const int64_t L = 4096, E = 64;
  manual_seed(17);
  const Tensor q = randn({1, L, E}), k = randn({1, L, E}), v = randn({1, L, E}), w = randn({1, L, E});
  run(fused, q.narrow(1, 0, 64), k.narrow(1, 0, 64), v.narrow(1, 0, 64), Tensor(), 0.125, true,
      w.narrow(1, 0, 64));  // warm-up: threads, scratch shapes
  const long before = status_kib("VmRSS:");
  { std::ofstream("/proc/self/clear_refs") << "5"; }  // resets VmHWM to the current RSS
  Result r = run(fused, q, k, v, Tensor(), 0.125, true, w);
  const long peak = status_kib("VmHWM:");
  REQUIRE(r.grads.size() == 3);
  std::printf("rss_growth_bytes %ld\n", (peak - before) * 1024);
}

TEST_CASE("attention at L = S = 4096 allocates nothing of size L x S (peak RSS of a child)",
          "[ops][attention][memory]") {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  REQUIRE(n > 0);
  exe[n] = '\0';
  auto growth = [&](const char* path) {
    const std::string command = std::string("TL_ATTENTION_MEMORY_PATH=") + path + " '" + exe +
                                "' '[attention_memory_child]' 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char line[512];
    long bytes = -1;
    std::string output;
    while (std::fgets(line, sizeof(line), pipe)) {
      output += line;
      if (std::string(line).rfind("rss_growth_bytes ", 0) == 0) bytes = std::stol(line + 17);
    }
    INFO(output);
    REQUIRE(pclose(pipe) == 0);
    REQUIRE(bytes >= 0);
    return bytes;
  };
  const long score_bytes = 4096L * 4096 * 4;  // one (L, S) float32 buffer: 64 MiB
  const long fused = growth("fused");
  INFO("fused: peak RSS grew by " << fused / (1 << 20) << " MiB");
  // Inputs' gradients, the result and scratch: the dq partial sums (16 groups of L x E) dominate.
  CHECK(fused < score_bytes / 2);
  // The measurement sees an (L, S) buffer: the composite's forward and backward hold several.
  const long composite = growth("composite");
  INFO("composite: peak RSS grew by " << composite / (1 << 20) << " MiB");
  CHECK(composite > 2 * score_bytes);
}
