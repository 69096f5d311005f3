// Attention and transformer layers (tl/nn/attention.h), composed from op-table ops (the fused
// `attention` op among them, frontend/ops/nn/attention_op.h): the derivatives, tracing and
// compilation come from those ops, and this file holds only shape rules, mask conventions and
// PyTorch's parameter layout.
#include "tl/nn/attention.h"

#include <cmath>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include "frontend/ops/nn/attention_op.h"
#include "tl/nn/functional.h"
#include "tl/nn/init.h"

namespace tl::nn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Operands by name, for checking several alike.
using Named = std::initializer_list<std::pair<const char*, const Tensor*>>;

std::string describe(const Tensor& t) { return t.shape().str() + " " + dtype_name(t.dtype()); }

std::string format_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

Tensor scalar_like(double value, const Tensor& like) {
  return scalar_tensor(value, {.dtype = like.dtype(), .device = like.device()});
}

Shape leading_dims(const Tensor& t, int64_t keep_last) {
  const Shape& s = t.shape();
  return Shape(s.begin(), s.end() - keep_last);
}

void require_positive(int64_t value, const std::string& layer, const char* what, Site site) {
  if (value <= 0)
    throw ValueError("tl::nn::" + layer + ": " + what + " must be positive, got " + std::to_string(value) + " at " +
                     site.str());
}

void require_dropout(double p, const std::string& who, Site site) {
  if (!(p >= 0.0 && p <= 1.0))
    throw ValueError(who + ": dropout must be in [0, 1], got " + format_double(p) + " at " + site.str());
}

// The attention of scaled_dot_product_attention, also returning the weights (after dropout,
// as PyTorch's MultiheadAttention does) when `weights_out` is given. `mask` follows the
// functional convention: bool true = may attend, floating = added.
Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool is_causal, double dropout_p,
              std::optional<double> scale, Tensor* weights_out, Site site) {
  const std::string op = "tl::nn::functional::scaled_dot_product_attention";
  for (auto [name, t] : Named{{"q", &q}, {"k", &k}, {"v", &v}}) {
    if (!t->defined()) throw ValueError(op + ": " + name + " is an undefined tensor at " + site.str());
    if (!t->is_floating_point())
      throw DTypeError(op + ": " + name + " must be floating point, got " + describe(*t) + " at " + site.str());
    if (t->dim() < 2)
      throw ShapeError(op + ": " + name + " is " + describe(*t) + " but must have at least 2 dims (..., " +
                       (t == &q ? "L, E" : t == &k ? "S, E" : "S, Ev") + ") at " + site.str());
  }
  const std::string operands =
      "q is " + describe(q) + ", k is " + describe(k) + ", v is " + describe(v);
  if (q.dtype() != k.dtype() || q.dtype() != v.dtype())
    throw DTypeError(op + ": q, k and v must have one dtype: " + operands + " at " + site.str());
  if (q.size(-1) != k.size(-1))
    throw ShapeError(op + ": " + operands + " (q's last dim E must equal k's) at " + site.str());
  if (k.size(-2) != v.size(-2))
    throw ShapeError(op + ": " + operands + " (k and v must have the same sequence length S, dim -2) at " +
                     site.str());
  Shape batch, batch_kv;
  if (!broadcast_shapes(leading_dims(k, 2), leading_dims(v, 2), batch_kv) ||
      !broadcast_shapes(leading_dims(q, 2), batch_kv, batch))
    throw ShapeError(op + ": " + operands + " (the leading dims must broadcast) at " + site.str());
  if (dropout_p < 0.0 || dropout_p > 1.0)
    throw ValueError(op + ": dropout_p must be in [0, 1], got " + format_double(dropout_p) + " at " + site.str());
  const int64_t L = q.size(-2), S = k.size(-2), E = q.size(-1);
  Shape score_shape = batch;
  score_shape.push_back(L);
  score_shape.push_back(S);
  if (mask.defined()) {
    if (is_causal)
      throw ValueError(op + ": give attn_mask or is_causal, not both (fold the causal mask into attn_mask) at " +
                       site.str());
    if (mask.dtype() != kBool && !mask.is_floating_point())
      throw DTypeError(op + ": attn_mask must be bool (true = attend) or floating (added to the scores), got " +
                       describe(mask) + " at " + site.str());
    Shape joined;
    if (!broadcast_shapes(mask.shape(), score_shape, joined) || joined != score_shape)
      throw ShapeError(op + ": attn_mask is " + describe(mask) + " but must broadcast to the scores' shape " +
                       score_shape.str() + " (..., L, S) for " + operands + " at " + site.str());
  }

  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(E)));
  // The fused op computes the same softmax block by block without holding the (..., L, S)
  // scores; the composite remains for what needs them: dropout on the weights, the weights
  // themselves, and the dtypes and devices the fused kernel lacks (it is CPU-only).
  const bool fused = dropout_p == 0.0 && weights_out == nullptr && (q.dtype() == kFloat32 || q.dtype() == kFloat64) &&
                     q.device().type == DeviceType::kCPU;
  if (fused) {
    const Tensor m = mask.defined() && mask.dtype() != kBool ? mask.to(q.dtype(), site) : mask;
    return ops::attention(q, k, v, m, s, is_causal, site);
  }
  Tensor weights = ops::attention_weights(q, k, mask, s, is_causal, site);
  if (dropout_p > 0.0) weights = functional::dropout(weights, dropout_p, true, site);
  if (weights_out) *weights_out = weights;
  return matmul(weights, v, site);
}

