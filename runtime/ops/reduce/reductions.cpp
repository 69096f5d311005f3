// Reductions over any set of dims (sum, mean, amax, amin, argmax, argmin) and softmax /
// log_softmax: their shape rules and kernels. Each reduction works on a [rows, cols] view
// with the reduced dims innermost; partial sums are combined in a fixed order, so results are
// bitwise identical at any thread count. Their derivatives, and the ops built on them (var,
// std, logsumexp, sum_to), are the frontend's (frontend/ops/reduce/reductions.cpp).
#include "runtime/ops/reduce/reductions.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/ops/pointwise/pointwise.h"
#include "runtime/ops/pointwise/vector_math.h"

namespace tl::ops {

// attrs.dims: normalized reduced dims; attrs.keepdim.
Shape reduced_shape(const Shape& in, const Shape& dims, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < in.size(); ++i) {
    bool reduced = std::find(dims.begin(), dims.end(), i) != dims.end();
    if (!reduced) out.push_back(in[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

namespace {

constexpr int64_t kColChunk = 16384;  // partial-sum chunk; fixed so threads do not change results

// x permuted so kept dims come first and reduced dims last, made contiguous: [rows, cols].
// Built from the storage directly (a view, then a copy), so no op runs inside the kernel.
Tensor rows_view(const Tensor& x, const Shape& dims, int64_t& rows, int64_t& cols) {
  Shape order;
  rows = 1;
  cols = 1;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (std::find(dims.begin(), dims.end(), i) == dims.end()) {
      order.push_back(i);
      rows *= x.shape()[i];
    }
  for (int64_t d : dims) {
    order.push_back(d);
    cols *= x.shape()[d];
  }
  bool identity = true;
  for (int64_t i = 0; i < order.size(); ++i) identity = identity && order[i] == i;
  if (identity) return contiguous_copy(x);
  Shape shape, strides;
  for (int64_t d : order) {
    shape.push_back(x.shape()[d]);
    strides.push_back(x.strides()[d]);
  }
  return contiguous_copy(make_view(x, shape, strides, x.storage_offset()));
}

// Sum of n contiguous values with 16 independent accumulators (vectorizable, fixed order).
template <class T, class Acc>
Acc sum_run(const T* p, int64_t n) {
  Acc lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) lanes[k] += static_cast<Acc>(p[i + k]);
  Acc s = 0;
  for (int k = 0; k < 16; ++k) s += lanes[k];
  for (; i < n; ++i) s += static_cast<Acc>(p[i]);
  return s;
}

template <class T, class Acc, class Out>
void sum_rows(const T* x, Out* out, int64_t rows, int64_t cols, double scale) {
  if (rows >= 2 || cols <= kColChunk) {
    rt::parallel_for(rows, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(cols, 1)),
                     [&](int64_t b, int64_t e) {
                       for (int64_t r = b; r < e; ++r) {
                         Acc s = 0;
                         for (int64_t c0 = 0; c0 < cols; c0 += kColChunk)
                           s += sum_run<T, Acc>(x + r * cols + c0, std::min(kColChunk, cols - c0));
                         out[r] = static_cast<Out>(s * static_cast<Acc>(scale));
                       }
                     });
    return;
  }
  // One long row: per-chunk partials in parallel, combined in chunk order.
  int64_t chunks = (cols + kColChunk - 1) / kColChunk;
  std::vector<Acc> partial(static_cast<size_t>(chunks));
  rt::parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      partial[c] = sum_run<T, Acc>(x + c * kColChunk, std::min(kColChunk, cols - c * kColChunk));
  });
  Acc s = 0;
  for (Acc p : partial) s += p;
  out[0] = static_cast<Out>(s * static_cast<Acc>(scale));
}

template <class T> struct SumAcc { using type = T; };
template <> struct SumAcc<Half> { using type = float; };
template <> struct SumAcc<BFloat16> { using type = float; };
template <> struct SumAcc<int32_t> { using type = int64_t; };
template <> struct SumAcc<bool> { using type = int64_t; };

// Sums the leading `outer` rows of a contiguous [outer, inner] input into out[inner]
// (bias gradients, batch means): rows are added in order per column, so no transposing copy
// is needed and the result does not depend on threading.
template <class T, class Acc, class Out>
void sum_outer(const T* x, Out* out, int64_t outer, int64_t inner, double scale) {
  constexpr int64_t kBlock = 256;  // columns per job: the accumulators stay in L1
  int64_t blocks = (inner + kBlock - 1) / kBlock;
  rt::parallel_for(blocks, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(outer * kBlock, 1)),
                   [&](int64_t b, int64_t e) {
                     Acc acc[kBlock];
                     for (int64_t blk = b; blk < e; ++blk) {
                       int64_t c0 = blk * kBlock, n = std::min(kBlock, inner - c0);
                       for (int64_t j = 0; j < n; ++j) acc[j] = 0;
                       for (int64_t i = 0; i < outer; ++i) {
                         const T* row = x + i * inner + c0;
                         for (int64_t j = 0; j < n; ++j) acc[j] += static_cast<Acc>(row[j]);
                       }
                       for (int64_t j = 0; j < n; ++j) out[c0 + j] = static_cast<Out>(acc[j] * static_cast<Acc>(scale));
                     }
                   });
}

