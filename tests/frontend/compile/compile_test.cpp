// tl::compile without the IR compiler (pipeline "none"): tracing, captures, in-place
// writebacks, guards and re-tracing, randomness, refusals. The full pipeline (autodiff,
// functionalization, folding) is tested in compile_pipeline_test.cpp.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "tl/compile.h"
#include "tl/tl.h"

using namespace tl;

namespace {
CompileOptions raw() { return {.pipeline = "none"}; }
}  // namespace

TEST_CASE("compile: a traced forward reads captured parameters at every call", "[compile]") {
  manual_seed(1);
  Tensor w = randn({4, 3});
  Tensor b = randn({3});
  auto eager = [&](Tensor x) { return relu(matmul(x, w) + b).sum(); };
  auto f = compile(eager, raw());
  for (int i = 0; i < 5; ++i) {
    Tensor x = randn({2, 4});
    Tensor got = f(x);
    CHECK(allclose(got, eager(x)));
    w.add_(ones_like(w), 0.1);  // changed outside: the compiled program must see it
  }
  CHECK(f.stats().compiled_calls == 3);
  CHECK(f.stats().traces == 1);
}

TEST_CASE("compile: in-place updates of captured state are written back", "[compile]") {
  Tensor state = zeros({3});
  Tensor reference = zeros({3});
  auto body = [](Tensor& s, const Tensor& x) {
    s.add_(x);
    s.mul_(0.5);
    return s * 2.0;
  };
  auto f = compile([&](Tensor x) { return body(state, x); }, raw());
  for (int i = 0; i < 6; ++i) {
    Tensor x = full({3}, static_cast<double>(i + 1));
    Tensor got = f(x);
    Tensor want = body(reference, x);
    CHECK(equal(got, want));
    CHECK(equal(state, reference));
  }
  CHECK(f.stats().compiled_calls == 4);
}

TEST_CASE("compile: a branch on .item() re-traces when the value changes", "[compile]") {
  auto eager = [](Tensor x) {
    if (x.sum().item<float>() > 0) return x * 2.0;
    return x * 3.0;
  };
  auto f = compile(eager, raw());
  std::vector<double> signs = {1, 1, 1, -1, -1, 1, -1};
  for (double s : signs) {
    Tensor x = full({2}, s);
    CHECK(equal(f(x), eager(x)));
  }
  // Traced once for each sign; the guard then picks the right program.
  CHECK(f.stats().traces == 2);
  CHECK(f.stats().guard_failures > 0);
}

TEST_CASE("compile: a new argument shape re-traces and explain says why", "[compile]") {
  auto f = compile([](Tensor x) { return exp(x).sum(Shape{0}); }, raw());
  f(ones({2, 3}));
  f(ones({2, 3}));
  f(ones({2, 3}));
  CHECK(f.stats().compiled_calls == 1);
  std::string report = explain(f, ones({5, 3}));
  CHECK_THAT(report, Catch::Contains("would re-trace: argument 0 is [5, 3] float32, traced as [2, 3] float32"));
  CHECK(equal(f(ones({5, 3})), exp(ones({5, 3})).sum(Shape{0})));
  CHECK(f.stats().traces == 2);
  CHECK_THAT(explain(f, ones({5, 3})), Catch::Contains("applies"));
}

TEST_CASE("compile: random draws match eager draws and advance the generator", "[compile]") {
  auto body = [](Tensor x) { return x * rand(x.shape()) + randn({3}); };
  auto f = compile(body, raw());
  Tensor x = ones({3});
  manual_seed(7);
  std::vector<Tensor> compiled;
  for (int i = 0; i < 5; ++i) compiled.push_back(f(x));
  manual_seed(7);
  for (int i = 0; i < 5; ++i) CHECK(equal(compiled[i], body(x)));
  CHECK(f.stats().compiled_calls == 3);
}

TEST_CASE("compile: untraceable constructs name the user's line", "[compile]") {
  auto f = compile([](Tensor x) { return index_select(x, 0, randperm(x.size(0))); }, raw());
  f(ones({4}));
  try {
    f(ones({4}));
    FAIL("expected CompileError");
  } catch (const CompileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("randperm") && Catch::Contains("compile_test.cpp"));
  }
}

TEST_CASE("compile: module mode is a guard", "[compile]") {
  manual_seed(3);
  nn::Sequential model(nn::Linear(4, 4), nn::Dropout(0.5));
  auto f = compile([&](Tensor x) { return model(x); }, raw());
  Tensor x = ones({2, 4});
  NoGradGuard no_grad;
  f(x);
  f(x);
  model.eval();
  Tensor a = f(x);
  CHECK(equal(a, model(x)));  // eval: dropout is the identity, deterministic
  CHECK(f.stats().traces == 2);
}

