// The standard layers: linear, convolution, pooling, normalization, embedding, dropout,
// reshaping and activations. Each is a Module (a handle, see tl/nn.h) whose parameters are
// public Tensor members named as in PyTorch, initialized with PyTorch's default
// distributions from tl's default generator (so tl::manual_seed makes them reproducible).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tl/nn/module.h"
#include "tl/ops.h"

namespace tl::nn {

// A pair of sizes for 2-D layers: `3` means {3, 3}; `{1, 2}` means height 1, width 2.
struct Size2 {
  int64_t h = 0;
  int64_t w = 0;
  Size2(int64_t both) : h(both), w(both) {}
  Size2(int64_t h, int64_t w) : h(h), w(w) {}
  Shape shape() const { return {h, w}; }
};

// (depth, height, width) of a 3-D layer: one value for all three, or each.
struct Size3 {
  int64_t d = 0;
  int64_t h = 0;
  int64_t w = 0;
  Size3(int64_t all) : d(all), h(all), w(all) {}
  Size3(int64_t d, int64_t h, int64_t w) : d(d), h(h), w(w) {}
  Shape shape() const { return {d, h, w}; }
};

// y = x W^T + b. x: [..., in_features] -> [..., out_features].
// weight: [out_features, in_features], bias: [out_features], both U(-k, k), k = 1/sqrt(in).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_features, out_features;
  Tensor weight, bias;  // bias undefined when constructed with bias = false
};

// What a convolution layer's padding holds, as PyTorch's padding_mode: zeros, the input
// mirrored without repeating the edge ('reflect', padding < the input's size), the edge
// repeated ('replicate'), or the input wrapped around ('circular', padding <= its size).
enum class PaddingMode { kZeros, kReflect, kReplicate, kCircular };

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  PaddingMode padding_mode = PaddingMode::kZeros;
  // PyTorch's padding="same" (stride 1 only; `padding` is then ignored): pads dilation * (K - 1)
  // in each dim so the output keeps the input's size, the odd one on the bottom/right.
  bool padding_same = false;
};
// 2-D convolution (cross-correlation). x: [N, C_in, H, W] -> [N, C_out, H', W'].
// weight: [C_out, C_in / groups, KH, KW], bias: [C_out], both U(-k, k),
// k = 1/sqrt(C_in / groups * KH * KW). Padding other than zeros is an index_select of the
// input (a copy) before a convolution without padding.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions options = {},
         Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  Size2 kernel_size;
  Conv2dOptions options;
  Tensor weight, bias;
};

struct Conv1dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  PaddingMode padding_mode = PaddingMode::kZeros;
  bool padding_same = false;  // as Conv2dOptions::padding_same
};
// 1-D convolution, run as Conv2d over a height of 1. x: [N, C_in, L] -> [N, C_out, L'].
// weight: [C_out, C_in / groups, K], bias: [C_out], initialized as Conv2d's.
class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Conv1dOptions options = {},
         Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels, kernel_size;
  Conv1dOptions options;
  Tensor weight, bias;
};

struct Conv3dOptions {
  Size3 stride = 1;
  Size3 padding = 0;  // zeros
  Size3 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};
// 3-D convolution (tl::conv3d). x: [N, C_in, D, H, W] -> [N, C_out, D', H', W'].
// weight: [C_out, C_in / groups, KD, KH, KW], bias: [C_out], initialized as Conv2d's.
class Conv3d : public Module {
 public:
  Conv3d(int64_t in_channels, int64_t out_channels, Size3 kernel_size, Conv3dOptions options = {},
         Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  Size3 kernel_size;
  Conv3dOptions options;
  Tensor weight, bias;
};

struct ConvTranspose2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;  // extra rows/columns on the bottom/right; < stride or dilation
  int64_t groups = 1;
  bool bias = true;
  Size2 dilation = 1;
};
// The transposed 2-D convolution (tl::conv_transpose2d). x: [N, C_in, H, W] -> [N, C_out, H', W'],
// H' = (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1.
// weight: [C_in, C_out / groups, KH, KW], bias: [C_out], both U(-k, k),
// k = 1/sqrt(C_out / groups * KH * KW) (PyTorch's fan-in of this layout).
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, ConvTranspose2dOptions options = {},
                  Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  Size2 kernel_size;
  ConvTranspose2dOptions options;
  Tensor weight, bias;
};

struct Pool2dOptions {
  Size2 stride = 0;  // 0: the kernel size, as in PyTorch
  Size2 padding = 0;
};
// Max over each window. x: [N, C, H, W].
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Size2 kernel_size, Pool2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Size2 kernel_size;
  Pool2dOptions options;
};
// Mean over each window (padding counts toward the divisor). x: [N, C, H, W].
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Size2 kernel_size, Pool2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Size2 kernel_size;
  Pool2dOptions options;
};

