// Focused checks of the CUDA attention kernels on the host runner (tests/runtime/cuda_host_runner.h)
// against the CPU kernels of attention and attention_backward: several query and key tiles with
// ragged edges, L != S, causal both ways, bool and additive masks broadcast over batch and head
// dims, fully masked rows, head dims across the kernels' column chunks, strided and broadcast
// operands, empty dims and NaN.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/ops/registry.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tests/support/first_mismatch.h"
#include "tl/tl.h"

using namespace tl;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor random(const Shape& shape, DType dtype, double low = -1, double high = 1) {
  return uniform(shape, low, high, {.dtype = kFloat64}).to(dtype);
}

// float64 to 1e-10 and float32 to 1e-5, relative to 1 + |want|.
double rtol_for(DType dtype) { return dtype == kFloat64 ? 1e-10 : 1e-5; }

std::string mismatch(const Tensor& got, const Tensor& want, double rtol) {
  return test::first_mismatch(got, want, rtol);
}

Tensor call(const char* op, const std::vector<Tensor>& in, double scale, bool causal) {
  ops::Attrs attrs;
  attrs.scalar = scale;
  attrs.flag = causal;
  return ops::call(*ops::find_op(op), in, attrs, Site{});
}

// `op` on `in` by its CPU kernel and by its CUDA kernel run on the host; "" when they agree
// and the CUDA path launched a kernel (when the result is not empty).
std::string cuda_mismatch(const char* op, const std::vector<Tensor>& in, double scale, bool causal, double rtol) {
  NoGradGuard no_grad;
  const Tensor want = call(op, in, scale, causal);
  Tensor got;
  int64_t launches = 0;
  {
    test::HostCudaKernels on_host;
    got = call(op, in, scale, causal);
    launches = on_host.runner().launches();
  }
  if (launches == 0 && want.numel() > 0) return "no CUDA kernel ran";
  return mismatch(got, want, rtol);
}

// The forward and the backward (dout random, out the CPU's forward result) of one problem,
// CUDA against CPU; "" when both agree.
std::string check(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double scale, bool causal) {
  std::vector<Tensor> in{q, k, v};
  if (mask.defined()) in.push_back(mask);
  const double rtol = rtol_for(q.dtype());
  const std::string forward = cuda_mismatch("attention", in, scale, causal, rtol);
  if (!forward.empty()) return "forward: " + forward;
  Tensor out;
  {
    NoGradGuard no_grad;
    out = call("attention", in, scale, causal);
  }
  std::vector<Tensor> bin{random(out.shape(), q.dtype()), q, k, v, out};
  if (mask.defined()) bin.push_back(mask);
  const std::string backward = cuda_mismatch("attention_backward", bin, scale, causal, rtol);
  if (!backward.empty()) return "backward: " + backward;
  return "";
}

// A bool mask of `shape` (..., L, S), about a third false, with rows 1 and L - 2 false
// throughout (every key masked) when `empty_rows`.
Tensor bool_mask(const Shape& shape, bool empty_rows) {
  Tensor open = rand(shape, {.dtype = kFloat64}) > 0.33;
  if (!empty_rows) return open;
  const int64_t L = shape[shape.size() - 2];
  const Tensor rows = arange(L).reshape({L, 1});
  return logical_and(open, logical_and(ne(rows, full({}, 1, {.dtype = kInt64})),
                                       ne(rows, full({}, L - 2, {.dtype = kInt64}))));
}

// An additive mask: normal values where `open`, -inf elsewhere.
Tensor additive_mask(const Tensor& open, DType dtype) {
  return where(open, randn(open.shape(), {.dtype = kFloat64}), full({}, -kInf, {.dtype = kFloat64})).to(dtype);
}

}  // namespace

TEST_CASE("the CUDA attention kernels match the CPU's over several ragged tiles, L != S, causal or not",
          "[cuda][host][attention]") {
  struct Case {
    Shape q, k, v;
    bool causal;
  };
  // 64 x 64 tiles: L = 70 and S = 130 leave partial tiles of 6 queries and 2 keys.
  const Case cases[] = {{{2, 70, 8}, {2, 130, 8}, {2, 130, 5}, false},
                        {{1, 150, 6}, {1, 100, 6}, {1, 100, 4}, true},  // L > S: the last rows see every key
                        {{1, 61, 6}, {1, 100, 6}, {1, 100, 9}, true},   // L < S
                        {{2, 3, 4}, {2, 5, 4}, {2, 5, 3}, false},
                        {{130, 3}, {65, 3}, {65, 2}, true}};            // unbatched
  manual_seed(1);
  for (DType dtype : {kFloat64, kFloat32}) {
    for (const Case& c : cases) {
      INFO(dtype_name(dtype) << " q " << c.q.str() << " k " << c.k.str() << " v " << c.v.str()
                             << (c.causal ? " causal" : ""));
      CHECK(check(random(c.q, dtype), random(c.k, dtype), random(c.v, dtype), {}, 0.6, c.causal) == "");
    }
  }
}

