// tl's losses with class weights, label smoothing, ignore_index, pos_weight, delta/beta,
// log_target and every reduction against torch.nn.functional (PyTorch 1.13 from
// python3-torch): the loss and the gradient of a random weighting of it, in float64. The
// reference is computed at test time by loss_reference.py.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <map>
#include <string>

#include "interop_util.h"
#include "tl/tl.h"

using namespace tl;
using nn::Reduction;

namespace {

using Operands = std::map<std::string, Tensor>;

struct Case {
  std::string name;   // as in loss_reference.py's CASES
  std::string first;  // the operand the gradient is taken for
  std::function<Tensor(const Tensor& first, const Operands& o)> fn;
};

std::vector<Case> cases() {
  constexpr auto kSum = Reduction::kSum, kNone = Reduction::kNone, kBatchMean = Reduction::kBatchMean;
  return {
      {"ce_weight_mean", "x", [](auto& x, auto& o) { return nn::cross_entropy(x, o.at("t"), {.weight = o.at("w5")}); }},
      {"ce_weight_sum", "x",
       [=](auto& x, auto& o) { return nn::cross_entropy(x, o.at("t"), {.reduction = kSum, .weight = o.at("w5")}); }},
      {"ce_weight_none", "x",
       [=](auto& x, auto& o) { return nn::cross_entropy(x, o.at("t"), {.reduction = kNone, .weight = o.at("w5")}); }},
      {"ce_weight_ignore3_mean", "x",
       [](auto& x, auto& o) { return nn::cross_entropy(x, o.at("ti"), {.ignore_index = 3, .weight = o.at("w5")}); }},
      {"ce_smooth_mean", "x", [](auto& x, auto& o) { return nn::cross_entropy(x, o.at("t"), {.label_smoothing = 0.15}); }},
      {"ce_smooth_weight_mean", "x",
       [](auto& x, auto& o) {
         return nn::cross_entropy(x, o.at("t"), {.label_smoothing = 0.15, .weight = o.at("w5")});
       }},
      {"ce_smooth_weight_sum", "x",
       [=](auto& x, auto& o) {
         return nn::cross_entropy(x, o.at("t"), {.reduction = kSum, .label_smoothing = 0.15, .weight = o.at("w5")});
       }},
      {"ce_smooth_weight_none", "x",
       [=](auto& x, auto& o) {
         return nn::cross_entropy(x, o.at("t"), {.reduction = kNone, .label_smoothing = 0.15, .weight = o.at("w5")});
       }},
      {"ce_smooth_weight_ignore3_mean", "x",
       [](auto& x, auto& o) {
         return nn::cross_entropy(x, o.at("ti"), {.ignore_index = 3, .label_smoothing = 0.4, .weight = o.at("w5")});
       }},
      {"ce_smooth_weight_3d_mean", "x3",
       [](auto& x, auto& o) {
         return nn::cross_entropy(x, o.at("t3"), {.label_smoothing = 0.25, .weight = o.at("w4")});
       }},
      {"ce_weight_3d_none", "x3",
       [=](auto& x, auto& o) { return nn::cross_entropy(x, o.at("t3"), {.reduction = kNone, .weight = o.at("w4")}); }},
      {"ce_prob_weight_mean", "x", [](auto& x, auto& o) { return nn::cross_entropy(x, o.at("p"), {.weight = o.at("w5")}); }},
      {"ce_prob_weight_none", "x",
       [=](auto& x, auto& o) { return nn::cross_entropy(x, o.at("p"), {.reduction = kNone, .weight = o.at("w5")}); }},
      {"ce_prob_smooth_weight_sum", "x",
       [=](auto& x, auto& o) {
         return nn::cross_entropy(x, o.at("p"), {.reduction = kSum, .label_smoothing = 0.2, .weight = o.at("w5")});
       }},
      {"nll_weight_mean", "x", [](auto& x, auto& o) { return nn::nll_loss(x, o.at("t"), {.weight = o.at("w5")}); }},
      {"nll_weight_sum", "x",
       [=](auto& x, auto& o) { return nn::nll_loss(x, o.at("t"), {.reduction = kSum, .weight = o.at("w5")}); }},
      {"nll_weight_none", "x",
       [=](auto& x, auto& o) { return nn::nll_loss(x, o.at("t"), {.reduction = kNone, .weight = o.at("w5")}); }},
      {"nll_ignore3_mean", "x", [](auto& x, auto& o) { return nn::nll_loss(x, o.at("ti"), {.ignore_index = 3}); }},
      {"nll_weight_3d_mean", "x3", [](auto& x, auto& o) { return nn::nll_loss(x, o.at("t3"), {.weight = o.at("w4")}); }},
      {"bce_weight_mean", "bx",
       [](auto& x, auto& o) { return nn::binary_cross_entropy_with_logits(x, o.at("by"), {.weight = o.at("bw")}); }},
      {"bce_pos_weight_weight_mean", "bx",
       [](auto& x, auto& o) {
         return nn::binary_cross_entropy_with_logits(x, o.at("by"), {.pos_weight = o.at("pw"), .weight = o.at("bw")});
       }},
      {"bce_pos_weight_weight_sum", "bx",
       [=](auto& x, auto& o) {
         return nn::binary_cross_entropy_with_logits(
             x, o.at("by"), {.reduction = kSum, .pos_weight = o.at("pw"), .weight = o.at("bw")});
       }},
      {"bce_pos_weight_weight_none", "bx",
       [=](auto& x, auto& o) {
         return nn::binary_cross_entropy_with_logits(
             x, o.at("by"), {.reduction = kNone, .pos_weight = o.at("pw"), .weight = o.at("bw")});
       }},
      {"huber_mean", "hx", [](auto& x, auto& o) { return nn::huber_loss(x, o.at("hy")); }},
      {"huber_delta2.5_none", "hx",
       [=](auto& x, auto& o) { return nn::huber_loss(x, o.at("hy"), {.reduction = kNone, .delta = 2.5}); }},
      {"huber_delta0.5_sum", "hx",
       [=](auto& x, auto& o) { return nn::huber_loss(x, o.at("hy"), {.reduction = kSum, .delta = 0.5}); }},
      {"smooth_l1_mean", "hx", [](auto& x, auto& o) { return nn::smooth_l1_loss(x, o.at("hy")); }},
      {"smooth_l1_beta0.5_none", "hx",
       [=](auto& x, auto& o) { return nn::smooth_l1_loss(x, o.at("hy"), {.reduction = kNone, .beta = 0.5}); }},
      {"smooth_l1_beta0_sum", "hx",
       [=](auto& x, auto& o) { return nn::smooth_l1_loss(x, o.at("hy"), {.reduction = kSum, .beta = 0.0}); }},
      {"kl_mean", "kx", [](auto& x, auto& o) { return nn::kl_div(x, o.at("kt")); }},
      {"kl_batchmean", "kx", [=](auto& x, auto& o) { return nn::kl_div(x, o.at("kt"), {.reduction = kBatchMean}); }},
      {"kl_sum", "kx", [=](auto& x, auto& o) { return nn::kl_div(x, o.at("kt"), {.reduction = kSum}); }},
      {"kl_none", "kx", [=](auto& x, auto& o) { return nn::kl_div(x, o.at("kt"), {.reduction = kNone}); }},
      {"kl_log_target_batchmean", "kx",
       [=](auto& x, auto& o) { return nn::kl_div(x, o.at("klt"), {.reduction = kBatchMean, .log_target = true}); }},
      {"kl_log_target_none", "kx",
       [=](auto& x, auto& o) { return nn::kl_div(x, o.at("klt"), {.reduction = kNone, .log_target = true}); }},
      {"kl_target_grad_batchmean", "kt",
       [=](auto& t, auto& o) { return nn::kl_div(o.at("kx"), t, {.reduction = kBatchMean}); }},
  };
}


}  // namespace

