// Whole models against PyTorch: an MLP and a CNN built with tl::nn from a fixed seed are
// saved as .npy (weights, inputs, targets), loaded into the same torch.nn models by
// model_reference.py (run at test time with the PyTorch at TL_TORCH_PYTHON), and both sides
// train for three SGD-momentum steps in float32. The losses, every parameter's gradient from
// the first backward, and every parameter and BatchNorm statistic after the last step must
// agree to 1e-5 relative (see Compare for what "relative" means here).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "interop_util.h"
#include "tl/io.h"
#include "tl/nn.h"
#include "tl/optim.h"
#include "tl/tl.h"

using namespace tl;
namespace fs = std::filesystem;

namespace {

constexpr int kSteps = 3;  // STEPS in model_reference.py
const optim::SGDOptions kSgd{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01};  // SGD_OPTIONS there
constexpr double kRelTol = 1e-5;


// The models of model_reference.py, layer for layer (so state-dict keys match: "0.weight").
nn::Sequential make_mlp() {
  return nn::Sequential(nn::Linear(20, 64), nn::ReLU(),  //
                        nn::Linear(64, 64), nn::Tanh(),  //
                        nn::Linear(64, 5));
}

nn::Sequential make_cnn() {
  // The first conv has no bias: BatchNorm subtracts the channel mean right after it, so a
  // bias there would have a gradient of exactly zero in exact arithmetic, leaving only
  // rounding noise to compare (the second conv's bias is compared).
  nn::Sequential model(nn::Conv2d(1, 8, 3, {.padding = 1, .bias = false}), nn::BatchNorm2d(8), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(8, 16, 3), nn::ReLU(), nn::AvgPool2d(2),  //
                       nn::Flatten(), nn::LayerNorm({64}), nn::GELU(),    //
                       nn::Linear(64, 10));
  // Move the norm layers' affine parameters off their ones/zeros start, so that a backward
  // that forgot to scale by the weight, or dropped the bias, shows in the comparison.
  NoGradGuard no_grad;
  for (size_t i : {1, 8}) {
    for (auto& [name, p] : model[i].named_parameters()) {
      Tensor r = uniform(p.shape(), -0.5, 0.5);
      if (name == "weight") r = add(r, full(p.shape(), 1.0));
      p.copy_(r);
    }
  }
  return model;
}

struct ModelCase {
  std::string name;  // a key of MODELS in model_reference.py
  std::function<nn::Sequential()> make;
  Shape input_shape;
  int64_t classes;
  uint64_t seed;
};

// The largest error of `got` against `want`, both relative to `scale`; see Compare.
double max_scaled_error(const std::vector<double>& got, const std::vector<double>& want, double scale,
                        size_t* worst = nullptr) {
  double max_err = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::abs(got[i] - want[i]) / scale;
    if (!(err <= max_err)) {  // also catches NaN
      max_err = err;
      if (worst) *worst = i;
    }
  }
  return max_err;
}

// Checks tl's `got` against PyTorch's float32 `want` elementwise with the mixed criterion
//   |got - want| <= 1e-5 * max(|want|, scale),  scale = max |want| over the tensor,
// which (as scale >= |want|) is 1e-5 relative to the tensor's largest element. A plain
// per-element relative error is the wrong yardstick for sums computed in float32: a
// gradient entry or a parameter update near zero is often a cancellation of terms far
// larger than itself, and each side's summation order leaves an absolute rounding error
// proportional to those terms (about 6e-8 times their size, per term), not to the small
// result. The tensor's largest element is what those terms are measured against, so it
// is the scale. `reference64` is PyTorch's float64 run: its distance to `want` (torch's
// own float32 rounding) is reported next to tl's, so a failure shows whether tl is off by
// rounding or by more.
void Compare(const std::string& label, const Tensor& got, const Tensor& want, const Tensor& reference64) {
  INFO(label);
  REQUIRE(got.shape() == want.shape());
  REQUIRE(reference64.shape() == want.shape());
  CHECK(want.dtype() == kFloat32);
  std::vector<double> g = got.to_vector<double>();
  std::vector<double> w = want.to_vector<double>();
  std::vector<double> r = reference64.to_vector<double>();
  double scale = 0;
  for (double v : w) scale = std::max(scale, std::abs(v));
  REQUIRE(scale > 0);  // an all-zero reference would make the check vacuous
  size_t worst = 0;
  double max_rel_error = max_scaled_error(g, w, scale, &worst);
  double torch32_vs_64 = max_scaled_error(w, r, scale);
  double tl_vs_64 = max_scaled_error(g, r, scale);
  CAPTURE(scale, max_rel_error, torch32_vs_64, tl_vs_64, worst, g[worst], w[worst]);
  CHECK(max_rel_error <= kRelTol);
}

