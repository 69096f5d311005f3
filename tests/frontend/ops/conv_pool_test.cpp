#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <tuple>

#include "tests/frontend/ops/op_test_util.h"
#include "tl/threading.h"

using namespace tl;
using tl::test::max_abs_diff;
using tl::test::rand64;

namespace {

struct ConvCase {
  Shape x, w;
  bool bias;
  Shape stride, padding, dilation;
  int64_t groups;
};

// The cases below cover each argument on its own and together, including a stride that
// leaves input rows out of every window and a depthwise (groups == C) convolution.
const std::vector<ConvCase> kConvCases = {
    {{2, 3, 7, 6}, {4, 3, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1},
    {{2, 3, 8, 7}, {5, 3, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 1},
    {{1, 2, 9, 9}, {3, 2, 3, 2}, true, {1, 1}, {2, 1}, {2, 3}, 1},
    {{2, 4, 6, 6}, {6, 2, 3, 3}, true, {2, 1}, {1, 0}, {1, 1}, 2},
    {{1, 3, 7, 8}, {3, 1, 3, 3}, false, {3, 2}, {1, 1}, {2, 1}, 3},
    {{3, 2, 5, 5}, {4, 2, 1, 1}, true, {1, 1}, {0, 0}, {1, 1}, 1},
    // 8 or more input channels per group: float32 runs oneDNN's blocked kernels in both
    // directions. Batches of 5, 6 and 9 leave a last job of fewer than 4 images.
    {{6, 16, 9, 9}, {8, 16, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1},
    {{9, 8, 7, 8}, {16, 8, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 1},
    {{5, 16, 10, 10}, {8, 8, 3, 3}, true, {1, 1}, {2, 2}, {2, 2}, 2},
    {{2, 8, 11, 9}, {8, 8, 3, 2}, false, {2, 1}, {1, 0}, {1, 2}, 1},
    {{5, 12, 5, 5}, {20, 12, 1, 1}, true, {1, 1}, {0, 0}, {1, 1}, 1},  // channels not a multiple of 8
    {{4, 8, 6, 6}, {8, 1, 3, 3}, false, {1, 1}, {1, 1}, {1, 1}, 8},    // depthwise
};

// Direct convolution from the definition, in float64: the test's own reference.
std::vector<double> direct_conv(const ConvCase& c, const std::vector<double>& x, const std::vector<double>& w,
                                const std::vector<double>& b, Shape& out_shape) {
  int64_t N = c.x[0], C = c.x[1], H = c.x[2], W = c.x[3];
  int64_t O = c.w[0], Cg = c.w[1], KH = c.w[2], KW = c.w[3], Og = O / c.groups;
  int64_t OH = (H + 2 * c.padding[0] - c.dilation[0] * (KH - 1) - 1) / c.stride[0] + 1;
  int64_t OW = (W + 2 * c.padding[1] - c.dilation[1] * (KW - 1) - 1) / c.stride[1] + 1;
  out_shape = Shape{N, O, OH, OW};
  std::vector<double> y(static_cast<size_t>(N * O * OH * OW), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b.empty() ? 0.0 : b[o];
          for (int64_t c2 = 0; c2 < Cg; ++c2)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t ih = oh * c.stride[0] - c.padding[0] + kh * c.dilation[0];
                int64_t iw = ow * c.stride[1] - c.padding[1] + kw * c.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                int64_t ci = (o / Og) * Cg + c2;
                acc += x[((n * C + ci) * H + ih) * W + iw] * w[((o * Cg + c2) * KH + kh) * KW + kw];
              }
          y[((n * O + o) * OH + oh) * OW + ow] = acc;
        }
  return y;
}

Tensor run_conv(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& b) {
  return conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
}

Tensor arange_image(int64_t h, int64_t w, DType dtype) {
  return arange(static_cast<double>(h * w), {.dtype = dtype}).reshape({1, 1, h, w});
}

}  // namespace

TEST_CASE("conv2d matches a direct convolution for stride, padding, dilation and groups", "[ops][conv2d]") {
  for (size_t k = 0; k < kConvCases.size(); ++k) {
    const ConvCase& c = kConvCases[k];
    INFO("case " << k);
    Tensor x = rand64(c.x), w = rand64(c.w);
    Tensor b = c.bias ? rand64({c.w[0]}) : Tensor();
    Shape shape;
    std::vector<double> expected =
        direct_conv(c, x.to_vector<double>(), w.to_vector<double>(), c.bias ? b.to_vector<double>() : std::vector<double>{}, shape);
    Tensor ref = from_vector<double>(expected, shape);

    Tensor y64 = run_conv(c, x, w, b);  // reference loops
    REQUIRE(y64.shape() == shape);
    CHECK(max_abs_diff(y64, ref) < 1e-12);

    Tensor y32 = run_conv(c, x.to(kFloat32), w.to(kFloat32), c.bias ? b.to(kFloat32) : Tensor());  // oneDNN
    REQUIRE(y32.dtype() == kFloat32);
    CHECK(max_abs_diff(y32, ref) < 1e-5);
  }
}

TEST_CASE("conv2d accepts non-contiguous operands", "[ops][conv2d]") {
  Tensor x = rand64({2, 3, 6, 5}).transpose(2, 3);  // (2, 3, 5, 6), strided
  Tensor w = rand64({4, 3, 3, 3});
  Tensor y = conv2d(x, w);
  CHECK(max_abs_diff(y, conv2d(x.contiguous(), w)) == 0);
  CHECK(max_abs_diff(conv2d(x.to(kFloat32), w.to(kFloat32)), y) < 1e-5);
}

TEST_CASE("conv2d gradients match finite differences in float64", "[ops][conv2d][grad]") {
  for (size_t k : {size_t{0}, size_t{2}, size_t{3}, size_t{4}}) {
    const ConvCase& c = kConvCases[k];
    INFO("case " << k);
    std::vector<Tensor> inputs{rand64(c.x), rand64(c.w)};
    if (c.bias) inputs.push_back(rand64({c.w[0]}));
    auto fn = [c](const std::vector<Tensor>& in) { return run_conv(c, in[0], in[1], in.size() > 2 ? in[2] : Tensor()); };
    CHECK(tl::test::finite_difference_mismatch(fn, inputs) == "");
  }
}

TEST_CASE("conv2d bias gradient is the sum of dout over batch and space", "[ops][conv2d][grad]") {
  Tensor x = rand64({2, 3, 5, 5}), w = rand64({4, 3, 3, 3});
  Tensor b = rand64({4}).requires_grad_();
  Tensor y = conv2d(x, w, b, {1, 1}, {1, 1});
  Tensor dout = rand64(y.shape());
  Tensor db = grad(y, {b}, dout)[0];
  CHECK(max_abs_diff(db, sum(dout, {0, 2, 3})) < 1e-12);
}

TEST_CASE("float32 conv2d gradients on oneDNN match the float64 reference path", "[ops][conv2d][grad]") {
  for (size_t k = 0; k < kConvCases.size(); ++k) {
    const ConvCase& c = kConvCases[k];
    INFO("case " << k);
    std::vector<Tensor> in64{rand64(c.x), rand64(c.w)};
    if (c.bias) in64.push_back(rand64({c.w[0]}));
    std::vector<Tensor> in32;
    for (Tensor& t : in64) {
      in32.push_back(t.to(kFloat32).requires_grad_());
      t.requires_grad_();
    }
    Tensor y64 = run_conv(c, in64[0], in64[1], c.bias ? in64[2] : Tensor());
    Tensor dout = rand64(y64.shape());
    Tensor y32 = run_conv(c, in32[0], in32[1], c.bias ? in32[2] : Tensor());
    std::vector<Tensor> g64 = grad(y64, in64, dout);
    std::vector<Tensor> g32 = grad(y32, in32, dout.to(kFloat32));
    for (size_t i = 0; i < in64.size(); ++i) {
      INFO("input " << i);
      REQUIRE(g32[i].dtype() == kFloat32);
      CHECK(max_abs_diff(g32[i], g64[i]) < 1e-4);
    }
  }
}

TEST_CASE("float32 conv2d and its gradients are bitwise equal at 1 and 2 threads", "[ops][conv2d][grad]") {
  int previous = get_num_threads();
  for (size_t k : {size_t{6}, size_t{7}, size_t{8}, size_t{11}}) {
    const ConvCase& c = kConvCases[k];
    INFO("case " << k);
    std::vector<Tensor> in{rand64(c.x).to(kFloat32), rand64(c.w).to(kFloat32)};
    if (c.bias) in.push_back(rand64({c.w[0]}).to(kFloat32));
    Tensor dout;
    std::vector<std::vector<double>> results[2];
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      std::vector<Tensor> leaves;
      for (const Tensor& t : in) leaves.push_back(t.clone().requires_grad_());
      Tensor y = run_conv(c, leaves[0], leaves[1], c.bias ? leaves[2] : Tensor());
      if (!dout.defined()) dout = rand64(y.shape()).to(kFloat32);
      auto& r = results[threads - 1];
      r.push_back(y.to_vector<double>());
      for (const Tensor& g : grad(y, leaves, dout)) r.push_back(g.to_vector<double>());
    }
    CHECK(results[0] == results[1]);
  }
  set_num_threads(previous);
}

// Batch-1 inference splits each convolution over the threads (oneDNN's own threading) and
// reuses reordered weights between calls: still bitwise equal at 1 and 2 threads.
TEST_CASE("float32 conv2d at batch 1 is bitwise equal at 1 and 2 threads for resnet and mobilenet layers", "[ops][conv2d]") {
  struct Layer {
    Shape x, w;
    int64_t stride, pad, groups;
  };
  const Layer layers[] = {{{1, 3, 64, 64}, {64, 3, 7, 7}, 2, 3, 1},   {{1, 64, 28, 28}, {64, 64, 3, 3}, 1, 1, 1},
                          {{1, 64, 28, 28}, {128, 64, 1, 1}, 2, 0, 1}, {{1, 32, 28, 28}, {32, 1, 3, 3}, 1, 1, 32},
                          {{3, 16, 20, 20}, {24, 16, 3, 3}, 1, 1, 1}};
  int previous = get_num_threads();
  for (const Layer& l : layers) {
    INFO("x " << l.x.str() << " w " << l.w.str());
    Tensor x = rand64(l.x).to(kFloat32), w = rand64(l.w).to(kFloat32), b = rand64({l.w[0]}).to(kFloat32);
    std::vector<double> results[2];
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      Shape stride{l.stride, l.stride}, pad{l.pad, l.pad};
      Tensor y = conv2d(x, w, b, stride, pad, {1, 1}, l.groups);
      CHECK(conv2d(x, w, b, stride, pad, {1, 1}, l.groups).to_vector<double>() == y.to_vector<double>());
      results[threads - 1] = y.to_vector<double>();
    }
    CHECK(results[0] == results[1]);
  }
  set_num_threads(previous);
}

TEST_CASE("conv2d sees weights written in place between calls", "[ops][conv2d]") {
  Tensor x = rand64({1, 8, 10, 10}).to(kFloat32), w = rand64({16, 8, 3, 3}).to(kFloat32);
  Tensor before = conv2d(x, w);
  {
    NoGradGuard no_grad;
    w.mul_(2.0);
  }
  Tensor after = conv2d(x, w);
  CHECK(max_abs_diff(after, mul(before, scalar_tensor(2.0))) < 1e-4);
  CHECK(max_abs_diff(after, before) > 1e-2);
}

TEST_CASE("max_pool2d and avg_pool2d on a hand-checked 4x4 input", "[ops][pool]") {
  for (DType dtype : {kFloat32, kFloat64}) {
    INFO(dtype_name(dtype));
    Tensor x = arange_image(4, 4, dtype);  // rows 0..3, 4..7, 8..11, 12..15
    Tensor m = max_pool2d(x, {2});           // stride defaults to the kernel
    REQUIRE(m.shape() == Shape{1, 1, 2, 2});
    CHECK(m.to_vector<double>() == std::vector<double>{5, 7, 13, 15});
    CHECK(avg_pool2d(x, {2, 2}).to_vector<double>() == std::vector<double>{2.5, 4.5, 10.5, 12.5});

    // 3x3 windows, stride 2, padding 1: window (0, 0) sees 0, 1, 4, 5 and five pad cells.
    std::vector<double> avg = avg_pool2d(x, {3, 3}, {2, 2}, {1, 1}).to_vector<double>();
    std::vector<double> expected{10.0 / 9, 24.0 / 9, 51.0 / 9, 90.0 / 9};
    for (size_t i = 0; i < 4; ++i) CHECK(avg[i] == Approx(expected[i]).epsilon(1e-6));
    // Padding never wins a max, even when every real value is negative.
    CHECK(max_pool2d(x - 100.0, {3, 3}, {2, 2}, {1, 1}).to_vector<double>() ==
          std::vector<double>{-95, -93, -87, -85});
  }
}

TEST_CASE("float32 pooling matches the float64 reference loops on random values", "[ops][pool]") {
  Tensor x = rand64({2, 3, 9, 8});
  for (auto [k, s, p] : {std::tuple<Shape, Shape, Shape>{{2, 2}, {}, {0, 0}}, {{3, 3}, {2, 2}, {1, 1}},
                         {{3, 2}, {1, 2}, {1, 0}}}) {
    CHECK(max_abs_diff(max_pool2d(x.to(kFloat32), k, s, p), max_pool2d(x, k, s, p)) < 1e-6);
    CHECK(max_abs_diff(avg_pool2d(x.to(kFloat32), k, s, p), avg_pool2d(x, k, s, p)) < 1e-6);
  }
}

namespace {

// Pooling geometries for the float32 kernels: stride 1, 2 and 3, overlapping and disjoint
// windows, padding, non-square kernels and a 1x1 window.
const std::vector<std::tuple<Shape, Shape, Shape>> kPoolCases = {
    {{2, 2}, {}, {0, 0}},     {{3, 3}, {2, 2}, {1, 1}}, {{3, 2}, {1, 2}, {1, 0}}, {{2, 2}, {1, 1}, {0, 0}},
    {{3, 3}, {3, 3}, {1, 1}}, {{1, 1}, {1, 1}, {0, 0}}, {{4, 3}, {3, 1}, {2, 1}}, {{2, 3}, {2, 3}, {1, 1}},
};

// Element-wise equality in float64 that counts NaN as equal to NaN.
bool same_values(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i])))) return false;
  return true;
}

}  // namespace

