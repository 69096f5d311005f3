// Attention and transformer layers: scaled dot-product attention against its formula, masks
// (bool, additive, causal, fully masked rows), errors, float64 gradient checks, the layers
// under tl::compile, PyTorch's parameter names, and the positional embeddings.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tests/frontend/nn/nn_test_util.h"
#include "tl/tl.h"

using namespace tl;
namespace F = tl::nn::functional;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const TensorOptions f64{.dtype = kFloat64};

// softmax(q k^T * scale + mask) v, written out.
Tensor reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& additive = {},
                           double scale = 0) {
  if (scale == 0) scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  Tensor s = matmul(q, k.mT()) * scale;
  if (additive.defined()) s = s + additive;
  return matmul(softmax(s, -1), v);
}

using test::max_abs_diff;

bool has_nan(const Tensor& t) {
  for (double x : t.to_vector<double>())
    if (std::isnan(x)) return true;
  return false;
}

using test::error_of;
using test::parameter_names;

}  // namespace

TEST_CASE("scaled_dot_product_attention equals softmax(q k^T / sqrt(E)) v and broadcasts batch dims",
          "[nn][attention]") {
  manual_seed(1);
  Tensor q = randn({2, 3, 4, 8}, f64), k = randn({2, 3, 5, 8}, f64), v = randn({2, 3, 5, 6}, f64);
  Tensor y = F::scaled_dot_product_attention(q, k, v);
  CHECK(y.shape() == Shape{2, 3, 4, 6});
  CHECK(max_abs_diff(y, reference_attention(q, k, v)) < 1e-12);
  // An explicit scale replaces 1/sqrt(E).
  CHECK(max_abs_diff(F::scaled_dot_product_attention(q, k, v, {.scale = 0.3}), reference_attention(q, k, v, {}, 0.3)) <
        1e-12);
  // Leading dims broadcast: one query set against three key/value sets.
  Tensor q1 = randn({1, 4, 8}, f64), k3 = randn({3, 5, 8}, f64), v3 = randn({3, 5, 6}, f64);
  Tensor yb = F::scaled_dot_product_attention(q1, k3, v3);
  CHECK(yb.shape() == Shape{3, 4, 6});
  CHECK(max_abs_diff(yb, reference_attention(q1.expand({3, 4, 8}), k3, v3)) < 1e-12);
  // Unbatched (L, E) works too; float32 stays float32.
  CHECK(F::scaled_dot_product_attention(randn({4, 8}), randn({5, 8}), randn({5, 2})).dtype() == kFloat32);
}

TEST_CASE("a bool mask (true = attend) equals the additive mask with -inf where it is false", "[nn][attention][mask]") {
  manual_seed(2);
  Tensor q = randn({2, 4, 8}, f64), k = randn({2, 5, 8}, f64), v = randn({2, 5, 3}, f64);
  Tensor allow = rand({2, 4, 5}) > 0.3;
  allow = logical_or(allow, from_vector<bool>({true, false, false, false, false}, {5}));  // every row keeps key 0
  Tensor additive = where(allow, zeros({}, f64), full({}, -kInf, f64));
  Tensor by_bool = F::scaled_dot_product_attention(q, k, v, {.attn_mask = allow});
  Tensor by_add = F::scaled_dot_product_attention(q, k, v, {.attn_mask = additive});
  CHECK(max_abs_diff(by_bool, by_add) < 1e-12);
  CHECK(max_abs_diff(by_add, reference_attention(q, k, v, additive)) < 1e-12);
  // A finite additive mask (a bias) is added to the scores; a (L, S) mask broadcasts.
  Tensor bias = randn({4, 5}, f64);
  CHECK(max_abs_diff(F::scaled_dot_product_attention(q, k, v, {.attn_mask = bias}), reference_attention(q, k, v, bias)) <
        1e-12);
  // A float32 mask on float64 inputs keeps the inputs' dtype.
  CHECK(F::scaled_dot_product_attention(q, k, v, {.attn_mask = bias.to(kFloat32)}).dtype() == kFloat64);
}

