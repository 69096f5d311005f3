// Attention and transformer layers with PyTorch's names, arguments and parameter layouts:
// scaled dot-product attention, rotary embeddings, MultiheadAttention, the transformer encoder
// and decoder layers, and the sinusoidal positional table. All are composites of op-table ops,
// so they differentiate, trace and compile as those do. Attention runs the fused `attention`
// op (a blocked online softmax, FlashAttention-2 style, that never holds the (L, S) scores)
// unless it needs the weights themselves (dropout, need_weights). docs/nn.md, "Attention and
// transformers".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tl/nn/layers.h"
#include "tl/nn/module.h"
#include "tl/ops.h"

namespace tl::nn::functional {

struct AttentionOptions {
  // Bool (true = may attend, as torch's scaled_dot_product_attention) or floating (added to
  // the scores; -inf masks); broadcastable to the score shape (..., L, S). Undefined: none.
  Tensor attn_mask = {};
  bool is_causal = false;   // query i attends keys j <= i (top-left aligned for L != S)
  double dropout_p = 0.0;   // applied to the weights whenever > 0, as PyTorch does
  std::optional<double> scale = std::nullopt;  // default 1 / sqrt(E)
};

// softmax(q k^T * scale + mask) v, as torch.nn.functional.scaled_dot_product_attention.
// q is (..., L, E), k (..., S, E), v (..., S, Ev), one floating dtype; the leading dims
// broadcast. Returns (..., L, Ev). A row whose keys are all masked gets weights of zero (so an
// output row of zeros and zero gradients), where PyTorch gives NaN. float32 and float64 CPU
// tensors with `dropout_p` 0 run the fused op: no (..., L, S) buffer in the forward or the
// backward (except for the gradient of a floating `attn_mask` that requires grad, which is that
// large, and under create_graph). Otherwise the composite allocates the (..., L, S) scores.
// Throws ShapeError on mismatched or non-broadcasting dims or mask, DTypeError on non-floating
// inputs or a mask neither bool nor floating, ValueError when both `attn_mask` and `is_causal`
// are given or `dropout_p` is outside [0, 1].
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options = {}, Site site = Site::here());

// Rotary position embedding (RoPE, Su et al. 2021) of `x` (..., T, D), D even: the channel pair
// (a, b) at position p is rotated by the angle p * base^(-2i/D), i the pair's index. By default
// the pairs are (i, i + D/2), the "rotate half" convention of GPT-NeoX and Hugging Face's
// LLaMA; with `interleaved` they are (2i, 2i+1), as GPT-J and the RoFormer paper. `positions`
// (integer or floating) broadcasts against x's dims but the last, e.g. [T]; the overload with
// `offset` uses offset, offset + 1, ... along dim -2. Angles are computed in float64, then
// cast to x's dtype. Throws ShapeError for an odd D or positions that do not broadcast.
Tensor rotary_embedding(const Tensor& x, const Tensor& positions, double base = 10000.0, bool interleaved = false,
                        Site site = Site::here());
Tensor rotary_embedding(const Tensor& x, int64_t offset = 0, double base = 10000.0, bool interleaved = false,
                        Site site = Site::here());

}  // namespace tl::nn::functional

