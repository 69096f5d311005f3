// nn::Module: registration and traversal, handles, modes, conversion, state dicts, hooks,
// printing, and a user-defined module training with a hand-written SGD step.
#include <catch2/catch.hpp>

#include <sstream>

#include "tl/tl.h"

using namespace tl;

namespace {

// A user layer: a plain subclass with members registered in the constructor.
struct TwoLayer : nn::Module {
  nn::Linear fc1{2, 8}, fc2{8, 1};
  TwoLayer() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) override { return fc2(tanh(fc1(x))); }
};

// A user layer with its own parameter and buffer.
struct Scale : nn::Module {
  Tensor gain, calls;
  Scale() {
    gain = register_parameter("gain", ones({3}));
    calls = register_buffer("calls", zeros({}, {.dtype = kInt64}));
  }
  Tensor forward(const Tensor& x) override { return x * gain; }
};

void sgd_step(const std::vector<Tensor>& params, double lr) {
  NoGradGuard no_grad;
  for (Tensor p : params) {
    if (!p.grad().defined()) continue;
    p.sub_(p.grad() * lr);
  }
}

}  // namespace

TEST_CASE("named_parameters uses dotted names in registration order", "[nn][module]") {
  nn::Sequential seq(nn::Linear(4, 3), nn::ReLU(), nn::Linear(3, 2, false));
  auto named = seq.named_parameters();
  REQUIRE(named.size() == 3);
  CHECK(named[0].first == "0.weight");
  CHECK(named[1].first == "0.bias");
  CHECK(named[2].first == "2.weight");
  CHECK(named[2].second.shape() == Shape{2, 3});
  CHECK(seq.num_parameters() == 4 * 3 + 3 + 3 * 2);
  CHECK(seq.size() == 3);
  CHECK(seq.children().size() == 3);

  TwoLayer net;
  auto names = net.named_parameters();
  REQUIRE(names.size() == 4);
  CHECK(names[0].first == "fc1.weight");
  CHECK(names[3].first == "fc2.bias");
  for (const Tensor& p : net.parameters()) CHECK(p.requires_grad());
}

TEST_CASE("modules are handles: copies and registered children share parameters", "[nn][module]") {
  nn::Linear lin(3, 2);
  nn::Linear copy = lin;
  CHECK(copy.weight.is_same(lin.weight));
  nn::Sequential seq(lin);
  CHECK(seq.parameters()[0].is_same(lin.weight));
  CHECK(seq.at<nn::Linear>(0).weight.is_same(lin.weight));
  CHECK_THROWS_AS(seq.at<nn::ReLU>(0), ValueError);
  CHECK_THROWS_AS(seq[5], ValueError);
  // Mode is shared too.
  seq.eval();
  CHECK_FALSE(lin.is_training());
  lin.train();
  CHECK(seq.at<nn::Linear>(0).is_training());
}

TEST_CASE("shared parameters appear once", "[nn][module]") {
  nn::Linear lin(2, 2);
  nn::Sequential seq(lin, nn::Tanh(), lin);
  CHECK(seq.parameters().size() == 2);
  CHECK(seq.num_parameters() == 6);
}

TEST_CASE("registration rejects bad names and non-leaf parameters", "[nn][module]") {
  nn::Module m;
  CHECK_THROWS_AS(m.register_parameter("a.b", ones({2})), ValueError);
  CHECK_THROWS_AS(m.register_parameter("", ones({2})), ValueError);
  Tensor leaf = ones({2}).requires_grad_();
  CHECK_THROWS_AS(m.register_parameter("w", leaf * 2.0), ValueError);
  m.register_buffer("b", zeros({2}));
  CHECK_THROWS_AS(m.register_parameter("b", ones({2})), ValueError);
  CHECK_THROWS_AS(m(ones({2})), ValueError);  // no forward defined
}

TEST_CASE("train and eval propagate to every descendant", "[nn][module]") {
  TwoLayer net;
  CHECK(net.is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.fc1.is_training());
  net.train();
  CHECK(net.fc2.is_training());
}