// Where a bool MultiheadAttention mask (true = masked) is true, -inf; floating masks pass.
Tensor additive_mask(const Tensor& mask, const Tensor& like, Site site) {
  if (mask.dtype() != kBool) return mask.to(like.dtype(), site);
  return where(mask, scalar_like(-kInf, like), scalar_like(0.0, like), site);
}

// The (L, L) causal mask in MultiheadAttention's convention (true above the diagonal) merged
// into `mask` (undefined, bool true = masked, or additive).
Tensor with_causal(const Tensor& mask, int64_t L, const Tensor& like, Site site) {
  const Tensor rows = arange(L, {.dtype = kInt64, .device = like.device()}, site).unsqueeze(1, site);
  const Tensor cols = arange(L, {.dtype = kInt64, .device = like.device()}, site).unsqueeze(0, site);
  const Tensor blocked = gt(cols, rows, site);
  if (!mask.defined()) return blocked;
  if (mask.dtype() == kBool) return logical_or(mask, blocked, site);
  return add(mask, additive_mask(blocked, mask, site), site);
}

Tensor activate(const Tensor& x, Activation activation, Site site) {
  return activation == Activation::kGELU ? gelu(x, site) : relu(x, site);
}

const char* activation_name(Activation a) { return a == Activation::kGELU ? "gelu" : "relu"; }

void check_layer_options(const std::string& layer, int64_t d_model, int64_t nhead,
                         const TransformerEncoderLayerOptions& options, Site site) {
  require_positive(d_model, layer, "d_model", site);
  require_positive(nhead, layer, "nhead", site);
  require_positive(options.dim_feedforward, layer, "dim_feedforward", site);
  require_dropout(options.dropout, "tl::nn::" + layer, site);
}

std::string layer_repr(int64_t d_model, int64_t nhead, const TransformerEncoderLayerOptions& o) {
  return "d_model=" + std::to_string(d_model) + ", nhead=" + std::to_string(nhead) +
         ", dim_feedforward=" + std::to_string(o.dim_feedforward) + ", dropout=" + format_double(o.dropout) +
         ", activation=" + activation_name(o.activation) + ", batch_first=" + (o.batch_first ? "true" : "false") +
         ", norm_first=" + (o.norm_first ? "true" : "false");
}

// The sequence dim of a layer input: (N, L, E) batch-first, (L, N, E) otherwise, (L, E) unbatched.
int64_t sequence_length(const Tensor& x, bool batch_first) {
  return x.dim() == 3 && batch_first ? x.size(1) : x.size(0);
}

}  // namespace

// ---------------- functional ----------------

namespace functional {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options, Site site) {
  return attend(q, k, v, options.attn_mask, options.is_causal, options.dropout_p, options.scale, nullptr, site);
}