struct Run {
  std::vector<float> losses;
  std::vector<std::pair<std::string, Tensor>> first_grads;  // copies taken before the first step
  nn::StateDict final_state;
};

// kSteps of: zero grads, forward, cross entropy, backward, SGD step (training mode).
Run train(nn::Sequential& model, const std::vector<Tensor>& xs, const std::vector<Tensor>& ts) {
  model.train();
  optim::SGD opt(model.parameters(), kSgd);
  Run run;
  for (int k = 0; k < kSteps; ++k) {
    opt.zero_grad();
    Tensor loss = nn::cross_entropy(model(xs[k]), ts[k]);
    loss.backward();
    run.losses.push_back(loss.item<float>());
    if (k == 0) {
      for (auto& [name, p] : model.named_parameters()) {
        REQUIRE(p.grad().defined());
        run.first_grads.emplace_back(name, p.grad().clone());
      }
    }
    opt.step();
  }
  run.final_state = model.state_dict();
  return run;
}

void check_model_against_torch(const ModelCase& c) {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  test::TempDir dir("tl_interop_model_");
  auto file = [&](const std::string& stem) { return (dir.path / (c.name + "." + stem + ".npy")).string(); };

  manual_seed(c.seed);
  nn::Sequential model = c.make();
  std::vector<Tensor> xs, ts;
  for (int k = 0; k < kSteps; ++k) {
    xs.push_back(randn(c.input_shape));
    ts.push_back(randint(0, c.classes, {c.input_shape[0]}));
    save_npy(file("x" + std::to_string(k)), xs.back());
    save_npy(file("t" + std::to_string(k)), ts.back());
  }
  nn::StateDict init;
  for (auto& [key, t] : model.state_dict()) {
    save_npy(file("init." + key), t);
    init[key] = t.clone();
  }

  std::string command =
      std::string(TL_TORCH_PYTHON) + " " + TL_MODEL_REFERENCE_SCRIPT + " " + dir.path.string() + " " + c.name;
  REQUIRE(std::system(command.c_str()) == 0);

  Run run = train(model, xs, ts);
  auto want = [&](const std::string& stem) { return load_npy(file("f32." + stem)); };
  auto want64 = [&](const std::string& stem) { return load_npy(file("f64." + stem)); };

  Compare("losses of the " + std::to_string(kSteps) + " steps", from_vector(run.losses, {kSteps}), want("loss"),
          want64("loss"));
  for (auto& [key, grad] : run.first_grads) Compare("gradient of " + key, grad, want("grad." + key), want64("grad." + key));
  for (auto& [key, t] : run.final_state) {
    if (t.dtype() == kInt64) {  // BatchNorm's num_batches_tracked
      INFO(key);
      CHECK(t.item<int64_t>() == kSteps);
      CHECK(load_npy(file("f32.final." + key)).item<int64_t>() == kSteps);
      continue;
    }
    Compare("after " + std::to_string(kSteps) + " steps: " + key, t, want("final." + key), want64("final." + key));
    INFO(key << " moved in training");  // the comparison after training is not vacuous
    CHECK(amax(abs(sub(t, init[key]))).item<float>() > 1e-3f * amax(abs(t)).item<float>());
  }
}

}  // namespace

TEST_CASE("an MLP's loss, gradients and SGD steps match torch.nn in float32", "[interop][nn]") {
  check_model_against_torch({"mlp", make_mlp, {16, 20}, 5, 7});
}

TEST_CASE("a CNN with batch norm, layer norm and GELU matches torch.nn in float32", "[interop][nn]") {
  check_model_against_torch({"cnn", make_cnn, {4, 1, 12, 12}, 10, 11});
}
