// Reductions as the frontend adds them: the derivatives of sum/mean, amax/amin and
// softmax/log_softmax (with Tensor ops), the samples the generic tests sweep, the public
// functions, and the ops built on the reductions (var, std, logsumexp, sum_to). Their shape
// rules and kernels are the runtime's (runtime/ops/reduce/reductions.cpp).
#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>

#include "frontend/ops/pointwise/pointwise.h"
#include "runtime/logging.h"
#include "runtime/ops/reduce/reductions.h"

namespace tl {
namespace ops {
namespace {

// dout reshaped to keepdim form and expanded to the input's shape.
Tensor expand_grad(const Tensor& dout, const Tensor& input, const Attrs& a) {
  Shape kept = reduced_shape(input.shape(), a.dims, true);
  return dout.reshape(kept).expand(input.shape());
}

std::vector<Sample> reduce_samples(Tensor (*fn)(const Tensor&, Dims, bool, Site)) {
  return {Sample{{Shape{3, 4}}, [fn](const std::vector<Tensor>& in) { return fn(in[0], {}, false, Site::here()); }},
          Sample{{Shape{2, 3, 4}}, [fn](const std::vector<Tensor>& in) { return fn(in[0], {0, 2}, false, Site::here()); }},
          Sample{{Shape{2, 3, 4}}, [fn](const std::vector<Tensor>& in) { return fn(in[0], {-1}, true, Site::here()); }},
          Sample{{Shape{4, 3}}, [fn](const std::vector<Tensor>& in) { return fn(in[0].t(), {1}, false, Site::here()); }}};
}

}  // namespace

const OpDef& op_sum = extend_op("sum", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    Tensor d = expand_grad(g.dout, g.input(0), g.attrs);
    if (g.attrs.flag) {
      int64_t n = g.input(0).numel() / std::max<int64_t>(g.saved_output.numel(), 1);
      d = mul(d, scalar_like(1.0 / static_cast<double>(std::max<int64_t>(n, 1)), d));
    }
    return std::vector<Tensor>{d};
  };
  op.samples = reduce_samples(sum);
  auto mean_samples = reduce_samples(mean);
  op.samples.insert(op.samples.end(), mean_samples.begin(), mean_samples.end());
});

const OpDef& op_amax = extend_op("amax", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    Tensor hit = cast(eq(x, expand_grad(g.output(), x, g.attrs)), x.dtype());
    Tensor count = sum(hit, g.attrs.dims, true);
    return std::vector<Tensor>{div(mul(hit, expand_grad(g.dout, x, g.attrs)), count)};
  };
  op.samples = reduce_samples(amax);
  auto min_samples = reduce_samples(amin);
  op.samples.insert(op.samples.end(), min_samples.begin(), min_samples.end());
});

const OpDef& op_argmax = extend_op("argmax", [](OpDef& op) { op.not_differentiable = "integer result"; });

const OpDef& op_softmax = extend_op("softmax", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& y = g.output();
    Shape dim{g.attrs.axis};
    if (g.attrs.flag) return std::vector<Tensor>{sub(g.dout, mul(exp(y), sum(g.dout, dim, true)))};
    return std::vector<Tensor>{mul(y, sub(g.dout, sum(mul(g.dout, y), dim, true)))};
  };
  op.samples = {Sample{{Shape{3, 5}}, [](const std::vector<Tensor>& in) { return softmax(in[0], 1); }},
                Sample{{Shape{2, 3, 4}}, [](const std::vector<Tensor>& in) { return softmax(in[0], 1); }},
                Sample{{Shape{3, 5}}, [](const std::vector<Tensor>& in) { return log_softmax(in[0], -1); }},
                Sample{{Shape{4, 3}}, [](const std::vector<Tensor>& in) { return log_softmax(in[0].t(), 0); }}};
});

}  // namespace ops

using namespace ops;

namespace {
Tensor reduce(const OpDef& op, const Tensor& x, const Shape& dims, bool keepdim, bool flag, bool flag2,
              const char* name, Site site) {
  require_defined(x, name, "the input", site);
  Attrs a;
  a.dims = dims.empty() ? Shape() : normalize_dims(dims, x.dim(), name, site);
  // Empty dims reduce over all dims; dim 0 (or -1) of a 0-d tensor names the tensor itself.
  if (dims.empty() || x.dim() == 0) {
    a.dims = Shape();
    for (int64_t i = 0; i < x.dim(); ++i) a.dims.push_back(i);
  }
  a.keepdim = keepdim;
  a.flag = flag;
  a.flag2 = flag2;
  return call(op, {x}, a, site);
}

}  // namespace

Tensor sum(const Tensor& x, Dims dims, bool keepdim, Site site) {
  return reduce(op_sum, x, dims, keepdim, false, false, "sum", site);
}