TEST_CASE("to(dtype) converts in place so handles stay valid", "[nn][module]") {
  nn::Sequential seq(nn::Linear(3, 2), nn::BatchNorm1d(2));
  Tensor w = seq.parameters()[0];
  std::vector<float> before = w.to_vector<float>();
  seq(ones({4, 3})).sum().backward();
  REQUIRE(w.grad().defined());
  seq.to(kFloat64);
  CHECK(w.dtype() == kFloat64);
  CHECK(w.grad().dtype() == kFloat64);
  CHECK(w.requires_grad());
  CHECK(w.is_same(seq.at<nn::Linear>(0).weight));
  std::vector<double> after = w.to_vector<double>();
  for (size_t i = 0; i < before.size(); ++i) CHECK(after[i] == Approx(before[i]));
  auto& bn = seq.at<nn::BatchNorm1d>(1);
  CHECK(bn.running_mean.dtype() == kFloat64);
  CHECK(bn.num_batches_tracked.dtype() == kInt64);  // integer buffers keep their type
  Tensor y = seq(ones({4, 3}, {.dtype = kFloat64}));
  CHECK(y.dtype() == kFloat64);
  seq.to(kCPU);  // same device: a no-op
  CHECK(w.device() == kCPU);
}

TEST_CASE("zero_grad drops or zeroes gradients", "[nn][module]") {
  nn::Linear lin(2, 2);
  lin(ones({1, 2})).sum().backward();
  REQUIRE(lin.weight.grad().defined());
  lin.zero_grad(false);
  CHECK(lin.weight.grad().sum().item<float>() == 0.0f);
  lin.zero_grad();
  CHECK_FALSE(lin.weight.grad().defined());
}

TEST_CASE("state_dict round-trips parameters and buffers", "[nn][module][state]") {
  manual_seed(1);
  nn::Sequential a(nn::Linear(3, 4), nn::BatchNorm1d(4));
  a(randn({8, 3}));  // moves the running stats
  nn::Sequential b(nn::Linear(3, 4), nn::BatchNorm1d(4));
  auto state = a.state_dict();
  CHECK(state.size() == 7);  // 2 linear params, 2 bn params, 3 bn buffers
  CHECK(state.count("1.running_mean") == 1);
  CHECK(state.count("1.num_batches_tracked") == 1);
  Tensor w = b.parameters()[0];
  auto result = b.load_state_dict(state);
  CHECK(result.missing_keys.empty());
  CHECK(result.unexpected_keys.empty());
  CHECK(w.is_same(b.parameters()[0]));  // loaded in place
  for (auto& [name, t] : b.state_dict()) CHECK(equal(t, state.at(name)));
  CHECK(b.at<nn::BatchNorm1d>(1).num_batches_tracked.item<int64_t>() == 1);
  Tensor x = randn({5, 3});
  a.eval();
  b.eval();
  CHECK(allclose(a(x), b(x)));
}

TEST_CASE("load_state_dict lists every mismatch at once and changes nothing", "[nn][module][state]") {
  nn::Sequential model(nn::Linear(4, 3), nn::Linear(3, 2));
  auto before = model.state_dict();
  std::map<std::string, std::vector<float>> saved;
  for (auto& [k, v] : before) saved[k] = v.to_vector<float>();

  nn::StateDict bad;
  bad["0.weight"] = zeros({3, 5});  // shape mismatch
  bad["0.bias"] = zeros({3});       // fine: must still not be loaded
  bad["2.weight"] = zeros({1});     // unexpected
  // missing: 1.weight, 1.bias
  try {
    model.load_state_dict(bad);
    FAIL("no error");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("load_state_dict"));
    CHECK_THAT(msg, Catch::Contains("missing keys: 1.weight, 1.bias"));
    CHECK_THAT(msg, Catch::Contains("unexpected keys: 2.weight"));
    CHECK_THAT(msg, Catch::Contains("0.weight is [3, 4] float32 in the module but [3, 5] float32"));
    CHECK_THAT(msg, Catch::Contains("module_test.cpp:"));
  }
  for (auto& [k, v] : model.state_dict()) CHECK(v.to_vector<float>() == saved[k]);

  // Non-strict loading skips key problems and reports them, but not shape mismatches.
  nn::StateDict partial{{"0.bias", full({3}, 7.0)}, {"extra", zeros({1})}};
  auto result = model.load_state_dict(partial, /*strict=*/false);
  CHECK(result.missing_keys.size() == 3);
  CHECK(result.unexpected_keys == std::vector<std::string>{"extra"});
  CHECK(model.at<nn::Linear>(0).bias.to_vector<float>() == std::vector<float>{7, 7, 7});
  CHECK_THROWS_AS(model.load_state_dict({{"0.bias", zeros({4})}}, false), ValueError);
}

