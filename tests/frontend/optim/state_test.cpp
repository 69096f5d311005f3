#include <functional>
#include <memory>

#include "optim_test_util.h"

using namespace tl;
using namespace optim_test;

namespace {
// Three steps on two parameters, the second given a 2-D shape.
struct Trained {
  Tensor a = param({1.0, -2.0, 0.5});
  Tensor b = tl::from_vector(std::vector<double>{0.1, 0.2, 0.3, 0.4}, {2, 2}).requires_grad_();
};

void feed(Trained& t, int k) {
  t.a.set_grad(grad_at(k));
  t.b.set_grad(from_vector(std::vector<double>{0.3, -0.1, 0.2, 0.05}, {2, 2}) * (1.0 + k));
}

template <class Make>
void check_round_trip(Make make) {
  Trained x, y;
  auto ox = make(x);
  for (int k = 0; k < 3; ++k) {
    feed(x, k);
    ox->step();
  }
  auto saved = ox->state();
  // y starts from x's parameters and the saved state; both then take the same steps.
  {
    NoGradGuard no_grad;
    y.a.copy_(x.a);
    y.b.copy_(x.b);
  }
  auto oy = make(y);
  oy->load_state(saved);
  for (int k = 3; k < 6; ++k) {
    feed(x, k);
    feed(y, k);
    ox->step();
    oy->step();
  }
  CHECK(equal(x.a, y.a));
  CHECK(equal(x.b, y.b));
  // state() is a copy: stepping did not change what was saved.
  auto after = ox->state();
  for (const auto& [key, value] : saved) {
    INFO(key);
    REQUIRE(after.count(key) == 1);
    if (value.is_floating_point() && key.find("step") == std::string::npos) CHECK_FALSE(equal(value, after[key]));
  }
}
}  // namespace

TEST_CASE("SGD, Adam, AdamW and RMSprop continue identically after a state round trip", "[optim][state]") {
  SECTION("SGD") {
    check_round_trip([](Trained& t) {
      return std::make_unique<optim::SGD>(std::vector<Tensor>{t.a, t.b},
                                          optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
    });
  }
  SECTION("Adam") {
    check_round_trip([](Trained& t) {
      return std::make_unique<optim::Adam>(std::vector<Tensor>{t.a, t.b}, optim::AdamOptions{.lr = 0.1, .amsgrad = true});
    });
  }
  SECTION("AdamW") {
    check_round_trip([](Trained& t) { return std::make_unique<optim::AdamW>(std::vector<Tensor>{t.a, t.b}); });
  }
  SECTION("RMSprop") {
    check_round_trip([](Trained& t) {
      return std::make_unique<optim::RMSprop>(std::vector<Tensor>{t.a, t.b},
                                              optim::RMSpropOptions{.momentum = 0.9, .centered = true});
    });
  }
}

TEST_CASE("the state map names the optimizer, its parameter count and per-parameter buffers", "[optim][state]") {
  Trained x;
  optim::Adam opt({x.a, x.b}, {.lr = 0.1});
  CHECK(opt.state().size() == 1);
  feed(x, 0);
  opt.step();
  auto s = opt.state();
  CHECK(s.at("optimizer.Adam").item<int64_t>() == 2);
  CHECK(s.at("1.exp_avg").shape() == Shape{2, 2});
  CHECK(s.at("1.exp_avg_sq").dtype() == kFloat64);
  CHECK(s.at("0.step").item<int64_t>() == 1);
  CHECK(s.count("0.max_exp_avg_sq") == 0);
  CHECK(s.size() == 7);
}

TEST_CASE("load_state refuses mismatched state and changes nothing", "[optim][state][errors]") {
  Trained x;
  optim::Adam adam({x.a, x.b}, {.lr = 0.1});
  feed(x, 0);
  adam.step();
  auto before = adam.state();
  auto refused = [&](const std::map<std::string, Tensor>& state, const std::string& message) {
    INFO(message);
    try {
      adam.load_state(state);
      FAIL("load_state accepted the state");
    } catch (const ValueError& e) {
      CHECK_THAT(std::string(e.what()), Catch::Contains(message) && Catch::Contains("tl::optim::Adam::load_state") &&
                                            Catch::Contains("state_test.cpp:"));
    }
    auto now = adam.state();
    REQUIRE(now.size() == before.size());
    for (const auto& [key, value] : before) CHECK(equal(value, now.at(key)));
  };

  SECTION("another optimizer's state") {
    Trained y;
    optim::SGD sgd({y.a, y.b}, {.lr = 0.1, .momentum = 0.9});
    feed(y, 0);
    sgd.step();
    refused(sgd.state(), "the state was saved by SGD, not Adam");
  }
  SECTION("AdamW's state in Adam") {
    Trained y;
    optim::AdamW adamw({y.a, y.b});
    refused(adamw.state(), "saved by AdamW, not Adam");
  }
  SECTION("a map that is not optimizer state") {
    refused({{"0.exp_avg", zeros({3}, {.dtype = kFloat64})}}, "has no 'optimizer.Adam' entry");
  }
  SECTION("another parameter count") {
    Tensor p = param({1.0, -2.0, 0.5});
    optim::Adam other({p});
    p.set_grad(grad_at(0));
    other.step();
    refused(other.state(), "the state is for 1 parameters, this optimizer has 2");
  }
  SECTION("a buffer of another shape") {
    auto s = before;
    s["1.exp_avg"] = zeros({4}, {.dtype = kFloat64});
    refused(s, "entry '1.exp_avg' has shape [4] but parameter 1 has shape [2, 2]");
  }
  SECTION("a buffer this configuration does not keep") {
    auto s = before;
    s["0.max_exp_avg_sq"] = zeros({3}, {.dtype = kFloat64});
    refused(s, "'0.max_exp_avg_sq' is a buffer this Adam configuration does not keep");
  }
  SECTION("an incomplete set of buffers") {
    auto s = before;
    s.erase("0.exp_avg_sq");
    refused(s, "the state has 0.exp_avg, 0.step but lacks 0.exp_avg_sq");
  }
  SECTION("an unknown entry") {
    auto s = before;
    s["0.momentum_buffer"] = zeros({3}, {.dtype = kFloat64});
    refused(s, "unexpected entry '0.momentum_buffer'");
  }
  SECTION("a parameter index out of range") {
    auto s = before;
    s["5.exp_avg"] = zeros({3}, {.dtype = kFloat64});
    refused(s, "entry '5.exp_avg' names parameter 5 of 2");
  }
}

TEST_CASE("load_state converts buffers to the parameter's dtype", "[optim][state]") {
  Tensor p = param({1.0, 2.0}, kFloat32);
  optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.5});
  opt.load_state({{"optimizer.SGD", scalar_tensor(1, {.dtype = kInt64})},
                  {"0.momentum_buffer", from_vector(std::vector<double>{2.0, 4.0})}});
  p.set_grad(zeros({2}));
  opt.step();
  // buf = 0.5 * [2, 4]; p -= 0.1 * buf.
  check_values(p, {0.9, 1.8}, 1e-6);
  CHECK(opt.state().at("0.momentum_buffer").dtype() == kFloat32);
}

