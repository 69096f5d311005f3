// Class weights for cross_entropy and nll_loss, huber_loss, smooth_l1_loss, kl_div and
// binary_cross_entropy_with_logits' weight against hand-computed values (the arithmetic is in
// the comments), float64 gradchecks and error messages; clip_grad_value_; ModuleList and
// ModuleDict as children; tied weights in named_parameters and state dicts.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>

#include "tl/tl.h"

using namespace tl;
using nn::Reduction;

namespace {
// logits [[1, 2, 3], [1, 1, 1]]: -log_softmax row 0 = [2.40761, 1.40761, 0.40761],
// row 1 = log(3) everywhere.
Tensor logits2x3() { return from_vector<double>({1, 2, 3, 1, 1, 1}, {2, 3}); }
constexpr double kNll00 = 2.4076059644443806, kNll01 = 1.4076059644443806, kNll02 = 0.4076059644443806;
constexpr double kLog3 = 1.0986122886681098;
Tensor class_weight() { return from_vector<double>({1, 2, 3}); }

void check_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& in) {
  GradcheckResult r = gradcheck(fn, in);
  INFO(r.message);
  CHECK(r.ok);
}
}  // namespace

TEST_CASE("nll_loss and cross_entropy weigh each target by its class weight and divide the mean by the total weight",
          "[nn][loss][cross_entropy]") {
  Tensor target = from_vector<int64_t>({2, 0});
  // w[t] = [3, 1]: losses [3 * 0.40761, 1 * log 3]; mean = their sum / (3 + 1).
  const double l0 = 3 * kNll02, l1 = kLog3;
  Tensor w = class_weight();
  CHECK(nn::cross_entropy(logits2x3(), target, {.weight = w}).item<double>() == Approx((l0 + l1) / 4));
  CHECK(nn::cross_entropy(logits2x3(), target, {.reduction = Reduction::kSum, .weight = w}).item<double>() ==
        Approx(l0 + l1));
  auto none = nn::cross_entropy(logits2x3(), target, {.reduction = Reduction::kNone, .weight = w})
                  .to_vector<double>();
  CHECK(none[0] == Approx(l0));
  CHECK(none[1] == Approx(l1));
  Tensor log_probs = log_softmax(logits2x3(), 1);
  CHECK(nn::nll_loss(log_probs, target, {.weight = w}).item<double>() == Approx((l0 + l1) / 4));
  // An ignored target adds neither loss nor weight: mean = 3 * 0.40761 / 3.
  Tensor ignored = from_vector<int64_t>({2, -100});
  CHECK(nn::nll_loss(log_probs, ignored, {.weight = w}).item<double>() == Approx(kNll02));
  CHECK(nn::cross_entropy(logits2x3(), from_vector<int64_t>({2, 1}), {.ignore_index = 1, .weight = w})
            .item<double>() == Approx(kNll02));
  // A weight of another dtype is converted to the scores'.
  CHECK(nn::nll_loss(log_probs, target, {.weight = w.to(kFloat32)}).item<double>() == Approx((l0 + l1) / 4));
}

TEST_CASE("cross_entropy combines label smoothing with class weights as PyTorch does", "[nn][loss][cross_entropy]") {
  // eps = 0.3, C = 3. Per sample: 0.7 * w[t] * nll + 0.1 * sum_c w[c] * -log_softmax_c.
  // Row 0 (t = 2): 0.7 * 3 * 0.40761 + 0.1 * (2.40761 + 2 * 1.40761 + 3 * 0.40761).
  // Row 1 (t = 0): 0.7 * 1 * log 3 + 0.1 * 6 * log 3. Mean divides by w[2] + w[0] = 4.
  const double row0 = 0.7 * 3 * kNll02 + 0.1 * (kNll00 + 2 * kNll01 + 3 * kNll02);
  const double row1 = 0.7 * kLog3 + 0.1 * 6 * kLog3;
  Tensor target = from_vector<int64_t>({2, 0});
  nn::CrossEntropyOptions options{.label_smoothing = 0.3, .weight = class_weight()};
  CHECK(nn::cross_entropy(logits2x3(), target, options).item<double>() == Approx((row0 + row1) / 4));
  options.reduction = Reduction::kNone;
  auto none = nn::cross_entropy(logits2x3(), target, options).to_vector<double>();
  CHECK(none[0] == Approx(row0));
  CHECK(none[1] == Approx(row1));
  // Ignored targets: their row is 0 and the divisor is w[2] = 3.
  options.reduction = Reduction::kMean;
  CHECK(nn::cross_entropy(logits2x3(), from_vector<int64_t>({2, -100}), options).item<double>() ==
        Approx(row0 / 3));
}

