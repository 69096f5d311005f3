// The rest of the convolution family: conv_transpose2d and ConvTranspose2d, conv1d and Conv1d,
// Conv2d's padding modes and padding "same", adaptive average pooling, GroupNorm and
// InstanceNorm2d, interpolate and Upsample. Values written out by hand, shapes, errors,
// float64 gradient checks and tl::compile against eager. PyTorch parity is in
// tests/interop/conv_family_parity_test.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "tests/frontend/nn/nn_test_util.h"
#include "tl/tl.h"

using namespace tl;
namespace F = tl::nn::functional;

namespace {

const TensorOptions f64{.dtype = kFloat64};

using test::max_abs_diff;

using test::error_of;
using test::parameter_names;

std::vector<double> values(const Tensor& t) { return t.to(kFloat64).contiguous().to_vector<double>(); }

void check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Shape>& shapes) {
  std::vector<Tensor> inputs;
  for (const Shape& s : shapes) inputs.push_back(randn(s, f64).requires_grad_());
  GradcheckResult r = gradcheck(fn, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

// Runs `fn` eagerly, then three times under tl::compile (eager, traced, compiled), float32.
void check_compiles(const std::function<Tensor(const Tensor&)>& fn, const Tensor& x) {
  NoGradGuard no_grad;
  const Tensor eager = fn(x);
  auto compiled = compile([&fn](const Tensor& in) { return fn(in); });
  for (int call = 0; call < 3; ++call) {
    INFO("call " << call);
    CHECK(max_abs_diff(compiled(x), eager) < 1e-5);
  }
  CHECK(compiled.stats().compiled_calls == 1);
}

}  // namespace

// ---------------- conv_transpose2d ----------------

TEST_CASE("conv_transpose2d spreads each input value over the kernel's footprint", "[nn][conv][transpose]") {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor w = ones({1, 1, 2, 2});
  CHECK(values(conv_transpose2d(x, w)) == std::vector<double>{1, 3, 2, 4, 10, 6, 3, 7, 4});
  // Stride 2: the footprints tile without overlap.
  CHECK(values(conv_transpose2d(x, w, Tensor(), {2, 2})) ==
        std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // padding crops the full result; output_padding adds a row and column at the end.
  Tensor y = conv_transpose2d(x, w, from_vector<float>({0.5}, {1}), {2, 2}, {1, 1}, {1, 1});
  CHECK(y.shape() == Shape{1, 1, 3, 3});
  CHECK(values(y) == std::vector<double>{1.5, 2.5, 2.5, 3.5, 4.5, 4.5, 3.5, 4.5, 4.5});
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d", "[nn][conv][transpose]") {
  manual_seed(1);
  Tensor x = randn({2, 4, 7, 6}, f64), w = randn({6, 2, 3, 2}, f64);
  Tensor y = conv2d(x, w, Tensor(), {2, 1}, {1, 0}, {1, 2}, 2);
  Tensor dy = randn(y.shape(), f64);
  // <conv2d(x), dy> = <x, conv_transpose2d(dy)>, with output_padding recovering x's height.
  Tensor back = conv_transpose2d(dy, w, Tensor(), {2, 1}, {1, 0}, {0, 0}, 2, {1, 2});
  REQUIRE(back.shape() == Shape{2, 4, 7, 6});
  CHECK(std::abs(sum(y * dy).item<double>() - sum(x * back).item<double>()) < 1e-9);
  // Output padding 1 >= stride 1 is allowed below dilation 2 and appends a computed row.
  Tensor z = conv_transpose2d(randn({1, 2, 4, 4}, f64), randn({2, 3, 3, 3}, f64), Tensor(), {1, 1}, {1, 1}, {1, 0},
                              1, {2, 2});
  CHECK(z.shape() == Shape{1, 3, 7, 6});  // (4-1) - 2 + 2*2 + 1 + 1, (4-1) - 2 + 2*2 + 1
}

TEST_CASE("ConvTranspose2d has PyTorch's weight layout and output size", "[nn][conv][transpose]") {
  nn::ConvTranspose2d up(4, 6, {3, 2}, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2});
  CHECK(up.weight.shape() == Shape{4, 3, 3, 2});
  CHECK(up.bias.shape() == Shape{6});
  // PyTorch's fan-in for this layout is weight dim 1 times the kernel: 3 * 3 * 2.
  CHECK(amax(abs(up.bias)).item<float>() <= 1.0f / std::sqrt(18.0f));
  Tensor y = up(randn({2, 4, 5, 5}));
  CHECK(y.shape() == Shape{2, 6, 10, 9});  // (5-1)*2 - 2 + 3 + 1, (5-1)*2 - 2 + 2 + 1
  CHECK(up.extra_repr() == "4, 6, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), output_padding=(1, 1), groups=2");
}

TEST_CASE("transposed convolution errors name the problem and the caller's line", "[nn][conv][transpose][errors]") {
  std::string msg = error_of<ShapeError>(
      [] { conv_transpose2d(ones({1, 2, 3, 3}), ones({2, 1, 2, 2}), Tensor(), {1, 1}, {0, 0}, {1, 1}); });
  CHECK_THAT(msg, Catch::Contains("tl::conv_transpose2d: output_padding [1, 1] must be smaller than the stride"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
  msg = error_of<ShapeError>([] { conv_transpose2d(ones({1, 3, 3, 3}), ones({2, 1, 2, 2})); });
  CHECK_THAT(msg, Catch::Contains("weight dim 0 must equal x's 3 input channels"));
  CHECK_THAT(msg, Catch::Contains("x is [1, 3, 3, 3] float32, weight is [2, 1, 2, 2] float32"));
  msg = error_of<ShapeError>([] { conv_transpose2d(ones({1, 1, 1, 1}), ones({1, 1, 1, 1}), Tensor(), {1, 1}, {1, 1}); });
  CHECK_THAT(msg, Catch::Contains("the result would be empty"));
  msg = error_of<ValueError>([] { nn::ConvTranspose2d(2, 2, 3, {.stride = 2, .output_padding = 2}); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::ConvTranspose2d: output_padding (2, 2)"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
  nn::ConvTranspose2d up(3, 2, 2);
  msg = error_of<ShapeError>([&] { up(ones({1, 2, 4, 4})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::ConvTranspose2d: input is [1, 2, 4, 4] float32 but the layer expects [N, 3, H, W]"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
}

// ---------------- conv1d, padding modes, padding "same" ----------------

TEST_CASE("conv1d and Conv1d convolve along the last dim", "[nn][conv][conv1d]") {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {1, 1, 4});
  CHECK(values(conv1d(x, from_vector<float>({1, -1}, {1, 1, 2}), from_vector<float>({10}, {1}))) ==
        std::vector<double>{9, 9, 9});
  CHECK(values(conv1d(x, from_vector<float>({1, 1}, {1, 1, 2}), Tensor(), 2, 1)) == std::vector<double>{1, 5, 4});
  nn::Conv1d conv(4, 6, 3, {.stride = 2, .padding = 1, .groups = 2});
  CHECK(conv.weight.shape() == Shape{6, 2, 3});
  CHECK(conv(randn({2, 4, 9})).shape() == Shape{2, 6, 5});
  CHECK(conv.extra_repr() == "4, 6, kernel_size=(3,), stride=(2,), padding=(1,), groups=2");
  std::string msg = error_of<ShapeError>([&] { conv(ones({2, 4, 9, 1})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::Conv1d: input is [2, 4, 9, 1] float32 but the layer expects [N, 4, L]"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
  msg = error_of<ShapeError>([] { conv1d(ones({4, 9}), ones({1, 4, 3})); });
  CHECK_THAT(msg, Catch::Contains("tl::conv1d: expected x (N, C, L)"));
}

TEST_CASE("padding modes fill the padding with the mirrored, repeated or wrapped input", "[nn][conv][padding]") {
  // A 1-tap kernel of weight 1 returns the padded input itself.
  Tensor x = from_vector<float>({1, 2, 3, 4}, {1, 1, 4});
  auto padded = [&](nn::PaddingMode mode) {
    nn::Conv1d conv(1, 1, 1, {.padding = 2, .bias = false, .padding_mode = mode});
    NoGradGuard g;
    conv.weight.fill_(1.0);
    return values(conv(x));
  };
  CHECK(padded(nn::PaddingMode::kZeros) == std::vector<double>{0, 0, 1, 2, 3, 4, 0, 0});
  CHECK(padded(nn::PaddingMode::kReflect) == std::vector<double>{3, 2, 1, 2, 3, 4, 3, 2});
  CHECK(padded(nn::PaddingMode::kReplicate) == std::vector<double>{1, 1, 1, 2, 3, 4, 4, 4});
  CHECK(padded(nn::PaddingMode::kCircular) == std::vector<double>{3, 4, 1, 2, 3, 4, 1, 2});

  // In 2-D the rows are padded, then the columns.
  nn::Conv2d conv(1, 1, 1, {.padding = {1, 2}, .bias = false, .padding_mode = nn::PaddingMode::kReflect});
  {
    NoGradGuard g;
    conv.weight.fill_(1.0);
  }
  Tensor y = conv(from_vector<float>({1, 2, 3, 4, 5, 6}, {1, 1, 2, 3}));
  REQUIRE(y.shape() == Shape{1, 1, 4, 7});
  CHECK(values(y.select(2, 0).flatten()) == std::vector<double>{6, 5, 4, 5, 6, 5, 4});
  CHECK(values(y.select(2, 1).flatten()) == std::vector<double>{3, 2, 1, 2, 3, 2, 1});
  CHECK(conv.extra_repr() == "1, 1, kernel_size=(1, 1), stride=(1, 1), padding=(1, 2), bias=false, padding_mode=reflect");

  std::string msg = error_of<ShapeError>([&] { conv(ones({1, 1, 2, 2})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::Conv2d: padding_mode 'reflect' needs padding 2 smaller than the input's size 2 in dim 3"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
}

TEST_CASE("padding same keeps the size and puts the odd padding after", "[nn][conv][padding]") {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {1, 1, 4});
  for (nn::PaddingMode mode : {nn::PaddingMode::kZeros, nn::PaddingMode::kReplicate}) {
    nn::Conv1d conv(1, 1, 4, {.bias = false, .padding_mode = mode, .padding_same = true});
    NoGradGuard g;
    // K = 4 pads 1 before and 2 after: tap 0 reads x[i - 1], tap 3 reads x[i + 2].
    conv.weight.copy_(from_vector<float>({1, 0, 0, 0}, {1, 1, 4}));
    CHECK(values(conv(x)) == (mode == nn::PaddingMode::kZeros ? std::vector<double>{0, 1, 2, 3}
                                                              : std::vector<double>{1, 1, 2, 3}));
    conv.weight.copy_(from_vector<float>({0, 0, 0, 1}, {1, 1, 4}));
    CHECK(values(conv(x)) == (mode == nn::PaddingMode::kZeros ? std::vector<double>{3, 4, 0, 0}
                                                              : std::vector<double>{3, 4, 4, 4}));
  }
  nn::Conv2d conv(3, 5, {3, 4}, {.dilation = {2, 1}, .padding_same = true});
  CHECK(conv(randn({2, 3, 6, 7})).shape() == Shape{2, 5, 6, 7});
  std::string msg = error_of<ValueError>([] { nn::Conv2d(3, 5, 3, {.stride = 2, .padding_same = true}); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::Conv2d: padding_same (padding=\"same\") needs stride 1"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
}

// ---------------- adaptive pooling ----------------

TEST_CASE("adaptive_avg_pool2d averages PyTorch's bins", "[nn][pool][adaptive]") {
  // Bins of 5 into 3: [0, 2), [1, 4), [3, 5).
  Tensor row = arange(5, {.dtype = kFloat32}).reshape({1, 1, 1, 5});
  CHECK(values(adaptive_avg_pool2d(row, {1, 3})) == std::vector<double>{0.5, 2, 3.5});
  // Against the bins written out, for uneven, even and global sizes, batched and not.
  manual_seed(2);
  Tensor x = randn({2, 3, 7, 6}, f64);
  for (Shape out : {Shape{3, 4}, Shape{7, 2}, Shape{1, 1}, Shape{5, 6}, Shape{4}}) {
    INFO("output " << out.str());
    Tensor y = adaptive_avg_pool2d(x, out);
    const int64_t OH = out[0], OW = out.size() == 2 ? out[1] : out[0];
    REQUIRE(y.shape() == Shape{2, 3, OH, OW});
    for (int64_t i = 0; i < OH; ++i) {
      for (int64_t j = 0; j < OW; ++j) {
        const int64_t h0 = i * 7 / OH, h1 = ((i + 1) * 7 + OH - 1) / OH, w0 = j * 6 / OW, w1 = ((j + 1) * 6 + OW - 1) / OW;
        Tensor want = mean(x.slice(2, h0, h1).slice(3, w0, w1), {2, 3});
        CHECK(max_abs_diff(y.select(3, j).select(2, i), want) < 1e-12);
      }
    }
  }
  CHECK(adaptive_avg_pool2d(randn({3, 5, 5}), {2, 3}).shape() == Shape{3, 2, 3});
  nn::AdaptiveAvgPool2d pool({1, 1});
  CHECK(pool(randn({2, 4, 3, 3})).shape() == Shape{2, 4, 1, 1});
  CHECK(pool.extra_repr() == "output_size=(1, 1)");
  std::string msg = error_of<ShapeError>([&] { pool(ones({4, 4})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::AdaptiveAvgPool2d: input is [4, 4] float32"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
  msg = error_of<ShapeError>([] { adaptive_avg_pool2d(ones({1, 1, 4, 4}), {0, 2}); });
  CHECK_THAT(msg, Catch::Contains("tl::adaptive_avg_pool2d: output_size must be >= 1"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
}

// ---------------- GroupNorm, InstanceNorm2d ----------------

TEST_CASE("GroupNorm and InstanceNorm2d standardize each group of each sample", "[nn][norm]") {
  manual_seed(3);
  Tensor x = randn({2, 6, 4, 5}, f64) * 3.0 + 1.0;
  nn::GroupNorm gn(3, 6);
  gn.to(kFloat64);
  CHECK(parameter_names(gn) == std::vector<std::string>{"weight", "bias"});
  Tensor y = gn(x).reshape({2, 3, -1});
  CHECK(amax(abs(mean(y, {2}))).item<double>() < 1e-12);
  CHECK(amax(abs(var(y, {2}, 0) - 1.0)).item<double>() < 1e-4);  // var / (var + eps)
  CHECK(gn.extra_repr() == "3, 6, eps=1e-05, affine=true");

  nn::InstanceNorm2d in(6);
  CHECK(parameter_names(in).empty());  // affine is off by default, as in PyTorch
  CHECK(max_abs_diff(in(x), F::group_norm(x, 6)) == 0.0);
  nn::InstanceNorm2d affine(6, {.affine = true});
  CHECK(affine.weight.shape() == Shape{6});

  CHECK_THROWS_AS(nn::GroupNorm(4, 6), ValueError);
  std::string msg = error_of<ShapeError>([&] { in(ones({2, 5, 3, 3})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::InstanceNorm2d: input is [2, 5, 3, 3] float32 but the layer expects [N, 6, H, W]"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
  msg = error_of<ShapeError>([&] { gn(ones({2, 4})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::GroupNorm: input is [2, 4] float32"));
}

// ---------------- interpolate, Upsample ----------------

TEST_CASE("interpolate resizes with nearest and bilinear as PyTorch", "[nn][interpolate]") {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  CHECK(values(F::interpolate(x, {.scale_factor = {2}})) ==
        std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // Nearest from 3 to 2 reads floor(i * 1.5): 0 and 1.
  Tensor y = F::interpolate(arange(3, {.dtype = kFloat32}).reshape({1, 1, 1, 3}), {.size = {1, 2}});
  CHECK(values(y) == std::vector<double>{0, 1});

  Tensor row = from_vector<float>({0, 1}, {1, 1, 1, 2});
  auto bilinear = [&](int64_t w, std::optional<bool> align) {
    return values(F::interpolate(row, {.size = {1, w}, .mode = F::InterpolateMode::kBilinear, .align_corners = align}));
  };
  CHECK(bilinear(3, true) == std::vector<double>{0, 0.5, 1});
  CHECK(bilinear(4, false) == std::vector<double>{0, 0.25, 0.75, 1});
  CHECK(bilinear(4, std::nullopt) == bilinear(4, false));

  nn::Upsample up({.scale_factor = {2, 3}, .mode = F::InterpolateMode::kBilinear, .align_corners = true});
  CHECK(up(randn({2, 3, 4, 5})).shape() == Shape{2, 3, 8, 15});
  CHECK(up.extra_repr() == "scale_factor=(2, 3), mode=bilinear, align_corners=true");

  std::string msg = error_of<ValueError>([&] { F::interpolate(x, {.scale_factor = {2}, .align_corners = false}); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::functional::interpolate: align_corners applies to bilinear only"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
  msg = error_of<ValueError>([&] { F::interpolate(x, {.size = {4}, .scale_factor = {2}}); });
  CHECK_THAT(msg, Catch::Contains("exactly one of size and scale_factor"));
  msg = error_of<ShapeError>([&] { F::interpolate(ones({2, 2}), {.size = {4}}); });
  CHECK_THAT(msg, Catch::Contains("expected x as [N, C, H, W], got [2, 2] float32"));
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
  msg = error_of<ShapeError>([&] { up(ones({2, 2})); });
  CHECK_THAT(msg, Catch::Contains("conv_family_test.cpp:"));
}

// ---------------- gradients and compilation ----------------

TEST_CASE("the convolution family's gradients match finite differences in float64", "[nn][conv][grad]") {
  manual_seed(4);
  SECTION("conv_transpose2d") {
    check_gradients([](const std::vector<Tensor>& in) {
      return conv_transpose2d(in[0], in[1], in[2], {2, 1}, {1, 0}, {1, 0}, 2, {1, 2});
    }, {{2, 4, 3, 3}, {4, 1, 3, 2}, {2}});
    // output_padding >= stride: the window of the full result, padded with zeros.
    check_gradients([](const std::vector<Tensor>& in) {
      return conv_transpose2d(in[0], in[1], Tensor(), {1, 1}, {1, 0}, {1, 1}, 1, {2, 2});
    }, {{1, 2, 3, 3}, {2, 2, 2, 2}});
  }
  SECTION("conv1d") {
    check_gradients([](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], in[2], 2, 1, 2); },
                    {{2, 3, 9}, {4, 3, 3}, {4}});
  }
  SECTION("Conv2d padding modes and same") {
    for (nn::PaddingMode mode : {nn::PaddingMode::kReflect, nn::PaddingMode::kReplicate, nn::PaddingMode::kCircular}) {
      nn::Conv2d conv(2, 3, {3, 2}, {.padding = {2, 1}, .padding_mode = mode});
      check_gradients([&](const std::vector<Tensor>& in) {
        conv.weight = in[1];
        conv.bias = in[2];
        return conv(in[0]);
      }, {{2, 2, 4, 3}, {3, 2, 3, 2}, {3}});
    }
    nn::Conv1d same(2, 2, 4, {.bias = false, .padding_mode = nn::PaddingMode::kReflect, .padding_same = true});
    check_gradients([&](const std::vector<Tensor>& in) {
      same.weight = in[1];
      return same(in[0]);
    }, {{2, 2, 6}, {2, 2, 4}});
  }
  SECTION("adaptive_avg_pool2d") {
    check_gradients([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {3, 4}); }, {{2, 2, 5, 7}});
    check_gradients([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {2, 2}); }, {{1, 2, 4, 6}});
  }
  SECTION("group_norm as InstanceNorm2d") {
    check_gradients([](const std::vector<Tensor>& in) { return F::group_norm(in[0], 3, in[1], in[2]); },
                    {{2, 3, 3, 4}, {3}, {3}});
  }
  SECTION("interpolate") {
    check_gradients([](const std::vector<Tensor>& in) { return F::interpolate(in[0], {.size = {5, 7}}); },
                    {{1, 2, 3, 4}});
    for (bool align : {false, true}) {
      check_gradients([&](const std::vector<Tensor>& in) {
        return F::interpolate(in[0], {.size = {5, 3}, .mode = F::InterpolateMode::kBilinear, .align_corners = align});
      }, {{1, 2, 3, 4}});
    }
  }
}

TEST_CASE("the convolution family compiles to the eager results", "[nn][conv][compile]") {
  manual_seed(5);
  nn::ConvTranspose2d up(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2});
  nn::Conv1d conv1(4, 3, 3, {.padding_mode = nn::PaddingMode::kCircular, .padding_same = true});
  nn::Conv2d conv2(4, 3, 3, {.padding = 1, .padding_mode = nn::PaddingMode::kReflect});
  nn::AdaptiveAvgPool2d pool({3, 4});
  nn::GroupNorm gn(2, 4);
  nn::InstanceNorm2d in(4, {.affine = true});
  nn::Upsample nearest({.scale_factor = {2}});
  nn::Upsample bilinear({.size = {7, 9}, .mode = F::InterpolateMode::kBilinear});
  Tensor x = randn({2, 4, 5, 6});
  SECTION("ConvTranspose2d") { check_compiles([&](const Tensor& t) { return up(t); }, x); }
  SECTION("Conv1d") { check_compiles([&](const Tensor& t) { return conv1(t); }, randn({2, 4, 9})); }
  SECTION("Conv2d reflect") { check_compiles([&](const Tensor& t) { return conv2(t); }, x); }
  SECTION("AdaptiveAvgPool2d") { check_compiles([&](const Tensor& t) { return pool(t); }, x); }
  SECTION("GroupNorm") { check_compiles([&](const Tensor& t) { return gn(t); }, x); }
  SECTION("InstanceNorm2d") { check_compiles([&](const Tensor& t) { return in(t); }, x); }
  SECTION("Upsample nearest") { check_compiles([&](const Tensor& t) { return nearest(t); }, x); }
  SECTION("Upsample bilinear") { check_compiles([&](const Tensor& t) { return bilinear(t); }, x); }
  SECTION("Conv3d, MaxPool3d, AvgPool3d") {
    nn::Conv3d conv3(4, 3, {2, 3, 3}, {.stride = {2, 1, 1}, .padding = {1, 1, 0}});
    nn::MaxPool3d max3({2, 2, 2}, {.padding = {1, 0, 1}});
    nn::AvgPool3d avg3(2);
    check_compiles([&](const Tensor& t) { return avg3(max3(conv3(t))); }, randn({2, 4, 5, 6, 7}));
  }
}

TEST_CASE("conv3d is a sum of conv2d over the kernel's depth", "[nn][conv][conv3d]") {
  manual_seed(8);
  // A kernel of depth 1 is conv2d applied to every depth plane.
  Tensor x = randn({2, 3, 4, 5, 6}, f64);
  Tensor w = randn({4, 3, 1, 3, 3}, f64);
  Tensor y = conv3d(x, w, Tensor(), {1}, {0, 1, 1});
  REQUIRE(y.shape() == Shape{2, 4, 4, 5, 6});
  for (int64_t d = 0; d < 4; ++d) {
    Tensor plane = conv2d(x.select(2, d), w.select(2, 0), Tensor(), {1, 1}, {1, 1});
    CHECK(allclose(y.select(2, d), plane, 1e-12, 1e-12));
  }
  // Output size with stride, padding and dilation in depth, as PyTorch's formula.
  Tensor z = conv3d(randn({1, 2, 9, 4, 4}), randn({2, 2, 3, 1, 1}), randn({2}), {2, 1, 1}, {1, 0, 0}, {2, 1, 1});
  CHECK(z.shape() == Shape{1, 2, 4, 4, 4});  // (9 + 2 - 2 * 2 - 1) / 2 + 1
  // Max pooling in 3-D picks the window's largest value; padding never wins.
  Tensor ramp = arange(0, 8, 1, f64).reshape({1, 1, 2, 2, 2});
  CHECK(max_pool3d(ramp, {2}).to_vector<double>() == std::vector<double>{7});
  CHECK(max_pool3d(neg(ramp), {2}, {2}, {1}).shape() == Shape{1, 1, 2, 2, 2});
  CHECK(max_pool3d(neg(ramp), {2}, {2}, {1}).to_vector<double>() ==
        std::vector<double>{0, -1, -2, -3, -4, -5, -6, -7});
  CHECK(avg_pool3d(ramp, {2}).item<double>() == Approx(3.5));
}

TEST_CASE("the 3-D layers check their inputs and options", "[nn][conv][conv3d][errors]") {
  nn::Conv3d conv(4, 6, {3, 2, 2}, {.groups = 2});
  CHECK(conv.weight.shape() == Shape{6, 2, 3, 2, 2});
  CHECK(conv.extra_repr() == "4, 6, kernel_size=(3, 2, 2), stride=(1, 1, 1), groups=2");
  CHECK_THROWS_AS(conv(randn({2, 4, 5, 5})), ShapeError);
  CHECK_THROWS_WITH(conv(randn({2, 3, 5, 5, 5})), Catch::Contains("[N, 4, D, H, W]") && Catch::Contains("conv_family_test.cpp:"));
  CHECK_THROWS_AS(nn::Conv3d(4, 6, {3, 0, 2}), ValueError);
  CHECK_THROWS_AS(nn::Conv3d(3, 6, 2, {.groups = 2}), ValueError);
  CHECK_THROWS_WITH(conv3d(randn({1, 1, 2, 4, 4}), randn({1, 1, 3, 1, 1})),
                    Catch::Contains("depth 2") && Catch::Contains("conv_family_test.cpp:"));
  CHECK_THROWS_AS(conv3d(randn({1, 1, 4, 4, 4}), randn({1, 1, 3, 1, 1}), Tensor(), {1, 1}), ShapeError);
  CHECK_THROWS_WITH(max_pool3d(randn({1, 1, 4, 4, 4}), {2}, {}, {2}), Catch::Contains("at most half the kernel"));
  nn::BatchNorm3d bn(3);
  CHECK_THROWS_WITH(bn(randn({2, 3, 4, 4})), Catch::Contains("[N, C, D, H, W]"));
  CHECK(bn(randn({2, 3, 2, 2, 2})).shape() == Shape{2, 3, 2, 2, 2});
  CHECK(nn::MaxPool3d(2).extra_repr() == "kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 0, 0)");
}

TEST_CASE("conv3d and the 3-D pools differentiate twice", "[nn][conv][conv3d][grad]") {
  manual_seed(9);
  Tensor x = randn({1, 2, 4, 3, 3}, f64).requires_grad_();
  Tensor w = randn({2, 2, 2, 2, 2}, f64).requires_grad_();
  Tensor b = randn({2}, f64).requires_grad_();
  std::function<Tensor(const std::vector<Tensor>&)> fn = [](const std::vector<Tensor>& in) {
    return avg_pool3d(max_pool3d(conv3d(in[0], in[1], in[2], {1}, {1, 1, 0}), {2}, {1}), {2}, {1}, {1});
  };
  GradcheckResult first = gradcheck(fn, {x, w, b});
  INFO(first.message);
  CHECK(first.ok);
  GradcheckResult second = gradgradcheck(fn, {x, w, b});
  INFO(second.message);
  CHECK(second.ok);
}
