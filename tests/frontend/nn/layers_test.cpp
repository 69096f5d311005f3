// The standard layers: values, PyTorch's default initializations, train/eval behaviour,
// and the errors they give for a wrong input.
#include <catch2/catch.hpp>

#include <cmath>

#include "tl/tl.h"

using namespace tl;

namespace {
double sample_mean(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / static_cast<double>(v.size());
}
double sample_var(const std::vector<float>& v) {
  double m = sample_mean(v), s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}
}  // namespace

TEST_CASE("Linear computes x W^T + b", "[nn][layers][linear]") {
  nn::Linear lin(2, 3);
  {
    NoGradGuard g;
    lin.weight.copy_(from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2}));
    lin.bias.copy_(from_vector<float>({0.5, -1, 0}));
  }
  Tensor y = lin(from_vector<float>({1, 1, 2, -1}, {2, 2}));
  CHECK(y.shape() == Shape{2, 3});
  CHECK(y.to_vector<float>() == std::vector<float>{3.5f, 6.0f, 11.0f, 0.5f, 1.0f, 4.0f});
  // Leading batch dims pass through.
  CHECK(lin(ones({4, 5, 2})).shape() == Shape{4, 5, 3});
}

TEST_CASE("Linear and Conv2d default inits are U(-1/sqrt(fan_in), 1/sqrt(fan_in))", "[nn][layers][init]") {
  manual_seed(3);
  nn::Linear lin(400, 300);
  double bound = 1.0 / std::sqrt(400.0);
  auto w = lin.weight.to_vector<float>();
  CHECK(amax(lin.weight).item<float>() <= bound);
  CHECK(amin(lin.weight).item<float>() >= -bound);
  CHECK(amax(lin.weight).item<float>() > 0.99 * bound);  // fills the interval
  CHECK(sample_mean(w) == Approx(0.0).margin(0.002));
  CHECK(sample_var(w) == Approx(bound * bound / 3.0).epsilon(0.02));  // var of U(-b, b)
  CHECK(amax(lin.bias).item<float>() <= bound);
  CHECK(amin(lin.bias).item<float>() >= -bound);

  nn::Conv2d conv(8, 16, 3, {.padding = 1});
  double cbound = 1.0 / std::sqrt(8.0 * 9.0);
  CHECK(conv.weight.shape() == Shape{16, 8, 3, 3});
  CHECK(amax(abs(conv.weight)).item<float>() <= cbound);
  CHECK(amax(abs(conv.weight)).item<float>() > 0.95 * cbound);
  CHECK(amax(abs(conv.bias)).item<float>() <= cbound);
  CHECK(sample_var(conv.weight.to_vector<float>()) == Approx(cbound * cbound / 3.0).epsilon(0.1));

  nn::Embedding emb(1000, 64);
  auto e = emb.weight.to_vector<float>();
  CHECK(sample_mean(e) == Approx(0.0).margin(0.01));
  CHECK(sample_var(e) == Approx(1.0).epsilon(0.02));
}