Tensor mean(const Tensor& x, Dims dims, bool keepdim, Site site) {
  return reduce(op_sum, x, dims, keepdim, true, false, "mean", site);
}

Tensor amax(const Tensor& x, Dims dims, bool keepdim, Site site) {
  return reduce(op_amax, x, dims, keepdim, false, false, "amax", site);
}

Tensor amin(const Tensor& x, Dims dims, bool keepdim, Site site) {
  return reduce(op_amax, x, dims, keepdim, false, true, "amin", site);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim, Site site) {
  return reduce(op_argmax, x, {dim}, keepdim, false, false, "argmax", site);
}

Tensor argmin(const Tensor& x, int64_t dim, bool keepdim, Site site) {
  return reduce(op_argmax, x, {dim}, keepdim, false, true, "argmin", site);
}

Tensor var(const Tensor& x, Dims dims, int64_t correction, bool keepdim, Site site) {
  require_floating(x, "var", "the input", site);
  Tensor m = mean(x, dims, true, site);
  Tensor d = sub(x, m, site);
  Tensor ss = sum(mul(d, d, site), dims, keepdim, site);
  int64_t n = x.numel() / std::max<int64_t>(m.numel(), 1);
  // As in PyTorch: no degrees of freedom left divides by zero (inf, or NaN for a zero sum of
  // squares), and says so once per call site rather than silently.
  if (n - correction <= 0) {
    static std::mutex warned_mutex;
    static std::set<std::pair<std::string, uint32_t>> warned;
    std::lock_guard<std::mutex> lock(warned_mutex);
    if (warned.emplace(site.file, site.line).second) {
      rt::logger("tl.ops")->warn("tl::var: {} values per result with correction {} leave no degrees of freedom; "
                                 "the result is inf or NaN, at {}", n, correction, site.str());
    }
  }
  double denom = static_cast<double>(std::max<int64_t>(n - correction, 0));
  return div(ss, scalar_like(denom, ss), site);
}

Tensor std(const Tensor& x, Dims dims, int64_t correction, bool keepdim, Site site) {
  return sqrt(var(x, dims, correction, keepdim, site), site);
}

Tensor logsumexp(const Tensor& x, Dims dims, bool keepdim, Site site) {
  require_floating(x, "logsumexp", "the input", site);
  Tensor m;
  {
    NoGradGuard no_grad;  // the shift only stabilizes; it cancels in the gradient
    m = amax(x, dims, true, site);
    m = where(eq(abs(m, site), scalar_like(INFINITY, m), site), zeros_like(m, site), m, site);
  }
  Tensor s = log(sum(exp(sub(x, m, site), site), dims, true, site), site);
  Tensor out = add(s, m, site);
  if (!keepdim) {
    Shape kept = normalize_dims(dims, x.dim(), "logsumexp", site);
    Shape shape;
    for (int64_t i = 0; i < x.dim(); ++i)
      if (std::find(kept.begin(), kept.end(), i) == kept.end()) shape.push_back(x.shape()[i]);
    out = out.reshape(shape, site);
  }
  return out;
}

Tensor softmax(const Tensor& x, int64_t dim, Site site) {
  Attrs a;
  a.axis = normalize_dim(dim, x.dim(), "softmax", site);
  if (x.dim() == 0) return call(op_softmax, {x.reshape({1}, site)}, a, site).reshape({}, site);
  return call(op_softmax, {x}, a, site);
}

Tensor log_softmax(const Tensor& x, int64_t dim, Site site) {
  Attrs a;
  a.axis = normalize_dim(dim, x.dim(), "log_softmax", site);
  a.flag = true;
  if (x.dim() == 0) return call(op_softmax, {x.reshape({1}, site)}, a, site).reshape({}, site);
  return call(op_softmax, {x}, a, site);
}

Tensor sum_to(const Tensor& x, const Shape& shape, Site site) {
  if (x.shape() == shape) return x;
  int64_t lead = x.dim() - shape.size();
  if (lead < 0) {
    throw ShapeError("tl::sum_to: cannot sum " + x.shape().str() + " down to the larger rank " + shape.str() + " at " + site.str());
  }
  Shape dims;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < lead) dims.push_back(i);
    else if (shape[i - lead] == 1 && x.shape()[i] != 1) dims.push_back(i);
    else if (shape[i - lead] != x.shape()[i]) {
      throw ShapeError("tl::sum_to: " + x.shape().str() + " does not broadcast from " + shape.str() + " at " + site.str());
    }
  }
  Tensor s = dims.empty() ? x : sum(x, dims, true, site);
  return s.reshape(shape, site);
}

}  // namespace tl
