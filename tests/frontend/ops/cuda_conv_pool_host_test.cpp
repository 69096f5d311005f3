// Focused checks of the CUDA conv and pool kernels on the host runner (tests/runtime/cuda_host_runner.h):
// shapes the op samples do not reach (many blocks, long rows, edge sizes).
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/ops/registry.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tests/support/first_mismatch.h"
#include "tl/tl.h"

using namespace tl;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor random(Shape shape, DType dtype, double low = -1, double high = 1) {
  return uniform(shape, low, high, {.dtype = kFloat64}).to(dtype);
}

std::string mismatch(const Tensor& got, const Tensor& want, double rtol) {
  return test::first_mismatch(got, want, rtol);
}

// `fn` through the CPU kernels and through the CUDA kernels run on the host; "" when they
// agree to `rtol` and the CUDA path launched at least one kernel.
std::string cuda_mismatch(const Fn& fn, const std::vector<Tensor>& in, double rtol) {
  NoGradGuard no_grad;
  const Tensor want = fn(in);
  Tensor got;
  int64_t launches = 0;
  {
    test::HostCudaKernels on_host;
    got = fn(in);
    launches = on_host.runner().launches();
  }
  if (launches == 0 && want.numel() > 0) return "no CUDA kernel ran";
  return mismatch(got, want, rtol);
}

double tolerance(DType dtype) {
  return dtype == kFloat64 ? 1e-10 : dtype == kFloat32 ? 1e-5 : 1e-2;
}

const ops::OpDef& op(const char* name) { return *ops::find_op(name); }

ops::Attrs conv_attrs(Shape stride, Shape padding, Shape dilation, int64_t groups) {
  ops::Attrs a;
  a.stride = stride;
  a.padding = padding;
  a.dilation = dilation;
  a.count = groups;
  return a;
}

ops::Attrs pool_attrs(Shape kernel, Shape stride, Shape padding) {
  ops::Attrs a;
  a.dims = kernel;
  a.stride = stride;
  a.padding = padding;
  return a;
}

struct ConvCase {
  const char* what;
  Shape x, w;
  bool bias;
  Shape stride, padding, dilation;
  int64_t groups;
};

const std::vector<ConvCase> kConvCases = {
    {"stride 2 and padding, batch 3", {3, 3, 9, 8}, {5, 3, 3, 3}, true, {2, 2}, {1, 1}, {1, 1}, 1},
    {"dilation 2", {2, 2, 9, 9}, {3, 2, 3, 3}, true, {1, 1}, {2, 2}, {2, 2}, 1},
    {"groups 2, no bias", {2, 4, 7, 6}, {6, 2, 3, 3}, false, {1, 1}, {0, 0}, {1, 1}, 2},
    {"depthwise", {3, 4, 6, 7}, {4, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 4},
    {"1x1 kernel", {3, 5, 5, 5}, {7, 5, 1, 1}, false, {1, 1}, {0, 0}, {1, 1}, 1},
    {"odd sizes, mixed stride and dilation", {1, 3, 11, 7}, {2, 3, 3, 2}, true, {2, 1}, {1, 0}, {1, 2}, 1},
    {"stride 3 leaves rows out of every window", {2, 2, 8, 8}, {3, 2, 2, 2}, false, {3, 3}, {0, 0}, {1, 1}, 1},
    // 70 output channels and 90 pixels: 2 x 2 tiles; 8 channels x 9 taps: 5 steps of 16.
    {"several tiles each way", {1, 8, 10, 9}, {70, 8, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1},
};

// conv2d, conv2d_backward_input and conv2d_backward_weight of `c` on inputs of `dtype`.
void check_conv_case(const ConvCase& c, DType dtype) {
  const double rtol = tolerance(dtype);
  const Tensor x = random(c.x, dtype), w = random(c.w, dtype);
  const Tensor b = c.bias ? random({c.w[0]}, dtype) : Tensor();
  const ops::Attrs a = conv_attrs(c.stride, c.padding, c.dilation, c.groups);
  Fn forward = [&](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], c.bias ? in[2] : Tensor(), c.stride, c.padding, c.dilation, c.groups);
  };
  CHECK(cuda_mismatch(forward, {x, w, b}, rtol) == "");
  Tensor y;
  {
    NoGradGuard no_grad;
    y = forward({x, w, b});
  }
  const Tensor dy = random(y.shape(), dtype);
  Fn backward_input = [&](const std::vector<Tensor>& in) {
    ops::Attrs ai = a;
    ai.dims = c.x;
    return ops::call(op("conv2d_backward_input"), {in[0], in[1]}, ai, Site::here());
  };
  CHECK(cuda_mismatch(backward_input, {dy, w}, rtol) == "");
  Fn backward_weight = [&](const std::vector<Tensor>& in) {
    ops::Attrs aw = a;
    aw.dims = c.w;
    return ops::call(op("conv2d_backward_weight"), {in[0], in[1]}, aw, Site::here());
  };
  CHECK(cuda_mismatch(backward_weight, {x, dy}, rtol) == "");
}

}  // namespace

