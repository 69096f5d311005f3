// matmul and matmul_bias as the frontend adds them: their derivatives, the samples the
// generic tests sweep, and the public tl::matmul (which handles 1-D operands). Their shape
// rules and kernels (oneDNN for float32, a reference loop otherwise) are the runtime's
// (runtime/ops/linalg/matmul.cpp).
#include "frontend/ops/pointwise/pointwise.h"
#include "runtime/exec/graph.h"

namespace tl {
namespace ops {

Tensor matmul_bias(const Tensor& a, const Tensor& b, const Tensor& bias, bool relu, Site site = Site::here());

namespace {

// True for a matrix whose last two dims are a transposed view of contiguous memory.
bool is_transposed(const Tensor& t) {
  return t.dim() >= 2 && !t.is_contiguous() && t.mT().is_contiguous();
}

}  // namespace

const OpDef& op_matmul = extend_op("matmul", [](OpDef& op) {
  // Autograd sums each gradient back to its input's shape, so broadcasting is ignored here.
  // A gradient is produced in its input's layout: for an input that is a transposed view
  // (x @ w.t() in Linear) the product is formed transposed, so the weight's gradient comes
  // out contiguous instead of needing a transposing copy.
  op.grad = [](const GradContext& g) {
    const Tensor& a = g.input(0);
    const Tensor& b = g.input(1);
    Tensor da, db;
    if (g.needs_input_grad(0)) da = is_transposed(a) ? matmul(b, g.dout.mT()).mT() : matmul(g.dout, b.mT());
    if (g.needs_input_grad(1)) {
      // A matrix b shared by a batch of a's rows (Linear on [batch, tokens, features]): its
      // gradient is one product over all the rows, not one per batch entry summed afterwards.
      // While the autodiff pass traces this rule, a value's layout at run time is unknown (an
      // expanded gradient has zero strides there), so the rows are copied before reshaping.
      const bool shared = b.dim() == 2 && a.dim() > 2;
      auto flat = [](const Tensor& t) {
        return (trace::is_meta(t) ? t.clone() : t.contiguous()).reshape({-1, t.size(-1)});
      };
      const Tensor rows = shared ? flat(a) : a;
      const Tensor drows = shared ? flat(g.dout) : g.dout;
      db = is_transposed(b) ? matmul(drows.mT(), rows).mT() : matmul(rows.mT(), drows);
    }
    return std::vector<Tensor>{da, db};
  };
  op.samples = {Sample{{Shape{3, 4}, Shape{4, 5}}, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }},
                Sample{{Shape{2, 3, 4}, Shape{4, 2}}, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }},
                Sample{{Shape{2, 1, 3, 4}, Shape{3, 4, 2}}, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }},
                Sample{{Shape{4, 3}, Shape{5, 4}}, [](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1].t()); }},
                Sample{{Shape{4}, Shape{4, 3}}, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }},
                Sample{{Shape{2, 4}, Shape{4}}, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }}};
});

const OpDef& op_matmul_bias = extend_op("matmul_bias", [](OpDef& op) {
  // The matmul's own rule for a and b, given the gradient before the epilogue; the bias
  // gradient sums it over every row.
  op.grad = [](const GradContext& g) {
    Tensor dz = g.attrs.flag ? relu_backward(g.dout, g.output()) : g.dout;
    std::vector<Tensor> d =
        op_matmul.grad(GradContext{g.inputs.first(2), g.saved_output, dz, g.attrs, g.needs_grad.first(2), g.site,
                                   g.on_output_read, g.on_output_read_arg});
    if (g.needs_input_grad(2)) d.push_back(dz.reshape({-1, dz.shape()[dz.dim() - 1]}).sum(Shape{0}));
    d.resize(3);
    return d;
  };
  auto call = [](bool relu) {
    return [relu](const std::vector<Tensor>& in) { return matmul_bias(in[0], in[1], in[2], relu); };
  };
  op.samples = {Sample{{Shape{3, 4}, Shape{4, 5}, Shape{5}}, call(false)},
                Sample{{Shape{3, 4}, Shape{4, 5}, Shape{5}}, call(true)},
                Sample{{Shape{2, 3, 4}, Shape{4, 2}, Shape{2}}, call(true)}};
});

Tensor matmul_bias(const Tensor& a, const Tensor& b, const Tensor& bias, bool relu, Site site) {
  Attrs attrs;
  attrs.flag = relu;
  return call(op_matmul_bias, {a, b, bias}, attrs, site);
}

}  // namespace ops

using namespace ops;

Tensor matmul(const Tensor& a, const Tensor& b, Site site) {
  require_defined(a, "matmul", "a", site);
  require_defined(b, "matmul", "b", site);
  if (a.dim() == 0 || b.dim() == 0) {
    throw ShapeError("tl::matmul: both operands need at least 1 dim: " +
                     describe(std::vector<Tensor>{a, b}, {"a", "b"}) + " at " + site.str());
  }
  Tensor x = a, y = b;
  promote_operands(x, y, site);
  require_floating(x, "matmul", "the operands", site);  // before unsqueezing, so the message shows the user's shapes
  bool squeeze_first = x.dim() == 1, squeeze_last = y.dim() == 1;
  if (squeeze_first) x = x.unsqueeze(0, site);
  if (squeeze_last) y = y.unsqueeze(1, site);
  Tensor out = call(op_matmul, {x, y}, {}, site);
  if (squeeze_first) out = out.squeeze(-2, site);
  if (squeeze_last) out = out.squeeze(-1, site);
  return out;
}

}  // namespace tl