TEST_CASE("float32 pooling kernels match the float64 reference loops on tied values, forward and backward",
          "[ops][pool][grad]") {
  // Small integers: many ties inside windows (the first maximum must win), and every sum
  // and maximum is exact in both dtypes, so max pooling must agree bitwise.
  // The wide shapes give rows of 8 and more outputs (the vectorized 2x2 path), a width
  // and height that leave a column and a row out of every 2x2 window, and an exact 16.
  for (Shape shape : {Shape{2, 3, 9, 8}, Shape{1, 2, 7, 11}, Shape{1, 2, 21, 35}, Shape{2, 1, 4, 32}}) {
    Tensor x64 = randint(0, 4, shape).to(kFloat64);
    for (size_t k = 0; k < kPoolCases.size(); ++k) {
      auto [kernel, stride, padding] = kPoolCases[k];
      INFO("case " << k << " on " << shape.str());
      for (bool is_max : {true, false}) {
        INFO((is_max ? "max" : "avg"));
        auto pool = [&](const Tensor& t) {
          return is_max ? max_pool2d(t, kernel, stride, padding) : avg_pool2d(t, kernel, stride, padding);
        };
        Tensor a = x64.clone().requires_grad_(), b = x64.to(kFloat32).requires_grad_();
        Tensor y64 = pool(a), y32 = pool(b);
        Tensor dout = randint(-3, 4, y64.shape()).to(kFloat64);
        Tensor dx64 = grad(y64, {a}, dout)[0], dx32 = grad(y32, {b}, dout.to(kFloat32))[0];
        REQUIRE(dx32.dtype() == kFloat32);
        if (is_max) {
          CHECK(max_abs_diff(y32, y64) == 0);
          CHECK(max_abs_diff(dx32, dx64) == 0);
        } else {
          CHECK(max_abs_diff(y32, y64) < 1e-6);
          CHECK(max_abs_diff(dx32, dx64) < 1e-6);
        }
      }
    }
  }
}