TEST_CASE("compile: TL_COMPILE=0 runs every call eagerly", "[compile]") {
  setenv("TL_COMPILE", "0", 1);
  auto f = compile([](Tensor x) { return x + 1.0; }, raw());
  for (int i = 0; i < 4; ++i) f(ones({2}));
  unsetenv("TL_COMPILE");
  CHECK(f.stats().traces == 0);
  CHECK(f.stats().eager_calls == 4);
}

TEST_CASE("compile: intermediates share one arena planned by liveness", "[compile]") {
  // A chain of ten elementwise ops: each intermediate dies at the next op, so the arena holds
  // about two values at a time instead of ten.
  auto body = [](Tensor x) {
    Tensor y = x;
    for (int i = 0; i < 10; ++i) y = (y * 1.5 + 0.25).tanh();
    return y.sum();
  };
  auto f = compile(body, raw());
  Tensor x = randn({64, 64});
  for (int i = 0; i < 4; ++i) CHECK(allclose(f(x), body(x), 1e-6, 1e-6));
  std::string report = explain(f, x);
  INFO(report);
  CHECK_THAT(report, Catch::Contains("memory: arena"));
  // Parse "arena A bytes for K intermediates (U bytes without reuse)".
  auto at = report.find("memory: arena ");
  long long arena = std::stoll(report.substr(at + 14));
  auto open = report.find("(", at);
  long long unplanned = std::stoll(report.substr(open + 1));
  CHECK(arena > 0);
  CHECK(arena * 5 < unplanned);
}

TEST_CASE("compile: a forward called under grad mode stays differentiable", "[compile]") {
  Tensor w = randn({3});
  w.requires_grad_();
  auto f = compile([&](Tensor x) { return (x * w).exp().sum(); }, raw());
  for (int i = 0; i < 3; ++i) {
    w.set_grad(Tensor());
    Tensor loss = f(ones({3}));
    loss.backward();
    CHECK(allclose(w.grad(), w.detach().exp()));
  }
  CHECK(f.stats().compiled_calls == 1);
}

TEST_CASE("compile: parameter and optimizer-state updates are computed in place", "[compile]") {
  manual_seed(3);
  nn::Sequential model(nn::Linear(8, 16), nn::ReLU(), nn::Linear(16, 2));
  optim::SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
  Tensor x = randn({4, 8});
  Tensor y = randint(0, 2, {4});
  auto step = compile([&](Tensor xb, Tensor yb) {
    Tensor loss = nn::cross_entropy(model(xb), yb);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  });
  // The same steps eagerly, from the same start, on copies.
  manual_seed(3);
  nn::Sequential twin(nn::Linear(8, 16), nn::ReLU(), nn::Linear(16, 2));
  optim::SGD twin_opt(twin.parameters(), {.lr = 0.1, .momentum = 0.9});

  std::vector<const void*> storage;
  for (const Tensor& p : model.parameters()) storage.push_back(p.data_ptr());
  for (int i = 0; i < 6; ++i) {
    Tensor loss = step(x, y);
    Tensor want = nn::cross_entropy(twin(x), y);
    twin_opt.zero_grad();
    want.backward();
    twin_opt.step();
    CHECK(loss.item<double>() == Approx(want.item<double>()).epsilon(1e-5));
  }
  CHECK(step.stats().compiled_calls == 4);
  auto params = model.parameters(), expected = twin.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    INFO("parameter " << i);
    CHECK(params[i].data_ptr() == storage[i]);  // updated where it lives, as eager does
    CHECK(allclose(params[i], expected[i], 1e-5, 1e-6));
  }
  // Four parameters and four momentum buffers are written by the step.
  std::string report = explain(step, x, y);
  INFO(report);
  CHECK_THAT(report, Catch::Contains("8 updates computed in place"));
}

TEST_CASE("compile: an update is not computed in place while the old value is still read", "[compile]") {
  Tensor w = arange(6, {.dtype = kFloat32}).reshape({2, 3});
  // The new value is computed first, the old one read after it, then the update applied.
  auto f = compile([&](Tensor x) {
    Tensor updated = w * 2.0 + x;
    Tensor old_plus_one = w + 1.0;
    w.copy_(updated);
    return old_plus_one;
  });
  Tensor expected_w = w.clone();
  for (int i = 0; i < 5; ++i) {
    Tensor x = full({2, 3}, static_cast<double>(i));
    Tensor got = f(x);
    CHECK(allclose(got, expected_w + 1.0));
    expected_w = expected_w * 2.0 + x;
    CHECK(allclose(w, expected_w));
  }
  CHECK(f.stats().compiled_calls == 3);
  CHECK_THAT(explain(f, ones({2, 3})), Catch::Contains("0 updates computed in place"));
}