TEST_CASE("the CUDA attention kernels handle head dims of 1, 80 and past one column chunk",
          "[cuda][host][attention]") {
  struct Dims {
    int64_t E, Ev;
  };
  // Columns accumulate in chunks of 128 (float32) or 64 (float64) per block: 80 and 140 span two.
  const Dims dims[] = {{1, 1}, {80, 80}, {1, 140}, {140, 3}, {80, 80}};
  manual_seed(2);
  for (DType dtype : {kFloat64, kFloat32}) {
    bool causal = false;
    for (const Dims& d : dims) {
      causal = !causal;
      INFO(dtype_name(dtype) << " E " << d.E << " Ev " << d.Ev << (causal ? " causal" : ""));
      const Tensor q = random({1, 66, d.E}, dtype), k = random({1, 70, d.E}, dtype);
      const Tensor v = random({1, 70, d.Ev}, dtype);
      CHECK(check(q, k, v, {}, 1.0 / std::sqrt(static_cast<double>(d.E)), causal) == "");
    }
  }
}

TEST_CASE("the CUDA attention kernels broadcast bool and additive masks over batch and head dims",
          "[cuda][host][attention]") {
  // q, k, v: (batch 2, heads 2, L, E); the mask broadcasts to (2, 2, L, S) from each shape. L = 20
  // with rows 1 and 18 closed where the mask has an L dim; S = 67: two key tiles, the second of 3.
  const Shape mask_shapes[] = {{20, 67}, {1, 2, 20, 67}, {2, 1, 20, 67}, {2, 2, 20, 67}, {2, 1, 67}};
  manual_seed(3);
  for (DType dtype : {kFloat64, kFloat32}) {
    const Tensor q = random({2, 2, 20, 4}, dtype), k = random({2, 2, 67, 4}, dtype), v = random({2, 2, 67, 5}, dtype);
    for (const Shape& shape : mask_shapes) {
      const Tensor open = bool_mask(shape, shape.size() >= 2 && shape[shape.size() - 2] == 20);
      INFO(dtype_name(dtype) << " mask " << shape.str());
      CHECK(check(q, k, v, open, 0.5, false) == "");
      CHECK(check(q, k, v, additive_mask(open, dtype), 0.5, true) == "");
    }
  }
}

TEST_CASE("the CUDA attention kernels give zeros for rows with every key masked, and no gradient through them",
          "[cuda][host][attention]") {
  manual_seed(4);
  for (DType dtype : {kFloat64, kFloat32}) {
    for (bool additive : {false, true}) {
      INFO(dtype_name(dtype) << (additive ? " additive" : " bool"));
      const Tensor q = random({2, 5, 3}, dtype), k = random({2, 70, 3}, dtype), v = random({2, 70, 2}, dtype);
      const Tensor open = bool_mask({5, 70}, true);  // rows 1 and 3 closed
      const Tensor mask = additive ? additive_mask(open, dtype) : open;
      CHECK(check(q, k, v, mask, 0.5, false) == "");
      test::HostCudaKernels on_host;
      NoGradGuard no_grad;
      const Tensor out_t = call("attention", {q, k, v, mask}, 0.5, false);
      const Tensor packed_t =
          call("attention_backward", {random(out_t.shape(), dtype), q, k, v, out_t, mask}, 0.5, false);
      const Tensor out = out_t.to(kFloat64), packed = packed_t.to(kFloat64);
      for (int64_t b = 0; b < 2; ++b) {
        for (int64_t row : {1, 3}) {
          for (int64_t e = 0; e < 2; ++e) CHECK(out.item_at<double>({b, row, e}) == 0.0);
          for (int64_t e = 0; e < 3; ++e) CHECK(packed.item_at<double>({b, row * 3 + e}) == 0.0);  // dq
        }
        CHECK(std::abs(out.item_at<double>({b, 0, 0})) > 0.0);
      }
    }
  }
}