TEST_CASE("CUDA conv2d and its backward ops match the CPU's over strides, padding, dilation and groups",
          "[cuda][host][conv]") {
  for (const ConvCase& c : kConvCases) {
    for (DType dtype : {kFloat64, kFloat32}) {
      INFO(c.what << " " << dtype_name(dtype));
      check_conv_case(c, dtype);
    }
  }
}

TEST_CASE("CUDA conv2d and its backward ops take float16 and bfloat16", "[cuda][host][conv]") {
  for (DType dtype : {kFloat16, kBFloat16}) {
    INFO(dtype_name(dtype));
    check_conv_case(kConvCases[0], dtype);
    check_conv_case(kConvCases[3], dtype);
  }
}

TEST_CASE("CUDA conv2d reads strided and broadcast operands", "[cuda][host][conv]") {
  // x transposed in (H, W) and broadcast over the batch; w stored (C, O, KH, KW); dy transposed.
  const Tensor x = random({1, 3, 7, 6}, kFloat64).transpose(2, 3).expand({3, 3, 6, 7});
  const Tensor w = random({3, 4, 3, 3}, kFloat64).transpose(0, 1);
  const Tensor b = random({8}, kFloat64).slice(0, 0, 8, 2);
  REQUIRE_FALSE(x.is_contiguous());
  REQUIRE_FALSE(w.is_contiguous());
  Fn forward = [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], {1, 2}, {1, 1}); };
  CHECK(cuda_mismatch(forward, {x, w, b}, 1e-10) == "");
  const Tensor dy = random({3, 4, 4, 6}, kFloat64).transpose(2, 3);
  REQUIRE(dy.shape() == Shape{3, 4, 6, 4});
  ops::Attrs a = conv_attrs({1, 2}, {1, 1}, {1, 1}, 1);
  a.dims = x.shape();
  Fn backward_input = [&](const std::vector<Tensor>& in) {
    return ops::call(op("conv2d_backward_input"), {in[0], in[1]}, a, Site::here());
  };
  CHECK(cuda_mismatch(backward_input, {dy, w}, 1e-10) == "");
  ops::Attrs aw = conv_attrs({1, 2}, {1, 1}, {1, 1}, 1);
  aw.dims = w.shape();
  Fn backward_weight = [&](const std::vector<Tensor>& in) {
    return ops::call(op("conv2d_backward_weight"), {in[0], in[1]}, aw, Site::here());
  };
  CHECK(cuda_mismatch(backward_weight, {x, dy}, 1e-10) == "");
}

TEST_CASE("CUDA conv2d_backward_weight splits a long sum over batch and pixels and adds the parts in order",
          "[cuda][host][conv]") {
  // N * OH * OW = 3 * 20 * 20 = 1200 steps: three ranges of 400, then the reduce kernel.
  for (DType dtype : {kFloat64, kFloat32}) {
    INFO(dtype_name(dtype));
    check_conv_case({"split sum", {3, 2, 20, 20}, {4, 2, 3, 3}, false, {1, 1}, {1, 1}, {1, 1}, 1}, dtype);
    check_conv_case({"split sum, groups", {2, 4, 18, 17}, {4, 2, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 2}, dtype);
  }
}

TEST_CASE("CUDA conv2d adds a residual and applies relu as the CPU's epilogue does", "[cuda][host][conv]") {
  const Tensor x = random({2, 3, 6, 6}, kFloat32), w = random({4, 3, 3, 3}, kFloat32);
  const Tensor b = random({4}, kFloat32), residual = random({2, 4, 6, 6}, kFloat32);
  ops::Attrs a = conv_attrs({1, 1}, {1, 1}, {1, 1}, 1);
  a.flag = true;
  Fn fused = [&](const std::vector<Tensor>& in) {
    return ops::call(op("conv2d"), {in[0], in[1], in[2], in[3]}, a, Site::here());
  };
  CHECK(cuda_mismatch(fused, {x, w, b, residual}, 1e-5) == "");
  Fn relu_only = [&](const std::vector<Tensor>& in) {
    return ops::call(op("conv2d"), {in[0], in[1]}, a, Site::here());
  };
  CHECK(cuda_mismatch(relu_only, {x, w}, 1e-5) == "");
}

TEST_CASE("CUDA conv2d handles empty batches and channels", "[cuda][host][conv]") {
  // No images: an empty result, and a weight gradient of zeros.
  check_conv_case({"empty batch", {0, 2, 5, 5}, {3, 2, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1}, kFloat64);
  // No input channels: the result is the bias alone.
  Fn forward = [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2]); };
  CHECK(cuda_mismatch(forward, {random({2, 0, 4, 4}, kFloat64), random({3, 0, 3, 3}, kFloat64),
                                random({3}, kFloat64)},
                      1e-10) == "");
}

