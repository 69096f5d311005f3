#include "runtime/ops/pointwise/pointwise_op.h"

#include <cmath>

namespace tl::ops {

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape s;
  s.resize(shape.size());
  int64_t off = shape.size() - t.dim();
  for (int64_t i = 0; i < shape.size(); ++i) {
    if (i < off || t.shape()[i - off] == 1) s[i] = 0;
    else s[i] = t.strides()[i - off];
  }
  return s;
}

OutputMeta infer_unary(std::span<const Tensor> in, const char* op, Accepts accepts, Site site) {
  check_arity(in, 1, op, site);
  if (accepts == Accepts::kFloating) require_floating(in[0], op, "the input", site);
  if (accepts == Accepts::kNumeric) require_numeric(in[0], op, "the input", site);
  return {in[0].shape(), in[0].dtype()};
}

OutputMeta infer_binary(std::span<const Tensor> in, const char* op, Accepts accepts, Site site) {
  check_arity(in, 2, op, site);
  require_same_dtype(in, op, site);
  if (accepts == Accepts::kFloating) require_floating(in[0], op, "the operands", site);
  if (accepts == Accepts::kNumeric) require_numeric(in[0], op, "the operands", site);
  return infer_broadcast(in, op, site);
}

OutputMeta infer_broadcast(std::span<const Tensor> inputs, const char* op, Site site) {
  Shape out = inputs[0].shape();
  for (size_t i = 1; i < inputs.size(); ++i) {
    Shape next;
    if (!broadcast_shapes(out, inputs[i].shape(), next)) {
      throw ShapeError(std::string("tl::") + op + ": shapes cannot be broadcast together: " +
                       describe(inputs) + " (trailing dims must be equal or 1) at " + site.str());
    }
    out = next;
  }
  return {out, inputs[0].dtype()};
}

Tensor contiguous_copy(const Tensor& x) { return x.is_contiguous() ? x : fresh_copy(x); }

Tensor fresh_copy(const Tensor& x) {
  Tensor out = empty_tensor(x.shape(), x.dtype(), x.device());
  strided_copy(x, out);
  return out;
}

}  // namespace tl::ops