TEST_CASE("init functions follow PyTorch's bounds and variances", "[nn][init]") {
  using namespace nn::init;
  CHECK(calculate_gain(Nonlinearity::kReLU) == Approx(std::sqrt(2.0)));
  CHECK(calculate_gain(Nonlinearity::kTanh) == Approx(5.0 / 3.0));
  CHECK(calculate_gain(Nonlinearity::kLeakyReLU, 0.2) == Approx(std::sqrt(2.0 / 1.04)));
  CHECK(calculate_gain(Nonlinearity::kSELU) == Approx(0.75));
  CHECK(calculate_gain(Nonlinearity::kSigmoid) == 1.0);
  auto fans = calculate_fan_in_and_fan_out(empty({16, 8, 3, 3}));
  CHECK(fans.first == 72);
  CHECK(fans.second == 144);
  CHECK_THROWS_AS(calculate_fan_in_and_fan_out(empty({5})), ShapeError);

  manual_seed(7);
  Tensor w = empty({200, 300});
  xavier_uniform_(w);
  double a = std::sqrt(6.0 / 500.0);
  CHECK(amax(abs(w)).item<float>() <= a);
  CHECK(sample_var(w.to_vector<float>()) == Approx(a * a / 3.0).epsilon(0.03));
  xavier_normal_(w, 2.0);
  CHECK(sample_var(w.to_vector<float>()) == Approx(4.0 * 2.0 / 500.0).epsilon(0.03));
  kaiming_normal_(w, 0.0, FanMode::kFanOut, Nonlinearity::kReLU);
  CHECK(sample_var(w.to_vector<float>()) == Approx(2.0 / 200.0).epsilon(0.03));
  kaiming_uniform_(w, 0.0, FanMode::kFanIn, Nonlinearity::kReLU);
  double b = std::sqrt(2.0) * std::sqrt(3.0 / 300.0);
  CHECK(amax(abs(w)).item<float>() <= b);
  CHECK(amax(abs(w)).item<float>() > 0.99 * b);
  normal_(w, 2.0, 0.5);
  CHECK(sample_mean(w.to_vector<float>()) == Approx(2.0).epsilon(0.01));
  uniform_(w, 3.0, 4.0);
  CHECK(amin(w).item<float>() >= 3.0f);
  constant_(w, 0.25);
  CHECK(w.to_vector<float>() == std::vector<float>(60000, 0.25f));
  zeros_(w);
  CHECK(amax(abs(w)).item<float>() == 0.0f);
  // Parameters can be initialized directly: no autograd error, grad flag kept.
  nn::Linear lin(3, 3);
  ones_(lin.weight);
  CHECK(lin.weight.requires_grad());
  CHECK(lin.weight.sum().item<float>() == 9.0f);
  CHECK_THROWS_AS(uniform_(zeros({2}, {.dtype = kInt64})), DTypeError);
}

TEST_CASE("BatchNorm1d normalizes with batch stats in training and updates running stats",
          "[nn][layers][batchnorm]") {
  nn::BatchNorm1d bn(2);
  // Channel 0: 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1: 0, 0, 4, 4.
  Tensor x = from_vector<float>({1, 0, 2, 0, 3, 4, 4, 4}, {4, 2});
  Tensor y = bn(x);
  double s0 = std::sqrt(1.25 + 1e-5), s1 = std::sqrt(4.0 + 1e-5);
  std::vector<float> expected{float(-1.5 / s0), float(-2 / s1), float(-0.5 / s0), float(-2 / s1),
                              float(0.5 / s0),  float(2 / s1),  float(1.5 / s0),  float(2 / s1)};
  auto got = y.to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expected[i]).epsilon(1e-5));
  CHECK(bn.running_mean.to_vector<float>()[0] == Approx(0.1 * 2.5));
  CHECK(bn.running_mean.to_vector<float>()[1] == Approx(0.1 * 2.0));
  CHECK(bn.running_var.to_vector<float>()[0] == Approx(0.9 + 0.1 * 5.0 / 3.0));
  CHECK(bn.running_var.to_vector<float>()[1] == Approx(0.9 + 0.1 * 16.0 / 3.0));
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);
  bn(x);
  CHECK(bn.running_mean.to_vector<float>()[0] == Approx(0.9 * 0.25 + 0.1 * 2.5));
  CHECK(bn.num_batches_tracked.item<int64_t>() == 2);

  // Eval uses the running statistics and leaves them alone.
  bn.eval();
  auto rm = bn.running_mean.to_vector<float>();
  auto rv = bn.running_var.to_vector<float>();
  Tensor z = bn(x);
  CHECK(z.item_at<float>({2, 0}) == Approx((3 - rm[0]) / std::sqrt(rv[0] + 1e-5)));
  CHECK(z.item_at<float>({3, 1}) == Approx((4 - rm[1]) / std::sqrt(rv[1] + 1e-5)));
  CHECK(bn.running_mean.to_vector<float>() == rm);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 2);

  // A single value per channel cannot be normalized in training.
  bn.train();
  CHECK_THROWS_AS(bn(ones({1, 2})), ValueError);
  CHECK_THROWS_AS(bn(ones({4, 3})), ShapeError);
}