TEST_CASE("float32 max pooling lets the first NaN of a window win and handles all -inf windows",
          "[ops][pool][grad]") {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  // 4x6 image; windows 2x2 stride 2 and 3x3 stride 1 padding 1 see NaN, -inf only, and mixes.
  std::vector<double> v{1,    nan, 2,    3,    -inf, -inf,  //
                        nan,  0,   5,    nan,  -inf, -inf,  //
                        -inf, 4,   -inf, -inf, 7,    7,     //
                        2,    2,   -inf, -inf, 7,    1};
  Tensor x64 = from_vector<double>(v, {1, 1, 4, 6});
  for (auto [kernel, stride, padding] : {std::tuple<Shape, Shape, Shape>{{2, 2}, {}, {0, 0}},
                                         {{3, 3}, {1, 1}, {1, 1}}}) {
    Tensor a = x64.clone().requires_grad_(), b = x64.to(kFloat32).requires_grad_();
    Tensor y64 = max_pool2d(a, kernel, stride, padding), y32 = max_pool2d(b, kernel, stride, padding);
    CHECK(same_values(y32, y64));
    Tensor dout = randint(1, 5, y64.shape()).to(kFloat64);
    CHECK(same_values(grad(y32, {b}, dout.to(kFloat32))[0], grad(y64, {a}, dout)[0]));
  }
  // Wide rows with NaN and -inf scattered among tied values.
  Tensor wide = randint(0, 3, {2, 2, 11, 37}).to(kFloat64);
  Tensor u = uniform(wide.shape(), 0, 1, {.dtype = kFloat64});
  wide = where(u < 0.1, full_like(wide, nan), where(u > 0.9, full_like(wide, -inf), wide));
  for (auto [kernel, stride, padding] : {std::tuple<Shape, Shape, Shape>{{2, 2}, {}, {0, 0}},
                                         {{3, 2}, {2, 1}, {1, 1}}}) {
    Tensor a = wide.clone().requires_grad_(), b = wide.to(kFloat32).requires_grad_();
    Tensor y64 = max_pool2d(a, kernel, stride, padding), y32 = max_pool2d(b, kernel, stride, padding);
    CHECK(same_values(y32, y64));
    Tensor dout = randint(1, 5, y64.shape()).to(kFloat64);
    CHECK(same_values(grad(y32, {b}, dout.to(kFloat32))[0], grad(y64, {a}, dout)[0]));
  }
  // Checked by hand for 2x2 windows: the first NaN wins (index 1 of the first window), a
  // window of -inf alone gives -inf and routes to its first element.
  Tensor x = x64.to(kFloat32).requires_grad_();
  Tensor y = max_pool2d(x, {2, 2});
  std::vector<double> yv = y.to_vector<double>();
  CHECK(std::isnan(yv[0]));
  CHECK(std::isnan(yv[1]));
  CHECK(yv[2] == -inf);
  CHECK(yv[3] == 4);
  CHECK(yv[4] == -inf);
  CHECK(yv[5] == 7);
  std::vector<double> dx = grad(y, {x}, ones({1, 1, 2, 3}))[0].to_vector<double>();
  std::vector<double> expected(24, 0.0);
  for (int i : {1, 9, 4, 13, 14, 16}) expected[i] = 1;
  CHECK(dx == expected);
}

