// A fused group of elementwise ops as one CUDA kernel (rt::cuda::CudaFusedKernel), its CUDA C
// compiled for the host and run by the host runner: it computes what its ops compute one by
// one, over broadcast and strided inputs, constants, a boolean intermediate and half types.
#include <catch2/catch.hpp>

#include "frontend/ops/registry.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/fused_kernel.h"
#include "runtime/cuda/nvrtc.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tl/tl.h"

using namespace tl;
using rt::cuda::FusedGroup;
using rt::cuda::FusedStep;

namespace {

FusedStep step(const char* op, std::vector<int> args, DType dtype) {
  FusedStep s;
  s.op = ops::find_op(op);
  REQUIRE(s.op != nullptr);
  s.args = std::move(args);
  s.dtype = dtype;
  return s;
}

FusedStep constant(double value, DType dtype) {
  FusedStep s;
  s.constant = value;
  s.dtype = dtype;
  return s;
}

// where(gelu(x * a + b) > 0.1, gelu(...), -1) over x [3, 4] (a transposed view), a [4], b [3, 1].
FusedGroup gelu_group(DType dtype) {
  FusedGroup g;
  g.inputs = {dtype, dtype, dtype};
  g.steps.push_back(step("mul", {-1, -2}, dtype));     // 0
  g.steps.push_back(step("add", {0, -3}, dtype));      // 1
  g.steps.push_back(step("gelu", {1}, dtype));         // 2
  g.steps.push_back(constant(0.1, dtype));             // 3
  g.steps.push_back(step("gt", {2, 3}, kBool));        // 4
  g.steps.push_back(constant(-1.0, dtype));            // 5
  g.steps.push_back(step("where", {4, 2, 5}, dtype));  // 6
  return g;
}

Tensor eager_gelu_group(const Tensor& x, const Tensor& a, const Tensor& b) {
  Tensor y = gelu(add(mul(x, a), b));
  return where(gt(y, full({}, 0.1, {.dtype = y.dtype()})), y, full({}, -1.0, {.dtype = y.dtype()}));
}

}  // namespace

TEST_CASE("a fused CUDA kernel computes its ops' results over broadcast and strided inputs", "[cuda][host][fused]") {
  test::HostKernelRunner runner;
  rt::cuda::set_runner(&runner);
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    INFO(dtype_name(dtype));
    manual_seed(5);
    Tensor x = randn({4, 3}).to(dtype).t(), a = randn({4}).to(dtype), b = randn({3, 1}).to(dtype);
    rt::cuda::CudaFusedKernel kernel(gelu_group(dtype), "mul+add+gelu+gt+where");
    Tensor got = empty({3, 4}, {.dtype = dtype});
    std::vector<Tensor> inputs{x, a, b};
    kernel.run(inputs, got);
    Tensor want = eager_gelu_group(x, a, b);
    if (dtype == kFloat16 || dtype == kBFloat16) {
      // Each step rounds to the half type as the eager op does; gelu's erf may differ by an ulp.
      CHECK(allclose(got.to(kFloat64), want.to(kFloat64), 1e-2, 1e-3));
    } else {
      CHECK(allclose(got.to(kFloat64), want.to(kFloat64), dtype == kFloat64 ? 1e-12 : 2e-6, 1e-7));
    }
  }
  CHECK(runner.jit_compiles() >= 4);  // one kernel per dtype
  rt::cuda::set_runner(nullptr);
}

TEST_CASE("a fused group that reads ahead or holds a non-elementwise op is refused", "[cuda][fused]") {
  FusedGroup ahead;
  ahead.inputs = {kFloat32};
  ahead.steps.push_back(step("exp", {1}, kFloat32));
  ahead.steps.push_back(step("exp", {-1}, kFloat32));
  CHECK_THROWS_WITH(rt::cuda::fused_kernel_source(ahead, "k"), Catch::Contains("not yet computed"));
  FusedGroup matmul;
  matmul.inputs = {kFloat32, kFloat32};
  matmul.steps.push_back(step("matmul", {-1, -2}, kFloat32));
  CHECK_THROWS_WITH(rt::cuda::fused_kernel_source(matmul, "k"), Catch::Contains("matmul"));
}

