// Loss functions against hand-computed values (see the comments for the arithmetic), their
// gradients, numerical stability and error messages.
#include <catch2/catch.hpp>

#include <cmath>

#include "tl/tl.h"

using namespace tl;
using nn::Reduction;

namespace {
// logits [[1, 2, 3], [1, 1, 1]]: log_softmax row 0 = [-2.4076, -1.4076, -0.4076],
// row 1 = -log(3) everywhere.
Tensor logits2x3() { return from_vector<float>({1, 2, 3, 1, 1, 1}, {2, 3}); }
constexpr double kNll0 = 0.4076059644443806;  // -log_softmax(row 0)[2]
constexpr double kNll1 = 1.0986122886681098;  // log(3)
}  // namespace

TEST_CASE("mse_loss and l1_loss reduce as asked", "[nn][loss]") {
  Tensor input = from_vector<float>({1, 2, 3});
  Tensor target = from_vector<float>({1, 0, 5});
  CHECK(nn::mse_loss(input, target).item<double>() == Approx(8.0 / 3.0));
  CHECK(nn::mse_loss(input, target, {.reduction = Reduction::kSum}).item<double>() == Approx(8.0));
  CHECK(nn::mse_loss(input, target, {.reduction = Reduction::kNone}).to_vector<float>() ==
        std::vector<float>{0, 4, 4});
  CHECK(nn::l1_loss(input, target).item<double>() == Approx(4.0 / 3.0));
  Tensor x = input.clone().requires_grad_();
  nn::mse_loss(x, target).backward();
  // d/dx mean((x - t)^2) = 2 (x - t) / 3.
  CHECK(allclose(x.grad(), from_vector<float>({0, 4.0f / 3, -4.0f / 3})));
}

TEST_CASE("cross_entropy with class indices matches hand-computed values", "[nn][loss][cross_entropy]") {
  Tensor target = from_vector<int64_t>({2, 0});
  CHECK(nn::cross_entropy(logits2x3(), target).item<double>() == Approx((kNll0 + kNll1) / 2));
  CHECK(nn::cross_entropy(logits2x3(), target, {.reduction = Reduction::kSum}).item<double>() ==
        Approx(kNll0 + kNll1));
  auto none = nn::cross_entropy(logits2x3(), target, {.reduction = Reduction::kNone}).to_vector<float>();
  CHECK(none[0] == Approx(kNll0));
  CHECK(none[1] == Approx(kNll1));
  // int32 targets work too.
  CHECK(nn::cross_entropy(logits2x3(), target.to(kInt32)).item<double>() == Approx((kNll0 + kNll1) / 2));

  // Gradient: (softmax - one_hot) / N.
  Tensor x = logits2x3().requires_grad_();
  nn::cross_entropy(x, target).backward();
  Tensor expected = (softmax(logits2x3(), 1) - one_hot(target, 3)) / 2.0;
  CHECK(allclose(x.grad(), expected, 1e-5, 1e-6));
}

TEST_CASE("cross_entropy label smoothing mixes in the uniform distribution", "[nn][loss][cross_entropy]") {
  // loss_i = (1 - 0.1) * nll_i + 0.1 * mean_c(-log_softmax_ic):
  // row 0: 0.9 * 0.40761 + 0.1 * 1.40761 = 0.50761; row 1: log(3).
  Tensor target = from_vector<int64_t>({2, 0});
  double row0 = 0.5076059644443807;
  CHECK(nn::cross_entropy(logits2x3(), target, {.reduction = Reduction::kMean, .label_smoothing = 0.1})
            .item<double>() == Approx((row0 + kNll1) / 2));
  // Ignored targets count in neither the loss nor the mean's divisor.
  Tensor ignored = from_vector<int64_t>({2, -100});
  CHECK(nn::cross_entropy(logits2x3(), ignored, {.label_smoothing = 0.1}).item<double>() == Approx(row0));
  CHECK(nn::cross_entropy(logits2x3(), ignored).item<double>() == Approx(kNll0));
  auto none = nn::cross_entropy(logits2x3(), ignored, {.reduction = Reduction::kNone}).to_vector<float>();
  CHECK(none[1] == 0.0f);
  Tensor custom_ignore = from_vector<int64_t>({2, 1});
  CHECK(nn::cross_entropy(logits2x3(), custom_ignore, {.ignore_index = 1}).item<double>() == Approx(kNll0));
}

