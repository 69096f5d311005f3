// Recurrent layers and cells: output and state shapes in every layout, PyTorch's parameter names
// and initialization, the cells against one step of their layers, per-sequence lengths against
// running each sequence alone, dropout between layers in training only, errors, and an LSTM's
// forward and backward under tl::compile. Values against PyTorch: tests/interop/recurrent_parity_test.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "tests/frontend/nn/nn_test_util.h"
#include "tl/tl.h"

using namespace tl;

namespace {

const TensorOptions f64{.dtype = kFloat64};

using test::max_abs_diff;

using test::error_of;
using test::parameter_names;

}  // namespace

TEST_CASE("recurrent layers return PyTorch's output and state shapes in every layout", "[nn][recurrent]") {
  manual_seed(0);
  const int64_t L = 5, N = 3, H_in = 4, H = 6;
  for (bool batch_first : {false, true})
    for (bool bidirectional : {false, true}) {
      INFO("batch_first " << batch_first << ", bidirectional " << bidirectional);
      const int64_t D = bidirectional ? 2 : 1;
      const Tensor x = batch_first ? randn({N, L, H_in}) : randn({L, N, H_in});
      const Shape out_shape = batch_first ? Shape{N, L, D * H} : Shape{L, N, D * H};
      nn::RNN rnn(H_in, H, {.num_layers = 2, .batch_first = batch_first, .bidirectional = bidirectional});
      nn::LSTM lstm(H_in, H, {.num_layers = 2, .batch_first = batch_first, .bidirectional = bidirectional});
      nn::GRU gru(H_in, H, {.num_layers = 2, .batch_first = batch_first, .bidirectional = bidirectional});
      for (const nn::RecurrentOutput& r : {rnn(x), lstm(x), gru(x)}) {
        CHECK(r.output.shape() == out_shape);
        CHECK(r.h_n.shape() == Shape{2 * D, N, H});
      }
      CHECK(lstm(x).c_n.shape() == Shape{2 * D, N, H});
      CHECK_FALSE(rnn(x).c_n.defined());
      CHECK_FALSE(gru(x).c_n.defined());
      // With a projection, h (and the output) has proj_size features; c keeps hidden_size.
      nn::LSTM proj(H_in, H, {.num_layers = 2, .batch_first = batch_first, .bidirectional = bidirectional,
                              .proj_size = 2});
      const nn::RecurrentOutput p = proj(x);
      CHECK(p.output.shape() == (batch_first ? Shape{N, L, D * 2} : Shape{L, N, D * 2}));
      CHECK(p.h_n.shape() == Shape{2 * D, N, 2});
      CHECK(p.c_n.shape() == Shape{2 * D, N, H});
    }
}

TEST_CASE("an unbatched sequence gives the batch-of-one results without the batch dim", "[nn][recurrent]") {
  manual_seed(1);
  nn::LSTM lstm(3, 5, {.num_layers = 2, .bidirectional = true});
  nn::GRU gru(3, 5, {.batch_first = true});
  const Tensor x = randn({7, 3}), h0 = randn({4, 5}), c0 = randn({4, 5});
  const nn::RecurrentOutput one = lstm(x, h0, c0);
  const nn::RecurrentOutput batch = lstm(x.unsqueeze(1), h0.unsqueeze(1), c0.unsqueeze(1));
  CHECK(one.output.shape() == Shape{7, 10});
  CHECK(one.h_n.shape() == Shape{4, 5});
  CHECK(max_abs_diff(one.output, batch.output.squeeze(1)) == 0);
  CHECK(max_abs_diff(one.h_n, batch.h_n.squeeze(1)) == 0);
  CHECK(max_abs_diff(one.c_n, batch.c_n.squeeze(1)) == 0);
  // batch_first does not apply to unbatched input.
  CHECK(max_abs_diff(gru(x).output, gru(x.unsqueeze(0)).output.squeeze(0)) == 0);
}

