// Loss functions of tensors, as in torch.nn.functional. Each validates its operands and
// throws ShapeError/DTypeError naming the function, both shapes and dtypes, and the
// caller's line. All are differentiable w.r.t. their first argument (and a float target).
#pragma once

#include <cstdint>

#include "tl/tensor.h"

namespace tl::nn {

enum class Reduction {
  kNone,       // the per-element (or per-sample) losses
  kMean,       // their mean (see each loss for what is counted)
  kSum,
  kBatchMean,  // kl_div only: the sum divided by the batch size input.size(0); others throw ValueError
};

struct LossOptions {
  Reduction reduction = Reduction::kMean;
};

// (input - target)^2. `input` and `target` have the same shape and floating dtypes.
Tensor mse_loss(const Tensor& input, const Tensor& target, LossOptions options = {},
                Site site = Site::here());
// |input - target|. Same rules as mse_loss.
Tensor l1_loss(const Tensor& input, const Tensor& target, LossOptions options = {},
               Site site = Site::here());

struct HuberLossOptions {
  Reduction reduction = Reduction::kMean;
  double delta = 1.0;  // > 0: where the loss turns from quadratic to linear
};
// With z = |input - target|: 0.5 z^2 where z < delta, else delta * (z - 0.5 delta). Same
// operand rules as mse_loss; throws ValueError unless delta > 0.
Tensor huber_loss(const Tensor& input, const Tensor& target, HuberLossOptions options = {},
                  Site site = Site::here());

struct SmoothL1LossOptions {
  Reduction reduction = Reduction::kMean;
  double beta = 1.0;  // >= 0; 0 gives l1_loss
};
// With z = |input - target|: 0.5 z^2 / beta where z < beta, else z - 0.5 beta (huber_loss
// divided by beta). Same operand rules as mse_loss; throws ValueError for a negative beta.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, SmoothL1LossOptions options = {},
                      Site site = Site::here());

struct KLDivOptions {
  // PyTorch's default kMean averages over every element; kBatchMean (the sum divided by
  // input.size(0)) is the KL divergence per sample.
  Reduction reduction = Reduction::kMean;
  bool log_target = false;  // whether `target` holds log-probabilities
};
// KL(target || exp(input)) pointwise, with `input` log-probabilities: target * (log(target) -
// input), taken as 0 where target is 0; with log_target: exp(target) * (target - input).
// `input` and `target` have the same shape and floating dtypes.
Tensor kl_div(const Tensor& input, const Tensor& target, KLDivOptions options = {},
              Site site = Site::here());

struct CrossEntropyOptions {
  Reduction reduction = Reduction::kMean;
  int64_t ignore_index = -100;   // index targets equal to this contribute nothing
  double label_smoothing = 0.0;  // in [0, 1]: mixes the target with the uniform distribution
  Tensor weight = Tensor();      // optional [C] floating: a weight per class
};
// Cross entropy of unnormalized `logits` [N, C] or [N, C, d1, ...] (classes in dim 1),
// computed through log_softmax so that large logits do not overflow. `target` is either
// class indices (int32/int64, shape [N] or [N, d1, ...], values in [0, C) or ignore_index)
// or class probabilities (floating, the logits' shape). kNone returns [N, d1, ...].
// As in PyTorch 1.13: with index targets, each sample's loss is
// (1 - eps) * w[t] * nll + (eps / C) * sum_c w[c] * -log_softmax_c (eps = label_smoothing,
// w = weight or ones; 0 where ignored), and kMean divides the sum by the sum of w[t] over
// the non-ignored targets (NaN when all are ignored). With probability targets, ignore_index
// is unused, w weighs each class's term and kMean divides by the number of samples N*d1*....
// Throws ValueError for an index outside [0, C), ShapeError for a weight that is not [C].
Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions options = {},
                     Site site = Site::here());

struct NllLossOptions {
  Reduction reduction = Reduction::kMean;
  int64_t ignore_index = -100;
  Tensor weight = Tensor();  // optional [C] floating: a weight per class
};
// Negative log likelihood of log-probabilities `log_probs` [N, C] or [N, C, d1, ...] at the
// class indices `target` [N] or [N, d1, ...]: -w[t] * log_probs[n, t] with t = target[n]
// and w = weight or ones; 0 where ignored. kMean divides the sum by the sum of w[t] over the
// non-ignored targets (their number without a weight), as PyTorch does.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllLossOptions options = {},
                Site site = Site::here());

struct BCEWithLogitsOptions {
  Reduction reduction = Reduction::kMean;
  Tensor pos_weight = Tensor();  // optional; broadcast against the logits (usually [C]), weighs positives
  Tensor weight = Tensor();      // optional; broadcast against the logits, multiplies each element's loss
};
// Binary cross entropy of sigmoid(`logits`) against `target` in [0, 1] (same shape),
// in the stable form max(x, 0) - x*y + log(1 + exp(-|x|)); with pos_weight p:
// (1 - y)*x + (1 + (p - 1)*y) * (log(1 + exp(-|x|)) + max(-x, 0)); times `weight` when
// given. kMean averages over all elements.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        BCEWithLogitsOptions options = {}, Site site = Site::here());

}  // namespace tl::nn
