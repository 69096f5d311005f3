// The elementwise engine: loops that apply a scalar functor over broadcast operands.
// Contiguous same-shape operands take a flat loop the compiler vectorizes; scalars and
// general strided/broadcast layouts take an index walk over the last dimension.
// Large tensors are split across threads in fixed chunks (runtime/cpu/parallel.h).
#pragma once

#include "runtime/ops/dispatch.h"
#include "runtime/ops/pointwise/vector_math.h"
#include "runtime/ops/registry.h"
#include "runtime/cpu/parallel.h"

namespace tl::ops {

// Strides of `t` broadcast to `shape` (0 where t's dim is 1 or missing).
Shape broadcast_strides(const Tensor& t, const Shape& shape);

// Visits [begin, end) of the row-major index space of `shape`, calling
// f(offsets[], count, inner_strides[]) for each run along the last dim.
template <int N, class F>
void for_each_run(const Shape& shape, const Shape* strides, int64_t begin, int64_t end, const F& f) {
  int64_t rank = shape.size();
  if (rank == 0) {
    int64_t offs[N] = {};
    int64_t inner[N] = {};
    f(offs, int64_t{1}, inner);
    return;
  }
  int64_t last = shape[rank - 1];
  int64_t index[kMaxRank] = {};
  int64_t linear = begin;
  for (int64_t d = rank - 1; d >= 0; --d) {
    index[d] = linear % shape[d];
    linear /= shape[d];
  }
  int64_t inner[N];
  for (int k = 0; k < N; ++k) inner[k] = strides[k][rank - 1];
  int64_t pos = begin;
  while (pos < end) {
    int64_t offs[N];
    for (int k = 0; k < N; ++k) {
      int64_t o = 0;
      for (int64_t d = 0; d < rank; ++d) o += index[d] * strides[k][d];
      offs[k] = o;
    }
    int64_t count = std::min(last - index[rank - 1], end - pos);
    f(offs, count, inner);
    pos += count;
    index[rank - 1] += count;
    for (int64_t d = rank - 1; d > 0 && index[d] >= shape[d]; --d) {
      index[d] = 0;
      ++index[d - 1];
    }
  }
}

// out = f(x) elementwise; `out` is contiguous with x's shape.
template <class In, class Out, class F>
void unary_loop(const Tensor& x, Tensor& out, const F& f) {
  const In* xp = x.data<In>();
  Out* op = out.data<Out>();
  int64_t n = out.numel();
  if (x.is_contiguous()) {
    rt::parallel_for(n, rt::kElementwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) op[i] = static_cast<Out>(f(xp[i]));
    });
    return;
  }
  Shape strides[1] = {x.strides()};
  rt::parallel_for(n, rt::kElementwiseGrain, [&](int64_t b, int64_t e) {
    int64_t pos = b;
    for_each_run<1>(out.shape(), strides, b, e, [&](const int64_t* offs, int64_t count, const int64_t* inner) {
      const In* src = xp + offs[0];
      for (int64_t i = 0; i < count; ++i) op[pos + i] = static_cast<Out>(f(src[i * inner[0]]));
      pos += count;
    });
  });
}

// out = f(a, b) elementwise with broadcasting; `out` is contiguous with the broadcast shape.
template <class A, class B, class Out, class F>
void binary_loop(const Tensor& a, const Tensor& b, Tensor& out, const F& f) {
  const A* ap = a.data<A>();
  const B* bp = b.data<B>();
  Out* op = out.data<Out>();
  int64_t n = out.numel();
  bool same = a.shape() == out.shape() && b.shape() == out.shape();
  if (same && a.is_contiguous() && b.is_contiguous()) {
    rt::parallel_for(n, rt::kElementwiseGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) op[i] = static_cast<Out>(f(ap[i], bp[i]));
    });
    return;
  }
  if (b.numel() == 1 && a.shape() == out.shape() && a.is_contiguous()) {
    const B bv = bp[0];
    rt::parallel_for(n, rt::kElementwiseGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) op[i] = static_cast<Out>(f(ap[i], bv));
    });
    return;
  }
  if (a.numel() == 1 && b.shape() == out.shape() && b.is_contiguous()) {
    const A av = ap[0];
    rt::parallel_for(n, rt::kElementwiseGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) op[i] = static_cast<Out>(f(av, bp[i]));
    });
    return;
  }
  Shape strides[2] = {broadcast_strides(a, out.shape()), broadcast_strides(b, out.shape())};
  rt::parallel_for(n, rt::kElementwiseGrain, [&](int64_t s, int64_t e) {
    int64_t pos = s;
    for_each_run<2>(out.shape(), strides, s, e, [&](const int64_t* offs, int64_t count, const int64_t* inner) {
      const A* pa = ap + offs[0];
      const B* pb = bp + offs[1];
      Out* po = op + pos;
      if (inner[0] == 1 && inner[1] == 1) {
        for (int64_t i = 0; i < count; ++i) po[i] = static_cast<Out>(f(pa[i], pb[i]));
      } else if (inner[0] == 1 && inner[1] == 0) {
        const B bv = pb[0];
        for (int64_t i = 0; i < count; ++i) po[i] = static_cast<Out>(f(pa[i], bv));
      } else if (inner[0] == 0 && inner[1] == 1) {
        const A av = pa[0];
        for (int64_t i = 0; i < count; ++i) po[i] = static_cast<Out>(f(av, pb[i]));
      } else {
        for (int64_t i = 0; i < count; ++i) po[i] = static_cast<Out>(f(pa[i * inner[0]], pb[i * inner[1]]));
      }
      pos += count;
    });
  });
}

// out = f(c, a, b) elementwise with broadcasting of all three (for where/select-like ops).
template <class C, class A, class B, class Out, class F>
void ternary_loop(const Tensor& c, const Tensor& a, const Tensor& b, Tensor& out, const F& f) {
  const C* cp = c.data<C>();
  const A* ap = a.data<A>();
  const B* bp = b.data<B>();
  Out* op = out.data<Out>();
  Shape strides[3] = {broadcast_strides(c, out.shape()), broadcast_strides(a, out.shape()),
                      broadcast_strides(b, out.shape())};
  rt::parallel_for(out.numel(), rt::kElementwiseGrain, [&](int64_t s, int64_t e) {
    int64_t pos = s;
    for_each_run<3>(out.shape(), strides, s, e, [&](const int64_t* offs, int64_t count, const int64_t* inner) {
      for (int64_t i = 0; i < count; ++i)
        op[pos + i] = static_cast<Out>(f(cp[offs[0] + i * inner[0]], ap[offs[1] + i * inner[1]],
                                         bp[offs[2] + i * inner[2]]));
      pos += count;
    });
  });
}

// Copies `src`, broadcast to dst's shape and converted to dst's dtype, into the (possibly
// strided) `dst`. No autograd; defined in runtime/ops/shape/views.cpp.
void strided_copy(const Tensor& src, const Tensor& dst);
// `x` when it is contiguous, else a contiguous copy of it on its device (no autograd: for
// kernels, which must not call ops).
Tensor contiguous_copy(const Tensor& x);
// A fresh contiguous copy of `x` on its device, even when `x` is contiguous (no autograd).
Tensor fresh_copy(const Tensor& x);

// The broadcast shape of `inputs` (with inputs[0]'s dtype); names the op and the user's line.
// Callers check the operands' dtypes.
OutputMeta infer_broadcast(std::span<const Tensor> inputs, const char* op, Site site);

}  // namespace tl::ops