TEST_CASE("cross_entropy with probability targets weighs each class and averages over samples",
          "[nn][loss][cross_entropy]") {
  // Row 0 target [0, 0, 1], row 1 target [1, 0, 0] (the one-hots of [2, 0]) with w = [1, 2, 3]:
  // the kMean divisor is N = 2, not the total weight.
  Tensor probs = from_vector<double>({0, 0, 1, 1, 0, 0}, {2, 3});
  CHECK(nn::cross_entropy(logits2x3(), probs, {.weight = class_weight()}).item<double>() ==
        Approx((3 * kNll02 + kLog3) / 2));
}

TEST_CASE("binary_cross_entropy_with_logits multiplies each element's loss by weight", "[nn][loss][bce]") {
  // logits 0: every loss is log 2; weight [1, 3] broadcasts over the rows.
  Tensor logits = zeros({2, 2}, {.dtype = kFloat64});
  Tensor target = from_vector<double>({1, 0, 0, 1}, {2, 2});
  auto none = nn::binary_cross_entropy_with_logits(logits, target,
                                                   {.reduction = Reduction::kNone, .weight = from_vector<double>({1, 3})})
                  .to_vector<double>();
  const double ln2 = std::log(2.0);
  REQUIRE(none.size() == 4);
  CHECK(none[0] == Approx(ln2));
  CHECK(none[1] == Approx(3 * ln2));
  CHECK(none[2] == Approx(ln2));
  CHECK(none[3] == Approx(3 * ln2));
  // With pos_weight 2 the positives (y = 1) count twice: [2, 3, 1, 6] * log 2, mean 3 log 2.
  CHECK(nn::binary_cross_entropy_with_logits(logits, target,
                                             {.pos_weight = from_vector<double>({2, 2}),
                                              .weight = from_vector<double>({1, 3})})
            .item<double>() == Approx(3 * ln2));
}

TEST_CASE("huber_loss and smooth_l1_loss are quadratic inside the threshold and linear outside", "[nn][loss]") {
  Tensor input = from_vector<double>({0, 0.5, -3});
  Tensor target = zeros({3}, {.dtype = kFloat64});
  auto none = [](const Tensor& t) { return t.to_vector<double>(); };
  // delta 1: [0, 0.5 * 0.25, 1 * (3 - 0.5)]; delta 2: [0, 0.125, 2 * (3 - 1)].
  CHECK(none(nn::huber_loss(input, target, {.reduction = Reduction::kNone})) == std::vector<double>{0, 0.125, 2.5});
  CHECK(none(nn::huber_loss(input, target, {.reduction = Reduction::kNone, .delta = 2})) ==
        std::vector<double>{0, 0.125, 4});
  CHECK(nn::huber_loss(input, target).item<double>() == Approx(2.625 / 3));
  CHECK(nn::huber_loss(input, target, {.reduction = Reduction::kSum}).item<double>() == Approx(2.625));
  // beta 2: [0, 0.25 / 4, 3 - 1]; beta 0 is l1_loss.
  CHECK(none(nn::smooth_l1_loss(input, target, {.reduction = Reduction::kNone, .beta = 2})) ==
        std::vector<double>{0, 0.0625, 2});
  CHECK(none(nn::smooth_l1_loss(input, target, {.reduction = Reduction::kNone, .beta = 0})) ==
        std::vector<double>{0, 0.5, 3});
  CHECK(nn::smooth_l1_loss(input, target).item<double>() == Approx((0.125 + 2.5) / 3));
  // Gradients: d - inside, +-delta outside; mean divides by 3.
  Tensor x = input.clone().requires_grad_();
  nn::huber_loss(x, target, {.reduction = Reduction::kSum, .delta = 2}).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0.5, -2});
}