TEST_CASE("float32 pooling of an empty input gives windows over padding alone -inf or 0 and no gradient",
          "[ops][pool][grad]") {
  Tensor x = zeros({1, 1, 0, 0}).requires_grad_();
  Tensor y = max_pool2d(x, {2, 2}, {}, {1, 1});
  REQUIRE(y.shape() == Shape{1, 1, 1, 1});
  CHECK(y.to_vector<double>()[0] == -std::numeric_limits<double>::infinity());
  CHECK(grad(y, {x}, ones(y.shape()))[0].shape() == x.shape());
  CHECK(avg_pool2d(x, {2, 2}, {}, {1, 1}).to_vector<double>() == std::vector<double>{0});
}

TEST_CASE("max_pool2d sends each window's gradient to its max, accumulating overlaps", "[ops][pool][grad]") {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = arange_image(4, 4, dtype).requires_grad_();
    Tensor dx = grad(max_pool2d(x, {2, 2}).sum(), {x})[0];
    std::vector<double> expected(16, 0.0);
    for (int i : {5, 7, 13, 15}) expected[i] = 1;
    CHECK(dx.to_vector<double>() == expected);

    // A peak in the middle of a 3x3 image is the max of all four overlapping 2x2 windows.
    Tensor peak = from_vector<double>({0, 1, 0, 2, 9, 3, 0, 4, 0}, {1, 1, 3, 3}).to(dtype).requires_grad_();
    Tensor y = max_pool2d(peak, {2, 2}, {1, 1});
    Tensor dout = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}).to(dtype);
    CHECK(grad(y, {peak}, dout)[0].to_vector<double>() == std::vector<double>{0, 0, 0, 0, 10, 0, 0, 0, 0});
  }
}

