// A fused group of elementwise ops as one CUDA kernel (rt::cuda::CudaFusedKernel), its CUDA C
// compiled for the host and run by the host runner: it computes what its ops compute one by
// one, over broadcast and strided inputs, constants, a boolean intermediate and half types;
// and a group ending in a sum or mean, in either of its forms: the CPU's result, and the same
// bits run to run.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

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

// relu(x * a) (x and a broadcast together to a rank-`rank` space), summed over `dims` (a mean
// when `mean`).
FusedGroup relu_mul_group(DType dtype, std::vector<int64_t> dims, int rank, bool mean) {
  FusedGroup g;
  g.inputs = {dtype, dtype};
  g.steps.push_back(step("mul", {-1, -2}, dtype));
  g.steps.push_back(step("relu", {0}, dtype));
  g.reduce_dims = std::move(dims);
  g.space_rank = rank;
  g.mean = mean;
  return g;
}

std::vector<Shape> shapes_of(const std::vector<Tensor>& inputs) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  return shapes;
}

// `kernel` run twice on `inputs`, each time into a fresh result of `shape`: the two must be
// the same bits (NaN payloads too). Returns the first.
Tensor run_twice(const rt::cuda::CudaFusedKernel& kernel, const std::vector<Tensor>& inputs, const Shape& shape,
                 DType dtype) {
  Tensor first = full(shape, 7.0, {.dtype = dtype}), second = full(shape, -3.0, {.dtype = dtype});
  kernel.run(inputs, first);
  kernel.run(inputs, second);
  REQUIRE(first.nbytes() == second.nbytes());
  CHECK(std::memcmp(first.data_ptr(), second.data_ptr(), first.nbytes()) == 0);
  return first;
}

// The largest |got - want| / (|want| + 1); NaN must meet NaN (a lone NaN counts as infinity).
double worst_diff(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  Tensor g = got.to(kFloat64).contiguous(), w = want.to(kFloat64).contiguous();
  double worst = 0;
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double a = g.data<double>()[i], b = w.data<double>()[i];
    if (std::isnan(a) || std::isnan(b)) {
      if (std::isnan(a) != std::isnan(b)) worst = std::numeric_limits<double>::infinity();
      continue;
    }
    if (a != b) worst = std::max(worst, std::abs(a - b) / (std::abs(b) + 1));
  }
  return worst;
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
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {  // ending in a mean, in both forms
    FusedGroup g = gelu_group(dtype);
    g.reduce_dims = {1};
    g.space_rank = 2;
    g.mean = true;
    rt::cuda::CudaFusedKernel kernel(g, "gelu group + mean");
    rt::cuda::NvrtcOutput out = nvrtc->compile(kernel.source(), "fused_mean.cu", "sm_90");
    INFO(dtype_name(dtype) << " mean\n" << out.log << "\n" << kernel.source());
    CHECK(out.ok);
    const rt::cuda::FusedKernelSource& block = kernel.block_kernel();
    rt::cuda::NvrtcOutput cubin = nvrtc->compile(block.source, "fused_mean_block.cu", "sm_90");
    INFO(dtype_name(dtype) << " mean, a block per output\n" << cubin.log << "\n" << block.source);
    CHECK(cubin.ok);
    // Both of the block form's kernels are entries.
    rt::cuda::NvrtcOutput ptx = nvrtc->compile(block.source, "fused_mean_block.cu", "compute_90");
    REQUIRE(ptx.ok);
    CHECK_THAT(ptx.binary, Catch::Contains(".entry " + block.entry + "(") &&
                               Catch::Contains(".entry " + block.entry + "_combine("));
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

TEST_CASE("a fused CUDA kernel ending in a sum or mean adds each output's values in a fixed order", "[cuda][host][fused]") {
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
      // The innermost dim is reduced: a block per output.
      CHECK(kernel.reduce_form(shapes_of(inputs)) == rt::cuda::FusedReduceForm::kBlockPerOutput);
      kernel.run(inputs, got);
      Tensor r = relu(mul(x, a));
      Tensor want = mean ? tl::mean(r, {0, 2}) : sum(r, {0, 2});
      CHECK(allclose(got.to(kFloat64), want.to(kFloat64), dtype == kFloat64 ? 1e-12 : 1e-5, 1e-6));
    }
  }
  rt::cuda::set_runner(nullptr);
}