TEST_CASE("kl_div takes log-probabilities and treats zero targets as zero", "[nn][loss]") {
  // input log([0.25, 0.75]) per row; rows target [0.5, 0.5] and [0, 1]:
  // row 0: 0.5 * log(0.5 / 0.25) + 0.5 * log(0.5 / 0.75); row 1: 0 + 1 * (0 - log 0.75).
  Tensor input = log(from_vector<double>({0.25, 0.75, 0.25, 0.75}, {2, 2}));
  Tensor target = from_vector<double>({0.5, 0.5, 0, 1}, {2, 2});
  const double row0 = 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0), row1 = -std::log(0.75);
  auto none = nn::kl_div(input, target, {.reduction = Reduction::kNone}).to_vector<double>();
  CHECK(none[0] == Approx(0.5 * std::log(2.0)));
  CHECK(none[2] == 0.0);
  CHECK(none[3] == Approx(row1));
  CHECK(nn::kl_div(input, target).item<double>() == Approx((row0 + row1) / 4));
  CHECK(nn::kl_div(input, target, {.reduction = Reduction::kBatchMean}).item<double>() == Approx((row0 + row1) / 2));
  CHECK(nn::kl_div(input, target, {.reduction = Reduction::kSum}).item<double>() == Approx(row0 + row1));
  // log_target: the same targets given as logs (row 0 only; log 0 is -inf, exp(-inf) = 0).
  Tensor log_target = log(from_vector<double>({0.5, 0.5}, {1, 2}));
  CHECK(nn::kl_div(input.slice(0, 0, 1), log_target, {.reduction = Reduction::kSum, .log_target = true})
            .item<double>() == Approx(row0));
  // The gradient w.r.t. the target is finite at target 0.
  Tensor t = target.clone().requires_grad_();
  nn::kl_div(input, t, {.reduction = Reduction::kSum}).backward();
  for (double g : t.grad().to_vector<double>()) CHECK(std::isfinite(g));
}

TEST_CASE("the new losses and options pass gradcheck in float64", "[nn][loss][autograd]") {
  manual_seed(3);
  const TensorOptions f64{.dtype = kFloat64};
  Tensor logits = randn({4, 3, 2}, f64).requires_grad_();
  Tensor index = from_vector<int64_t>({0, 2, 1, -100, 2, 2, 1, 0}, {4, 2});
  Tensor w = from_vector<double>({0.5, 2, 1.5});
  for (auto reduction : {Reduction::kNone, Reduction::kMean, Reduction::kSum}) {
    INFO("reduction " << static_cast<int>(reduction));
    check_gradcheck([&](const std::vector<Tensor>& in) {
      return nn::cross_entropy(in[0], index, {.reduction = reduction, .label_smoothing = 0.2, .weight = w});
    }, {logits});
    check_gradcheck([&](const std::vector<Tensor>& in) {
      return nn::nll_loss(log_softmax(in[0], 1), index, {.reduction = reduction, .weight = w});
    }, {logits});
  }
  Tensor probs = softmax(randn({4, 3, 2}, f64), 1);
  check_gradcheck([&](const std::vector<Tensor>& in) {
    return nn::cross_entropy(in[0], probs, {.label_smoothing = 0.1, .weight = w});
  }, {logits});
  // Differences kept away from the kinks at +-delta, where the derivative jumps.
  Tensor x = from_vector<double>({-2.5, -0.7, 0.3, 1.6, 0.9, -1.3}, {2, 3}).requires_grad_();
  Tensor y = from_vector<double>({0.1, 0.2, -0.4, 0.3, 0.0, 0.5}, {2, 3}).requires_grad_();
  check_gradcheck([](const std::vector<Tensor>& in) { return nn::huber_loss(in[0], in[1], {.delta = 1.5}); }, {x, y});
  check_gradcheck([](const std::vector<Tensor>& in) { return nn::smooth_l1_loss(in[0], in[1], {.beta = 0.5}); },
                  {x, y});
  Tensor bce_target = rand({2, 3}, f64).requires_grad_();
  check_gradcheck([](const std::vector<Tensor>& in) {
    return nn::binary_cross_entropy_with_logits(in[0], in[1], {.pos_weight = from_vector<double>({1, 2, 3}),
                                                               .weight = from_vector<double>({0.5, 1, 2})});
  }, {x, bce_target});
  Tensor log_q = log_softmax(randn({3, 4}, f64), 1).detach().requires_grad_();
  Tensor p = softmax(randn({3, 4}, f64), 1).detach().requires_grad_();
  check_gradcheck([](const std::vector<Tensor>& in) {
    return nn::kl_div(in[0], in[1], {.reduction = Reduction::kBatchMean});
  }, {log_q, p});
  check_gradcheck([](const std::vector<Tensor>& in) {
    return nn::kl_div(in[0], in[1], {.reduction = Reduction::kBatchMean, .log_target = true});
  }, {log_q, log(p.detach()).requires_grad_()});
}

