// Reductions over any set of dims (sum, mean, amax, amin, argmax, argmin) and the ops built
// on them (var, std, logsumexp, softmax, log_softmax, sum_to). Each reduction works on a
// [rows, cols] view with the reduced dims innermost; partial sums are combined in a fixed
// order, so results are bitwise identical at any thread count.
#include <cmath>
#include <limits>
#include <mutex>
#include <set>

#include "frontend/ops/pointwise/pointwise.h"
#include "runtime/logging.h"

namespace tl {
namespace ops {
namespace {

constexpr int64_t kColChunk = 16384;  // partial-sum chunk; fixed so threads do not change results

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

// x permuted so kept dims come first and reduced dims last, made contiguous: [rows, cols].
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
  NoGradGuard no_grad;
  bool identity = true;
  for (int64_t i = 0; i < order.size(); ++i) identity = identity && order[i] == i;
  Tensor p = identity ? x : x.permute(order);
  return p.contiguous();
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

void sum_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
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

// Softmax / log-softmax along attrs.axis of a contiguous input; attrs.flag: log form.
void softmax_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor x = in[0].contiguous();
  int64_t D = x.shape()[a.axis];
  int64_t inner = 1;
  for (int64_t i = a.axis + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  int64_t outer = D == 0 ? 0 : x.numel() / (D * inner);
  bool log_form = a.flag;
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

// dout reshaped to keepdim form and expanded to the input's shape.
Tensor expand_grad(const Tensor& dout, const Tensor& input, const Attrs& a) {
  Shape kept = reduced_shape(input.shape(), a.dims, true);
  return dout.reshape(kept).expand(input.shape());
}

std::vector<Sample> reduce_samples(Tensor (*fn)(const Tensor&, Shape, bool, Site)) {
  return {Sample{{Shape{3, 4}}, [fn](const std::vector<Tensor>& in) { return fn(in[0], {}, false, Site::here()); }},
          Sample{{Shape{2, 3, 4}}, [fn](const std::vector<Tensor>& in) { return fn(in[0], {0, 2}, false, Site::here()); }},
          Sample{{Shape{2, 3, 4}}, [fn](const std::vector<Tensor>& in) { return fn(in[0], {-1}, true, Site::here()); }},
          Sample{{Shape{4, 3}}, [fn](const std::vector<Tensor>& in) { return fn(in[0].t(), {1}, false, Site::here()); }}};
}

}  // namespace

const OpDef& op_sum = define_op("sum", [](OpDef& op) {
  op.doc = "sum over dims (mean: divide by the count)";
  op.arity = 1;
  op.attrs = {{"dims", AttrField::kDims, "the reduced dims (normalized, ascending)"},
              {"keepdim", AttrField::kKeepdim, "keep each reduced dim with size 1"},
              {"mean", AttrField::kFlag, "divide by the number of reduced elements"}};
  op.kind = OpKind::kSum;
  op.infer = infer_reduce;
  op.kernels[kCpu] = sum_kernel;
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

const OpDef& op_amax = define_op("amax", [](OpDef& op) {
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

const OpDef& op_argmax = define_op("argmax", [](OpDef& op) {
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
  op.not_differentiable = "integer result";
});

const OpDef& op_softmax = define_op("softmax", [](OpDef& op) {
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

Tensor sum(const Tensor& x, Shape dims, bool keepdim, Site site) {
  return reduce(op_sum, x, dims, keepdim, false, false, "sum", site);
}

Tensor mean(const Tensor& x, Shape dims, bool keepdim, Site site) {
  return reduce(op_sum, x, dims, keepdim, true, false, "mean", site);
}

Tensor amax(const Tensor& x, Shape dims, bool keepdim, Site site) {
  return reduce(op_amax, x, dims, keepdim, false, false, "amax", site);
}

Tensor amin(const Tensor& x, Shape dims, bool keepdim, Site site) {
  return reduce(op_amax, x, dims, keepdim, false, true, "amin", site);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim, Site site) {
  return reduce(op_argmax, x, {dim}, keepdim, false, false, "argmax", site);
}

Tensor argmin(const Tensor& x, int64_t dim, bool keepdim, Site site) {
  return reduce(op_argmax, x, {dim}, keepdim, false, true, "argmin", site);
}

Tensor var(const Tensor& x, Shape dims, int64_t correction, bool keepdim, Site site) {
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

Tensor std(const Tensor& x, Shape dims, int64_t correction, bool keepdim, Site site) {
  return sqrt(var(x, dims, correction, keepdim, site), site);
}

Tensor logsumexp(const Tensor& x, Shape dims, bool keepdim, Site site) {
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