// True when `dims` are exactly the leading k < rank dims of a contiguous tensor.
bool is_outer_reduction(const Tensor& x, const Shape& dims) {
  if (!x.is_contiguous() || dims.empty() || dims.size() >= x.dim()) return false;
  for (int64_t i = 0; i < dims.size(); ++i)
    if (std::find(dims.begin(), dims.end(), i) == dims.end()) return false;
  return true;
}

// True when `dims` are the leading `*lead` and the trailing dims of a contiguous tensor, both
// present, around a kept block [*lead, *lead + *kept_dims): batch norm's statistics over
// (N, H, W) of NCHW. The kept block's elements sum straight from the input, no copy.
bool is_middle_reduction(const Tensor& x, const Shape& dims, int64_t* lead, int64_t* kept_dims) {
  if (!x.is_contiguous() || dims.empty()) return false;
  const int64_t rank = x.dim();
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t d : dims) reduced[static_cast<size_t>(d)] = true;
  int64_t a = 0;
  while (a < rank && reduced[a]) ++a;
  int64_t b = a;
  while (b < rank && !reduced[b]) ++b;
  for (int64_t d = b; d < rank; ++d)
    if (!reduced[d]) return false;
  if (a == 0 || b == rank || b == a) return false;
  *lead = a;
  *kept_dims = b - a;
  return true;
}

// out[k] = sum over o and i of x[o, k, i] for x viewed as [outer, kept, inner], each output
// summed in a fixed order (o ascending, each inner run with sum_run), so the result does not
// depend on the thread count.
template <class T, class Acc, class Out>
void sum_middle(const T* x, Out* out, int64_t outer, int64_t kept, int64_t inner, double scale) {
  rt::parallel_for(kept, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(outer * inner, 1)),
                   [&](int64_t b, int64_t e) {
                     for (int64_t k = b; k < e; ++k) {
                       Acc s = 0;
                       for (int64_t o = 0; o < outer; ++o) {
                         const T* run = x + (o * kept + k) * inner;
                         for (int64_t c0 = 0; c0 < inner; c0 += kColChunk)
                           s += sum_run<T, Acc>(run + c0, std::min(kColChunk, inner - c0));
                       }
                       out[k] = static_cast<Out>(s * static_cast<Acc>(scale));
                     }
                   });
}

void sum_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  int64_t lead = 0, kept_dims = 0;
  if (is_middle_reduction(in[0], a.dims, &lead, &kept_dims) && is_floating(in[0].dtype())) {
    int64_t outer = 1, kept = 1, inner = 1;
    for (int64_t i = 0; i < in[0].dim(); ++i)
      (i < lead ? outer : i < lead + kept_dims ? kept : inner) *= in[0].shape()[i];
    const double scale = a.flag ? 1.0 / static_cast<double>(outer * inner) : 1.0;  // NaN over no values
    TL_DISPATCH_FLOATING(in[0].dtype(), "sum", {
      sum_middle<T, typename SumAcc<T>::type, T>(in[0].data<T>(), out.data<T>(), outer, kept, inner, scale);
    })
    return;
  }
  if (is_outer_reduction(in[0], a.dims) && is_floating(in[0].dtype())) {
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < in[0].dim(); ++i) (i < a.dims.size() ? outer : inner) *= in[0].shape()[i];
    // The mean of no values is 0 / 0 = NaN, as in PyTorch (1 / 0 = inf times a zero sum).
    double scale = a.flag ? 1.0 / static_cast<double>(outer) : 1.0;
    TL_DISPATCH_FLOATING(in[0].dtype(), "sum", {
      sum_outer<T, typename SumAcc<T>::type, T>(in[0].data<T>(), out.data<T>(), outer, inner, scale);
    })
    return;
  }
  int64_t rows, cols;
  Tensor x = rows_view(in[0], a.dims, rows, cols);
  double scale = a.flag ? 1.0 / static_cast<double>(cols) : 1.0;  // flag: mean; NaN over no values
  TL_DISPATCH_ALL(x.dtype(), "sum", {
    using Acc = typename SumAcc<T>::type;
    if (out.dtype() == kInt64) {
      sum_rows<T, int64_t, int64_t>(x.data<T>(), out.data<int64_t>(), rows, cols, 1.0);
    } else {
      sum_rows<T, Acc, T>(x.data<T>(), out.data<T>(), rows, cols, scale);
    }
  })
}