TEST_CASE("state_view and adopt_state share buffers; state and load_state copy them", "[optim][state]") {
  Trained x;
  optim::Adam opt({x.a, x.b}, {.lr = 0.1});
  feed(x, 0);
  opt.step();
  auto view = opt.state_view();
  auto copy = opt.state();
  REQUIRE(view.size() == copy.size());
  Tensor m = view.at("0.exp_avg");
  CHECK_FALSE(copy.at("0.exp_avg").data_ptr() == m.data_ptr());
  CHECK(opt.state_view().at("0.exp_avg").data_ptr() == m.data_ptr());  // the buffer itself

  std::map<std::string, Tensor> fresh = opt.state();
  opt.load_state(fresh);
  CHECK_FALSE(opt.state_view().at("0.exp_avg").data_ptr() == fresh.at("0.exp_avg").data_ptr());
  opt.adopt_state(fresh);
  CHECK(opt.state_view().at("0.exp_avg").data_ptr() == fresh.at("0.exp_avg").data_ptr());
  CHECK(opt.state_view().at("1.exp_avg_sq").data_ptr() == fresh.at("1.exp_avg_sq").data_ptr());
}

TEST_CASE("check_group applies the constructor's rules to a group's lr and weight_decay", "[optim][errors]") {
  Trained x;
  auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const ValueError& e) {
      return e.what();
    }
    return "";
  };
  optim::SGD sgd({x.a}, {.lr = 0.1, .momentum = 0.9});
  optim::Adam adam({x.a}, {.lr = 0.1});
  optim::AdamW adamw({x.a});
  optim::RMSprop rmsprop({x.a});
  for (optim::Optimizer* opt : std::vector<optim::Optimizer*>{&sgd, &adam, &adamw, &rmsprop}) {
    INFO(opt->name());
    CHECK_NOTHROW(opt->check_group(0.5, 0.01));
    CHECK_NOTHROW(opt->check_group(0, 0));
    CHECK_THAT(message([&] { opt->check_group(-1000, 0); }),
               Catch::Contains("tl::optim::" + opt->name() + ": lr must be >= 0, got -1000"));
    CHECK_THAT(message([&] { opt->check_group(0.1, -0.5); }),
               Catch::Contains("tl::optim::" + opt->name() + ": weight_decay must be >= 0, got -0.5"));
  }
  // The same text as the constructor's.
  CHECK(message([&] { optim::Adam({x.a}, {.lr = -1000}); }).find("tl::optim::Adam: lr must be >= 0, got -1000") !=
        std::string::npos);
}