TEST_CASE("avg_pool2d gradient counts padding and matches finite differences", "[ops][pool][grad]") {
  Tensor x = ones({1, 1, 2, 2}, {.dtype = kFloat64}).requires_grad_();
  // One 3x3 window with padding 1 covers the whole image: each element gets 1/9.
  Tensor dx = grad(avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}).sum(), {x})[0];
  for (double v : dx.to_vector<double>()) CHECK(v == Approx(4.0 / 9));
  auto fn = [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {3, 2}, {2, 1}, {1, 1}); };
  CHECK(tl::test::finite_difference_mismatch(fn, {rand64({2, 2, 5, 6})}) == "");
}

TEST_CASE("conv and pool ops' registered samples pass a finite-difference check", "[ops][conv2d][pool][grad]") {
  for (const char* name : {"conv2d", "conv2d_backward_input", "conv2d_backward_weight", "max_pool2d", "avg_pool2d",
                           "avg_pool2d_backward", "max_pool2d_gather"}) {
    tl::test::check_op_samples(name);
  }
}

TEST_CASE("max_pool2d_gather reads g at each window's first max, the adjoint of max_pool2d_backward", "[ops][pool][grad]") {
  // x's windows (2x2, stride 2) have their max at (0,1), (1,2) and a tie at (2,0)/(2,1): the first wins.
  Tensor x = from_vector<double>({0, 5, 1, 2, 3, 1, 0, 9, 4, 4, 2, 2, 1, 0, 1, 1}, {1, 1, 4, 4});
  Tensor g = from_vector<double>({10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25}, {1, 1, 4, 4});
  const ops::OpDef* gather = ops::find_op("max_pool2d_gather");
  REQUIRE(gather != nullptr);
  ops::Attrs a;
  a.dims = {2, 2};
  a.stride = {2, 2};
  a.padding = {0, 0};
  Tensor picked = ops::call(*gather, {g, x}, a, Site::here());
  CHECK(picked.to_vector<double>() == std::vector<double>{11, 17, 18, 20});
  // <gather(g), d> == <g, max_pool2d_backward(d)> for any d.
  Tensor d = from_vector<double>({1.5, -2, 0.25, 3}, {1, 1, 2, 2});
  Tensor routed = ops::call(*ops::find_op("max_pool2d_backward"), {d, x}, a, Site::here());
  CHECK(mul(picked, d).sum().item<double>() == Approx(mul(g, routed).sum().item<double>()));
  CHECK_THROWS_AS(ops::call(*gather, {g, ones({1, 1, 4, 3}, {.dtype = kFloat64})}, a, Site::here()), ShapeError);
}