TEST_CASE("a fused reduction's form follows from its shapes: a block per output along rows or for few outputs",
          "[cuda][fused]") {
  using rt::cuda::FusedReduceForm;
  struct Case {
    Shape space;
    std::vector<int64_t> dims;
    FusedReduceForm form;
  };
  for (const Case& c : {
           Case{{128, 4096}, {1}, FusedReduceForm::kBlockPerOutput},     // layer norm's statistics
           Case{{8, 16, 32}, {1, 2}, FusedReduceForm::kBlockPerOutput},  // over the last two dims
           Case{{64, 1000}, {0, 1}, FusedReduceForm::kBlockPerOutput},   // everything, to a scalar
           Case{{4096, 64}, {0}, FusedReduceForm::kBlockPerOutput},      // a tall column sum: few outputs
           Case{{7, 1}, {0}, FusedReduceForm::kBlockPerOutput},          // the last dim of size > 1 decides
           Case{{64, 4096}, {0}, FusedReduceForm::kThreadPerOutput},     // a bias gradient: many outputs
           Case{{2, 3, 1}, {0}, FusedReduceForm::kThreadPerOutput},
       }) {
    INFO(c.space.str());
    CHECK(rt::cuda::fused_reduce_form(c.space, c.dims) == c.form);
  }
}

TEST_CASE("a fused CUDA reduction along rows runs a block per output: the CPU's result, the same bits every run",
          "[cuda][host][fused]") {
  test::HostKernelRunner runner;
  rt::cuda::set_runner(&runner);
  manual_seed(21);
  using rt::cuda::FusedReduceForm;
  struct Case {
    const char* what;
    std::function<std::vector<Tensor>(DType)> inputs;  // x, a
    std::vector<int64_t> dims;
    int rank;
    Shape out;
    FusedReduceForm form;
    int launches;  // 2: split across blocks, then combined
  };
  auto pair = [](Shape x, Shape a) {
    return [x, a](DType d) { return std::vector<Tensor>{randn(x, {.dtype = d}), randn(a, {.dtype = d})}; };
  };
  const std::vector<Case> cases = {
      {"the last dim, rows longer than a block", pair({5, 300}, {300}), {1}, 2, {5}, FusedReduceForm::kBlockPerOutput, 1},
      {"the last two dims (a broadcast input keeps them apart)", pair({4, 6, 50}, {6, 1}), {1, 2}, 3, {4},
       FusedReduceForm::kBlockPerOutput, 1},
      {"every dim to a scalar, split across blocks", pair({3, 4100}, {4100}), {0, 1}, 2, {},
       FusedReduceForm::kBlockPerOutput, 2},
      {"a long row split across blocks", pair({2, 9000}, {1}), {1}, 2, {2}, FusedReduceForm::kBlockPerOutput, 2},
      {"a strided input and a broadcast column",
       [](DType d) { return std::vector<Tensor>{randn({300, 5}, {.dtype = d}).t(), randn({5, 1}, {.dtype = d})}; },
       {1}, 2, {5}, FusedReduceForm::kBlockPerOutput, 1},
      {"a tall column sum: few outputs, kept dims inner", pair({300, 4}, {4}), {0}, 2, {4},
       FusedReduceForm::kBlockPerOutput, 1},
      {"many outputs over outer dims: a thread each", pair({6, 40}, {6, 1}), {0}, 2, {40},
       FusedReduceForm::kThreadPerOutput, 1},
  };
  for (DType dtype : {kFloat32, kFloat64}) {
    for (bool mean : {false, true}) {
      for (const Case& c : cases) {
        INFO(c.what << ", " << dtype_name(dtype) << (mean ? " mean" : " sum"));
        const std::vector<Tensor> inputs = c.inputs(dtype);
        rt::cuda::CudaFusedKernel kernel(relu_mul_group(dtype, c.dims, c.rank, mean), "mul+relu+sum");
        CHECK(kernel.reduce_form(shapes_of(inputs)) == c.form);
        const int64_t before = runner.launches();
        Tensor got = run_twice(kernel, inputs, c.out, dtype);
        CHECK(runner.launches() - before == 2 * c.launches);
        Tensor r = relu(mul(inputs[0], inputs[1]));
        Tensor want = mean ? tl::mean(r, Dims(c.dims)) : sum(r, Dims(c.dims));
        CHECK(worst_diff(got, want) < (dtype == kFloat64 ? 1e-13 : 2e-6));
      }
    }
  }
  rt::cuda::set_runner(nullptr);
}

