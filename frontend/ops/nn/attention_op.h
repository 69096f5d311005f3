// Scaled dot-product attention as op-table calls: the fused op (`attention`, a blocked online
// softmax that never holds the (L, S) scores) and the composite of matmul and softmax it
// optimizes. tl::nn::functional::scaled_dot_product_attention picks between them
// (frontend/nn/attention.cpp); the composite is also the fused op's test reference.
#pragma once

#include "tl/tensor.h"

namespace tl::ops {

// softmax(q k^T * `scale` + mask) v through the fused `attention` op. q is (..., L, E), k
// (..., S, E), v (..., S, Ev), all float32 or all float64, with leading dims that broadcast;
// returns (..., L, Ev). `mask` (undefined: none) is bool (true = attend) or of q's dtype (added
// to the scores), broadcastable to (..., L, S); with `causal`, query i attends keys j <= i
// (top-left aligned when L != S). A row whose keys are all masked is zeros. Allocates only the
// result (and O((L + S) E) scratch); backward allocates the gradients and O(L E) scratch. Throws
// ShapeError or DTypeError naming the operands, as the op's shape rule.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double scale, bool causal,
                 Site site = Site::here());

// The attention weights softmax(q k^T * `scale` + mask), (..., L, S), built from matmul, where
// and softmax: the composite the fused op optimizes. Operands as attention's, except that q
// and k may be any floating dtype and a floating mask of another dtype is cast to theirs. A
// row whose keys are all masked gets weights of zero (softmax runs on a finite stand-in, so
// neither its forward nor its backward sees a NaN); a NaN score keeps its row open, so NaNs
// from the inputs propagate. Allocates the (..., L, S) scores.
Tensor attention_weights(const Tensor& q, const Tensor& k, const Tensor& mask, double scale, bool causal,
                         Site site = Site::here());

}  // namespace tl::ops