TEST_CASE("conv2d and pooling errors name the op, the shapes and the caller's line", "[ops][conv2d][pool][errors]") {
  Tensor x = ones({1, 3, 5, 5});
  CHECK_THROWS_WITH(conv2d(x, ones({4, 2, 3, 3})),
                    Catch::Contains("tl::conv2d") && Catch::Contains("x has 3") && Catch::Contains("[4, 2, 3, 3]") &&
                        Catch::Contains("conv_pool_test.cpp:"));
  CHECK_THROWS_AS(conv2d(x, ones({4, 2, 3, 3})), ShapeError);
  CHECK_THROWS_WITH(conv2d(x, ones({4, 3, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2),
                    Catch::Contains("groups = 2") && Catch::Contains("conv_pool_test.cpp:"));
  CHECK_THROWS_WITH(conv2d(x, ones({4, 3, 3, 3}), ones({3})),
                    Catch::Contains("bias") && Catch::Contains("conv_pool_test.cpp:"));
  CHECK_THROWS_WITH(conv2d(ones({3, 5, 5}), ones({4, 3, 3, 3})),
                    Catch::Contains("4-D (N, C, H, W)") && Catch::Contains("[3, 5, 5]"));
  CHECK_THROWS_AS(conv2d(x, ones({4, 3, 3, 3}, {.dtype = kFloat64})), DTypeError);
  CHECK_THROWS_WITH(conv2d(x, ones({4, 3, 7, 3})),
                    Catch::Contains("larger than the padded input") && Catch::Contains("conv_pool_test.cpp:"));
  CHECK_THROWS_WITH(conv2d(x, ones({4, 3, 3, 3}), Tensor(), {0, 1}),
                    Catch::Contains("stride must be >= 1") && Catch::Contains("conv_pool_test.cpp:"));
  CHECK_THROWS_WITH(max_pool2d(x, {2, 2}, {}, {2, 0}),
                    Catch::Contains("tl::max_pool2d") && Catch::Contains("at most half the kernel") &&
                        Catch::Contains("conv_pool_test.cpp:"));
  CHECK_THROWS_WITH(avg_pool2d(x, {7, 7}), Catch::Contains("tl::avg_pool2d") && Catch::Contains("[7, 7]"));
  CHECK_THROWS_AS(avg_pool2d(ones({5, 5}, {.dtype = kFloat32}), {2, 2}), ShapeError);
}
