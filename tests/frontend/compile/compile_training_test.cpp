// Whole training steps under tl::compile (forward, loss.backward(), optimizer step, all in
// one traced program through the full IR pipeline) give the eager loss curve and parameters.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <functional>

#include "tl/tl.h"

using namespace tl;

namespace {

struct Curve {
  std::vector<double> losses;
  std::vector<Tensor> params;
  detail::CompiledFunction::Stats stats;
};

using MakeModel = std::function<nn::Sequential()>;
using MakeOpt = std::function<std::unique_ptr<optim::Optimizer>(nn::Sequential&)>;

Curve train(bool compiled, const MakeModel& make_model, const MakeOpt& make_opt, int steps,
            const std::function<void(optim::Optimizer&, int)>& between = nullptr, double clip = 0) {
  manual_seed(42);
  nn::Sequential model = make_model();
  auto opt = make_opt(model);
  manual_seed(7);
  Tensor x = randn({16, 1, 8, 8});
  Tensor y = randint(0, 3, {16});
  auto body = [&](Tensor xb, Tensor yb) {
    Tensor loss = nn::cross_entropy(model(xb), yb);
    opt->zero_grad();
    loss.backward();
    if (clip > 0) optim::clip_grad_norm_(model.parameters(), clip);
    opt->step();
    return loss;
  };
  auto step = compile(body, {.name = "train_step"});
  Curve c;
  for (int i = 0; i < steps; ++i) {
    Tensor loss = compiled ? step(x, y) : body(x, y);
    c.losses.push_back(loss.item<double>());
    if (between) between(*opt, i);
  }
  for (const Tensor& p : model.parameters()) c.params.push_back(p.detach().clone());
  c.stats = step.stats();
  return c;
}

void check_same(const Curve& eager, const Curve& compiled, double rtol = 1e-5) {
  REQUIRE(eager.losses.size() == compiled.losses.size());
  for (size_t i = 0; i < eager.losses.size(); ++i) {
    INFO("step " << i);
    CHECK(compiled.losses[i] == Approx(eager.losses[i]).epsilon(rtol));
  }
  REQUIRE(eager.params.size() == compiled.params.size());
  for (size_t i = 0; i < eager.params.size(); ++i) {
    INFO("parameter " << i);
    CHECK(allclose(compiled.params[i], eager.params[i], rtol, 1e-6));
  }
  // The steps after warm-up and tracing ran the compiled program, traced once.
  CHECK(compiled.stats.compiled_calls == static_cast<int64_t>(eager.losses.size()) - 2);
  CHECK(compiled.stats.traces == 1);
}

nn::Sequential mlp() {
  return nn::Sequential(nn::Flatten(), nn::Linear(64, 32), nn::Tanh(), nn::Linear(32, 3));
}

// No conv bias before BatchNorm: its gradient is rounding noise, which Adam's normalization
// would turn into updates of order lr in either run.
nn::Sequential cnn() {
  return nn::Sequential(nn::Conv2d(1, 4, 3, {.padding = 1, .bias = false}), nn::BatchNorm2d(4), nn::ReLU(), nn::MaxPool2d(2),
                        nn::Flatten(), nn::Dropout(0.25), nn::Linear(64, 3));
}

}  // namespace

TEST_CASE("compiled training: MLP with SGD momentum matches eager", "[compile][train]") {
  auto sgd = [](nn::Sequential& m) {
    return std::make_unique<optim::SGD>(m.parameters(), optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
  };
  check_same(train(false, mlp, sgd, 8), train(true, mlp, sgd, 8));
}

TEST_CASE("compiled training: Adam with a step schedule follows the learning rate without re-tracing",
          "[compile][train]") {
  auto adam = [](nn::Sequential& m) {
    return std::make_unique<optim::Adam>(m.parameters(), optim::AdamOptions{.lr = 0.01});
  };
  auto schedule = [](optim::Optimizer& opt, int i) { opt.set_lr(0.01 * std::pow(0.5, (i + 1) / 3)); };
  Curve eager = train(false, mlp, adam, 9, schedule);
  Curve compiled = train(true, mlp, adam, 9, schedule);
  check_same(eager, compiled, 1e-4);
}

TEST_CASE("compiled training: CNN with BatchNorm, dropout, AdamW and gradient clipping matches eager",
          "[compile][train]") {
  auto adamw = [](nn::Sequential& m) {
    return std::make_unique<optim::AdamW>(m.parameters(), optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1});
  };
  Curve eager = train(false, cnn, adamw, 6, nullptr, 0.5);
  Curve compiled = train(true, cnn, adamw, 6, nullptr, 0.5);
  check_same(eager, compiled, 1e-4);
}

TEST_CASE("compiled through the pipeline: a branch on .item() re-traces per value", "[compile]") {
  Tensor w = full({3}, 0.5);
  w.requires_grad_();
  auto body = [&](Tensor x) {
    Tensor s = (x * w).sum();
    Tensor out = s.item<float>() > 0 ? s * 2.0 : s * s;  // data-dependent control flow
    out.backward();
    return out;
  };
  auto f = compile(body, {.warmup_calls = 0});
  for (double sign : {1.0, 1.0, -1.0, -1.0, 1.0, -1.0}) {
    Tensor x = full({3}, sign);
    w.set_grad(Tensor());
    Tensor got = f(x);
    Tensor got_grad = w.grad();
    w.set_grad(Tensor());
    Tensor want = body(x);
    CHECK(allclose(got, want));
    CHECK(allclose(got_grad, w.grad()));
  }
  CHECK(f.stats().traces == 2);
  CHECK(f.stats().compiled_calls == 4);
}

TEST_CASE("compiled through the pipeline: TL_DUMP_IR writes the IR around every pass", "[compile]") {
  auto dir = std::filesystem::temp_directory_path() / ("tl_dump_ir_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  setenv("TL_DUMP_IR", dir.c_str(), 1);
  auto f = compile([](Tensor x) { return exp(x) * 2.0; }, {.name = "dumped", .warmup_calls = 0});
  f(ones({2}));
  unsetenv("TL_DUMP_IR");
  int before = 0, after = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    before += name.find(".before.mlir") != std::string::npos;
    after += name.find(".after.mlir") != std::string::npos;
  }
  CHECK(before >= 4);
  CHECK(after == before);
  std::filesystem::remove_all(dir);
}