namespace tl::nn {

// A float (size, size) mask with -inf above the diagonal and 0 elsewhere, as
// torch.nn.Transformer.generate_square_subsequent_mask: the causal attn_mask of the layers below.
Tensor generate_square_subsequent_mask(int64_t size, TensorOptions options = {}, Site site = Site::here());

struct MultiheadAttentionOptions {
  bool bias = true;          // in_proj_bias and out_proj.bias
  bool batch_first = true;   // (N, L, E); false: (L, N, E). Note: PyTorch's default is false.
  double dropout = 0.0;      // on the attention weights, in training
  std::optional<int64_t> kdim = std::nullopt;  // key features; default embed_dim
  std::optional<int64_t> vdim = std::nullopt;  // value features; default embed_dim
};

struct MultiheadAttentionOutput {
  Tensor output;   // (N, L, E) (or (L, N, E) unless batch_first; (L, E) for unbatched input)
  Tensor weights;  // (N, L, S) averaged over heads when need_weights, else undefined
};

// torch.nn.MultiheadAttention: in-projection, num_heads attentions of head_dim =
// embed_dim / num_heads, out-projection. Parameters, named as PyTorch's so its state dict
// loads by name: in_proj_weight [3E, E] (xavier-uniform) when kdim == vdim == E, else
// q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim]; in_proj_bias [3E]
// (zeros); out_proj.weight [E, E], out_proj.bias [E] (zeros).
// Masks follow PyTorch's MultiheadAttention, not scaled_dot_product_attention: a bool
// `attn_mask` ((L, S) or (N * num_heads, L, S)) or `key_padding_mask` ((N, S)) is true where
// attention is NOT allowed; floating masks are added to the scores. Rows with every key masked
// give zeros (PyTorch: NaN). Inputs may also be unbatched: (L, E), (S, kdim), (S, vdim).
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {},
                     Site site = Site::here());
  // Runs with the module's hooks (like Module::operator()); throws ShapeError naming the
  // input that does not fit.
  MultiheadAttentionOutput operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                      const Tensor& key_padding_mask = {}, const Tensor& attn_mask = {},
                                      bool need_weights = false, Site site = Site::here());
  MultiheadAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const Tensor& key_padding_mask = {}, const Tensor& attn_mask = {},
                                   bool need_weights = false);
  // Self-attention without masks: forward(x, x, x).output (so it can sit in a Sequential).
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t embed_dim, num_heads, head_dim, kdim, vdim;
  MultiheadAttentionOptions options;
  Tensor in_proj_weight;                              // undefined unless kdim == vdim == E
  Tensor q_proj_weight, k_proj_weight, v_proj_weight;  // defined only when kdim or vdim differ
  Tensor in_proj_bias;                                // undefined without bias
  Linear out_proj;
};

enum class Activation { kReLU, kGELU };

struct TransformerEncoderLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  Activation activation = Activation::kReLU;
  double layer_norm_eps = 1e-5;
  bool batch_first = true;   // PyTorch's default is false
  bool norm_first = false;   // true: pre-norm (x + f(norm(x))); false: post-norm (norm(x + f(x)))
};
using TransformerDecoderLayerOptions = TransformerEncoderLayerOptions;

// torch.nn.TransformerEncoderLayer: self-attention and a feed-forward block, each with a
// residual connection and a LayerNorm. Children, named as PyTorch's: self_attn, linear1,
// dropout, linear2, norm1, norm2, dropout1, dropout2. Masks as MultiheadAttention's;
// `is_causal` adds the causal mask (and may be combined with `src_mask`).
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerEncoderLayerOptions options = {},
                          Site site = Site::here());
  Tensor operator()(const Tensor& src, const Tensor& src_mask = {}, const Tensor& src_key_padding_mask = {},
                    bool is_causal = false, Site site = Site::here());
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = {},
                 bool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
  std::string extra_repr() const override;

  int64_t d_model, nhead;
  TransformerEncoderLayerOptions options;
  MultiheadAttention self_attn;
  Linear linear1;
  Dropout dropout;
  Linear linear2;
  LayerNorm norm1, norm2;
  Dropout dropout1, dropout2;
};

// torch.nn.TransformerDecoderLayer: causal-capable self-attention over `tgt`, cross-attention
// to `memory`, and a feed-forward block, each with a residual and a LayerNorm. Children:
// self_attn, multihead_attn, linear1, dropout, linear2, norm1, norm2, norm3, dropout1,
// dropout2, dropout3. `tgt_is_causal` adds the causal mask to the self-attention.
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, TransformerDecoderLayerOptions options = {},
                          Site site = Site::here());
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                    const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false,
                    Site site = Site::here());
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false);
  std::string extra_repr() const override;

  int64_t d_model, nhead;
  TransformerDecoderLayerOptions options;
  MultiheadAttention self_attn, multihead_attn;
  Linear linear1;
  Dropout dropout;
  Linear linear2;
  LayerNorm norm1, norm2, norm3;
  Dropout dropout1, dropout2, dropout3;
};

// The fixed table of "Attention Is All You Need" (Vaswani et al. 2017, section 3.5):
// pe[p, 2i] = sin(p / 10000^(2i / d_model)), pe[p, 2i + 1] = cos(same), a float32 buffer "pe"
// [max_len, d_model]. forward(x) with x (..., T, d_model), T <= max_len, returns x + pe[:T]
// (in x's dtype). Throws ShapeError otherwise.
class SinusoidalPositionalEmbedding : public Module {
 public:
  SinusoidalPositionalEmbedding(int64_t max_len, int64_t d_model, Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t max_len, d_model;
  Tensor pe;
};

}  // namespace tl::nn