TEST_CASE("the CUDA attention kernels read transposed, strided and broadcast operands in place",
          "[cuda][host][attention]") {
  manual_seed(5);
  for (DType dtype : {kFloat64, kFloat32}) {
    INFO(dtype_name(dtype));
    // q stored (B, E, L) and read transposed; k as (S, B, E) permuted (a heads-last layout);
    // v one matrix broadcast over the batch (batch stride 0); a mask read at every other column.
    const Tensor q = random({2, 6, 70}, dtype).mT();
    const Tensor k = random({67, 2, 6}, dtype).permute({1, 0, 2});
    const Tensor v = random({67, 3}, dtype).expand({2, 67, 3});
    const Tensor mask = bool_mask({70, 134}, true).slice(1, 0, 134, 2);
    CHECK(check(q, k, v, {}, 0.4, false) == "");
    CHECK(check(q, k, v, mask, 0.4, true) == "");
    CHECK(check(q, k, v, additive_mask(mask, dtype), 0.4, false) == "");
    // A single query row repeated (stride 0 along L) and a single key broadcast along S.
    const Tensor q_row = random({1, 1, 5}, dtype).expand({2, 66, 5});
    const Tensor k_row = random({2, 1, 5}, dtype).expand({2, 65, 5});
    CHECK(check(q_row, k_row, random({2, 65, 4}, dtype), {}, 0.7, false) == "");
  }
}

TEST_CASE("the CUDA attention kernels handle no keys, no queries and NaN scores as the CPU does",
          "[cuda][host][attention]") {
  manual_seed(6);
  for (DType dtype : {kFloat64, kFloat32}) {
    INFO(dtype_name(dtype));
    // No keys: the output is zeros and dq is zero.
    CHECK(check(random({2, 3, 4}, dtype), random({2, 0, 4}, dtype), random({2, 0, 3}, dtype), {}, 0.5, false) == "");
    // No queries: dk and dv are zero.
    CHECK(check(random({2, 0, 4}, dtype), random({2, 5, 4}, dtype), random({2, 5, 3}, dtype), {}, 0.5, false) == "");
    // No features: uniform weights over the keys.
    CHECK(check(random({1, 3, 0}, dtype), random({1, 70, 0}, dtype), random({1, 70, 2}, dtype), {}, 0.5, true) == "");
    // A NaN key makes every row that sees it NaN; under the causal mask the rows before it stay finite.
    Tensor k = random({1, 70, 3}, dtype).contiguous();
    k = where(eq(arange(70).reshape({1, 70, 1}), full({}, 66, {.dtype = kInt64})),
              full({}, std::nan(""), {.dtype = dtype}), k);
    const Tensor q = random({1, 70, 3}, dtype), v = random({1, 70, 2}, dtype);
    CHECK(cuda_mismatch("attention", {q, k, v}, 0.5, true, rtol_for(dtype)) == "");
    CHECK(cuda_mismatch("attention", {q, k, v}, 0.5, false, rtol_for(dtype)) == "");
  }
}

TEST_CASE("the CUDA attention kernels give what the CPU's attention_backward gives through autograd",
          "[cuda][host][attention]") {
  manual_seed(7);
  const Tensor q = random({2, 65, 5}, kFloat64), k = random({2, 66, 5}, kFloat64), v = random({2, 66, 3}, kFloat64);
  const Tensor mask = bool_mask({65, 66}, true);
  auto grads = [&](bool cuda) {
    std::vector<Tensor> leaves{q.detach().requires_grad_(), k.detach().requires_grad_(), v.detach().requires_grad_()};
    std::optional<test::HostCudaKernels> on_host;
    if (cuda) on_host.emplace();
    const Tensor out = call("attention", {leaves[0], leaves[1], leaves[2], mask}, 0.45, true);
    const Tensor w = linspace(-1.0, 1.0, out.numel(), {.dtype = kFloat64}).reshape(out.shape());
    return grad(sum(mul(out, w)), leaves);
  };
  const std::vector<Tensor> cpu = grads(false), cuda = grads(true);
  REQUIRE(cpu.size() == 3);
  REQUIRE(cuda.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO("gradient " << i);
    CHECK(mismatch(cuda[i], cpu[i], 1e-10) == "");
  }
}