TEST_CASE("is_causal equals an explicit lower-triangular mask, top-left aligned when L != S", "[nn][attention][mask]") {
  manual_seed(3);
  for (auto [L, S] : std::vector<std::pair<int64_t, int64_t>>{{5, 5}, {3, 6}, {6, 3}}) {
    INFO("L = " << L << ", S = " << S);
    Tensor q = randn({2, L, 4}, f64), k = randn({2, S, 4}, f64), v = randn({2, S, 3}, f64);
    std::vector<bool> tril;
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = 0; j < S; ++j) tril.push_back(j <= i);
    Tensor mask = from_vector<bool>(tril, {L, S});
    CHECK(max_abs_diff(F::scaled_dot_product_attention(q, k, v, {.is_causal = true}),
                       F::scaled_dot_product_attention(q, k, v, {.attn_mask = mask})) < 1e-12);
  }
  // Query 0 sees only key 0, so its output is v's first row.
  Tensor v = randn({4, 3}, f64);
  Tensor y = F::scaled_dot_product_attention(randn({4, 2}, f64), randn({4, 2}, f64), v, {.is_causal = true});
  CHECK(max_abs_diff(y.select(0, 0), v.select(0, 0)) < 1e-12);
}

TEST_CASE("a fully masked row gives zeros and zero gradients, not NaN", "[nn][attention][mask]") {
  manual_seed(4);
  Tensor q = randn({3, 4}, f64).requires_grad_(), k = randn({5, 4}, f64).requires_grad_(),
         v = randn({5, 2}, f64).requires_grad_();
  // Row 1 masks every key, by bool mask and by -inf additive mask.
  std::vector<bool> allow(15, true);
  for (int j = 0; j < 5; ++j) allow[5 + j] = false;
  const Tensor bool_mask = from_vector<bool>(allow, {3, 5});
  const Tensor add_mask = where(bool_mask, zeros({}, f64), full({}, -kInf, f64));
  for (const Tensor& mask : {bool_mask, add_mask}) {
    INFO("mask dtype " << dtype_name(mask.dtype()));
    q.set_grad({}), k.set_grad({}), v.set_grad({});
    Tensor y = F::scaled_dot_product_attention(q, k, v, {.attn_mask = mask});
    CHECK_FALSE(has_nan(y));
    CHECK(y.select(0, 1).to_vector<double>() == std::vector<double>{0.0, 0.0});
    // The other rows are unaffected.
    Tensor want = reference_attention(q.detach(), k.detach(), v.detach());
    CHECK(max_abs_diff(y.select(0, 0), want.select(0, 0)) < 1e-12);
    CHECK(max_abs_diff(y.select(0, 2), want.select(0, 2)) < 1e-12);
    y.sum().backward();
    CHECK_FALSE(has_nan(q.grad()));
    CHECK_FALSE(has_nan(k.grad()));
    CHECK_FALSE(has_nan(v.grad()));
    CHECK(q.grad().select(0, 1).to_vector<double>() == std::vector<double>{0, 0, 0, 0});
  }
}

TEST_CASE("dropout_p drops attention weights whenever it is positive", "[nn][attention][dropout]") {
  manual_seed(5);
  Tensor q = randn({2, 6, 4}), k = randn({2, 7, 4}), v = ones({2, 7, 1});
  // With v all ones each output is the sum of its row's kept weights, scaled by 1 / (1 - p).
  Tensor plain = F::scaled_dot_product_attention(q, k, v);
  CHECK(max_abs_diff(plain, ones({2, 6, 1})) < 1e-6);
  manual_seed(9);
  Tensor a = F::scaled_dot_product_attention(q, k, v, {.dropout_p = 0.5});
  manual_seed(9);
  Tensor b = F::scaled_dot_product_attention(q, k, v, {.dropout_p = 0.5});
  CHECK(equal(a, b));  // reproducible from the seed
  CHECK(max_abs_diff(a, plain) > 1e-3);
  CHECK(max_abs_diff(F::scaled_dot_product_attention(q, k, v, {.dropout_p = 1.0}), zeros({2, 6, 1})) == 0.0);
}