Tensor rotary_embedding(const Tensor& x, const Tensor& positions, double base, bool interleaved, Site site) {
  const std::string op = "tl::nn::functional::rotary_embedding";
  if (!x.defined() || !positions.defined())
    throw ValueError(op + ": x and positions must be defined tensors at " + site.str());
  if (!x.is_floating_point())
    throw DTypeError(op + ": x must be floating point, got " + describe(x) + " at " + site.str());
  if (positions.dtype() == kBool)
    throw DTypeError(op + ": positions must be integer or floating, got " + describe(positions) + " at " +
                     site.str());
  if (x.dim() < 1 || x.size(-1) % 2 != 0)
    throw ShapeError(op + ": x is " + describe(x) + " but its last dim must be even (channel pairs rotate) at " +
                     site.str());
  const Shape rows = leading_dims(x, 1);
  Shape joined;
  if (!broadcast_shapes(positions.shape(), rows, joined) || joined != rows)
    throw ShapeError(op + ": positions is " + describe(positions) + " but must broadcast to x's dims but the last, " +
                     rows.str() + " (x is " + describe(x) + ") at " + site.str());
  const int64_t D = x.size(-1), half = D / 2;
  std::vector<double> inv_freq(half);
  for (int64_t i = 0; i < half; ++i) inv_freq[i] = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(D));
  const Tensor freq = from_vector<double>(inv_freq, {half}, {.dtype = kFloat64}, site).to(x.device(), site);
  const Tensor angles = mul(positions.to(kFloat64, site).unsqueeze(-1, site), freq, site);  // (..., half)
  const Tensor cos_t = cos(angles, site).to(x.dtype(), site), sin_t = sin(angles, site).to(x.dtype(), site);
  const int64_t last = x.dim() - 1;
  if (!interleaved) {
    const std::vector<Tensor> xs = split(x, {half, half}, last, site);
    return cat({sub(mul(xs[0], cos_t, site), mul(xs[1], sin_t, site), site),
                add(mul(xs[1], cos_t, site), mul(xs[0], sin_t, site), site)},
               last, site);
  }
  Shape pairs = rows;
  pairs.push_back(half);
  pairs.push_back(2);
  const Tensor xp = x.reshape(pairs, site);
  const Tensor a = xp.select(last + 1, 0, site), b = xp.select(last + 1, 1, site);
  return stack({sub(mul(a, cos_t, site), mul(b, sin_t, site), site), add(mul(a, sin_t, site), mul(b, cos_t, site), site)},
               last + 1, site)
      .reshape(x.shape(), site);
}

Tensor rotary_embedding(const Tensor& x, int64_t offset, double base, bool interleaved, Site site) {
  if (!x.defined() || x.dim() < 2)
    throw ShapeError("tl::nn::functional::rotary_embedding: x is " + (x.defined() ? describe(x) : "undefined") +
                     " but must be (..., T, D) to take positions from an offset at " + site.str());
  const int64_t T = x.size(-2);
  const Tensor positions = arange(static_cast<double>(offset), static_cast<double>(offset + T), 1,
                                  {.dtype = kFloat64, .device = x.device()}, site);
  return rotary_embedding(x, positions, base, interleaved, site);
}

}  // namespace functional

// ---------------- masks ----------------

Tensor generate_square_subsequent_mask(int64_t size, TensorOptions options, Site site) {
  if (size < 0)
    throw ValueError("tl::nn::generate_square_subsequent_mask: size must be >= 0, got " + std::to_string(size) +
                     " at " + site.str());
  if (!is_floating(options.dtype))
    throw DTypeError("tl::nn::generate_square_subsequent_mask: the mask is additive, so its dtype must be "
                     "floating, got " + std::string(dtype_name(options.dtype)) + " at " + site.str());
  const Tensor rows = arange(size, {.dtype = kInt64, .device = options.device}, site).unsqueeze(1, site);
  const Tensor cols = arange(size, {.dtype = kInt64, .device = options.device}, site).unsqueeze(0, site);
  const TensorOptions scalar{.dtype = options.dtype, .device = options.device};
  return where(gt(cols, rows, site), scalar_tensor(-kInf, scalar, site), scalar_tensor(0.0, scalar, site), site);
}