TEST_CASE("BatchNorm2d reduces over N, H, W and applies weight and bias", "[nn][layers][batchnorm]") {
  manual_seed(5);
  nn::BatchNorm2d bn(3);
  {
    NoGradGuard g;
    bn.weight.copy_(from_vector<float>({1, 2, 3}));
    bn.bias.copy_(from_vector<float>({0, 1, -1}));
  }
  Tensor x = randn({4, 3, 5, 5}) * 3.0 + 1.0;
  Tensor y = bn(x);
  Tensor m = y.mean({0, 2, 3});
  Tensor v = var(y, {0, 2, 3}, 0);
  CHECK(allclose(m, from_vector<float>({0, 1, -1}), 1e-4, 1e-4));
  CHECK(allclose(v, from_vector<float>({1, 4, 9}), 1e-3, 1e-3));
  // Running var uses the unbiased batch variance.
  Tensor batch_var = var(x, {0, 2, 3}, 1);
  CHECK(allclose(bn.running_var, full({3}, 0.9) + batch_var * 0.1, 1e-5, 1e-5));
  // Gradients flow to the input and the affine parameters.
  y.sum().backward();
  CHECK(bn.weight.grad().defined());
  CHECK(allclose(bn.bias.grad(), full({3}, 100.0)));
  CHECK(bn.parameters().size() == 2);
  CHECK(bn.buffers().size() == 3);
}

TEST_CASE("LayerNorm normalizes the last dims with the biased variance", "[nn][layers][layernorm]") {
  nn::LayerNorm ln({4});
  Tensor x = from_vector<float>({1, 2, 3, 4, -2, 0, 2, 4}, {2, 4});
  Tensor y = ln(x);
  double s0 = std::sqrt(1.25 + 1e-5), s1 = std::sqrt(5.0 + 1e-5);
  CHECK(y.item_at<float>({0, 0}) == Approx(-1.5 / s0));
  CHECK(y.item_at<float>({0, 3}) == Approx(1.5 / s0));
  CHECK(y.item_at<float>({1, 1}) == Approx(-1.0 / s1));
  CHECK(ln.weight.shape() == Shape{4});
  nn::LayerNorm ln2({3, 4}, {.elementwise_affine = false});
  CHECK(ln2.parameters().empty());
  Tensor z = ln2(randn({2, 3, 4}) * 5.0);
  CHECK(allclose(z.mean({1, 2}), zeros({2}), 1e-5, 1e-5));
  CHECK_THROWS_AS(ln(ones({2, 5})), ShapeError);
}

TEST_CASE("Dropout keeps about 1 - p of its input, rescaled, and is the identity in eval", "[nn][layers][dropout]") {
  manual_seed(11);
  nn::Dropout drop(0.25);
  Tensor x = ones({200, 100});
  Tensor y = drop(x);
  auto v = y.to_vector<float>();
  int64_t kept = 0;
  for (float e : v) {
    bool ok = e == 0.0f || std::abs(e - 1.0f / 0.75f) < 1e-6f;
    if (!ok) FAIL("unexpected value " << e);
    kept += e != 0.0f;
  }
  double frac = static_cast<double>(kept) / static_cast<double>(v.size());
  CHECK(frac == Approx(0.75).margin(0.01));          // 20000 draws: sd 0.003
  CHECK(sample_mean(v) == Approx(1.0).margin(0.015));  // unbiased in expectation
  // Gradient uses the same mask.
  Tensor xg = ones({10, 10}).requires_grad_();
  Tensor out = drop(xg);
  out.sum().backward();
  CHECK(equal(xg.grad(), out.detach()));
  drop.eval();
  CHECK(drop(x).is_same(x));
  nn::Dropout all(1.0);
  CHECK(amax(abs(all(x))).item<float>() == 0.0f);
  CHECK_THROWS_AS(nn::Dropout(1.5), ValueError);
}