TEST_CASE("cross_entropy accepts probability targets of the logits' shape", "[nn][loss][cross_entropy]") {
  // row 0: -(0.2 * -2.40761 + 0.3 * -1.40761 + 0.5 * -0.40761) = 1.10761; row 1: log(3).
  Tensor probs = from_vector<float>({0.2f, 0.3f, 0.5f, 1, 0, 0}, {2, 3});
  CHECK(nn::cross_entropy(logits2x3(), probs).item<double>() == Approx((1.1076059644443805 + kNll1) / 2));
  // With smoothing 0.1 the target becomes 0.9 * p + 0.1 / 3.
  CHECK(nn::cross_entropy(logits2x3(), probs, {.label_smoothing = 0.1}).item<double>() ==
        Approx(1.1181091265562455));
  // One-hot probabilities give the same loss as indices.
  Tensor idx = from_vector<int64_t>({2, 0});
  CHECK(nn::cross_entropy(logits2x3(), one_hot(idx, 3)).item<double>() ==
        Approx(nn::cross_entropy(logits2x3(), idx).item<double>()));
}

TEST_CASE("cross_entropy takes logits with extra dims after the classes and matching targets", "[nn][loss][cross_entropy]") {
  manual_seed(2);
  Tensor logits = randn({2, 4, 3});              // N=2, C=4, d=3
  Tensor target = from_vector<int64_t>({0, 3, 1, 2, 2, 0}, {2, 3});
  Tensor flat = logits.permute({0, 2, 1}).reshape({6, 4});  // the same samples as rows
  Tensor expected = nn::cross_entropy(flat, target.reshape({6}), {.reduction = Reduction::kNone});
  Tensor got = nn::cross_entropy(logits, target, {.reduction = Reduction::kNone});
  CHECK(got.shape() == Shape{2, 3});
  CHECK(allclose(got.reshape({6}), expected, 1e-5, 1e-6));
  CHECK(nn::cross_entropy(logits, target).item<double>() == Approx(expected.mean().item<double>()));
}

TEST_CASE("cross_entropy stays finite for huge logits", "[nn][loss][cross_entropy]") {
  Tensor logits = from_vector<float>({1000, 0, -1000, 0}, {2, 2});
  Tensor target = from_vector<int64_t>({1, 0});
  auto none = nn::cross_entropy(logits, target, {.reduction = Reduction::kNone}).to_vector<float>();
  CHECK(none[0] == Approx(1000.0));
  CHECK(none[1] == Approx(1000.0));
}

TEST_CASE("nll_loss picks the negative log-probability of the target", "[nn][loss]") {
  Tensor logp = log_softmax(logits2x3(), 1);
  Tensor target = from_vector<int64_t>({2, 0});
  CHECK(nn::nll_loss(logp, target).item<double>() == Approx((kNll0 + kNll1) / 2));
  CHECK(nn::nll_loss(logp, from_vector<int64_t>({2, -100})).item<double>() == Approx(kNll0));
  CHECK(nn::nll_loss(logp, target, {.reduction = Reduction::kSum}).item<double>() == Approx(kNll0 + kNll1));
}