// ---------------- MultiheadAttention ----------------

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options,
                                       Site site)
    : embed_dim(embed_dim),
      num_heads(num_heads),
      head_dim(num_heads > 0 ? embed_dim / num_heads : 0),
      kdim(options.kdim.value_or(embed_dim)),
      vdim(options.vdim.value_or(embed_dim)),
      options(options),
      out_proj((require_positive(embed_dim, "MultiheadAttention", "embed_dim", site), embed_dim), embed_dim,
               options.bias, site) {
  require_positive(num_heads, "MultiheadAttention", "num_heads", site);
  require_positive(kdim, "MultiheadAttention", "kdim", site);
  require_positive(vdim, "MultiheadAttention", "vdim", site);
  if (embed_dim % num_heads != 0)
    throw ValueError("tl::nn::MultiheadAttention: embed_dim (" + std::to_string(embed_dim) +
                     ") must be divisible by num_heads (" + std::to_string(num_heads) + ") at " + site.str());
  require_dropout(options.dropout, "tl::nn::MultiheadAttention", site);
  // PyTorch's _reset_parameters: xavier-uniform projections (the [3E, E] matrix as one),
  // zero biases; out_proj.weight keeps Linear's default.
  if (kdim == embed_dim && vdim == embed_dim) {
    in_proj_weight = register_parameter("in_proj_weight", empty({3 * embed_dim, embed_dim}), true, site);
    init::xavier_uniform_(in_proj_weight, 1.0, site);
  } else {
    q_proj_weight = register_parameter("q_proj_weight", empty({embed_dim, embed_dim}), true, site);
    k_proj_weight = register_parameter("k_proj_weight", empty({embed_dim, kdim}), true, site);
    v_proj_weight = register_parameter("v_proj_weight", empty({embed_dim, vdim}), true, site);
    for (const Tensor& w : {q_proj_weight, k_proj_weight, v_proj_weight}) init::xavier_uniform_(w, 1.0, site);
  }
  if (options.bias) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * embed_dim}), true, site);
  register_module("out_proj", out_proj, site);
  if (options.bias) init::zeros_(out_proj.bias);
}

MultiheadAttentionOutput MultiheadAttention::operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                                        const Tensor& key_padding_mask, const Tensor& attn_mask,
                                                        bool need_weights, Site site) {
  Tensor weights;
  Tensor output = call(
      {query, key, value, key_padding_mask, attn_mask},
      [&](const std::vector<Tensor>& in) {
        MultiheadAttentionOutput r = forward(in[0], in[1], in[2], in[3], in[4], need_weights);
        weights = r.weights;
        return r.output;
      },
      site);
  return {output, weights};
}

Tensor MultiheadAttention::forward(const Tensor& x) { return forward(x, x, x).output; }

MultiheadAttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                     const Tensor& key_padding_mask, const Tensor& attn_mask,
                                                     bool need_weights) {
  const Site site = call_site();
  const std::string layer = "tl::nn::MultiheadAttention";
  for (auto [name, t] : Named{{"query", &query}, {"key", &key}, {"value", &value}})
    if (!t->defined()) throw ValueError(layer + ": " + name + " is an undefined tensor at " + site.str());
  const bool batched = query.dim() == 3;
  const std::string layout = !batched ? "(L, E) unbatched" : options.batch_first ? "(N, L, E)" : "(L, N, E)";
  const std::string operands =
      "query is " + describe(query) + ", key is " + describe(key) + ", value is " + describe(value);
  if ((query.dim() != 2 && query.dim() != 3) || key.dim() != query.dim() || value.dim() != query.dim())
    throw ShapeError(layer + ": " + operands + "; expected query, key and value all 3-D (batched) or all 2-D " +
                     "(unbatched) at " + site.str());
  // Work batch-first: (N, L, E).
  auto to_batch_first = [&](const Tensor& t) {
    return !batched ? t.unsqueeze(0, site) : options.batch_first ? t : t.transpose(0, 1, site);
  };
  const Tensor q = to_batch_first(query), k = to_batch_first(key), v = to_batch_first(value);
  const int64_t N = q.size(0), L = q.size(1), S = k.size(1), H = num_heads, E = embed_dim;
  if (q.size(2) != E || k.size(2) != kdim || v.size(2) != vdim || k.size(0) != N || v.size(0) != N ||
      v.size(1) != S)
    throw ShapeError(layer + ": " + operands + " but the layer expects " + layout + " with E = " + std::to_string(E) +
                     ", key features " + std::to_string(kdim) + ", value features " + std::to_string(vdim) +
                     ", one batch size and one key/value length at " + site.str());

  // The masks, as one mask in scaled_dot_product_attention's convention, shaped to broadcast
  // against the scores (N, H, L, S).
  const Shape kpm_shape = batched ? Shape{N, S} : Shape{S};
  if (key_padding_mask.defined()) {
    if (key_padding_mask.dtype() != kBool && !key_padding_mask.is_floating_point())
      throw DTypeError(layer + ": key_padding_mask must be bool (true = ignore the key) or floating (added), got " +
                       describe(key_padding_mask) + " at " + site.str());
    if (key_padding_mask.shape() != kpm_shape)
      throw ShapeError(layer + ": key_padding_mask is " + describe(key_padding_mask) + " but must be " +
                       kpm_shape.str() + " (N, S) for " + operands + " at " + site.str());
  }
  if (attn_mask.defined()) {
    if (attn_mask.dtype() != kBool && !attn_mask.is_floating_point())
      throw DTypeError(layer + ": attn_mask must be bool (true = not allowed to attend) or floating (added), got " +
                       describe(attn_mask) + " at " + site.str());
    if (attn_mask.shape() != Shape{L, S} && attn_mask.shape() != Shape{N * H, L, S})
      throw ShapeError(layer + ": attn_mask is " + describe(attn_mask) + " but must be " + Shape{L, S}.str() +
                       " (L, S) or " + Shape{N * H, L, S}.str() + " (N * num_heads, L, S) for " + operands + " at " +
                       site.str());
  }
  Tensor am = attn_mask.defined() && attn_mask.dim() == 3 ? attn_mask.reshape({N, H, L, S}, site) : attn_mask;
  Tensor kpm = key_padding_mask.defined() ? key_padding_mask.reshape({N, 1, 1, S}, site) : Tensor();
  Tensor mask;
  if (am.defined() || kpm.defined()) {
    const bool all_bool = (!am.defined() || am.dtype() == kBool) && (!kpm.defined() || kpm.dtype() == kBool);
    if (all_bool) {
      mask = logical_not(am.defined() && kpm.defined() ? logical_or(am, kpm, site) : am.defined() ? am : kpm, site);
    } else {
      mask = am.defined() ? additive_mask(am, q, site) : Tensor();
      if (kpm.defined()) mask = mask.defined() ? add(mask, additive_mask(kpm, q, site), site) : additive_mask(kpm, q, site);
    }
  }

  // In-projection. The packed [3E, E] weight holds W_q, W_k, W_v as row blocks.
  Tensor wq = q_proj_weight, wk = k_proj_weight, wv = v_proj_weight;
  if (in_proj_weight.defined()) {
    const std::vector<Tensor> w = split(in_proj_weight, {E, E, E}, 0, site);
    wq = w[0], wk = w[1], wv = w[2];
  }
  auto project = [&](const Tensor& x, const Tensor& w, int64_t block) {
    Tensor y = matmul(x, w.t(site), site);
    if (in_proj_bias.defined()) y = add(y, in_proj_bias.narrow(0, block * E, E, site), site);
    return y;
  };
  // (N, T, E) -> (N, H, T, head_dim)
  auto heads = [&](const Tensor& x, int64_t T) { return x.reshape({N, T, H, head_dim}, site).transpose(1, 2, site); };
  const Tensor qh = heads(project(q, wq, 0), L), kh = heads(project(k, wk, 1), S), vh = heads(project(v, wv, 2), S);

  Tensor weights;
  const double dropout_p = is_training() ? options.dropout : 0.0;
  const Tensor attended = attend(qh, kh, vh, mask, false, dropout_p, std::nullopt, need_weights ? &weights : nullptr,
                                 site);  // (N, H, L, head_dim)
  Tensor out = out_proj(attended.transpose(1, 2, site).reshape({N, L, E}, site), site);
  if (!batched) {
    out = out.squeeze(0, site);
  } else if (!options.batch_first) {
    out = out.transpose(0, 1, site);
  }
  if (need_weights) {
    weights = mean(weights, {1}, false, site);  // (N, L, S), averaged over heads as PyTorch's default
    if (!batched) weights = weights.squeeze(0, site);
  }
  return {out, weights};
}

std::string MultiheadAttention::extra_repr() const {
  std::string s = "embed_dim=" + std::to_string(embed_dim) + ", num_heads=" + std::to_string(num_heads) +
                  ", dropout=" + format_double(options.dropout) + ", bias=" + (options.bias ? "true" : "false") +
                  ", batch_first=" + (options.batch_first ? "true" : "false");
  if (kdim != embed_dim) s += ", kdim=" + std::to_string(kdim);
  if (vdim != embed_dim) s += ", vdim=" + std::to_string(vdim);
  return s;
}

