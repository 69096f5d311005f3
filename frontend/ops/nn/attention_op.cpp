// attention and attention_backward as the frontend adds them: the derivative, the samples the
// generic tests sweep, and the composite of matmul and softmax the fused op optimizes. The ops'
// shape rules and kernels are the runtime's (runtime/ops/nn/attention.cpp).
//
// The op table has one result per op, so the forward keeps no logsumexp for its backward:
// attention_backward recomputes it in a first pass over the scores (one more q k^T product, to
// the seven block products of forward and backward), and returns dq, dk and dv packed in one
// tensor, which the derivative slices: the three share every score block, so one op computes
// them together.
#include "frontend/ops/nn/attention_op.h"

#include <limits>

#include "frontend/ops/pointwise/pointwise.h"

namespace tl::ops {

extern const OpDef& op_attention_backward;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Shape with_last(Shape s, int64_t a, int64_t b) {
  s.push_back(a);
  s.push_back(b);
  return s;
}

// Gradients through the composite, written with differentiable ops: dS = P * (dP - rowsum(P *
// dP)) with dP = dout v^T. Allocates (..., L, S) tensors.
std::vector<Tensor> composite_grads(const GradContext& g, const Tensor& mask) {
  const Tensor &q = g.input(0), &k = g.input(1), &v = g.input(2);
  const double scale = g.attrs.scalar;
  const Site site = g.site;
  const Tensor p = attention_weights(q, k, mask, scale, g.attrs.flag, site);
  const Tensor dp = matmul(g.dout, v.mT(site), site);
  const Tensor ds = mul(p, sub(dp, sum(mul(p, dp, site), {-1}, true, site), site), site);
  std::vector<Tensor> grads(g.inputs.size());
  if (g.needs_input_grad(0)) grads[0] = Operand(matmul(ds, k, site), site) * scale;
  if (g.needs_input_grad(1)) grads[1] = Operand(matmul(ds.mT(site), q, site), site) * scale;
  if (g.needs_input_grad(2)) grads[2] = matmul(p.mT(site), g.dout, site);
  if (mask.defined() && g.needs_input_grad(3)) grads[3] = ds;  // the engine sums it to the mask's shape
  return grads;
}

// Gradients through the fused attention_backward, sliced out of its packed result.
std::vector<Tensor> fused_grads(const GradContext& g, const Tensor& mask) {
  const Tensor &q = g.input(0), &k = g.input(1), &v = g.input(2);
  std::vector<Tensor> operands{g.dout, q, k, v, g.output()};
  if (mask.defined()) operands.push_back(mask);
  const Tensor packed = call(op_attention_backward, operands, g.attrs, g.site);
  const Shape batch(packed.shape().begin(), packed.shape().end() - 1);
  const int64_t L = q.size(-2), S = k.size(-2), E = q.size(-1), Ev = v.size(-1);
  auto part = [&](int64_t start, int64_t rows, int64_t cols) {
    return packed.narrow(-1, start, rows * cols, g.site).reshape(with_last(batch, rows, cols), g.site);
  };
  std::vector<Tensor> grads(g.inputs.size());
  if (g.needs_input_grad(0)) grads[0] = part(0, L, E);
  if (g.needs_input_grad(1)) grads[1] = part(L * E, S, E);
  if (g.needs_input_grad(2)) grads[2] = part(L * E + S * E, S, Ev);
  return grads;
}

Tensor sample_call(const std::vector<Tensor>& in, double scale, bool causal) {
  Tensor mask = in.size() > 3 ? in[3] : Tensor();
  if (mask.defined() && !mask.is_floating_point()) mask = ne(mask, scalar_like(0, mask));  // 0/1 -> bool
  return attention(in[0], in[1], in[2], mask, scale, causal);
}

}  // namespace

