// tl::nn::functional: the normalizations, dropout and similarity measures as functions, with
// torch.nn.functional's names, arguments and defaults (the layers in layers.h call these).
// Each is built from op-table ops, so it differentiates, traces and compiles as they do.
//
//   namespace F = tl::nn::functional;
//   tl::Tensor y = F::layer_norm(x, {64}, weight, bias);
//   tl::Tensor s = F::cosine_similarity(a, b, /*dim=*/1);
#pragma once

#include "tl/tensor.h"

namespace tl::nn::functional {

// Normalizes over the last dims, which must equal `normalized_shape` (biased variance), then
// scales by `weight` and shifts by `bias` when given (each of normalized_shape).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5, Site site = Site::here());

// x is [N, C, ...]. With `training` (or without running statistics) normalizes each channel
// with the batch's mean and biased variance, and when running_mean/running_var are given
// updates them in place (momentum; the variance unbiased); otherwise normalizes with them.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight = {},
                  const Tensor& bias = {}, bool training = false, double momentum = 0.1, double eps = 1e-5,
                  Site site = Site::here());

// x is [N, C, ...]; the C channels form `num_groups` groups (C divisible by it), each
// normalized over its channels and the remaining dims; weight and bias are [C].
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5, Site site = Site::here());

// Zeroes each element with probability p when `training` and scales the rest by 1 / (1 - p);
// returns x itself otherwise. p in [0, 1].
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Site site = Site::here());

// x / max(||x||_p, eps) along `dim`.
Tensor normalize(const Tensor& x, double p = 2.0, int64_t dim = 1, double eps = 1e-12, Site site = Site::here());

// sum(a * b) / sqrt(max(||a||^2 ||b||^2, eps^2)) along `dim` (a and b broadcast).
Tensor cosine_similarity(const Tensor& a, const Tensor& b, int64_t dim = 1, double eps = 1e-8,
                         Site site = Site::here());

}  // namespace tl::nn::functional