TEST_CASE("attention errors name the function, the shapes and the caller's line", "[nn][attention][errors]") {
  Tensor q = ones({2, 4, 8}), k = ones({2, 5, 8}), v = ones({2, 5, 3});
  std::string msg = error_of<ShapeError>([&] { F::scaled_dot_product_attention(q, ones({2, 5, 7}), v); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::functional::scaled_dot_product_attention"));
  CHECK_THAT(msg, Catch::Contains("q is [2, 4, 8] float32, k is [2, 5, 7] float32"));
  CHECK_THAT(msg, Catch::Contains("last dim E"));
  CHECK_THAT(msg, Catch::Contains("attention_test.cpp:"));

  msg = error_of<ShapeError>([&] { F::scaled_dot_product_attention(q, k, ones({2, 6, 3})); });
  CHECK_THAT(msg, Catch::Contains("same sequence length S"));
  msg = error_of<ShapeError>([&] { F::scaled_dot_product_attention(q, ones({3, 5, 8}), ones({3, 5, 3})); });
  CHECK_THAT(msg, Catch::Contains("leading dims must broadcast"));

  msg = error_of<ShapeError>([&] { F::scaled_dot_product_attention(q, k, v, {.attn_mask = ones({4, 4}) > 0.0}); });
  CHECK_THAT(msg, Catch::Contains("attn_mask is [4, 4] bool"));
  CHECK_THAT(msg, Catch::Contains("[2, 4, 5]"));
  CHECK_THAT(msg, Catch::Contains("attention_test.cpp:"));

  msg = error_of<DTypeError>(
      [&] { F::scaled_dot_product_attention(q, k, v, {.attn_mask = zeros({4, 5}, {.dtype = kInt64})}); });
  CHECK_THAT(msg, Catch::Contains("attn_mask must be bool (true = attend) or floating"));
  CHECK_THAT(msg, Catch::Contains("int64"));

  msg = error_of<ValueError>(
      [&] { F::scaled_dot_product_attention(q, k, v, {.attn_mask = ones({4, 5}) > 0.0, .is_causal = true}); });
  CHECK_THAT(msg, Catch::Contains("not both"));

  msg = error_of<DTypeError>([&] { F::scaled_dot_product_attention(q, k.to(kFloat64), v); });
  CHECK_THAT(msg, Catch::Contains("one dtype"));

  nn::MultiheadAttention mha(8, 2);
  msg = error_of<ShapeError>([&] { mha(ones({2, 4, 6}), ones({2, 4, 6}), ones({2, 4, 6})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::MultiheadAttention"));
  CHECK_THAT(msg, Catch::Contains("query is [2, 4, 6] float32"));
  CHECK_THAT(msg, Catch::Contains("attention_test.cpp:"));
  msg = error_of<ShapeError>([&] { mha(ones({2, 4, 8}), ones({2, 5, 8}), ones({2, 5, 8}), ones({2, 4}) > 0.0); });
  CHECK_THAT(msg, Catch::Contains("key_padding_mask is [2, 4] bool but must be [2, 5]"));
  CHECK_THROWS_AS(nn::MultiheadAttention(10, 3), ValueError);
}

TEST_CASE("scaled_dot_product_attention's gradients match finite differences in float64", "[nn][attention][grad]") {
  manual_seed(6);
  auto input = [](Shape s) { return randn(s, f64).requires_grad_(); };
  const std::vector<Tensor> inputs = {input({2, 3, 4}), input({2, 5, 4}), input({2, 5, 3})};
  std::vector<bool> allow(15, true);
  allow[3] = allow[4] = false;
  for (int j = 0; j < 5; ++j) allow[5 + j] = false;  // row 1: fully masked
  const Tensor bool_mask = from_vector<bool>(allow, {3, 5});
  const Tensor bias = randn({2, 3, 5}, f64);
  const std::vector<std::pair<std::string, F::AttentionOptions>> cases = {
      {"plain", {}},
      {"scale", {.scale = 0.7}},
      {"causal", {.is_causal = true}},
      {"bool mask with a fully masked row", {.attn_mask = bool_mask}},
      {"additive mask", {.attn_mask = bias}},
  };
  for (const auto& [name, options] : cases) {
    INFO(name);
    GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>& in) { return F::scaled_dot_product_attention(in[0], in[1], in[2], options); },
        inputs);
    INFO(r.message);
    CHECK(r.ok);
  }
  // A learned additive bias (ALiBi-style) gets a gradient too.
  GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        return F::scaled_dot_product_attention(in[0], in[1], in[2], {.attn_mask = in[3]});
      },
      {inputs[0], inputs[1], inputs[2], bias.detach().requires_grad_()});
  CHECK(r.ok);
}

TEST_CASE("MultiheadAttention has PyTorch's parameter names and shapes", "[nn][attention][names]") {
  nn::MultiheadAttention mha(16, 4);
  CHECK(parameter_names(mha) ==
        std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  CHECK(mha.in_proj_weight.shape() == Shape{48, 16});
  CHECK(mha.in_proj_bias.shape() == Shape{48});
  CHECK(amax(abs(mha.in_proj_bias)).item<float>() == 0.0f);
  CHECK(amax(abs(mha.out_proj.bias)).item<float>() == 0.0f);
  // xavier-uniform over the packed [3E, E] matrix: bound sqrt(6 / (3E + E)).
  CHECK(amax(abs(mha.in_proj_weight)).item<float>() <= std::sqrt(6.0 / 64.0));

  nn::MultiheadAttention cross(16, 2, {.bias = false, .kdim = 12, .vdim = 10});
  CHECK(parameter_names(cross) ==
        std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"});
  CHECK(cross.k_proj_weight.shape() == Shape{16, 12});
  CHECK(cross.v_proj_weight.shape() == Shape{16, 10});

  nn::TransformerEncoderLayer enc(32, 4, {.dim_feedforward = 64});
  CHECK(parameter_names(enc) ==
        std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                                 "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
                                 "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"});
  std::vector<std::string> children;
  for (const auto& [name, m] : enc.named_children()) children.push_back(name);
  CHECK(children == std::vector<std::string>{"self_attn", "linear1", "dropout", "linear2", "norm1", "norm2",
                                              "dropout1", "dropout2"});

  nn::TransformerDecoderLayer dec(32, 4, {.dim_feedforward = 64});
  children.clear();
  for (const auto& [name, m] : dec.named_children()) children.push_back(name);
  CHECK(children == std::vector<std::string>{"self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1",
                                              "norm2", "norm3", "dropout1", "dropout2", "dropout3"});
  CHECK(dec.num_parameters() == 2 * (3 * 32 * 32 + 3 * 32 + 32 * 32 + 32) + (64 * 32 + 64) + (32 * 64 + 32) + 3 * 64);
}

TEST_CASE("MultiheadAttention: layouts, weights, and masks in PyTorch's convention", "[nn][attention]") {
  manual_seed(7);
  nn::MultiheadAttention mha(8, 2);
  Tensor q = randn({2, 4, 8}), kv = randn({2, 5, 8});
  auto [out, weights] = mha(q, kv, kv, {}, {}, true);
  CHECK(out.shape() == Shape{2, 4, 8});
  CHECK(weights.shape() == Shape{2, 4, 5});  // averaged over heads
  CHECK(max_abs_diff(sum(weights, {-1}), ones({2, 4})) < 1e-6);
  CHECK_FALSE(mha(q, kv, kv).weights.defined());
  // Unbatched input is the batched result of a batch of one.
  CHECK(max_abs_diff(mha(q.select(0, 1), kv.select(0, 1), kv.select(0, 1)).output, out.select(0, 1)) < 1e-6);
  // Sequence-first layout on a layer sharing the same parameters.
  nn::MultiheadAttention seq_first(8, 2, {.batch_first = false});
  seq_first.load_state_dict(mha.state_dict());
  CHECK(max_abs_diff(seq_first(q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1)).output.transpose(0, 1), out) <
        1e-6);
  // key_padding_mask true = ignore: the ignored key's values do not matter, and its weight is 0.
  Tensor pad = from_vector<bool>({false, false, false, false, true, false, false, false, false, false}, {2, 5});
  Tensor kv2 = kv.clone();
  {
    NoGradGuard no_grad;
    kv2.select(0, 0).select(0, 4).fill_(100.0);
  }
  auto masked = mha(q, kv, kv, pad, {}, true);
  CHECK(max_abs_diff(masked.output, mha(q, kv2, kv2, pad).output) < 1e-5);
  CHECK(amax(abs(masked.weights.select(0, 0).select(1, 4))).item<float>() == 0.0f);
  // attn_mask bool true = not allowed, the same as the additive -inf mask.
  Tensor blocked = rand({4, 5}) > 0.5;
  blocked = logical_and(blocked, from_vector<bool>({false, true, true, true, true}, {5}));
  Tensor additive = where(blocked, full({}, -kInf), zeros({}));
  CHECK(max_abs_diff(mha(q, kv, kv, {}, blocked).output, mha(q, kv, kv, {}, additive).output) < 1e-6);
}

TEST_CASE("a causal decoder's output at step t ignores later target steps", "[nn][attention][mask]") {
  manual_seed(8);
  nn::TransformerDecoderLayer dec(16, 2, {.dim_feedforward = 32, .dropout = 0.0});
  dec.eval();
  Tensor tgt = randn({2, 6, 16}), memory = randn({2, 4, 16});
  Tensor changed = tgt.clone();
  {
    NoGradGuard no_grad;
    changed.narrow(1, 3, 3).copy_(randn({2, 3, 16}));
  }
  Tensor a = dec(tgt, memory, {}, {}, {}, {}, true), b = dec(changed, memory, {}, {}, {}, {}, true);
  CHECK(max_abs_diff(a.narrow(1, 0, 3), b.narrow(1, 0, 3)) < 1e-6);
  CHECK(max_abs_diff(a.narrow(1, 3, 3), b.narrow(1, 3, 3)) > 1e-3);
  // tgt_is_causal is generate_square_subsequent_mask as tgt_mask.
  CHECK(max_abs_diff(a, dec(tgt, memory, nn::generate_square_subsequent_mask(6))) < 1e-6);
  // The encoder's is_causal likewise, and combines with a key padding mask.
  nn::TransformerEncoderLayer enc(16, 2, {.dim_feedforward = 32, .dropout = 0.0});
  Tensor pad = from_vector<bool>({false, false, false, false, false, true, false, false, false, false, false, false},
                                 {2, 6});
  CHECK(max_abs_diff(enc(tgt, {}, pad, true), enc(tgt, nn::generate_square_subsequent_mask(6), pad)) < 1e-6);
}

TEST_CASE("transformer layers and attention compile to the eager results", "[nn][attention][compile]") {
  manual_seed(10);
  for (bool norm_first : {false, true}) {
    INFO("norm_first " << norm_first);
    nn::TransformerEncoderLayer enc(16, 4, {.dim_feedforward = 32, .activation = nn::Activation::kGELU,
                                            .norm_first = norm_first});
    nn::TransformerDecoderLayer dec(16, 4, {.dim_feedforward = 32, .norm_first = norm_first});
    enc.eval();
    dec.eval();
    Tensor src = randn({2, 5, 16}), memory = randn({2, 7, 16});
    Tensor pad = from_vector<bool>({false, false, false, false, false, false, true, false, false, false, false, false,
                                    false, false},
                                   {2, 7});
    auto run = [&](const Tensor& s, const Tensor& m, const Tensor& p) {
      Tensor encoded = enc(m, {}, p);
      return dec(s, encoded, {}, {}, {}, p, true);
    };
    Tensor eager = run(src, memory, pad);
    auto compiled = compile(run);
    for (int call = 0; call < 3; ++call) {  // eager, traced, compiled
      INFO("call " << call);
      CHECK(max_abs_diff(compiled(src, memory, pad), eager) < 1e-5);
    }
    CHECK(compiled.stats().compiled_calls == 1);
  }
  // The functional form with a causal mask, and rotary embeddings.
  Tensor q = randn({2, 3, 6, 8}), k = randn({2, 3, 6, 8}), v = randn({2, 3, 6, 8});
  auto attention = [](const Tensor& a, const Tensor& b, const Tensor& c) {
    return F::scaled_dot_product_attention(F::rotary_embedding(a), F::rotary_embedding(b), c, {.is_causal = true});
  };
  Tensor eager = attention(q, k, v);
  auto compiled = compile(attention);
  for (int call = 0; call < 3; ++call) CHECK(max_abs_diff(compiled(q, k, v), eager) < 1e-5);
  CHECK(compiled.stats().compiled_calls == 1);
}

TEST_CASE("SinusoidalPositionalEmbedding adds the 'Attention Is All You Need' table", "[nn][attention][position]") {
  nn::SinusoidalPositionalEmbedding pos(10, 6);
  CHECK(pos.pe.shape() == Shape{10, 6});
  CHECK(pos.named_buffers().size() == 1);
  CHECK(pos.named_parameters().empty());
  for (int64_t p : {0, 3, 9})
    for (int64_t i : {0, 2, 4}) {
      const double angle = p / std::pow(10000.0, static_cast<double>(i) / 6.0);
      CHECK(pos.pe.item_at<float>({p, i}) == Approx(std::sin(angle)).margin(1e-6));
      CHECK(pos.pe.item_at<float>({p, i + 1}) == Approx(std::cos(angle)).margin(1e-6));
    }
  Tensor x = randn({2, 4, 6}, f64);
  Tensor y = pos(x);
  CHECK(y.dtype() == kFloat64);
  CHECK(max_abs_diff(y - x, pos.pe.narrow(0, 0, 4).to(kFloat64).unsqueeze(0).expand({2, 4, 6})) < 1e-12);
  std::string msg = error_of<ShapeError>([&] { pos(ones({2, 11, 6})); });
  CHECK_THAT(msg, Catch::Contains("T <= max_len = 10"));
  CHECK_THAT(msg, Catch::Contains("attention_test.cpp:"));
}

TEST_CASE("rotary_embedding rotates channel pairs by position: rotate-half and interleaved", "[nn][attention][position]") {
  manual_seed(11);
  const int64_t T = 5, D = 8;
  Tensor x = randn({2, T, D}, f64);
  for (bool interleaved : {false, true}) {
    INFO("interleaved " << interleaved);
    Tensor y = F::rotary_embedding(x, 0, 100.0, interleaved);
    CHECK(y.shape() == x.shape());
    // By hand: pair i of position p turns by p * base^(-2i/D).
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t p = 0; p < T; ++p)
        for (int64_t i = 0; i < D / 2; ++i) {
          const int64_t ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + D / 2;
          const double angle = p * std::pow(100.0, -2.0 * i / D);
          const double a = x.item_at<double>({b, p, ia}), c = x.item_at<double>({b, p, ib});
          CHECK(y.item_at<double>({b, p, ia}) == Approx(a * std::cos(angle) - c * std::sin(angle)).margin(1e-12));
          CHECK(y.item_at<double>({b, p, ib}) == Approx(c * std::cos(angle) + a * std::sin(angle)).margin(1e-12));
        }
    // Dot products depend only on the distance between positions.
    Tensor qv = randn({1, D}, f64), kv = randn({1, D}, f64);
    auto rot = [&](const Tensor& t, double p) { return F::rotary_embedding(t, full({1}, p, f64), 10000.0, interleaved); };
    const double near = sum(rot(qv, 3) * rot(kv, 1)).item<double>(), far = sum(rot(qv, 12) * rot(kv, 10)).item<double>();
    CHECK(near == Approx(far).margin(1e-12));
    // An offset is positions offset, offset + 1, ...
    Tensor positions = from_vector<int64_t>({7, 8, 9, 10, 11}, {T});
    CHECK(max_abs_diff(F::rotary_embedding(x, 7, 10000.0, interleaved),
                       F::rotary_embedding(x, positions, 10000.0, interleaved)) < 1e-12);
  }
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return F::rotary_embedding(in[0], 2); },
                  {randn({3, 4}, f64).requires_grad_()})
            .ok);
  std::string msg = error_of<ShapeError>([&] { F::rotary_embedding(ones({2, 5, 7})); });
  CHECK_THAT(msg, Catch::Contains("tl::nn::functional::rotary_embedding"));
  CHECK_THAT(msg, Catch::Contains("even"));
  CHECK_THAT(msg, Catch::Contains("attention_test.cpp:"));
  CHECK_THROWS_AS(F::rotary_embedding(ones({2, 5, 8}), ones({4})), ShapeError);
}
