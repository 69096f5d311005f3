// tl::nn's attention layers against torch.nn (PyTorch 1.13 from python3-torch): PyTorch's state
// dicts load into MultiheadAttention and the transformer encoder and decoder layers by name,
// and the outputs, attention weights and the gradients of a weighted sum with respect to every
// input and parameter agree in float64; the outputs also in float32. The reference is computed
// at test time by attention_reference.py.
#include <catch2/catch.hpp>

#include <cmath>
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

// One case of attention_reference.py: the tl model and how to run it on the case's inputs
// (named as in the script); returns the output and, for MultiheadAttention, the weights.
struct Case {
  std::string name;
  std::function<std::shared_ptr<nn::Module>()> make;
  std::vector<std::string> inputs;  // the floating inputs that get gradients
  std::function<std::pair<Tensor, Tensor>(nn::Module&, std::map<std::string, Tensor>&)> run;
};

std::pair<Tensor, Tensor> run_mha(nn::Module& m, std::map<std::string, Tensor>& in) {
  auto r = dynamic_cast<nn::MultiheadAttention&>(m)(in["query"], in["key"], in["value"], in["key_padding_mask"],
                                                    in["attn_mask"], true);
  return {r.output, r.weights};
}
std::pair<Tensor, Tensor> run_encoder(nn::Module& m, std::map<std::string, Tensor>& in) {
  return {dynamic_cast<nn::TransformerEncoderLayer&>(m)(in["src"], in["src_mask"], in["src_key_padding_mask"]),
          Tensor()};
}
std::pair<Tensor, Tensor> run_decoder(nn::Module& m, std::map<std::string, Tensor>& in) {
  return {dynamic_cast<nn::TransformerDecoderLayer&>(m)(in["tgt"], in["memory"], in["tgt_mask"], {}, {},
                                                        in["memory_key_padding_mask"]),
          Tensor()};
}

std::vector<Case> cases() {
  const nn::TransformerEncoderLayerOptions post{.dim_feedforward = 64, .dropout = 0.0};
  const nn::TransformerEncoderLayerOptions pre{.dim_feedforward = 64, .dropout = 0.0, .norm_first = true};
  nn::TransformerDecoderLayerOptions pre_gelu = pre;
  pre_gelu.activation = nn::Activation::kGELU;
  const std::vector<std::string> qkv = {"query", "key", "value"};
  return {
      {"mha_bool", [] { return std::make_shared<nn::MultiheadAttention>(16, 4); }, qkv, run_mha},
      {"mha_float", [] { return std::make_shared<nn::MultiheadAttention>(16, 4); }, qkv, run_mha},
      {"mha_kv", [] { return std::make_shared<nn::MultiheadAttention>(16, 2, nn::MultiheadAttentionOptions{.kdim = 12, .vdim = 10}); },
       qkv, run_mha},
      {"enc_post", [=] { return std::make_shared<nn::TransformerEncoderLayer>(32, 4, post); }, {"src"}, run_encoder},
      {"enc_pre", [=] { return std::make_shared<nn::TransformerEncoderLayer>(32, 4, pre); }, {"src"}, run_encoder},
      {"dec_post", [=] { return std::make_shared<nn::TransformerDecoderLayer>(32, 4, post); }, {"tgt", "memory"},
       run_decoder},
      {"dec_pre", [=] { return std::make_shared<nn::TransformerDecoderLayer>(32, 4, pre_gelu); }, {"tgt", "memory"},
       run_decoder},
  };
}

}  // namespace

TEST_CASE("attention layers load PyTorch state dicts and match its outputs and gradients", "[interop][nn][attention]") {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  test::TempDir dir("tl_interop_attention_");
  const std::string command = std::string(TL_TORCH_PYTHON) + " " + TL_ATTENTION_REFERENCE_SCRIPT + " " + dir.path.string();
  REQUIRE(std::system(command.c_str()) == 0);
  const std::vector<std::string> masks = {"attn_mask", "key_padding_mask", "src_mask", "src_key_padding_mask",
                                          "tgt_mask", "memory_key_padding_mask"};
  for (const Case& c : cases()) {
    INFO(c.name);
    const Reference ref{dir.path, c.name};
    // The same parameter names in the same order, and PyTorch's values load by name.
    std::shared_ptr<nn::Module> model = c.make();
    model->to(kFloat64).eval();
    ref.load_parameters_into(*model);

    std::map<std::string, Tensor> in;
    for (const std::string& m : masks) in[m] = ref.maybe("in." + m);
    for (const std::string& x : c.inputs) in[x] = ref.load("in." + x).requires_grad_();
    auto [out, weights] = c.run(*model, in);
    Tensor loss = (out * ref.load("r")).sum();
    if (weights.defined()) loss = loss + (weights * ref.load("rw")).sum();
    loss.backward();
    CHECK(test::max_relative_error(out, ref.load("out")) < 1e-9);
    if (weights.defined()) CHECK(test::max_relative_error(weights, ref.load("weights")) < 1e-9);
    for (const std::string& x : c.inputs) {
      INFO("d loss / d " << x);
      CHECK(test::max_relative_error(in[x].grad(), ref.load("ingrad." + x)) < 1e-9);
    }
    ref.check_parameter_grads(*model, 1e-9);

    // float32: the same weights and inputs, rounded.
    NoGradGuard no_grad;
    model->to(kFloat32);
    std::map<std::string, Tensor> in32;
    for (const auto& [key, t] : in) in32[key] = t.defined() && t.is_floating_point() ? t.detach().to(kFloat32) : t;
    auto [out32, weights32] = c.run(*model, in32);
    CHECK(out32.dtype() == kFloat32);
    CHECK(test::max_relative_error(out32, ref.load("out"), 0.1) < 1e-5);
    if (weights32.defined()) CHECK(test::max_relative_error(weights32, ref.load("weights"), 0.1) < 1e-5);
  }
}