// ---------------- TransformerEncoderLayer ----------------

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead,
                                                 TransformerEncoderLayerOptions options, Site site)
    : d_model(d_model),
      nhead(nhead),
      options(options),
      self_attn((check_layer_options("TransformerEncoderLayer", d_model, nhead, options, site), d_model), nhead,
                {.batch_first = options.batch_first, .dropout = options.dropout}, site),
      linear1(d_model, options.dim_feedforward, true, site),
      dropout(options.dropout, site),
      linear2(options.dim_feedforward, d_model, true, site),
      norm1({d_model}, {.eps = options.layer_norm_eps}, site),
      norm2({d_model}, {.eps = options.layer_norm_eps}, site),
      dropout1(options.dropout, site),
      dropout2(options.dropout, site) {
  register_module("self_attn", self_attn, site);
  register_module("linear1", linear1, site);
  register_module("dropout", dropout, site);
  register_module("linear2", linear2, site);
  register_module("norm1", norm1, site);
  register_module("norm2", norm2, site);
  register_module("dropout1", dropout1, site);
  register_module("dropout2", dropout2, site);
}

Tensor TransformerEncoderLayer::operator()(const Tensor& src, const Tensor& src_mask,
                                           const Tensor& src_key_padding_mask, bool is_causal, Site site) {
  return call({src, src_mask, src_key_padding_mask},
              [&](const std::vector<Tensor>& in) { return forward(in[0], in[1], in[2], is_causal); }, site);
}

// A transformer layer's sequence input: (N, len, d_model), (len, N, d_model) or unbatched (len, d_model).
static void require_sequence(const Tensor& t, const char* layer, const char* name, const char* len, int64_t d_model,
                      bool batch_first, Site site) {
  if (t.defined() && (t.dim() == 2 || t.dim() == 3) && t.size(-1) == d_model) return;
  const std::string l(len), d = std::to_string(d_model);
  throw ShapeError(std::string("tl::nn::") + layer + ": " + name + " is " + (t.defined() ? describe(t) : "undefined") +
                   " but the layer expects " + (batch_first ? "(N, " + l + ", " : "(" + l + ", N, ") + d + ") or (" +
                   l + ", " + d + ") at " + site.str());
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask,
                                        const Tensor& src_key_padding_mask, bool is_causal) {
  const Site site = call_site();
  require_sequence(src, "TransformerEncoderLayer", "src", "L", d_model, options.batch_first, site);
  const Tensor mask = is_causal ? with_causal(src_mask, sequence_length(src, options.batch_first), src, site) : src_mask;
  auto self_attention = [&](const Tensor& x) {
    return dropout1(self_attn(x, x, x, src_key_padding_mask, mask, false, site).output, site);
  };
  auto feed_forward = [&](const Tensor& x) {
    return dropout2(linear2(dropout(activate(linear1(x, site), options.activation, site), site), site), site);
  };
  Tensor x = src;
  if (options.norm_first) {
    x = add(x, self_attention(norm1(x, site)), site);
    return add(x, feed_forward(norm2(x, site)), site);
  }
  x = norm1(add(x, self_attention(x), site), site);
  return norm2(add(x, feed_forward(x), site), site);
}

std::string TransformerEncoderLayer::extra_repr() const { return layer_repr(d_model, nhead, options); }

// ---------------- TransformerDecoderLayer ----------------

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model, int64_t nhead,
                                                 TransformerDecoderLayerOptions options, Site site)
    : d_model(d_model),
      nhead(nhead),
      options(options),
      self_attn((check_layer_options("TransformerDecoderLayer", d_model, nhead, options, site), d_model), nhead,
                {.batch_first = options.batch_first, .dropout = options.dropout}, site),
      multihead_attn(d_model, nhead, {.batch_first = options.batch_first, .dropout = options.dropout}, site),
      linear1(d_model, options.dim_feedforward, true, site),
      dropout(options.dropout, site),
      linear2(options.dim_feedforward, d_model, true, site),
      norm1({d_model}, {.eps = options.layer_norm_eps}, site),
      norm2({d_model}, {.eps = options.layer_norm_eps}, site),
      norm3({d_model}, {.eps = options.layer_norm_eps}, site),
      dropout1(options.dropout, site),
      dropout2(options.dropout, site),
      dropout3(options.dropout, site) {
  register_module("self_attn", self_attn, site);
  register_module("multihead_attn", multihead_attn, site);
  register_module("linear1", linear1, site);
  register_module("dropout", dropout, site);
  register_module("linear2", linear2, site);
  register_module("norm1", norm1, site);
  register_module("norm2", norm2, site);
  register_module("norm3", norm3, site);
  register_module("dropout1", dropout1, site);
  register_module("dropout2", dropout2, site);
  register_module("dropout3", dropout3, site);
}

