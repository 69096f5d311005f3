// tl::nn's recurrent layers against torch.nn (PyTorch 1.13 from python3-torch): PyTorch's state
// dicts load into RNN, LSTM and GRU by name, and the outputs, final states and the gradients of a
// weighted sum with respect to the input, the initial states and every parameter agree in
// float64, over padded batches with per-sequence lengths (torch: pack_padded_sequence) too; the
// outputs also in float32. The reference is computed at test time by recurrent_reference.py.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "interop_util.h"
#include "tl/tl.h"

using namespace tl;

namespace {

using test::Reference;

// One case of recurrent_reference.py (same name, same model configuration).
struct Case {
  std::string name;
  std::function<std::shared_ptr<nn::RNNBase>()> make;
};

std::vector<Case> cases() {
  return {
      {"rnn_tanh", [] { return std::make_shared<nn::RNN>(5, 7, nn::RNNOptions{.num_layers = 2}); }},
      {"rnn_relu_lengths",
       [] {
         return std::make_shared<nn::RNN>(
             5, 7, nn::RNNOptions{.nonlinearity = "relu", .batch_first = true, .bidirectional = true});
       }},
      {"lstm", [] { return std::make_shared<nn::LSTM>(5, 7, nn::LSTMOptions{.num_layers = 2, .bidirectional = true}); }},
      {"lstm_lengths",
       [] {
         return std::make_shared<nn::LSTM>(5, 7,
                                           nn::LSTMOptions{.num_layers = 2, .batch_first = true, .bidirectional = true});
       }},
      {"lstm_short", [] { return std::make_shared<nn::LSTM>(5, 6, nn::LSTMOptions{.num_layers = 2}); }},
      {"lstm_proj",
       [] {
         return std::make_shared<nn::LSTM>(5, 8,
                                           nn::LSTMOptions{.num_layers = 2, .bidirectional = true, .proj_size = 3});
       }},
      {"lstm_unbatched", [] { return std::make_shared<nn::LSTM>(5, 7, nn::LSTMOptions{.bidirectional = true}); }},
      {"gru", [] { return std::make_shared<nn::GRU>(5, 7, nn::GRUOptions{.num_layers = 2, .batch_first = true}); }},
      {"gru_lengths",
       [] { return std::make_shared<nn::GRU>(5, 7, nn::GRUOptions{.num_layers = 2, .bidirectional = true}); }},
      {"gru_nobias",
       [] {
         return std::make_shared<nn::GRU>(5, 7,
                                          nn::GRUOptions{.bias = false, .batch_first = true, .bidirectional = true});
       }},
  };
}

nn::RecurrentOutput run(nn::RNNBase& m, const Tensor& x, const Tensor& h0, const Tensor& c0,
                        const nn::SequenceLengths& lengths) {
  if (auto* lstm = dynamic_cast<nn::LSTM*>(&m)) return (*lstm)(x, h0, c0, lengths);
  if (auto* gru = dynamic_cast<nn::GRU*>(&m)) return (*gru)(x, h0, lengths);
  return dynamic_cast<nn::RNN&>(m)(x, h0, lengths);
}

}  // namespace

TEST_CASE("recurrent layers load PyTorch state dicts and match its outputs and states and every gradient",
          "[interop][nn][recurrent]") {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  test::TempDir dir("tl_interop_recurrent_");
  const std::string command = std::string(TL_TORCH_PYTHON) + " " + TL_RECURRENT_REFERENCE_SCRIPT + " " + dir.path.string();
  REQUIRE(std::system(command.c_str()) == 0);
  for (const Case& c : cases()) {
    INFO(c.name);
    const Reference ref{dir.path, c.name};
    // The same parameter names in the same order, and PyTorch's values load by name.
    std::shared_ptr<nn::RNNBase> model = c.make();
    model->to(kFloat64).eval();
    ref.load_parameters_into(*model);

    std::map<std::string, Tensor> in;
    for (const std::string name : {"x", "h0", "c0"})
      if (ref.has("in." + name)) in[name] = ref.load("in." + name).requires_grad_();
    auto input = [&](const char* name) { return in.contains(name) ? in.at(name) : Tensor(); };
    const Tensor lengths = ref.maybe("lengths");
    const nn::RecurrentOutput r = run(*model, input("x"), input("h0"), input("c0"), lengths);
    Tensor loss = (r.output * ref.load("r")).sum() + (r.h_n * ref.load("rh")).sum();
    REQUIRE(r.c_n.defined() == ref.has("c_n"));
    if (r.c_n.defined()) loss = loss + (r.c_n * ref.load("rc")).sum();
    loss.backward();
    CHECK(test::max_relative_error(r.output, ref.load("out")) < 1e-9);
    CHECK(test::max_relative_error(r.h_n, ref.load("h_n")) < 1e-9);
    if (r.c_n.defined()) CHECK(test::max_relative_error(r.c_n, ref.load("c_n")) < 1e-9);
    for (const auto& [name, x] : in) {
      INFO("d loss / d " << name);
      REQUIRE(x.grad().defined());
      CHECK(test::max_relative_error(x.grad(), ref.load("ingrad." + name)) < 1e-9);
    }
    ref.check_parameter_grads(*model, 1e-9);

    // float32: the same weights and inputs, rounded; lengths as host values this time.
    NoGradGuard no_grad;
    model->to(kFloat32);
    std::map<std::string, Tensor> in32;
    for (const auto& [name, x] : in) in32[name] = x.detach().to(kFloat32);
    nn::SequenceLengths host_lengths;
    if (lengths.defined()) host_lengths = lengths.to_vector<int64_t>();
    auto input32 = [&](const char* name) { return in32.contains(name) ? in32.at(name) : Tensor(); };
    const nn::RecurrentOutput r32 = run(*model, input32("x"), input32("h0"), input32("c0"), host_lengths);
    CHECK(r32.output.dtype() == kFloat32);
    CHECK(test::max_relative_error(r32.output, ref.load("out"), 0.1) < 1e-5);
    CHECK(test::max_relative_error(r32.h_n, ref.load("h_n"), 0.1) < 1e-5);
    if (r32.c_n.defined()) CHECK(test::max_relative_error(r32.c_n, ref.load("c_n"), 0.1) < 1e-5);
  }
}