TEST_CASE("a fused CUDA row reduction of half types rounds each step to its type and accumulates in float",
          "[cuda][host][fused]") {
  test::HostKernelRunner runner;
  rt::cuda::set_runner(&runner);
  manual_seed(22);
  for (DType dtype : {kFloat16, kBFloat16}) {
    for (bool mean : {false, true}) {
      INFO(dtype_name(dtype) << (mean ? " mean" : " sum"));
      std::vector<Tensor> inputs{randn({4, 300}).to(dtype), randn({300}).to(dtype)};
      rt::cuda::CudaFusedKernel kernel(relu_mul_group(dtype, {1}, 2, mean), "mul+relu+sum");
      CHECK(kernel.reduce_form(shapes_of(inputs)) == rt::cuda::FusedReduceForm::kBlockPerOutput);
      Tensor got = run_twice(kernel, inputs, {4}, dtype);
      Tensor r = relu(mul(inputs[0], inputs[1]));
      Tensor want = mean ? tl::mean(r, {1}) : sum(r, {1});
      // The float sums differ in order only: at most an ulp of the result's type apart.
      CHECK(worst_diff(got, want) < (dtype == kFloat16 ? 2e-3 : 1.6e-2));
    }
  }
  rt::cuda::set_runner(nullptr);
}

TEST_CASE("a NaN in a row makes that row's fused sum NaN and leaves the other rows", "[cuda][host][fused]") {
  test::HostKernelRunner runner;
  rt::cuda::set_runner(&runner);
  manual_seed(23);
  for (DType dtype : {kFloat32, kFloat64}) {
    INFO(dtype_name(dtype));
    Tensor x = randn({4, 300}).contiguous();
    x.data<float>()[2 * 300 + 17] = std::numeric_limits<float>::quiet_NaN();
    std::vector<Tensor> inputs{x.to(dtype), full({300}, 1.0, {.dtype = dtype})};
    // exp(x * 1): the NaN reaches the sum of row 2.
    FusedGroup g;
    g.inputs = {dtype, dtype};
    g.steps.push_back(step("mul", {-1, -2}, dtype));
    g.steps.push_back(step("exp", {0}, dtype));
    g.reduce_dims = {1};
    g.space_rank = 2;
    rt::cuda::CudaFusedKernel kernel(g, "mul+exp+sum");
    Tensor got = run_twice(kernel, inputs, {4}, dtype).to(kFloat64);
    Tensor want = sum(exp(mul(inputs[0], inputs[1])), {1});
    CHECK(std::isnan(got.data<double>()[2]));
    for (int64_t row : {0, 1, 3}) CHECK(std::isfinite(got.data<double>()[row]));
    CHECK(worst_diff(got, want) < (dtype == kFloat64 ? 1e-13 : 2e-6));
  }
  rt::cuda::set_runner(nullptr);
}

TEST_CASE("a fused CUDA reduction refuses inputs that do not broadcast and a result of the wrong size, naming the group",
          "[cuda][fused][errors]") {
  rt::cuda::CudaFusedKernel kernel(relu_mul_group(kFloat32, {1}, 2, false), "mul+relu+sum");
  Tensor out = empty({4});
  std::vector<Tensor> clash{randn({4, 300}), randn({299})};
  CHECK_THROWS_AS(kernel.run(clash, out), ShapeError);
  CHECK_THROWS_WITH(kernel.run(clash, out), Catch::Contains("mul+relu+sum") && Catch::Contains("do not broadcast"));
  std::vector<Tensor> too_many_dims{randn({2, 4, 300}), randn({300})};
  CHECK_THROWS_WITH(kernel.run(too_many_dims, out), Catch::Contains("[2, 4, 300] has more dims than the rank-2 space"));
  std::vector<Tensor> fine{randn({5, 300}), randn({300})};
  CHECK_THROWS_WITH(kernel.run(fine, out), Catch::Contains("sums [5, 300] into [4]"));
  CHECK_THROWS_WITH(kernel.reduce_form(shapes_of(clash)), Catch::Contains("do not broadcast"));
  FusedGroup bad_dims = relu_mul_group(kFloat32, {2}, 2, false);
  rt::cuda::CudaFusedKernel bad(bad_dims, "mul+relu+sum");
  CHECK_THROWS_WITH(bad.run(fine, out), Catch::Contains("not ascending dims of its rank-2 space"));
}