TEST_CASE("forward hooks see inputs and output and can replace the output", "[nn][module][hooks]") {
  nn::Sequential seq(nn::Linear(2, 3), nn::ReLU());
  auto& lin = seq.at<nn::Linear>(0);
  int calls = 0;
  Shape seen_in, seen_out;
  int id = lin.register_forward_hook(
      [&](nn::Module& m, const std::vector<Tensor>& in, const Tensor& out) -> std::optional<Tensor> {
        ++calls;
        seen_in = in[0].shape();
        seen_out = out.shape();
        CHECK(m.type_name() == "Linear");
        return std::nullopt;
      });
  seq(ones({5, 2}));
  CHECK(calls == 1);
  CHECK(seen_in == Shape{5, 2});
  CHECK(seen_out == Shape{5, 3});
  lin.remove_hook(id);
  seq(ones({5, 2}));
  CHECK(calls == 1);

  // A replacing hook on the last layer changes what the model returns.
  seq[1].register_forward_hook([](nn::Module&, const std::vector<Tensor>&, const Tensor& out) -> std::optional<Tensor> {
    return out * 0.0 - 1.0;
  });
  CHECK(seq(ones({2, 2})).to_vector<float>() == std::vector<float>(6, -1.0f));
}

TEST_CASE("full backward hooks receive gradients w.r.t. the module's inputs and output", "[nn][module][hooks]") {
  nn::Linear lin(3, 2);
  std::vector<Tensor> grad_in, grad_out;
  int calls = 0;
  lin.register_full_backward_hook([&](nn::Module&, const std::vector<Tensor>& gi, const std::vector<Tensor>& go) {
    ++calls;
    grad_in = gi;
    grad_out = go;
  });
  Tensor x = randn({4, 3}).requires_grad_();
  Tensor y = lin(x);
  (y * 3.0).sum().backward();
  REQUIRE(calls == 1);
  REQUIRE(grad_out.size() == 1);
  CHECK(allclose(grad_out[0], full({4, 2}, 3.0)));
  REQUIRE(grad_in.size() == 1);
  // d/dx sum(3 * (x W^T + b)) = 3 * ones(4, 2) W.
  CHECK(allclose(grad_in[0], matmul(full({4, 2}, 3.0), lin.weight.detach()), 1e-5, 1e-6));
  CHECK(allclose(grad_in[0], x.grad()));

  // An input that needs no grad still fires the hook, with an undefined grad_input.
  calls = 0;
  lin(randn({4, 3})).sum().backward();
  CHECK(calls == 1);
  CHECK_FALSE(grad_in[0].defined());
  CHECK(grad_out[0].shape() == Shape{4, 2});
}

TEST_CASE("printing a module shows the tree", "[nn][module]") {
  nn::Sequential seq(nn::Linear(4, 16), nn::Tanh(), nn::Linear(16, 3, false));
  std::string s = nn::to_string(seq);
  CHECK(s ==
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=16, bias=true)\n"
        "  (1): Tanh()\n"
        "  (2): Linear(in_features=16, out_features=3, bias=false)\n"
        ")");
  TwoLayer net;
  std::ostringstream os;
  os << net;
  CHECK_THAT(os.str(), Catch::StartsWith("TwoLayer(\n  (fc1): Linear("));
}

TEST_CASE("a custom module trains to low loss with a hand-written SGD step", "[nn][module][train]") {
  manual_seed(0);
  // Learn y = x0 * x1 (not linear) on [-1, 1]^2.
  Tensor x = uniform({128, 2}, -1.0, 1.0);
  Tensor y = (x.narrow(1, 0, 1) * x.narrow(1, 1, 1)).contiguous();
  TwoLayer net;
  double first = 0, last = 0;
  for (int step = 0; step < 1500; ++step) {
    Tensor loss = nn::mse_loss(net(x), y);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    net.zero_grad();
    loss.backward();
    sgd_step(net.parameters(), 0.2);
  }
  INFO("first loss " << first << ", last " << last);
  CHECK(last < 0.1 * first);
  CHECK(last < 0.01);
}

TEST_CASE("a custom module with its own parameter and buffer saves and trains", "[nn][module]") {
  Scale s;
  auto state = s.state_dict();
  CHECK(state.count("gain") == 1);
  CHECK(state.count("calls") == 1);
  CHECK(s.parameters().size() == 1);
  CHECK(s.buffers().size() == 1);
  Tensor target = from_vector<float>({1, 2, 3});
  for (int i = 0; i < 200; ++i) {
    Tensor loss = nn::mse_loss(s(ones({3})), target);
    s.zero_grad();
    loss.backward();
    sgd_step(s.parameters(), 0.5);
  }
  CHECK(allclose(s.gain, target, 1e-4, 1e-4));
}