TEST_CASE("recurrent layers name and initialize their parameters as PyTorch does", "[nn][recurrent]") {
  manual_seed(2);
  nn::LSTM lstm(10, 20, {.num_layers = 2, .bidirectional = true, .proj_size = 5});
  const std::vector<std::string> want = {
      "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_hr_l0_reverse",
      "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_hr_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
      "weight_hr_l1_reverse"};
  CHECK(parameter_names(lstm) == want);
  const nn::StateDict state = lstm.state_dict();
  CHECK(state.at("weight_ih_l0").shape() == Shape{80, 10});
  CHECK(state.at("weight_hh_l0").shape() == Shape{80, 5});
  CHECK(state.at("weight_hr_l0").shape() == Shape{5, 20});
  CHECK(state.at("weight_ih_l1_reverse").shape() == Shape{80, 10});  // 2 directions x proj_size 5
  CHECK(state.at("bias_hh_l1").shape() == Shape{80});
  CHECK(lstm.weights.size() == 4);
  CHECK(lstm.weights[3].weight_hr.is_same(lstm.named_parameters().back().second));
  // U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every parameter, spread over the range.
  const double bound = 1.0 / std::sqrt(20.0);
  for (const auto& [name, p] : lstm.named_parameters()) {
    INFO(name);
    CHECK(amax(abs(p)).item<double>() <= bound);
    CHECK(amax(abs(p)).item<double>() > 0.8 * bound);
  }
  CHECK(parameter_names(nn::GRU(3, 4, {.bias = false})) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0"});
  CHECK(nn::RNN(3, 4).state_dict().at("weight_ih_l0").shape() == Shape{4, 3});
  CHECK(nn::GRU(3, 4).state_dict().at("weight_hh_l0").shape() == Shape{12, 4});
  CHECK(parameter_names(nn::LSTMCell(3, 4)) ==
        std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"});
  CHECK(nn::GRUCell(3, 4).weight_ih.shape() == Shape{12, 3});
  // Printing follows PyTorch's repr: sizes, then options that differ from the defaults.
  CHECK(nn::to_string(lstm) == "LSTM(10, 20, proj_size=5, num_layers=2, bidirectional=true)");
  CHECK(nn::to_string(nn::RNN(3, 4, {.nonlinearity = "relu", .batch_first = true})) ==
        "RNN(3, 4, nonlinearity=relu, batch_first=true)");
  CHECK(nn::to_string(nn::GRUCell(3, 4, false)) == "GRUCell(3, 4, bias=false)");
}

TEST_CASE("the cells compute one step of their layers", "[nn][recurrent]") {
  manual_seed(3);
  const Tensor x = randn({1, 2, 3}, f64), h0 = randn({1, 2, 4}, f64), c0 = randn({1, 2, 4}, f64);
  auto copy_weights = [](nn::RNNCellBase& cell, const nn::RNNBase& layer) {
    NoGradGuard no_grad;
    cell.weight_ih.copy_(layer.weights[0].weight_ih);
    cell.weight_hh.copy_(layer.weights[0].weight_hh);
    cell.bias_ih.copy_(layer.weights[0].bias_ih);
    cell.bias_hh.copy_(layer.weights[0].bias_hh);
  };
  {
    nn::RNN layer(3, 4, {.nonlinearity = "relu"});
    nn::RNNCell cell(3, 4, true, "relu");
    layer.to(kFloat64);
    cell.to(kFloat64);
    copy_weights(cell, layer);
    CHECK(max_abs_diff(cell(x[0], h0[0]), layer(x, h0).output[0]) < 1e-15);
  }
  {
    nn::LSTM layer(3, 4);
    nn::LSTMCell cell(3, 4);
    layer.to(kFloat64);
    cell.to(kFloat64);
    copy_weights(cell, layer);
    const nn::LSTMCellOutput step = cell(x[0], h0[0], c0[0]);
    const nn::RecurrentOutput r = layer(x, h0, c0);
    CHECK(max_abs_diff(step.h, r.h_n[0]) < 1e-15);
    CHECK(max_abs_diff(step.c, r.c_n[0]) < 1e-15);
    // Unbatched input and states.
    CHECK(max_abs_diff(cell(x[0][1], h0[0][1], c0[0][1]).h, step.h[1]) < 1e-15);
  }
  {
    nn::GRU layer(3, 4);
    nn::GRUCell cell(3, 4);
    layer.to(kFloat64);
    cell.to(kFloat64);
    copy_weights(cell, layer);
    CHECK(max_abs_diff(cell(x[0], h0[0]), layer(x, h0).h_n[0]) < 1e-15);
    // No state given: zeros.
    CHECK(max_abs_diff(cell(x[0]), cell(x[0], zeros({2, 4}, f64))) == 0);
  }
}

TEST_CASE("with lengths each sequence runs as if alone with zero outputs past its end and states from its last step",
          "[nn][recurrent]") {
  manual_seed(4);
  nn::LSTM lstm(3, 4, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  nn::GRU gru(3, 4, {.bidirectional = true});
  lstm.to(kFloat64);
  gru.to(kFloat64);
  const std::vector<int64_t> lengths = {5, 2, 4};
  const Tensor x = randn({3, 5, 3}, f64);  // batch-first
  const Tensor h0 = randn({4, 3, 4}, f64), c0 = randn({4, 3, 4}, f64), g0 = randn({2, 3, 4}, f64);
  const nn::RecurrentOutput r = lstm(x, h0, c0, lengths);
  const nn::RecurrentOutput g = gru(x.transpose(0, 1), g0, from_vector<int64_t>(lengths, {3}));
  for (int64_t n = 0; n < 3; ++n) {
    INFO("sequence " << n);
    const int64_t len = lengths[static_cast<size_t>(n)];
    const Tensor alone_x = x.narrow(0, n, 1).narrow(1, 0, len);
    const nn::RecurrentOutput alone = lstm(alone_x, h0.narrow(1, n, 1), c0.narrow(1, n, 1));
    CHECK(max_abs_diff(r.output.narrow(0, n, 1).narrow(1, 0, len), alone.output) < 1e-14);
    CHECK(max_abs_diff(r.h_n.narrow(1, n, 1), alone.h_n) < 1e-14);
    CHECK(max_abs_diff(r.c_n.narrow(1, n, 1), alone.c_n) < 1e-14);
    if (len < 5) CHECK(amax(abs(r.output.narrow(0, n, 1).narrow(1, len, 5 - len))).item<double>() == 0);
    const nn::RecurrentOutput g_alone = gru(alone_x.transpose(0, 1), g0.narrow(1, n, 1));
    CHECK(max_abs_diff(g.output.narrow(1, n, 1).narrow(0, 0, len), g_alone.output) < 1e-14);
    CHECK(max_abs_diff(g.h_n.narrow(1, n, 1), g_alone.h_n) < 1e-14);
  }
  // All lengths equal to L: the same as no lengths.
  const nn::RecurrentOutput full = lstm(x, h0, c0, {5, 5, 5});
  const nn::RecurrentOutput plain = lstm(x, h0, c0);
  CHECK(max_abs_diff(full.output, plain.output) == 0);
  CHECK(max_abs_diff(full.h_n, plain.h_n) == 0);
  // No gradient reaches the padding.
  Tensor xg = x.detach().requires_grad_();
  lstm(xg, h0, c0, lengths).output.sum().backward();
  CHECK(amax(abs(xg.grad().narrow(0, 1, 1).narrow(1, 2, 3))).item<double>() == 0);
  CHECK(amax(abs(xg.grad().narrow(0, 1, 1).narrow(1, 0, 2))).item<double>() > 0);
}

TEST_CASE("recurrent gradients match finite differences in float64", "[nn][recurrent][grad]") {
  manual_seed(8);
  nn::LSTM lstm(3, 4, {.num_layers = 2, .bidirectional = true});
  nn::GRU gru(3, 4, {.batch_first = true, .bidirectional = true});
  nn::RNN rnn(3, 4, {.num_layers = 2});
  lstm.to(kFloat64);
  gru.to(kFloat64);
  rnn.to(kFloat64);
  const Tensor lengths = from_vector<int64_t>({4, 2}, {2});
  auto leaf = [](Shape shape) { return randn(std::move(shape), f64).requires_grad_(); };
  auto flat = [](const nn::RecurrentOutput& r) {
    std::vector<Tensor> parts = {r.output.flatten(), r.h_n.flatten()};
    if (r.c_n.defined()) parts.push_back(r.c_n.flatten());
    return cat(parts);
  };
  GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& in) { return flat(lstm(in[0], in[1], in[2], lengths)); },
      {leaf({4, 2, 3}), leaf({4, 2, 4}), leaf({4, 2, 4})});
  INFO(r.message);
  CHECK(r.ok);
  r = gradcheck([&](const std::vector<Tensor>& in) { return flat(gru(in[0], in[1], lengths)); },
                {leaf({2, 4, 3}), leaf({2, 2, 4})});
  INFO(r.message);
  CHECK(r.ok);
  r = gradcheck([&](const std::vector<Tensor>& in) { return flat(rnn(in[0], in[1])); },
                {leaf({4, 2, 3}), leaf({2, 2, 4})});
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("dropout between layers applies in training only", "[nn][recurrent]") {
  manual_seed(5);
  const Tensor x = randn({6, 2, 3});
  nn::LSTM lstm(3, 8, {.num_layers = 2, .dropout = 0.5});
  nn::LSTM plain(3, 8, {.num_layers = 2});
  plain.load_state_dict(lstm.state_dict());
  lstm.eval();
  const Tensor eval_out = lstm(x).output;
  CHECK(max_abs_diff(eval_out, plain(x).output) == 0);
  CHECK(max_abs_diff(lstm(x).output, eval_out) == 0);
  lstm.train();
  const Tensor a = lstm(x).output, b = lstm(x).output;
  CHECK(max_abs_diff(a, eval_out) > 1e-3);
  CHECK(max_abs_diff(a, b) > 1e-3);  // fresh masks per call
  // Not after the last layer: a one-layer GRU is deterministic in training.
  nn::GRU one(3, 8, {.dropout = 0.5});
  CHECK(max_abs_diff(one(x).output, one(x).output) == 0);
}

TEST_CASE("recurrent layers report bad inputs and states and lengths and options at the caller's line",
          "[nn][recurrent][errors]") {
  nn::LSTM lstm(4, 6, {.num_layers = 2, .bidirectional = true});
  const Tensor x = randn({5, 3, 4});
  std::string msg = error_of<ShapeError>([&] { lstm(randn({5, 3, 7})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::LSTM: input is [5, 3, 7] float32"));
  CHECK_THAT(msg, Catch::Contains("(L, N, 4)"));
  CHECK_THAT(msg, Catch::Contains("recurrent_test.cpp"));
  CHECK_THAT(error_of<ShapeError>([&] { nn::GRU(4, 6, {.batch_first = true})(randn({2, 3, 4, 4})); }),
             Catch::Contains("(N, L, 4)"));
  msg = error_of<ShapeError>([&] { lstm(x, randn({2, 3, 6})); });
  CHECK_THAT(msg, Catch::Contains("h0 is [2, 3, 6] float32 but must be [4, 3, 6]"));
  CHECK_THAT(msg, Catch::Contains("recurrent_test.cpp"));
  CHECK_THAT(error_of<ShapeError>([&] { lstm(x, {}, randn({4, 2, 6})); }),
             Catch::Contains("c0 is [4, 2, 6] float32 but must be [4, 3, 6]"));
  CHECK_THAT(error_of<ShapeError>([&] { lstm(x, {}, {}, {5, 0, 2}); }),
             Catch::Contains("lengths[1] is 0 but must be in [1, 5]"));
  CHECK_THAT(error_of<ShapeError>([&] { lstm(x, {}, {}, {5, 6, 2}); }),
             Catch::Contains("lengths[1] is 6 but must be in [1, 5]"));
  msg = error_of<ShapeError>([&] { lstm(x, {}, {}, {5, 2}); });
  CHECK_THAT(msg, Catch::Contains("lengths is [2] int64 but must be [3]"));
  CHECK_THAT(msg, Catch::Contains("recurrent_test.cpp"));
  CHECK_THAT(error_of<DTypeError>([&] { lstm(x, {}, {}, full({3}, 2.0)); }),
             Catch::Contains("lengths must be int64 or int32"));
  CHECK_THAT(error_of<ShapeError>([&] { nn::LSTMCell(4, 6)(randn({3, 4}), randn({3, 5})); }),
             Catch::Contains("tl::nn::LSTMCell: hx is [3, 5] float32 but must be [3, 6]"));
  CHECK_THAT(error_of<ShapeError>([&] { nn::GRUCell(4, 6)(randn({3, 5})); }),
             Catch::Contains("tl::nn::GRUCell: input is [3, 5] float32"));

  msg = error_of<ValueError>([] { nn::LSTM(4, 0); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::LSTM: hidden_size must be positive, got 0"));
  CHECK_THAT(msg, Catch::Contains("recurrent_test.cpp"));
  CHECK_THAT(error_of<ValueError>([] { nn::GRU(4, 6, {.dropout = 1.5}); }),
             Catch::Contains("tl::nn::GRU: dropout must be in [0, 1], got 1.5"));
  CHECK_THAT(error_of<ValueError>([] { nn::RNN(4, 6, {.nonlinearity = "sigmoid"}); }),
             Catch::Contains("tl::nn::RNN: unknown nonlinearity \"sigmoid\""));
  CHECK_THAT(error_of<ValueError>([] { nn::RNNCell(4, 6, true, "gelu"); }),
             Catch::Contains("tl::nn::RNNCell: unknown nonlinearity \"gelu\""));
  CHECK_THAT(error_of<ValueError>([] { nn::LSTM(4, 6, {.proj_size = 6}); }),
             Catch::Contains("proj_size must be 0 (none) or in [1, hidden_size = 6), got 6"));
  CHECK_THAT(error_of<ValueError>([] { nn::RNN(4, 6, {.num_layers = 0}); }),
             Catch::Contains("num_layers must be positive"));
}

TEST_CASE("an LSTM in a Sequential passes its output sequence on", "[nn][recurrent]") {
  manual_seed(6);
  nn::LSTM lstm(3, 4, {.batch_first = true});
  nn::Sequential model(lstm, nn::Linear(4, 2));
  const Tensor x = randn({2, 5, 3});
  CHECK(model(x).shape() == Shape{2, 5, 2});
}

TEST_CASE("an LSTM's forward and backward compile to the eager results with lengths as an input",
          "[nn][recurrent][compile]") {
  manual_seed(7);
  nn::LSTM lstm(3, 5, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  const Tensor x = randn({3, 4, 3});
  auto body = [&](const Tensor& xb, const Tensor& lengths) {
    lstm.zero_grad();
    const nn::RecurrentOutput r = lstm(xb, {}, {}, lengths);
    Tensor loss = (r.output * r.output).sum() + r.h_n.sum() + r.c_n.sum();
    loss.backward();
    return loss;
  };
  auto grads = [&] {
    std::vector<Tensor> g;
    for (const Tensor& p : lstm.parameters()) g.push_back(p.grad().detach().clone());
    return g;
  };
  auto compiled = compile(body);
  const std::vector<Tensor> all_lengths = {from_vector<int64_t>({4, 2, 3}, {3}), from_vector<int64_t>({4, 2, 3}, {3}),
                                           from_vector<int64_t>({4, 2, 3}, {3}), from_vector<int64_t>({1, 4, 2}, {3})};
  for (size_t call = 0; call < all_lengths.size(); ++call) {  // eager, traced, compiled, compiled with new lengths
    INFO("call " << call);
    const Tensor eager_loss = body(x, all_lengths[call]);
    const std::vector<Tensor> eager_grads = grads();
    const Tensor loss = compiled(x, all_lengths[call]);
    CHECK(loss.item<float>() == Approx(eager_loss.item<float>()).epsilon(1e-5));
    const std::vector<Tensor> got = grads();
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("parameter " << i);
      CHECK(max_abs_diff(got[i], eager_grads[i]) < 1e-5);
    }
  }
  CHECK(compiled.stats().compiled_calls == 2);
  CHECK(compiled.stats().traces == 1);
}
