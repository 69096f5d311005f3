// Fused scaled dot-product attention on the CPU, float32 and float64: a blocked online-softmax
// forward and its backward (FlashAttention-2, Dao 2023), neither of which materializes the
// (L, S) score matrix. The op table's `attention` and `attention_backward`
// (runtime/ops/nn/attention.cpp) call these with strided views of their operands.
#pragma once

#include <cstdint>
#include <vector>

namespace tl::rt::cpu {

// Dimension letters: B batch (the broadcast leading dims, flattened), L queries, S keys,
// E query/key features, Ev value features.
struct AttentionShape {
  int64_t B = 0, L = 0, S = 0, E = 0, Ev = 0;
  double scale = 1.0;   // multiplies q k^T
  bool causal = false;  // query i attends keys j <= i (top-left aligned when L != S)
};

// A strided (rows, cols) matrix per batch element: element (r, c) of batch b is at
// data[batch_offsets[b] + r * row_stride + c * col_stride]. Any strides (0 broadcasts).
template <class T>
struct AttentionOperand {
  const T* data = nullptr;
  std::vector<int64_t> batch_offsets;  // B entries
  int64_t row_stride = 0, col_stride = 0;
};

// The optional (L, S) mask per batch element, laid out as AttentionOperand: bool (true = may
// attend) or additive (added to the scaled scores; -inf masks).
enum class AttentionMaskKind { kNone, kBool, kAdditive };
struct AttentionMask {
  AttentionMaskKind kind = AttentionMaskKind::kNone;
  const void* data = nullptr;  // bool, or the operands' T when additive
  std::vector<int64_t> batch_offsets;
  int64_t row_stride = 0, col_stride = 0;
};

// out: (B, L, Ev) contiguous = softmax(q k^T * scale + mask) v, with q (L, E), k (S, E),
// v (S, Ev) per batch element. A row whose scores are all -inf (every key masked) is zeros; a
// NaN score makes its row NaN. Scratch: O(S * (E + Ev)) per thread, nothing of size L * S.
// Results do not depend on the thread count.
template <class T>
void attention_forward(const AttentionShape& shape, const AttentionOperand<T>& q, const AttentionOperand<T>& k,
                       const AttentionOperand<T>& v, const AttentionMask& mask, T* out);

// grads: (B, L*E + S*E + S*Ev) contiguous: per batch element dq (L, E), dk (S, E) and dv
// (S, Ev), row-major, one after the other: the gradients of sum(out * dout) with `out` the
// forward's result for the same operands. Recomputes each row's logsumexp in a first pass,
// then the scores block by block. Scratch: O((L + S) * (E + Ev)) per thread, and a partial dq,
// O(L * E), per work item (a batch element's group of key blocks: about 16 work items in all,
// at least one per batch element); nothing of size L * S.
// Results do not depend on the thread count.
template <class T>
void attention_backward(const AttentionShape& shape, const AttentionOperand<T>& dout, const AttentionOperand<T>& q,
                        const AttentionOperand<T>& k, const AttentionOperand<T>& v, const AttentionOperand<T>& out,
                        const AttentionMask& mask, T* grads);

}  // namespace tl::rt::cpu
