// Ops along one axis that keep its length: cumsum, and argsort (the permutation that sorts
// it; sort and topk are built on it in the frontend with gather, which carries their
// gradient). Both view the input as [outer, n, inner] with the axis in the middle.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "runtime/ops/pointwise/pointwise.h"

namespace tl::ops {
namespace {

struct AxisGeometry {
  int64_t outer = 1, n = 1, inner = 1;
};

AxisGeometry geometry(const Shape& shape, int64_t axis) {
  AxisGeometry g;
  for (int64_t d = 0; d < shape.size(); ++d) {
    if (d < axis) g.outer *= shape[d];
    else if (d == axis) g.n = shape[d];
    else g.inner *= shape[d];
  }
  return g;
}

OutputMeta infer_along_axis(std::span<const Tensor> in, const Attrs& a, const char* op, DType result, Site site) {
  check_arity(in, 1, op, site);
  require_numeric(in[0], op, "the input", site);
  // A 0-d tensor has one element along its one implied axis.
  check_axis(a.axis, std::max<int64_t>(in[0].dim(), 1), op, site);
  return {in[0].shape(), result};
}

// Running sums along the axis, accumulated in double (floating) or int64 (integers), as
// PyTorch's CPU kernel does, in order: the result does not depend on the thread count.
void cumsum_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  const Tensor x = contiguous_copy(in[0]);
  const AxisGeometry g = geometry(x.shape(), x.dim() == 0 ? 0 : a.axis);
  TL_DISPATCH_NUMERIC(x.dtype(), "cumsum", {
    using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    rt::parallel_for(g.outer * g.inner, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(g.n, 1)),
                     [&](int64_t b, int64_t e) {
                       for (int64_t line = b; line < e; ++line) {
                         const int64_t o = line / g.inner, i = line % g.inner;
                         const int64_t base = o * g.n * g.inner + i;
                         Acc s = 0;
                         for (int64_t k = 0; k < g.n; ++k) {
                           s += static_cast<Acc>(static_cast<compute_t<T>>(src[base + k * g.inner]));
                           dst[base + k * g.inner] = static_cast<T>(static_cast<compute_t<T>>(s));
                         }
                       }
                     });
  })
}

// Stable: equal values keep their order. NaN sorts as the largest value (last ascending,
// first descending), as in PyTorch.
void argsort_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  const Tensor x = contiguous_copy(in[0]);
  const AxisGeometry g = geometry(x.shape(), x.dim() == 0 ? 0 : a.axis);
  const bool descending = a.flag;
  int64_t* dst = out.data<int64_t>();
  TL_DISPATCH_NUMERIC(x.dtype(), "argsort", {
    using C = compute_t<T>;
    const T* src = x.data<T>();
    rt::parallel_for(g.outer * g.inner, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(g.n * 8, 1)),
                     [&](int64_t b, int64_t e) {
                       std::vector<int64_t> order(static_cast<size_t>(g.n));
                       for (int64_t line = b; line < e; ++line) {
                         const int64_t o = line / g.inner, i = line % g.inner;
                         const int64_t base = o * g.n * g.inner + i;
                         auto value = [&](int64_t k) { return static_cast<C>(src[base + k * g.inner]); };
                         // a before b: a is smaller (larger when descending), NaN the largest.
                         auto before = [&](int64_t p, int64_t q) {
                           const C u = value(p), v = value(q);
                           const bool u_nan = u != u, v_nan = v != v;
                           if (u_nan || v_nan) return descending ? (u_nan && !v_nan) : (!u_nan && v_nan);
                           return descending ? u > v : u < v;
                         };
                         std::iota(order.begin(), order.end(), int64_t{0});
                         std::stable_sort(order.begin(), order.end(), before);
                         for (int64_t k = 0; k < g.n; ++k) dst[base + k * g.inner] = order[static_cast<size_t>(k)];
                       }
                     });
  })
}

[[maybe_unused]] const OpDef& op_cumsum = define_op("cumsum", [](OpDef& op) {
  op.doc = "running sum along axis (accumulated in double, or int64 for integers)";
  op.arity = 1;
  op.attrs = {{"axis", AttrField::kAxis, "the normalized dim"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    return infer_along_axis(in, a, "cumsum", in.empty() || !in[0].defined() ? kFloat32 : in[0].dtype(), site);
  };
  op.kernels[kCpu] = cumsum_kernel;
});

[[maybe_unused]] const OpDef& op_argsort = define_op("argsort", [](OpDef& op) {
  op.doc = "the int64 indices that sort x along axis (stable; NaN is the largest value)";
  op.arity = 1;
  op.attrs = {{"axis", AttrField::kAxis, "the normalized dim"}, {"descending", AttrField::kFlag, "largest first"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    return infer_along_axis(in, a, "argsort", kInt64, site);
  };
  op.kernels[kCpu] = argsort_kernel;
});

}  // namespace
}  // namespace tl::ops