const OpDef& op_attention = extend_op("attention", [](OpDef& op) {
  // The fused backward is itself not differentiable, and an additive mask's gradient is as
  // large as the scores: a backward that is being recorded (create_graph) or that must give
  // the mask a gradient runs the composite's formulas instead, which allocate (..., L, S).
  op.grad = [](const GradContext& g) {
    const Tensor mask = g.inputs.size() > 3 ? g.input(3) : Tensor();
    const bool mask_grad = mask.defined() && g.needs_input_grad(3);
    return is_grad_enabled() || mask_grad ? composite_grads(g, mask) : fused_grads(g, mask);
  };
  auto call_with = [](double scale, bool causal) {
    return [scale, causal](const std::vector<Tensor>& in) { return sample_call(in, scale, causal); };
  };
  op.samples = {
      Sample{{Shape{2, 3, 4}, Shape{2, 5, 4}, Shape{2, 5, 3}}, call_with(0.5, false)},
      // Unbatched, causal with more queries than keys (the last rows see every key).
      Sample{{Shape{5, 3}, Shape{3, 3}, Shape{3, 2}}, call_with(0.6, true)},
      // An additive (L, S) mask broadcast over the batch: it gets a gradient.
      Sample{{Shape{2, 3, 4}, Shape{2, 5, 4}, Shape{2, 5, 3}, Shape{3, 5}}, call_with(0.5, false)},
      // A bool mask (some rows may lose every key) and k, v broadcast over q's batch.
      Sample{{Shape{2, 3, 4}, Shape{1, 5, 4}, Shape{5, 2}, Shape{2, 3, 5}}, call_with(0.7, false), -2.0, 2.0, {3},
             {2}},
      // More than one block of queries (48) and of keys (96), causal with L > S.
      Sample{{Shape{1, 100, 2}, Shape{1, 98, 2}, Shape{1, 98, 3}}, call_with(0.7, true)},
      Sample{{Shape{50, 2}, Shape{100, 2}, Shape{100, 2}}, call_with(0.8, false)},
  };
});

const OpDef& op_attention_backward = extend_op("attention_backward", [](OpDef& op) {
  op.not_differentiable =
      "second derivatives go through the composite: attention's derivative uses its formulas when create_graph "
      "records the backward";
});

Tensor attention_weights(const Tensor& q, const Tensor& k, const Tensor& mask, double scale, bool causal, Site site) {
  // Scale q rather than the scores: L * E multiplies instead of L * S (PyTorch 1.13's
  // MultiheadAttention does the same).
  Tensor scores = matmul(Operand(q, site) * scale, k.mT(site), site);  // (..., L, S)
  const Tensor neg_inf = scalar_like(-kInf, scores);
  if (mask.defined()) {
    scores = mask.dtype() == kBool ? where(mask, scores, neg_inf, site)
                                   : add(scores, mask.to(scores.dtype(), site), site);
  }
  if (causal) {
    const int64_t L = q.size(-2), S = k.size(-2);
    const Tensor rows = arange(L, {.dtype = kInt64, .device = q.device()}, site).unsqueeze(1, site);
    const Tensor cols = arange(S, {.dtype = kInt64, .device = q.device()}, site).unsqueeze(0, site);
    scores = where(ge(rows, cols, site), scores, neg_inf, site);
  }
  if (!mask.defined()) return softmax(scores, -1, site);  // causal rows keep key 0: none is empty
  // A row with every key masked is all -inf, and softmax would give 0/0 = NaN. Such rows get
  // weights of zero instead: softmax runs on a finite stand-in (zeros) and is then replaced,
  // so neither the forward nor the backward sees a NaN. `ne` (not `gt`) keeps a NaN score's
  // row open, so NaNs coming from the inputs still propagate.
  const Tensor zero = scalar_like(0.0, scores);
  const Tensor row_open = ne(amax(scores, {-1}, true, site), neg_inf, site);  // (..., L, 1)
  return where(row_open, softmax(where(row_open, scores, zero, site), -1, site), zero, site);
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double scale, bool causal,
                 Site site) {
  Attrs attrs;
  attrs.scalar = scale;
  attrs.flag = causal;
  if (!mask.defined()) return call(op_attention, {q, k, v}, attrs, site);
  return call(op_attention, {q, k, v, mask}, attrs, site);
}

}  // namespace tl::ops
