// The standard layers: linear, convolution, pooling, normalization, embedding, dropout,
// reshaping and activations. Each is a Module (a handle, see tl/nn.h) whose parameters are
// public Tensor members named as in PyTorch, initialized with PyTorch's default
// distributions from tl's default generator (so tl::manual_seed makes them reproducible).
#pragma once

#include <cstdint>
#include <string>

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

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};
// 2-D convolution (cross-correlation). x: [N, C_in, H, W] -> [N, C_out, H', W'].
// weight: [C_out, C_in / groups, KH, KW], bias: [C_out], both U(-k, k),
// k = 1/sqrt(C_in / groups * KH * KW).
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
