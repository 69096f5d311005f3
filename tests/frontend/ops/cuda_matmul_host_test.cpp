// Focused checks of the CUDA matmul kernels on the host runner (tests/runtime/cuda_host_runner.h):
// shapes the op samples do not reach (many blocks, long rows, edge sizes).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include "frontend/ops/registry.h"
#include "runtime/cuda/cublas.h"
#include "runtime/cuda/driver.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tl/tl.h"

using namespace tl;

namespace {

// Values in [-2, 2), rounded to `dtype`.
Tensor values(const Shape& shape, DType dtype, uint64_t seed) {
  manual_seed(seed);
  return sub(mul(rand(shape), scalar_tensor(4.0)), scalar_tensor(2.0)).to(dtype);
}

// The exact result for the operands' values (float64 products of the already rounded inputs),
// and the scale of a float accumulation's error: |a| @ |b| + |bias|.
struct Expected {
  Shape shape;
  std::vector<double> value, scale;
};

Expected expected(const Tensor& a, const Tensor& b, const Tensor& bias = {}, bool relu = false) {
  Tensor a64 = a.to(kFloat64), b64 = b.to(kFloat64);
  Tensor v = matmul(a64, b64), s = matmul(abs(a64), abs(b64));
  if (bias.defined()) {
    v = add(v, bias.to(kFloat64));
    s = add(s, abs(bias.to(kFloat64)));
  }
  if (relu) v = tl::relu(v);
  return {v.shape(), v.contiguous().to_vector<double>(), s.contiguous().to_vector<double>()};
}

// `got` is `want` rounded once to its dtype (half an ulp), up to the accumulation's error
// (float: 1e-5 of the scale, for K up to a few hundred; float64: 1e-12).
std::string mismatch(const Tensor& got, const Expected& want, DType dtype) {
  if (got.shape() != want.shape) return "shape " + got.shape().str() + ", expected " + want.shape.str();
  if (got.dtype() != dtype) return std::string("dtype ") + dtype_name(got.dtype());
  const double rounding = dtype == kFloat16 ? 0x1p-11 : dtype == kBFloat16 ? 0x1p-8 : dtype == kFloat32 ? 0x1p-24 : 0x1p-53;
  const double accumulation = dtype == kFloat64 ? 1e-12 : 1e-5;
  const double smallest = dtype == kFloat16 ? 0x1p-24 : 0;  // float16's subnormal step
  const std::vector<double> g = got.to(kFloat64).contiguous().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    const double tol = rounding * std::abs(want.value[i]) + accumulation * want.scale[i] + smallest;
    if (!(std::abs(g[i] - want.value[i]) <= tol)) {
      std::ostringstream s;
      s << "element " << i << ": " << g[i] << ", expected " << want.value[i] << " within " << tol;
      return s.str();
    }
  }
  return "";
}

// `f` with every op that has a CUDA kernel running it on the host; checks that some kernel ran.
Tensor on_host(const std::function<Tensor()>& f) {
  test::HostCudaKernels kernels;
  Tensor out = f();
  if (out.numel() > 0) CHECK(kernels.runner().launches() >= 1);
  return out;
}

Tensor host_matmul(const Tensor& a, const Tensor& b) {
  return on_host([&] { return matmul(a, b); });
}

Tensor host_matmul_bias(const Tensor& a, const Tensor& b, const Tensor& bias, bool relu) {
  ops::Attrs attrs;
  attrs.flag = relu;
  return on_host([&] { return ops::call(*ops::find_op("matmul_bias"), {a, b, bias}, attrs, Site{}); });
}

}  // namespace

TEST_CASE("the CUDA matmul kernel is exact to its dtype's rounding at sizes that are not multiples of its tile",
          "[cuda][host][matmul]") {
  struct Dims {
    int64_t M, K, N;
  };
  // 130 x 70: 3 x 2 blocks of 64 x 64; K = 300: 19 steps of 16, where a float16 accumulator
  // would be off by far more than one rounding.
  const Dims dims[] = {{1, 1, 1}, {65, 17, 33}, {130, 3, 70}, {64, 16, 64}, {2, 33, 1}, {4, 300, 5}};
  uint64_t seed = 1;
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (const Dims& d : dims) {
      const Tensor a = values({d.M, d.K}, dtype, seed++), b = values({d.K, d.N}, dtype, seed++);
      INFO(dtype_name(dtype) << " (" << d.M << ", " << d.K << ") @ (" << d.K << ", " << d.N << ")");
      CHECK(mismatch(host_matmul(a, b), expected(a, b), dtype) == "");
    }
  }
}

TEST_CASE("the CUDA matmul kernel broadcasts batch dims, a single matrix among them", "[cuda][host][matmul]") {
  struct Case {
    Shape a, b;
  };
  const Case cases[] = {{{2, 1, 5, 7}, {3, 7, 4}},      // both broadcast: out (2, 3, 5, 4)
                        {{4, 6, 5}, {5, 3}},            // b one matrix for every batch element
                        {{1, 5, 7}, {3, 7, 4}},         // a broadcast
                        {{2, 3, 5, 7}, {2, 3, 7, 4}},   // no broadcast
                        {{3, 70, 9}, {1, 9, 65}}};      // several tiles per batch element
  uint64_t seed = 100;
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const Case& c : cases) {
      const Tensor a = values(c.a, dtype, seed++), b = values(c.b, dtype, seed++);
      INFO(dtype_name(dtype) << " " << c.a.str() << " @ " << c.b.str());
      CHECK(mismatch(host_matmul(a, b), expected(a, b), dtype) == "");
    }
  }
}

