// cumsum and argsort as the frontend adds them (runtime/ops/reduce/scan_sort.cpp holds their
// kernels), and what is built on them: sort and topk (gather by argsort's indices, so their
// gradient is gather's), max/min along a dim with indices.
#include "frontend/ops/registry.h"
#include "runtime/ops/pointwise/pointwise.h"

namespace tl {
namespace ops {
namespace {

std::vector<Sample> axis_samples(std::function<Tensor(const Tensor&, int64_t)> fn) {
  auto at = [fn](int64_t dim) { return [fn, dim](const std::vector<Tensor>& in) { return fn(in[0], dim); }; };
  return {Sample{{Shape{7}}, at(0)}, Sample{{Shape{3, 4}}, at(1)}, Sample{{Shape{2, 3, 4}}, at(1)},
          Sample{{Shape{2, 3, 4}}, at(-1)}};
}

// d cumsum / dx: each input feeds every later output, so dx = reverse cumsum of dy
// = sum(dy) - cumsum(dy) + dy.
const OpDef& op_cumsum = extend_op("cumsum", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const int64_t axis = g.input(0).dim() == 0 ? 0 : g.attrs.axis;
    if (g.dout.dim() == 0) return std::vector<Tensor>{g.dout};
    Tensor total = sum(g.dout, {axis}, true);
    return std::vector<Tensor>{add(sub(total, cumsum(g.dout, axis)), g.dout)};
  };
  op.samples = axis_samples([](const Tensor& x, int64_t dim) { return cumsum(x, dim); });
});
const OpDef& op_argsort = extend_op("argsort", [](OpDef& op) {
  op.not_differentiable = "integer result";
  op.samples = axis_samples([](const Tensor& x, int64_t dim) { return argsort(x, dim); });
});

}  // namespace
}  // namespace ops

using namespace ops;

Tensor cumsum(const Tensor& x, int64_t dim, Site site) {
  require_defined(x, "cumsum", "the input", site);
  Attrs a;
  a.axis = normalize_dim(dim, x.dim(), "cumsum", site);
  return call(op_cumsum, {x}, a, site);
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending, Site site) {
  require_defined(x, "argsort", "the input", site);
  Attrs a;
  a.axis = normalize_dim(dim, x.dim(), "argsort", site);
  a.flag = descending;
  return call(op_argsort, {x}, a, site);
}

ValuesIndices sort(const Tensor& x, int64_t dim, bool descending, Site site) {
  Tensor indices = argsort(x, dim, descending, site);
  if (x.dim() == 0) return {x, indices};
  return {gather(x, dim, indices, site), indices};
}

ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim, bool largest, Site site) {
  require_defined(x, "topk", "the input", site);
  const int64_t d = normalize_dim(dim, x.dim(), "topk", site);
  const int64_t n = x.dim() == 0 ? 1 : x.shape()[d];
  if (k < 0 || k > n)
    throw ValueError("tl::topk: k is " + std::to_string(k) + " but dim " + std::to_string(d) + " of " +
                     x.shape().str() + " has " + std::to_string(n) + " entries, at " + site.str());
  Tensor indices = argsort(x, d, largest, site);
  if (x.dim() == 0) return {x, indices};
  indices = indices.narrow(d, 0, k, site).contiguous(site);
  return {gather(x, d, indices, site), indices};
}

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim, Site site) {
  return {amax(x, {dim}, keepdim, site), argmax(x, dim, keepdim, site)};
}

ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim, Site site) {
  return {amin(x, {dim}, keepdim, site), argmin(x, dim, keepdim, site)};
}

}  // namespace tl