// attrs.flag2: min instead of max; attrs.count = 1 for arg-variants (int64 index output).
template <bool kArg>
void extremum_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  int64_t rows, cols;
  Tensor x = rows_view(in[0], a.dims, rows, cols);
  bool is_min = a.flag2;
  TL_DISPATCH_NUMERIC(x.dtype(), "amax", {
    using C = compute_t<T>;
    const T* p = x.data<T>();
    rt::parallel_for(rows, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(cols, 1)),
                     [&](int64_t b, int64_t e) {
                       for (int64_t r = b; r < e; ++r) {
                         const T* row = p + r * cols;
                         C best = static_cast<C>(row[0]);
                         int64_t best_i = 0;
                         for (int64_t c = 1; c < cols; ++c) {
                           C v = static_cast<C>(row[c]);
                           if (best != best) break;  // NaN wins and stays
                           if (v != v || (is_min ? v < best : v > best)) {
                             best = v;
                             best_i = c;
                           }
                         }
                         if constexpr (kArg) out.data<int64_t>()[r] = best_i;
                         else out.data<T>()[r] = static_cast<T>(best);
                       }
                     });
  })
}

// Softmax of float rows along the last dim (attention scores, logits): exp is computed once
// per element into the output, in loops the compiler vectorizes (libmvec's expf, 8 at a
// time), then scaled; the row's max and sum are plain scalar passes.
void softmax_last_dim_f32(const float* x, float* y, int64_t rows, int64_t D) {
  rt::parallel_for(rows, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* row = x + r * D;
      float* orow = y + r * D;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t d = 0; d < D; ++d) m = std::max(m, row[d]);
      if (std::isinf(m) && m < 0) m = 0;  // all -inf: avoid inf - inf
      for (int64_t d = 0; d < D; ++d) orow[d] = std::exp(row[d] - m);
      float s = 0;
      for (int64_t d = 0; d < D; ++d) s += orow[d];
      const float inv = 1.0f / s;
      for (int64_t d = 0; d < D; ++d) orow[d] *= inv;
    }
  });
}

// Softmax / log-softmax along attrs.axis of a contiguous input; attrs.flag: log form.
void softmax_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor x = contiguous_copy(in[0]);
  int64_t D = x.shape()[a.axis];
  int64_t inner = 1;
  for (int64_t i = a.axis + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  int64_t outer = D == 0 ? 0 : x.numel() / (D * inner);
  bool log_form = a.flag;
  if (x.dtype() == kFloat32 && inner == 1 && !log_form && D > 0) {
    softmax_last_dim_f32(x.data<float>(), out.data<float>(), outer, D);
    return;
  }
  TL_DISPATCH_FLOATING(x.dtype(), "softmax", {
    using C = compute_t<T>;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    rt::parallel_for(outer * inner, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(D, 1)),
                     [&](int64_t b, int64_t e) {
                       for (int64_t job = b; job < e; ++job) {
                         int64_t o = job / inner, i = job % inner;
                         const T* row = xp + o * D * inner + i;
                         T* orow = op + o * D * inner + i;
                         C m = -std::numeric_limits<C>::infinity();
                         for (int64_t d = 0; d < D; ++d) m = std::max(m, static_cast<C>(row[d * inner]));
                         if (std::isinf(m) && m < 0) m = 0;  // all -inf: avoid inf - inf
                         C s = 0;
                         for (int64_t d = 0; d < D; ++d) s += std::exp(static_cast<C>(row[d * inner]) - m);
                         if (log_form) {
                           C lse = m + std::log(s);
                           for (int64_t d = 0; d < D; ++d) orow[d * inner] = static_cast<T>(static_cast<C>(row[d * inner]) - lse);
                         } else {
                           C inv = C(1) / s;
                           for (int64_t d = 0; d < D; ++d)
                             orow[d * inner] = static_cast<T>(std::exp(static_cast<C>(row[d * inner]) - m) * inv);
                         }
                       }
                     });
  })
}