TEST_CASE("compile: an update followed by a host read is not applied before the guard passes", "[compile]") {
  Tensor w = ones({4});
  auto f = compile([&](Tensor x) {
    w.copy_(w * 2.0);
    // Read on the host after the update: a guard on x's value.
    if (x.sum().item<double>() > 0) return w + x;
    return w - x;
  });
  double expected = 1;
  for (int i = 0; i < 6; ++i) {
    // The sign flips at call 4: the compiled program's guard fails and the call re-traces.
    Tensor x = full({4}, i < 4 ? 1.0 : -1.0);
    Tensor got = f(x);
    expected *= 2;
    CHECK(allclose(w, full({4}, expected)));
    CHECK(allclose(got, full({4}, expected + 1.0)));  // w + 1 or w - (-1)
  }
  CHECK(f.stats().compiled_calls >= 2);
}

TEST_CASE("compile: a Linear layer's bias add and relu run as the matmul's oneDNN post-ops", "[compile]") {
  manual_seed(5);
  nn::Sequential model(nn::Linear(12, 32), nn::ReLU(), nn::Linear(32, 5));
  NoGradGuard no_grad;
  auto f = compile([&](Tensor x) { return model(x); });
  for (DType dtype : {kFloat32, kFloat64}) {
    if (dtype == kFloat64) model.to(kFloat64);
    for (int i = 0; i < 4; ++i) {
      Tensor x = randn({7, 12}, {.dtype = dtype});
      CHECK(allclose(f(x), model(x), 1e-5, 1e-6));
    }
    std::string report = explain(f, randn({7, 12}, {.dtype = dtype}));
    INFO(report);
    // The first layer's bias and relu, and the second layer's bias.
    CHECK_THAT(report, Catch::Contains("tl.matmul_bias") && Catch::Contains("{relu}"));
    CHECK_THAT(report, !Catch::Contains("tl.relu") && !Catch::Contains("tl.add"));
  }
}

TEST_CASE("compile: a tensor captured by reference and then reassigned is read anew", "[compile][captures]") {
  for (std::string pipeline : {"none", ""}) {
    INFO("pipeline '" << pipeline << "'");
    Tensor w = full({1}, 3.0);
    auto eager = [&](Tensor x) { return x * w; };
    auto f = compile(eager, {.pipeline = pipeline});
    Tensor x = ones({1});
    for (int i = 0; i < 3; ++i) CHECK(f(x).item<float>() == 3.0f);
    REQUIRE(f.stats().compiled_calls == 1);
    w = full({1}, 15.0);  // the variable now holds another tensor; the old one is gone
    std::string report = explain(f, x);
    CHECK_THAT(report, Catch::Contains("no longer referenced outside the compiled function"));
    CHECK_THAT(report, Catch::Contains("compile_test.cpp"));  // where the function read it
    CHECK(f(x).item<float>() == 15.0f);
    CHECK(f.stats().traces == 2);
    CHECK(f(x).item<float>() == 15.0f);  // compiled again, reading the new tensor
    CHECK(f.stats().compiled_calls == 2);
    w = full({1}, -1.0);
    CHECK(f(x).item<float>() == -1.0f);
    CHECK(f(x).item<float>() == -1.0f);
    // Changed in place (same tensor): read at every call without re-tracing.
    int64_t traces = f.stats().traces;
    w.fill_(4.0);
    CHECK(f(x).item<float>() == 4.0f);
    CHECK(f.stats().traces == traces);
  }
}

TEST_CASE("compile: a reassigned module parameter is read anew by a compiled training step", "[compile][captures]") {
  manual_seed(0);
  nn::Linear model(3, 1);
  optim::SGD opt(model.parameters(), {.lr = 0.1});
  auto step = compile([&](Tensor x, Tensor y) {
    auto loss = nn::mse_loss(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  });
  Tensor x = randn({8, 3}), y = randn({8, 1});
  for (int i = 0; i < 4; ++i) step(x, y);
  // A tensor captured through a by-reference lambda, replaced by a fresh one.
  Tensor scale = full({}, 2.0);
  auto scaled = compile([&](Tensor v) { return model(v) * scale; });
  for (int i = 0; i < 3; ++i) scaled(x);
  Tensor before = scaled(x);
  scale = full({}, 4.0);
  CHECK(allclose(scaled(x), before * 2.0));
}