Tensor TransformerDecoderLayer::operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                           const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                           const Tensor& memory_key_padding_mask, bool tgt_is_causal, Site site) {
  return call({tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask},
              [&](const std::vector<Tensor>& in) {
                return forward(in[0], in[1], in[2], in[3], in[4], in[5], tgt_is_causal);
              },
              site);
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                        const Tensor& memory_key_padding_mask, bool tgt_is_causal) {
  const Site site = call_site();
  for (auto [name, t] : Named{{"tgt", &tgt}, {"memory", &memory}})
    require_sequence(*t, "TransformerDecoderLayer", name, "T", d_model, options.batch_first, site);
  const Tensor mask =
      tgt_is_causal ? with_causal(tgt_mask, sequence_length(tgt, options.batch_first), tgt, site) : tgt_mask;
  auto self_attention = [&](const Tensor& x) {
    return dropout1(self_attn(x, x, x, tgt_key_padding_mask, mask, false, site).output, site);
  };
  auto cross_attention = [&](const Tensor& x) {
    return dropout2(multihead_attn(x, memory, memory, memory_key_padding_mask, memory_mask, false, site).output, site);
  };
  auto feed_forward = [&](const Tensor& x) {
    return dropout3(linear2(dropout(activate(linear1(x, site), options.activation, site), site), site), site);
  };
  Tensor x = tgt;
  if (options.norm_first) {
    x = add(x, self_attention(norm1(x, site)), site);
    x = add(x, cross_attention(norm2(x, site)), site);
    return add(x, feed_forward(norm3(x, site)), site);
  }
  x = norm1(add(x, self_attention(x), site), site);
  x = norm2(add(x, cross_attention(x), site), site);
  return norm3(add(x, feed_forward(x), site), site);
}

std::string TransformerDecoderLayer::extra_repr() const { return layer_repr(d_model, nhead, options); }

// ---------------- SinusoidalPositionalEmbedding ----------------

SinusoidalPositionalEmbedding::SinusoidalPositionalEmbedding(int64_t max_len, int64_t d_model, Site site)
    : max_len(max_len), d_model(d_model) {
  require_positive(max_len, "SinusoidalPositionalEmbedding", "max_len", site);
  require_positive(d_model, "SinusoidalPositionalEmbedding", "d_model", site);
  // Computed in double, stored as float32 (the table PyTorch tutorials build in float32).
  std::vector<float> table(static_cast<size_t>(max_len * d_model));
  for (int64_t p = 0; p < max_len; ++p)
    for (int64_t i = 0; i < d_model; ++i) {
      const double angle = static_cast<double>(p) *
                           std::pow(10000.0, -static_cast<double>(i - i % 2) / static_cast<double>(d_model));
      table[p * d_model + i] = static_cast<float>(i % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  pe = register_buffer("pe", from_vector<float>(table, {max_len, d_model}, {.dtype = kFloat32}, site), site);
}

Tensor SinusoidalPositionalEmbedding::forward(const Tensor& x) {
  const Site site = call_site();
  if (!x.defined() || x.dim() < 2 || x.size(-1) != d_model || x.size(-2) > max_len)
    throw ShapeError("tl::nn::SinusoidalPositionalEmbedding: input is " + (x.defined() ? describe(x) : "undefined") +
                     " but the layer expects (..., T, " + std::to_string(d_model) + ") with T <= max_len = " +
                     std::to_string(max_len) + " at " + site.str());
  if (!x.is_floating_point())
    throw DTypeError("tl::nn::SinusoidalPositionalEmbedding: input must be floating point, got " + describe(x) +
                     " at " + site.str());
  return add(x, pe.narrow(0, 0, x.size(-2), site).to(x.dtype(), site), site);
}

std::string SinusoidalPositionalEmbedding::extra_repr() const {
  return "max_len=" + std::to_string(max_len) + ", d_model=" + std::to_string(d_model);
}

}  // namespace tl::nn