TEST_CASE("binary_cross_entropy_with_logits matches the stable formula", "[nn][loss][bce]") {
  // max(x, 0) - x*y + log(1 + exp(-|x|)) for x = 0, 2, -3 and y = 1, 0, 0.5:
  // log 2 = 0.693147; 2 + log1p(e^-2) = 2.126928; 1.5 + log1p(e^-3) = 1.548587.
  Tensor x = from_vector<float>({0, 2, -3});
  Tensor y = from_vector<float>({1, 0, 0.5f});
  auto none = nn::binary_cross_entropy_with_logits(x, y, {.reduction = Reduction::kNone}).to_vector<float>();
  CHECK(none[0] == Approx(0.6931472));
  CHECK(none[1] == Approx(2.1269280));
  CHECK(none[2] == Approx(1.5485874));
  // Gradient is (sigmoid(x) - y) / N, exact at x = 0 too.
  Tensor xg = x.clone().requires_grad_();
  nn::binary_cross_entropy_with_logits(xg, y).backward();
  CHECK(allclose(xg.grad(), (sigmoid(x) - y) / 3.0, 1e-5, 1e-7));

  // pos_weight 2: (1 - y) x + (1 + y) (log(1 + exp(-|x|)) + max(-x, 0)):
  // 2 log 2 = 1.386294; 2.126928; -1.5 + 1.5 * 3.048587 = 3.072880.
  Tensor pw = from_vector<float>({2});
  double mean = (1.3862944 + 2.1269280 + 3.0728810) / 3;
  Tensor xp = x.clone().requires_grad_();
  Tensor loss = nn::binary_cross_entropy_with_logits(xp, y, {.pos_weight = pw});
  CHECK(loss.item<double>() == Approx(mean));
  loss.backward();
  // d/dx = (1 - y) - w * sigmoid(-x), w = 1 + (p - 1) y.
  std::vector<double> g{(0 - 2 * 0.5) / 3, (1 - 1 / (1 + std::exp(2.0))) / 3,
                        (0.5 - 1.5 / (1 + std::exp(-3.0))) / 3};
  auto got = xp.grad().to_vector<float>();
  for (int i = 0; i < 3; ++i) CHECK(got[i] == Approx(g[i]).epsilon(1e-5));

  // No overflow at extreme logits.
  Tensor big = from_vector<float>({100, -100});
  auto l = nn::binary_cross_entropy_with_logits(big, from_vector<float>({0, 1}), {.reduction = Reduction::kNone})
               .to_vector<float>();
  CHECK(l[0] == Approx(100.0));
  CHECK(l[1] == Approx(100.0));
}

TEST_CASE("loss errors name the function, both operands and the caller's line", "[nn][loss][errors]") {
  try {
    nn::mse_loss(ones({3, 2}), ones({3}));
    FAIL("no error");
  } catch (const ShapeError& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("tl::nn::mse_loss"));
    CHECK_THAT(msg, Catch::Contains("input is [3, 2] float32"));
    CHECK_THAT(msg, Catch::Contains("target is [3] float32"));
    CHECK_THAT(msg, Catch::Contains("loss_test.cpp:"));
  }
  try {
    nn::cross_entropy(ones({4, 3}), ones({4}, {.dtype = kBool}));
    FAIL("no error");
  } catch (const DTypeError& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("tl::nn::cross_entropy"));
    CHECK_THAT(msg, Catch::Contains("[4] bool"));
    CHECK_THAT(msg, Catch::Contains("loss_test.cpp:"));
  }
  CHECK_THROWS_AS(nn::cross_entropy(ones({4, 3}), zeros({5}, {.dtype = kInt64})), ShapeError);
  CHECK_THROWS_AS(nn::cross_entropy(ones({4, 3}), ones({4, 2})), ShapeError);
  CHECK_THROWS_AS(nn::cross_entropy(ones({2, 3}), from_vector<int64_t>({0, 3})), ValueError);
  CHECK_THROWS_AS(nn::cross_entropy(ones({2, 3}), from_vector<int64_t>({0, 1}), {.label_smoothing = 2}),
                  ValueError);
  CHECK_THROWS_AS(nn::mse_loss(ones({2}), ones({2}, {.dtype = kInt64})), DTypeError);
  CHECK_THROWS_AS(nn::binary_cross_entropy_with_logits(ones({2, 3}), ones({2, 3}), {.pos_weight = ones({2})}),
                  ShapeError);
}