namespace {

struct PoolCase {
  const char* what;
  Shape x, kernel, stride, padding;
};

const std::vector<PoolCase> kPoolCases = {
    {"3x3 stride 2 padding 1, batch 3", {3, 4, 9, 11}, {3, 3}, {2, 2}, {1, 1}},
    {"overlapping 2x2 stride 1", {2, 3, 7, 6}, {2, 2}, {1, 1}, {0, 0}},
    {"mixed kernel, stride and padding", {1, 2, 8, 9}, {3, 2}, {1, 2}, {1, 0}},
    {"1x1", {2, 2, 5, 3}, {1, 1}, {1, 1}, {0, 0}},
    {"stride past the kernel leaves rows out", {1, 2, 9, 9}, {2, 2}, {3, 3}, {0, 0}},
    // 2 * 3 * 20 * 20 = 2400 outputs: 10 blocks of 256 threads.
    {"several blocks", {2, 3, 20, 20}, {3, 3}, {1, 1}, {1, 1}},
};

// max_pool2d, avg_pool2d, their backward ops and max_pool2d_gather of `c` on `x`.
void check_pool_case(const PoolCase& c, const Tensor& x) {
  const DType dtype = x.dtype();
  const double rtol = tolerance(dtype);
  const ops::Attrs a = pool_attrs(c.kernel, c.stride, c.padding);
  for (const char* name : {"max_pool2d", "avg_pool2d"}) {
    INFO(name);
    Fn forward = [&](const std::vector<Tensor>& in) { return ops::call(op(name), {in[0]}, a, Site::here()); };
    CHECK(cuda_mismatch(forward, {x}, rtol) == "");
  }
  Tensor y;
  {
    NoGradGuard no_grad;
    y = max_pool2d(x, c.kernel, c.stride, c.padding);
  }
  const Tensor dy = random(y.shape(), dtype);
  for (const char* name : {"max_pool2d_backward", "avg_pool2d_backward"}) {
    INFO(name);
    Fn backward = [&](const std::vector<Tensor>& in) {
      return ops::call(op(name), {in[0], in[1]}, a, Site::here());
    };
    CHECK(cuda_mismatch(backward, {dy, x}, rtol) == "");
  }
  Fn gather = [&](const std::vector<Tensor>& in) {
    return ops::call(op("max_pool2d_gather"), {in[0], in[1]}, a, Site::here());
  };
  CHECK(cuda_mismatch(gather, {random(x.shape(), dtype), x}, rtol) == "");
}

}  // namespace

TEST_CASE("CUDA pooling and its backward ops match the CPU's over kernels, strides and padding",
          "[cuda][host][pool]") {
  for (const PoolCase& c : kPoolCases) {
    for (DType dtype : {kFloat64, kFloat32, kFloat16, kBFloat16}) {
      INFO(c.what << " " << dtype_name(dtype));
      check_pool_case(c, random(c.x, dtype));
    }
  }
}

TEST_CASE("CUDA max pooling routes to the first maximum of each window, and a NaN wins", "[cuda][host][pool]") {
  // Values from {0, 1, 2}: most windows hold ties, so routing to another maximum than the
  // first would send the gradient elsewhere.
  for (DType dtype : {kFloat64, kFloat32}) {
    INFO(dtype_name(dtype));
    const Tensor ties = randint(0, 3, {2, 3, 8, 9}).to(dtype);
    check_pool_case(kPoolCases[0], ties);
    check_pool_case(kPoolCases[1], ties);
    // A NaN, an infinity and -inf among the ties.
    Tensor special = randint(0, 3, {1, 2, 7, 7}).to(kFloat64);
    double* p = special.data<double>();
    p[3] = std::numeric_limits<double>::quiet_NaN();
    p[10] = std::numeric_limits<double>::quiet_NaN();
    p[20] = std::numeric_limits<double>::infinity();
    p[30] = -std::numeric_limits<double>::infinity();
    check_pool_case(kPoolCases[1], special.to(dtype));
    check_pool_case(kPoolCases[0], special.to(dtype));
  }
}

TEST_CASE("CUDA pooling reads strided and broadcast inputs", "[cuda][host][pool]") {
  const Tensor x = random({1, 3, 9, 8}, kFloat64).transpose(2, 3).expand({2, 3, 8, 9});
  REQUIRE_FALSE(x.is_contiguous());
  check_pool_case(kPoolCases[0], x);
  check_pool_case(kPoolCases[2], x);
}

TEST_CASE("CUDA pooling of an input with no rows gives -inf maxima and zero means", "[cuda][host][pool]") {
  // A 2-row window over 1 row of padding on each side of 0 rows: one output row, nothing in it.
  const Tensor x = zeros({1, 2, 0, 3}, {.dtype = kFloat32});
  const ops::Attrs a = pool_attrs({2, 1}, {1, 1}, {1, 0});
  NoGradGuard no_grad;
  test::HostCudaKernels on_host;
  const Tensor max = ops::call(op("max_pool2d"), {x}, a, Site::here());
  const Tensor mean = ops::call(op("avg_pool2d"), {x}, a, Site::here());
  REQUIRE(max.shape() == Shape{1, 2, 1, 3});
  for (float v : max.to_vector<float>()) CHECK(v == -std::numeric_limits<float>::infinity());
  for (float v : mean.to_vector<float>()) CHECK(v == 0.0f);
  CHECK(on_host.runner().launches() == 2);
}