TEST_CASE("Flatten, activations and softmax layers match their ops", "[nn][layers]") {
  Tensor x = from_vector<float>({-2, -0.5, 0, 0.5, 1, 3}, {1, 2, 3});
  CHECK(nn::Flatten()(x).shape() == Shape{1, 6});
  CHECK(nn::Flatten(0)(x).shape() == Shape{6});
  CHECK(equal(nn::ReLU()(x), relu(x)));
  CHECK(equal(nn::GELU()(x), gelu(x)));
  CHECK(equal(nn::Tanh()(x), tanh(x)));
  CHECK(equal(nn::Sigmoid()(x), sigmoid(x)));
  Tensor s = nn::Softmax(-1)(x);
  CHECK(allclose(s.sum({-1}), ones({1, 2})));
  CHECK(allclose(nn::LogSoftmax(-1)(x), log(s), 1e-5, 1e-6));
}

TEST_CASE("Conv2d and pooling layers produce PyTorch's shapes and values", "[nn][layers][conv]") {
  nn::Conv2d conv(1, 1, 3, {.padding = 1, .bias = false});
  nn::init::ones_(conv.weight);
  Tensor x = ones({1, 1, 4, 4});
  Tensor y = conv(x);
  CHECK(y.shape() == Shape{1, 1, 4, 4});
  CHECK(y.item_at<float>({0, 0, 0, 0}) == 4.0f);  // corner sees 2x2 ones
  CHECK(y.item_at<float>({0, 0, 1, 1}) == 9.0f);
  nn::Conv2d strided(3, 8, {3, 1}, {.stride = 2});
  CHECK(strided(ones({2, 3, 9, 9})).shape() == Shape{2, 8, 4, 5});
  CHECK_THROWS_AS(conv(ones({1, 2, 4, 4})), ShapeError);

  Tensor img = arange(16, {.dtype = kFloat32}).reshape({1, 1, 4, 4});
  Tensor mp = nn::MaxPool2d(2)(img);
  CHECK(mp.shape() == Shape{1, 1, 2, 2});
  CHECK(mp.to_vector<float>() == std::vector<float>{5, 7, 13, 15});
  Tensor ap = nn::AvgPool2d(2)(img);
  CHECK(ap.to_vector<float>() == std::vector<float>{2.5, 4.5, 10.5, 12.5});
  CHECK(nn::MaxPool2d(3, {.stride = 1, .padding = 1})(img).shape() == Shape{1, 1, 4, 4});
}

TEST_CASE("Embedding looks up rows by index", "[nn][layers][embedding]") {
  nn::Embedding emb(5, 3);
  Tensor idx = from_vector<int64_t>({4, 0, 4}, {3});
  Tensor y = emb(idx);
  CHECK(y.shape() == Shape{3, 3});
  CHECK(equal(y.select(0, 0), emb.weight.select(0, 4).detach()));
  y.sum().backward();
  CHECK(emb.weight.grad().item_at<float>({4, 0}) == 2.0f);
  CHECK(emb.weight.grad().item_at<float>({1, 0}) == 0.0f);
  CHECK_THROWS_AS(emb(ones({3})), DTypeError);
}

TEST_CASE("a layer's shape error names the layer, the input and the caller's line", "[nn][layers][errors]") {
  nn::Sequential model(nn::Linear(4, 16), nn::Tanh(), nn::Linear(16, 3));
  try {
    model(ones({8, 5}));
    FAIL("no error");
  } catch (const ShapeError& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("tl::nn::Linear"));
    CHECK_THAT(msg, Catch::Contains("[8, 5] float32"));
    CHECK_THAT(msg, Catch::Contains("in_features is 4"));
    CHECK_THAT(msg, Catch::Contains("layers_test.cpp:"));
  }
}