TEST_CASE("NVRTC compiles fused groups of every floating dtype", "[cuda][nvrtc][fused]") {
  std::string why;
  const rt::cuda::Nvrtc* nvrtc = rt::cuda::Nvrtc::get(&why);
  if (nvrtc == nullptr) {
    WARN("skipped: " << why);
    return;
  }
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    rt::cuda::CudaFusedKernel kernel(gelu_group(dtype), "gelu group");
    rt::cuda::NvrtcOutput out = nvrtc->compile(kernel.source(), "fused.cu", "sm_90");
    INFO(dtype_name(dtype) << "\n" << out.log << "\n" << kernel.source());
    CHECK(out.ok);
  }
  for (DType dtype : {kFloat32, kFloat64}) {  // ending in a mean
    FusedGroup g = gelu_group(dtype);
    g.reduce_dims = {0};
    g.space_rank = 2;
    g.mean = true;
    rt::cuda::CudaFusedKernel kernel(g, "gelu group + mean");
    rt::cuda::NvrtcOutput out = nvrtc->compile(kernel.source(), "fused_mean.cu", "sm_90");
    INFO(dtype_name(dtype) << " mean\n" << out.log << "\n" << kernel.source());
    CHECK(out.ok);
  }
}

TEST_CASE("an elementwise op's generated kernel takes C++ scalars by value", "[cuda][host][elementwise]") {
  test::HostKernelRunner runner;
  rt::cuda::set_runner(&runner);
  manual_seed(9);
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kInt64}) {
    INFO(dtype_name(dtype));
    Tensor x = (randn({4, 3}) * 3.0).to(dtype).t();  // strided
    Tensor s = full({}, 2.0, {.dtype = dtype});      // 0-d: passed by value
    struct Case {
      const char* op;
      std::vector<Tensor> in;
    };
    Tensor cond = gt(randn({3, 1}), full({}, 0.0));
    for (const Case& c : {Case{"mul", {x, s}}, Case{"sub", {s, x}}, Case{"maximum", {x, s}},
                          Case{"where", {cond, x, s}}}) {
      INFO(c.op);
      const ops::OpDef& op = *ops::find_op(c.op);
      Tensor want = ops::call(op, std::span<const Tensor>(c.in), {}, Site::here());
      Tensor got = empty(want.shape(), {.dtype = want.dtype()});
      rt::cuda::run_elementwise(op, std::span<const Tensor>(c.in), got, {});
      CHECK(allclose(got.to(kFloat64), want.to(kFloat64), 0, 0));
    }
  }
  CHECK(runner.launches() == 16);
  rt::cuda::set_runner(nullptr);
}

TEST_CASE("a fused CUDA kernel ending in a sum or mean adds each output's values in order", "[cuda][host][fused]") {
  test::HostKernelRunner runner;
  rt::cuda::set_runner(&runner);
  manual_seed(6);
  for (DType dtype : {kFloat32, kFloat64}) {
    for (bool mean : {false, true}) {
      INFO(dtype_name(dtype) << (mean ? " mean" : " sum"));
      // relu(x * a) summed over dims 0 and 2 of x [5, 3, 4] (strided), a [3, 1] broadcast.
      FusedGroup g;
      g.inputs = {dtype, dtype};
      g.steps.push_back(step("mul", {-1, -2}, dtype));
      g.steps.push_back(step("relu", {0}, dtype));
      g.reduce_dims = {0, 2};
      g.space_rank = 3;
      g.mean = mean;
      Tensor x = randn({4, 3, 5}).to(dtype).permute({2, 1, 0}), a = randn({3, 1}).to(dtype);
      rt::cuda::CudaFusedKernel kernel(g, "mul+relu+sum");
      CHECK_FALSE(kernel.is_elementwise());
      Tensor got = empty({3}, {.dtype = dtype});
      std::vector<Tensor> inputs{x, a};
      kernel.run(inputs, got);
      Tensor r = relu(mul(x, a));
      Tensor want = mean ? tl::mean(r, {0, 2}) : sum(r, {0, 2});
      CHECK(allclose(got.to(kFloat64), want.to(kFloat64), dtype == kFloat64 ? 1e-12 : 1e-5, 1e-6));
    }
  }
  rt::cuda::set_runner(nullptr);
}
