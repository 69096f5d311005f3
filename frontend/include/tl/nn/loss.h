// Loss functions of tensors, as in torch.nn.functional. Each validates its operands and
// throws ShapeError/DTypeError naming the function, both shapes and dtypes, and the
// caller's line. All are differentiable w.r.t. their first argument (and a float target).
#pragma once

#include <cstdint>

#include "tl/tensor.h"

namespace tl::nn {

enum class Reduction {
  kNone,  // the per-element (or per-sample) losses
  kMean,  // their mean (see each loss for what is counted)
  kSum,
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

struct CrossEntropyOptions {
  Reduction reduction = Reduction::kMean;
  int64_t ignore_index = -100;   // index targets equal to this contribute nothing
  double label_smoothing = 0.0;  // in [0, 1]: mixes the target with the uniform distribution
};
// Cross entropy of unnormalized `logits` [N, C] or [N, C, d1, ...] (classes in dim 1),
// computed through log_softmax so that large logits do not overflow. `target` is either
// class indices (int32/int64, shape [N] or [N, d1, ...], values in [0, C) or ignore_index)
// or class probabilities (floating, the logits' shape). kMean divides by the number of
// non-ignored targets (index targets) or of samples N*d1*... (probability targets);
// kNone returns [N, d1, ...]. Throws ValueError for an index outside [0, C).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions options = {},
                     Site site = Site::here());

struct NllLossOptions {
  Reduction reduction = Reduction::kMean;
  int64_t ignore_index = -100;
};
// Negative log likelihood of log-probabilities `log_probs` [N, C] or [N, C, d1, ...] at the
// class indices `target` [N] or [N, d1, ...]: -log_probs[n, target[n]]. kMean divides by
// the number of non-ignored targets.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllLossOptions options = {},
                Site site = Site::here());

struct BCEWithLogitsOptions {
  Reduction reduction = Reduction::kMean;
  Tensor pos_weight = Tensor();  // optional; broadcast against the logits (usually [C]), weighs positives
};
// Binary cross entropy of sigmoid(`logits`) against `target` in [0, 1] (same shape),
// in the stable form max(x, 0) - x*y + log(1 + exp(-|x|)); with pos_weight p:
// (1 - y)*x + (1 + (p - 1)*y) * (log(1 + exp(-|x|)) + max(-x, 0)).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        BCEWithLogitsOptions options = {}, Site site = Site::here());

}  // namespace tl::nn