TEST_CASE("losses with weights, smoothing, ignore_index and every reduction match torch.nn.functional with gradients",
          "[interop][nn][loss]") {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  test::TempDir dir("tl_interop_loss_");
  manual_seed(21);
  const TensorOptions f64{.dtype = kFloat64};
  Operands o;
  o["x"] = randn({6, 5}, f64) * 2.0;
  // Class indices with one ignored (-100) target; for the ignore_index = 3 cases, two of class 3.
  o["t"] = from_vector<int64_t>({0, 3, 4, -100, 2, 1});
  o["ti"] = from_vector<int64_t>({0, 3, 4, 2, 3, 1});
  o["w5"] = rand({5}, f64) + 0.5;
  o["x3"] = randn({3, 4, 2}, f64);
  o["t3"] = from_vector<int64_t>({0, 3, -100, 1, 2, 2}, {3, 2});
  o["w4"] = rand({4}, f64) + 0.5;
  o["p"] = softmax(randn({6, 5}, f64), 1);
  o["bx"] = randn({4, 3}, f64) * 3.0;
  o["by"] = rand({4, 3}, f64);
  o["bw"] = rand({3}, f64) + 0.5;
  o["pw"] = rand({3}, f64) * 3.0;
  // Differences on both sides of every delta and beta (away from the kinks themselves).
  o["hx"] = randn({40}, f64) * 2.0;
  o["hy"] = randn({40}, f64);
  o["kx"] = log_softmax(randn({4, 5}, f64), 1);
  // Probabilities with exact zeros (target * log(target) is 0 there).
  Tensor kt = softmax(randn({4, 5}, f64), 1);
  o["kt"] = where(gt(rand({4, 5}, f64), full({}, 0.7, f64)), zeros({4, 5}, f64), kt);
  o["klt"] = log_softmax(randn({4, 5}, f64), 1);
  for (const auto& [name, t] : o) save_npy((dir.path / (name + ".npy")).string(), t);

  const std::vector<Case> all = cases();
  std::vector<Tensor> weightings;
  for (const Case& c : all) {
    Tensor r = randn(c.fn(o.at(c.first), o).shape(), f64);
    weightings.push_back(r);
    save_npy((dir.path / (c.name + ".r.npy")).string(), r);
  }
  const std::string command = std::string(TL_TORCH_PYTHON) + " " + TL_LOSS_REFERENCE_SCRIPT + " " + dir.path.string();
  REQUIRE(std::system(command.c_str()) == 0);
  for (size_t k = 0; k < all.size(); ++k) {
    const Case& c = all[k];
    INFO(c.name);
    Tensor x = o.at(c.first).detach().requires_grad_();
    Tensor y = c.fn(x, o);
    (y * weightings[k]).sum().backward();
    CHECK(y.dtype() == kFloat64);
    CHECK(test::max_relative_error(y, load_npy((dir.path / (c.name + ".y.npy")).string())) < 1e-9);
    REQUIRE(x.grad().defined());
    Tensor want = load_npy((dir.path / (c.name + ".g.npy")).string());
    if (c.first == "kt") {
      // kl_div's gradient with respect to a zero target: PyTorch's is -inf (log 0); tl's is
      // finite (a zero target contributes nothing). Compared where the target is positive.
      Tensor positive = gt(x.detach(), zeros_like(x.detach()));
      for (double g : x.grad().to_vector<double>()) CHECK(std::isfinite(g));
      want = where(positive, want, x.grad());
    }
    CHECK(test::max_relative_error(x.grad(), want) < 1e-9);
  }
}
