// attention and attention_backward: fused scaled dot-product attention, their shape rules and
// the kernels' entry (runtime/cpu/attention.cpp, blocked online softmax; no (L, S) buffer).
// Their derivative, samples and the composite reference are the frontend's
// (frontend/ops/nn/attention_op.cpp).
#include <string>

#include "runtime/cpu/attention.h"
#include "runtime/ops/pointwise/pointwise.h"

namespace tl::ops {
namespace {

// The operands' dims: batch (the broadcast leading dims) and the letters of attention.h.
struct AttentionDims {
  Shape batch;
  int64_t L = 0, S = 0, E = 0, Ev = 0;
};

Shape leading(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

Shape with_last(Shape s, int64_t a, int64_t b) {
  s.push_back(a);
  s.push_back(b);
  return s;
}

bool has_mask(std::span<const Tensor> in, size_t at) { return in.size() > at && in[at].defined(); }

// Checks q, k, v (in[first], in[first + 1], in[first + 2]) and the optional mask (in[mask_at])
// as both ops take them.
AttentionDims check_operands(std::span<const Tensor> in, size_t first, size_t mask_at, const char* op,
                             std::string (*operands)(std::span<const Tensor>), Site site) {
  for (size_t i = first; i < first + 3; ++i) {
    require_defined(in[i], op, i == first ? "q" : i == first + 1 ? "k" : "v", site);
    if (in[i].dim() < 2)
      throw ShapeError(std::string("tl::") + op + ": q, k and v need at least 2 dims (..., L, E), (..., S, E), "
                       "(..., S, Ev): " + operands(in) + " at " + site.str());
  }
  const Tensor &q = in[first], &k = in[first + 1], &v = in[first + 2];
  if (q.dtype() != kFloat32 && q.dtype() != kFloat64)
    throw DTypeError(std::string("tl::") + op + ": the fused kernel takes float32 or float64: " + operands(in) +
                     " at " + site.str());
  if (k.dtype() != q.dtype() || v.dtype() != q.dtype())
    throw DTypeError(std::string("tl::") + op + ": q, k and v must share one dtype: " + operands(in) + " at " +
                     site.str());
  AttentionDims d;
  d.L = q.size(-2), d.S = k.size(-2), d.E = q.size(-1), d.Ev = v.size(-1);
  if (k.size(-1) != d.E)
    throw ShapeError(std::string("tl::") + op + ": " + operands(in) + " (q's last dim E must equal k's) at " +
                     site.str());
  if (v.size(-2) != d.S)
    throw ShapeError(std::string("tl::") + op + ": " + operands(in) +
                     " (k and v must have the same sequence length S, dim -2) at " + site.str());
  Shape kv;
  if (!broadcast_shapes(leading(k), leading(v), kv) || !broadcast_shapes(leading(q), kv, d.batch))
    throw ShapeError(std::string("tl::") + op + ": " + operands(in) + " (the leading dims must broadcast) at " +
                     site.str());
  if (has_mask(in, mask_at)) {
    const Tensor& mask = in[mask_at];
    if (mask.dtype() != kBool && mask.dtype() != q.dtype())
      throw DTypeError(std::string("tl::") + op + ": the mask must be bool (true = attend) or q's dtype (added): " +
                       operands(in) + " at " + site.str());
    const Shape scores = with_last(d.batch, d.L, d.S);
    Shape joined;
    if (!broadcast_shapes(mask.shape(), scores, joined) || joined != scores)
      throw ShapeError(std::string("tl::") + op + ": the mask must broadcast to the scores' shape " + scores.str() +
                       " (..., L, S): " + operands(in) + " at " + site.str());
  }
  return d;
}

std::string forward_operands(std::span<const Tensor> in) { return describe(in, {"q", "k", "v", "mask"}); }
std::string backward_operands(std::span<const Tensor> in) {
  return describe(in, {"dout", "q", "k", "v", "out", "mask"});
}

void check_count(std::span<const Tensor> in, size_t least, const char* op, const char* names, Site site) {
  if (in.size() < least || in.size() > least + 1)
    throw ValueError(std::string("tl::") + op + ": expected " + std::to_string(least) + " or " +
                     std::to_string(least + 1) + " operands (" + names + "), got " + std::to_string(in.size()) +
                     " at " + site.str());
}

OutputMeta infer_attention(std::span<const Tensor> in, const Attrs&, Site site) {
  check_count(in, 3, "attention", "q, k, v, optional mask", site);
  AttentionDims d = check_operands(in, 0, 3, "attention", forward_operands, site);
  return {with_last(d.batch, d.L, d.Ev), in[0].dtype()};
}

OutputMeta infer_attention_backward(std::span<const Tensor> in, const Attrs&, Site site) {
  check_count(in, 5, "attention_backward", "dout, q, k, v, out, optional mask", site);
  require_defined(in[0], "attention_backward", "dout", site);
  require_defined(in[4], "attention_backward", "out", site);
  AttentionDims d = check_operands(in, 1, 5, "attention_backward", backward_operands, site);
  const Shape out = with_last(d.batch, d.L, d.Ev);
  const DType dtype = in[1].dtype();
  if (in[0].shape() != out || in[4].shape() != out)
    throw ShapeError("tl::attention_backward: dout and out must have the forward result's shape " + out.str() + ": " +
                     backward_operands(in) + " at " + site.str());
  if (in[0].dtype() != dtype || in[4].dtype() != dtype)
    throw DTypeError("tl::attention_backward: dout and out must have q's dtype: " + backward_operands(in) + " at " +
                     site.str());
  Shape packed = d.batch;
  packed.push_back(d.L * d.E + d.S * d.E + d.S * d.Ev);
  return {packed, dtype};
}

// `t`'s (rows, cols) matrix per element of `batch` (t's leading dims broadcast to it).
template <class Operand>
Operand strided(const Tensor& t, const Shape& batch, const void* data) {
  const Shape full = with_last(batch, t.size(-2), t.size(-1));
  const Shape strides = broadcast_strides(t, full);
  Operand m;
  m.data = static_cast<decltype(m.data)>(data);
  m.row_stride = strides[full.size() - 2];
  m.col_stride = strides[full.size() - 1];
  const int64_t B = batch.numel();
  m.batch_offsets.resize(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    int64_t rest = b, offset = 0;
    for (int64_t d = batch.size() - 1; d >= 0; --d) {
      offset += rest % batch[d] * strides[d];
      rest /= batch[d];
    }
    m.batch_offsets[b] = offset;
  }
  return m;
}

template <class T>
rt::cpu::AttentionOperand<T> operand(const Tensor& t, const Shape& batch) {
  return strided<rt::cpu::AttentionOperand<T>>(t, batch, t.data<T>());
}

rt::cpu::AttentionMask mask_operand(std::span<const Tensor> in, size_t at, const Shape& batch) {
  if (!has_mask(in, at)) return {};
  const Tensor& mask = in[at];
  rt::cpu::AttentionMask m = strided<rt::cpu::AttentionMask>(mask, batch, mask.data_ptr());
  m.kind = mask.dtype() == kBool ? rt::cpu::AttentionMaskKind::kBool : rt::cpu::AttentionMaskKind::kAdditive;
  return m;
}

rt::cpu::AttentionShape problem(const AttentionDims& d, const Attrs& a) {
  return {d.batch.numel(), d.L, d.S, d.E, d.Ev, a.scalar, a.flag};
}

template <class T>
void run_forward(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  AttentionDims d = check_operands(in, 0, 3, "attention", forward_operands, Site{});
  rt::cpu::attention_forward<T>(problem(d, a), operand<T>(in[0], d.batch), operand<T>(in[1], d.batch),
                                operand<T>(in[2], d.batch), mask_operand(in, 3, d.batch), out.data<T>());
}

template <class T>
void run_backward(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  AttentionDims d = check_operands(in, 1, 5, "attention_backward", backward_operands, Site{});
  rt::cpu::attention_backward<T>(problem(d, a), operand<T>(in[0], d.batch), operand<T>(in[1], d.batch),
                                 operand<T>(in[2], d.batch), operand<T>(in[3], d.batch), operand<T>(in[4], d.batch),
                                 mask_operand(in, 5, d.batch), out.data<T>());
}

// The shape rules admit float32 and float64 only.
void attention_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  out.dtype() == kFloat32 ? run_forward<float>(in, out, a) : run_forward<double>(in, out, a);
}

void attention_backward_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  out.dtype() == kFloat32 ? run_backward<float>(in, out, a) : run_backward<double>(in, out, a);
}

std::vector<AttrSpec> attention_attr_specs() {
  return {{"scale", AttrField::kScalar, "multiplies q k^T"},
          {"causal", AttrField::kFlag, "query i attends keys j <= i only (top-left aligned when L != S)"}};
}

[[maybe_unused]] const OpDef& op_attention = define_op("attention", [](OpDef& op) {
  op.doc = "softmax(q k^T * scale + mask) v over q (..., L, E), k (..., S, E), v (..., S, Ev) with broadcast "
           "leading dims, float32 or float64; mask bool (true = attend) or added, broadcast to (..., L, S); a row "
           "with every key masked is zeros. Blocked online softmax: no (L, S) buffer";
  op.arity = 4;
  op.attrs = attention_attr_specs();
  op.infer = infer_attention;
  op.kernels[kCpu] = attention_kernel;
  op.optional_inputs = {3};  // the mask
});

[[maybe_unused]] const OpDef& op_attention_backward = define_op("attention_backward", [](OpDef& op) {
  op.doc = "gradients of attention from (dout, q, k, v, out, mask): (..., L*E + S*E + S*Ev), per batch element dq "
           "(L, E), dk (S, E) and dv (S, Ev) flattened one after the other (one op, one result: they share every "
           "score block). Recomputes each row's logsumexp in a first pass, then the scores block by block";
  op.arity = 6;
  op.attrs = attention_attr_specs();
  op.infer = infer_attention_backward;
  op.kernels[kCpu] = attention_backward_kernel;
  op.optional_inputs = {5};  // the mask
});

}  // namespace
}  // namespace tl::ops