TEST_CASE("errors in the new losses name the function, the problem and the caller's line", "[nn][loss][errors]") {
  auto message = [](const std::function<void()>& fn) -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  std::string msg = message([] { nn::cross_entropy(ones({4, 3}), zeros({4}, {.dtype = kInt64}), {.weight = ones({2})}); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::cross_entropy: weight must be one value per class, [3]"));
  CHECK_THAT(msg, Catch::Contains("got weight [2] float32"));
  CHECK_THAT(msg, Catch::Contains("loss_utils_test.cpp:"));
  msg = message([] { nn::nll_loss(ones({4, 3}), zeros({4}, {.dtype = kInt64}), {.weight = ones({3}, {.dtype = kInt64})}); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::nll_loss: weight must be floating point, got [3] int64"));
  msg = message([] { nn::mse_loss(ones({2}), ones({2}), {.reduction = Reduction::kBatchMean}); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::mse_loss: Reduction::kBatchMean is only for kl_div"));
  CHECK_THAT(msg, Catch::Contains("loss_utils_test.cpp:"));
  msg = message([] { nn::huber_loss(ones({2}), ones({2}), {.delta = 0}); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::huber_loss: delta must be > 0, got 0"));
  CHECK_THAT(msg, Catch::Contains("loss_utils_test.cpp:"));
  msg = message([] { nn::smooth_l1_loss(ones({2}), ones({2}), {.beta = -1}); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::smooth_l1_loss: beta must be >= 0, got -1"));
  msg = message([] { nn::kl_div(ones({2, 3}), ones({3, 2})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::kl_div: input and target shapes differ: input is [2, 3] float32, "
                                  "target is [3, 2] float32"));
  CHECK_THAT(msg, Catch::Contains("loss_utils_test.cpp:"));
  msg = message([] { nn::binary_cross_entropy_with_logits(ones({2, 3}), ones({2, 3}), {.weight = ones({2})}); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::binary_cross_entropy_with_logits: weight [2] float32 does not broadcast"));
  msg = message([] { optim::clip_grad_value_({ones({2})}, -1); });
  CHECK_THAT(msg, Catch::Contains("tl::optim::clip_grad_value_: clip_value must be >= 0, got -1"));
  CHECK_THAT(msg, Catch::Contains("loss_utils_test.cpp:"));
}

TEST_CASE("clip_grad_value_ clamps every gradient in place and skips parameters without one", "[optim][clip]") {
  Tensor a = zeros({4}, {.dtype = kFloat64}).requires_grad_();
  Tensor b = zeros({2}).requires_grad_();
  Tensor unused = zeros({3}).requires_grad_();
  (a * from_vector<double>({-3, -0.5, 0.25, 7})).sum().backward();
  (b * from_vector<float>({2, -2})).sum().backward();
  Tensor a_grad = a.grad();
  optim::clip_grad_value_({a, b, unused}, 1.0);
  CHECK(a.grad().to_vector<double>() == std::vector<double>{-1, -0.5, 0.25, 1});
  CHECK(a.grad().is_same(a_grad));  // in place
  CHECK(b.grad().to_vector<float>() == std::vector<float>{1, -1});
  CHECK_FALSE(unused.grad().defined());
}

TEST_CASE("ModuleList registers its layers as 0, 1, ... and iterates them in order", "[nn][module][containers]") {
  nn::ModuleList list;
  list.append(nn::Linear(4, 3)).append(nn::ReLU()).push_back(nn::Linear(3, 2, false));
  REQUIRE(list.size() == 3);
  std::vector<std::string> names;
  for (auto& [name, t] : list.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight"});
  CHECK(list.state_dict().size() == 3);
  CHECK(list.at<nn::Linear>(2).out_features == 2);
  CHECK(list[1].type_name() == "ReLU");
  std::vector<std::string> types;
  Tensor x = ones({5, 4});
  for (nn::Module& layer : list) {
    types.push_back(layer.type_name());
    x = layer(x);
  }
  CHECK(types == std::vector<std::string>{"Linear", "ReLU", "Linear"});
  CHECK(x.shape() == Shape{5, 2});
  list.eval();
  for (const nn::Module& layer : list) CHECK_FALSE(layer.is_training());
  CHECK_THROWS_AS(list[3], ValueError);
}

TEST_CASE("ModuleDict registers its layers by key in insertion order", "[nn][module][containers]") {
  struct Heads : nn::Module {
    nn::ModuleDict heads;
    Heads() {
      nn::ModuleDict d;
      d.insert("cls", nn::Linear(4, 3));
      d.insert("box", nn::Linear(4, 2, false));
      heads = register_module("heads", d);
    }
  } model;
  CHECK(model.heads.keys() == std::vector<std::string>{"cls", "box"});
  CHECK(model.heads.contains("box"));
  CHECK_FALSE(model.heads.contains("mask"));
  std::vector<std::string> names;
  for (auto& [name, t] : model.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"heads.cls.weight", "heads.cls.bias", "heads.box.weight"});
  CHECK(model.state_dict().count("heads.box.weight") == 1);
  CHECK(model.heads.at<nn::Linear>("box").out_features == 2);
  Tensor out = model.heads["cls"](ones({1, 4}));
  CHECK(out.shape() == Shape{1, 3});
  std::vector<std::string> keys;
  for (const auto& [key, layer] : model.heads) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"cls", "box"});
  // Replacing a key keeps its position; parameters follow.
  model.heads.insert("cls", nn::Linear(4, 5));
  CHECK(model.heads.keys() == std::vector<std::string>{"cls", "box"});
  CHECK(model.heads.at<nn::Linear>("cls").out_features == 5);
  model.eval();
  CHECK_FALSE(model.heads["box"].is_training());
  CHECK_THAT(nn::to_string(model), Catch::Contains("(box): Linear(in_features=4, out_features=2, bias=false)"));
  try {
    (void)model.heads["mask"];
    FAIL("no error");
  } catch (const ValueError& e) {
    CHECK_THAT(e.what(), Catch::Contains("tl::nn::ModuleDict[\"mask\"]: no such key; it holds \"cls\", \"box\""));
  }
  CHECK_THROWS_AS(model.heads.insert("a.b", nn::ReLU()), ValueError);
}

TEST_CASE("a tied weight is one parameter, listed once by named_parameters and under both names in state_dict",
          "[nn][module][state]") {
  // A language model whose output projection reuses the embedding table (weight tying). Tie
  // before registering: a registered child is a handle to the same layer, but the Linear's
  // `weight` member of the original and the registered copy are separate Tensor handles.
  struct TiedLm : nn::Module {
    nn::Embedding embedding{10, 4};
    nn::Linear decoder{4, 10, false};
    TiedLm() {
      decoder.weight = decoder.register_parameter("weight", embedding.weight);
      embedding = register_module("embedding", embedding);
      decoder = register_module("decoder", decoder);
    }
    Tensor forward(const Tensor& tokens) override { return decoder(embedding(tokens)); }
  } model;
  REQUIRE(model.decoder.weight.is_same(model.embedding.weight));
  auto named = model.named_parameters();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "embedding.weight");
  CHECK(model.num_parameters() == 40);
  nn::StateDict state = model.state_dict();
  CHECK(state.size() == 2);
  CHECK(state.count("embedding.weight") == 1);
  CHECK(state.count("decoder.weight") == 1);
  // Both uses contribute to the one gradient.
  model(from_vector<int64_t>({1, 3})).sum().backward();
  Tensor grad = model.embedding.weight.grad();
  REQUIRE(grad.defined());
  CHECK(grad.is_same(model.decoder.weight.grad()));
  // A PyTorch-style state dict with both keys loads (strict), into the one tensor.
  nn::StateDict saved;
  saved["embedding.weight"] = full({10, 4}, 0.5);
  saved["decoder.weight"] = full({10, 4}, 0.5);
  model.load_state_dict(saved);
  CHECK(model.decoder.weight.to_vector<float>()[7] == 0.5f);
  saved.erase("decoder.weight");
  CHECK_THROWS_AS(model.load_state_dict(saved), ValueError);
}