TEST_CASE("the CUDA matmul kernel reads transposed, strided and broadcast operands in place", "[cuda][host][matmul]") {
  for (DType dtype : {kFloat32, kFloat64}) {
    INFO(dtype_name(dtype));
    // Both transposed (unit stride along M and along K).
    const Tensor at = values({17, 65}, dtype, 1).t(), bt = values({33, 17}, dtype, 2).t();
    CHECK(mismatch(host_matmul(at, bt), expected(at, bt), dtype) == "");
    // A batch of transposed matrices times a batch whose batch stride is not the matrix size.
    const Tensor abt = values({3, 9, 20}, dtype, 3).mT(), bp = values({9, 3, 11}, dtype, 4).permute({1, 0, 2});
    CHECK(mismatch(host_matmul(abt, bp), expected(abt, bp), dtype) == "");
    // No unit stride at all: every other column.
    const Tensor as = values({20, 18}, dtype, 5).slice(1, 0, 18, 2), b = values({9, 7}, dtype, 6);
    CHECK(mismatch(host_matmul(as, b), expected(as, b), dtype) == "");
    // Stride 0 inside the matrix: one row repeated, one column repeated.
    const Tensor arow = values({1, 9}, dtype, 7).expand({70, 9}), bcol = values({9, 1}, dtype, 8).expand({9, 66});
    CHECK(mismatch(host_matmul(arow, bcol), expected(arow, bcol), dtype) == "");
    // 1-D operands (the public function unsqueezes them).
    const Tensor v = values({9}, dtype, 9), m = values({9, 5}, dtype, 10);
    CHECK(mismatch(host_matmul(v, m), expected(v, m), dtype) == "");
    CHECK(mismatch(host_matmul(m.t(), v), expected(m.t(), v), dtype) == "");
  }
}

TEST_CASE("the CUDA matmul_bias kernel adds the bias along the last dim, then relu when asked", "[cuda][host][matmul]") {
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (bool relu : {false, true}) {
      INFO(dtype_name(dtype) << (relu ? " with relu" : ""));
      // (3, 65, 17) @ (17, 33): 2 tiles down each of 3 batch elements.
      const Tensor a = values({3, 65, 17}, dtype, 20), b = values({17, 33}, dtype, 21);
      const Tensor bias = values({33}, dtype, 22);
      const Tensor got = host_matmul_bias(a, b, bias, relu);
      CHECK(mismatch(got, expected(a, b, bias, relu), dtype) == "");
      // A bias read at a stride, under a transposed b.
      const Tensor strided_bias = values({33, 2}, dtype, 23).select(1, 1), bt = values({33, 17}, dtype, 24).t();
      CHECK(mismatch(host_matmul_bias(a, bt, strided_bias, relu), expected(a, bt, strided_bias, relu), dtype) == "");
      if (relu) {
        const std::vector<double> g = got.to(kFloat64).contiguous().to_vector<double>();
        CHECK(std::count(g.begin(), g.end(), 0.0) > 100);  // about half of 6435 are negative before relu
      }
    }
  }
}

TEST_CASE("the CUDA matmul kernels give zeros (or the bias) for K = 0 and nothing for empty results",
          "[cuda][host][matmul]") {
  const Tensor a = values({3, 0}, kFloat32, 30), b = values({0, 4}, kFloat32, 31);
  const Tensor bias = from_vector<float>({1.5f, -2.0f, 0.0f, 3.0f});
  CHECK(mismatch(host_matmul(a, b), expected(a, b), kFloat32) == "");
  const Tensor got = host_matmul_bias(a, b, bias, true);
  CHECK(mismatch(got, expected(a, b, bias, true), kFloat32) == "");
  CHECK(got.item_at<float>({2, 0}) == 1.5f);
  CHECK(got.item_at<float>({2, 1}) == 0.0f);
  // No rows, no columns, no batch elements.
  CHECK(host_matmul(values({0, 5}, kFloat32, 32), values({5, 3}, kFloat32, 33)).shape() == Shape{0, 3});
  CHECK(host_matmul(values({2, 5}, kFloat32, 34), values({5, 0}, kFloat32, 35)).shape() == Shape{2, 0});
  CHECK(host_matmul(values({0, 3, 2}, kFloat32, 36), values({2, 4}, kFloat32, 37)).shape() == Shape{0, 3, 4});
}

TEST_CASE("cuBLASLt loads without a GPU and says why it cannot run", "[cuda][matmul]") {
  std::string no_device;
  const bool has_device = rt::cuda::Driver::get(&no_device) != nullptr;
  std::string why;
  const rt::cuda::CublasLt* lt = rt::cuda::CublasLt::get(&why);
  if (has_device) {
    // A GPU without cuBLASLt installed is possible; then the reason says which library is missing.
    if (lt == nullptr) CHECK_THAT(why, Catch::Contains("cuBLASLt"));
    WARN("a CUDA device is present: cuBLASLt " << (lt ? "is available, " + lt->version() : "is not: " + why));
    return;
  }
  CHECK(lt == nullptr);
  INFO(why);
  CHECK_THAT(why, Catch::Contains("cuBLASLt"));
  // Where the library is installed it is loaded, and the reason names what is missing: a device.
  if (why.find("no cuBLASLt library") == std::string::npos) {
    CHECK_THAT(why, Catch::Contains("is loaded, but a handle needs a CUDA device") && Catch::Contains(no_device));
  }
  // Asking again gives the same answer, without loading anything twice.
  std::string again;
  CHECK(rt::cuda::CublasLt::get(&again) == nullptr);
  CHECK(again == why);
}