// Checks the operand and attrs.dims of the reduction `op`; `nonempty`: the op has no
// identity, so no reduced dim may have size 0.
void check_reduce(std::span<const Tensor> in, const Attrs& a, const char* op, bool nonempty, Site site) {
  check_arity(in, 1, op, site);
  const Tensor& x = in[0];
  check_dims(a.dims, x.dim(), op, site);
  if (!nonempty) return;
  for (int64_t d : a.dims) {
    if (x.shape()[d] == 0) {
      throw ShapeError(std::string("tl::") + op + ": cannot reduce over dim " + std::to_string(d) + " of size 0 in " +
                       x.shape().str() + " (no identity) at " + site.str());
    }
  }
}

OutputMeta infer_reduce(std::span<const Tensor> in, const Attrs& a, Site site) {
  const char* op = a.flag ? "mean" : "sum";
  check_reduce(in, a, op, false, site);
  if (a.flag) require_floating(in[0], op, "the input", site);
  DType dtype = in[0].dtype();
  if (!is_floating(dtype)) dtype = kInt64;
  return {reduced_shape(in[0].shape(), a.dims, a.keepdim), dtype};
}

[[maybe_unused]] const OpDef& op_sum = define_op("sum", [](OpDef& op) {
  op.doc = "sum over dims (mean: divide by the count)";
  op.arity = 1;
  op.attrs = {{"dims", AttrField::kDims, "the reduced dims (normalized, ascending)"},
              {"keepdim", AttrField::kKeepdim, "keep each reduced dim with size 1"},
              {"mean", AttrField::kFlag, "divide by the number of reduced elements"}};
  op.kind = OpKind::kSum;
  op.infer = infer_reduce;
  op.kernels[kCpu] = sum_kernel;
});

[[maybe_unused]] const OpDef& op_amax = define_op("amax", [](OpDef& op) {
  op.doc = "max over dims (min: the minimum); ties share the gradient evenly";
  op.arity = 1;
  op.attrs = {{"dims", AttrField::kDims, "the reduced dims (normalized, ascending)"},
              {"keepdim", AttrField::kKeepdim, "keep each reduced dim with size 1"},
              {"min", AttrField::kFlag2, "the minimum instead"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    const char* name = a.flag2 ? "amin" : "amax";
    check_reduce(in, a, name, true, site);
    require_numeric(in[0], name, "the input", site);
    return OutputMeta{reduced_shape(in[0].shape(), a.dims, a.keepdim), in[0].dtype()};
  };
  op.kernels[kCpu] = extremum_kernel<false>;
});

[[maybe_unused]] const OpDef& op_argmax = define_op("argmax", [](OpDef& op) {
  op.doc = "index of the max along dims[0] (min: of the minimum); first one on ties";
  op.arity = 1;
  op.attrs = {{"dims", AttrField::kDims, "the reduced dims (normalized, ascending)"},
              {"keepdim", AttrField::kKeepdim, "keep each reduced dim with size 1"},
              {"min", AttrField::kFlag2, "the minimum instead"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    const char* name = a.flag2 ? "argmin" : "argmax";
    check_reduce(in, a, name, true, site);
    require_numeric(in[0], name, "the input", site);
    if (a.dims.size() > 1) {
      throw ShapeError(std::string("tl::") + name + ": reduces one dim, got dims " + a.dims.str() + " at " + site.str());
    }
    return OutputMeta{reduced_shape(in[0].shape(), a.dims, a.keepdim), kInt64};
  };
  op.kernels[kCpu] = extremum_kernel<true>;
});

[[maybe_unused]] const OpDef& op_softmax = define_op("softmax", [](OpDef& op) {
  op.doc = "exp(x - logsumexp(x)) along axis (log: log_softmax)";
  op.arity = 1;
  op.attrs = {{"axis", AttrField::kAxis, "the normalized dim"}, {"log", AttrField::kFlag, "log_softmax: x - logsumexp(x)"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    const char* name = a.flag ? "log_softmax" : "softmax";
    check_arity(in, 1, name, site);
    require_floating(in[0], name, "the input", site);
    check_axis(a.axis, in[0].dim(), name, site);  // 0-d inputs are reshaped to [1] before the op
    return OutputMeta{in[0].shape(), in[0].dtype()};
  };
  op.kernels[kCpu] = softmax_kernel;
});

}  // namespace
}  // namespace tl::ops