struct Pool3dOptions {
  Size3 stride = 0;  // 0: the kernel size, as in PyTorch
  Size3 padding = 0;
};
// Max over each window. x: [N, C, D, H, W].
class MaxPool3d : public Module {
 public:
  explicit MaxPool3d(Size3 kernel_size, Pool3dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Size3 kernel_size;
  Pool3dOptions options;
};
// Mean over each window (padding counts toward the divisor). x: [N, C, D, H, W].
class AvgPool3d : public Module {
 public:
  explicit AvgPool3d(Size3 kernel_size, Pool3dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Size3 kernel_size;
  Pool3dOptions options;
};

// Mean over `output_size` bins of [N, C, H, W] or [C, H, W] (tl::adaptive_avg_pool2d).
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size, Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Size2 output_size;
};

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;  // running = (1 - momentum) * running + momentum * batch
  bool affine = true;     // learn weight (ones) and bias (zeros)
  bool track_running_stats = true;
};
// Batch normalization over all dims but the channel dim 1, as in PyTorch. In training it
// normalizes with the batch mean and biased variance and updates running_mean and
// running_var (with the unbiased variance) and num_batches_tracked; in eval it uses the
// running statistics. Without track_running_stats it always uses batch statistics.
class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t num_features;
  BatchNormOptions options;
  Tensor weight, bias;                                     // [C]; undefined unless affine
  Tensor running_mean, running_var, num_batches_tracked;  // buffers, [C], [C], int64 []

 protected:
  BatchNorm(int64_t num_features, BatchNormOptions options, int64_t min_rank, int64_t max_rank,
            Site site);

 private:
  int64_t min_rank_, max_rank_;
};
// x: [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {}, Site site = Site::here())
      : BatchNorm(num_features, options, 2, 3, site) {}
};
// x: [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {}, Site site = Site::here())
      : BatchNorm(num_features, options, 4, 4, site) {}
};

// x: [N, C, D, H, W].
class BatchNorm3d : public BatchNorm {
 public:
  explicit BatchNorm3d(int64_t num_features, BatchNormOptions options = {}, Site site = Site::here())
      : BatchNorm(num_features, options, 5, 5, site) {}
};

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // learn weight (ones) and bias (zeros) of normalized_shape
};
// Normalizes over the last dims, which must equal `normalized_shape`, with the biased
// variance: y = (x - mean) / sqrt(var + eps) * weight + bias.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, LayerNormOptions options = {}, Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Shape normalized_shape;
  LayerNormOptions options;
  Tensor weight, bias;
};

struct GroupNormOptions {
  double eps = 1e-5;
  bool affine = true;  // learn weight (ones) and bias (zeros), [num_channels]
};
// functional::group_norm: x [N, C, ...], C = num_channels in num_groups groups (C divisible
// by it), each normalized over its channels and the remaining dims (biased variance).
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, GroupNormOptions options = {}, Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t num_groups, num_channels;
  GroupNormOptions options;
  Tensor weight, bias;
};

struct InstanceNormOptions {
  double eps = 1e-5;
  bool affine = false;  // PyTorch's default; when set, weight (ones) and bias (zeros), [C]
};
// Normalizes each channel of each sample of x [N, C, H, W] over H and W (a group norm with one
// channel per group). Running statistics (PyTorch's track_running_stats) are not supported.
class InstanceNorm2d : public Module {
 public:
  explicit InstanceNorm2d(int64_t num_features, InstanceNormOptions options = {}, Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t num_features;
  InstanceNormOptions options;
  Tensor weight, bias;
};

// A lookup table: integer indices of any shape -> [..., embedding_dim].
// weight: [num_embeddings, embedding_dim], N(0, 1).
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Site site = Site::here());
  Tensor forward(const Tensor& indices) override;
  std::string extra_repr() const override;

  int64_t num_embeddings, embedding_dim;
  Tensor weight;
};

// In training, zeroes each element with probability `p` (tl::bernoulli, default
// generator) and scales the rest by 1 / (1 - p); in eval, returns its input.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  double p;
};

// Flattens dims start_dim..end_dim into one: [N, C, H, W] -> [N, C*H*W] by default.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t start_dim, end_dim;
};

namespace functional {

// torch.nn.functional's names for the convolutions and the 3-D and adaptive pooling of tl/ops.h.
using tl::adaptive_avg_pool2d;
using tl::avg_pool3d;
using tl::conv1d;
using tl::conv3d;
using tl::conv_transpose2d;
using tl::max_pool3d;

enum class InterpolateMode { kNearest, kBilinear };
struct InterpolateOptions {
  Shape size = {};                        // (oh, ow), or one value for both
  std::vector<double> scale_factor = {};  // or (sh, sw) / one value: size = floor(in * scale)
  InterpolateMode mode = InterpolateMode::kNearest;
  // Bilinear only (an error with nearest, as in PyTorch); unset means false. With true the
  // corner pixels' centers align; with false the source of output i is (i + 0.5) / scale - 0.5.
  std::optional<bool> align_corners = std::nullopt;
};
// Resizes the last two dims of x [N, C, H, W], as torch.nn.functional.interpolate (the legacy
// 'nearest': source floor(i / scale), computed in float32 as PyTorch does). Exactly one of
// `size` and `scale_factor` is given; when `scale_factor` is, it (not in / out) maps output to
// input coordinates, as PyTorch without recompute_scale_factor. An index_select (nearest) or
// two index_selects and a weighted sum per dim (bilinear), so it differentiates and compiles.
// Throws ShapeError for another rank or an empty result, ValueError for bad options.
Tensor interpolate(const Tensor& x, const InterpolateOptions& options, Site site = Site::here());

}  // namespace functional

// functional::interpolate as a layer, as torch.nn.Upsample.
class Upsample : public Module {
 public:
  explicit Upsample(functional::InterpolateOptions options, Site site = Site::here());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  functional::InterpolateOptions options;
};

// Elementwise activations.
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};
class GELU : public Module {  // the exact (erf) form
 public:
  Tensor forward(const Tensor& x) override;
};
class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};
class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};
// softmax / log_softmax along `dim` (negative counts from the end).
class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t dim;
};
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t dim;
};

}  // namespace tl::nn
