// Joining (cat, stack), splitting (split, chunk: narrow views) and integer indexing
// (index_select, gather, embedding, one_hot), with the scatter-style ops their derivatives
// need (index_add, scatter_add): the ops' definitions, shape rules and kernels. Their
// derivatives, samples and public functions are the frontend's
// (frontend/ops/index/join_index.cpp). The shape rules check shapes, dtypes and axes; index
// values are data, validated in the public functions, and kernels trust them. Accumulating
// kernels give each output element to one job and add contributions in index order, so
// results are deterministic.
#include <algorithm>
#include <cstring>

#include "runtime/ops/index/join_index.h"
#include "runtime/ops/pointwise/pointwise.h"

namespace tl::ops {
namespace {

// x viewed as [outer, size(axis), inner] (row-major).
void split_at_axis(const Shape& shape, int64_t axis, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
  for (int64_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
}

// Columns per job in index_add; fixed so the split depends only on the problem size.
constexpr int64_t kColumnBlock = 4096;

// ---------- cat ----------

// attrs.axis: the joined dim. Each input is copied into its slice of `out`.
void cat_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  int64_t offset = 0;
  for (const Tensor& t : in) {
    int64_t size = t.shape()[a.axis];
    if (size > 0 && t.numel() > 0) {
      Tensor slice = make_view(out, t.shape(), out.strides(), out.storage_offset() + offset * out.strides()[a.axis]);
      strided_copy(t, slice);
    }
    offset += size;
  }
}

OutputMeta infer_cat(std::span<const Tensor> in, const Attrs& a, Site site) {
  if (in.empty()) throw ValueError("tl::cat: expected at least one operand, got none at " + site.str());
  check_arity(in, in.size(), "cat", site);
  check_axis(a.axis, in[0].dim(), "cat", site);
  require_same_dtype(in, "cat", site);
  Shape shape = in[0].shape();
  shape[a.axis] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const Tensor& t = in[i];
    bool same = t.dim() == shape.size();
    for (int64_t k = 0; same && k < t.dim(); ++k) same = k == a.axis || t.shape()[k] == shape[k];
    if (!same) {
      throw ShapeError("tl::cat: sizes must match except in dim " + std::to_string(a.axis) + ": " + describe(in) +
                       " at " + site.str());
    }
    if (__builtin_add_overflow(shape[a.axis], t.shape()[a.axis], &shape[a.axis]))
      throw ShapeError("tl::cat: the joined size overflows int64: " + describe(in) + " at " + site.str());
  }
  return {shape, in[0].dtype()};
}

// ---------- index_select / index_add ----------

// out: [outer, K, inner] = x: [outer, D, inner] rows picked by index: (K); any dtype.
void index_select_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor x = contiguous_copy(in[0]), index = contiguous_copy(in[1]);
  int64_t outer, inner;
  split_at_axis(x.shape(), a.axis, outer, inner);
  int64_t D = x.shape()[a.axis], K = index.numel();
  size_t row_bytes = static_cast<size_t>(inner) * dtype_size(x.dtype());
  const char* xp = static_cast<const char*>(x.data_ptr());
  char* op = static_cast<char*>(out.data_ptr());
  with_index(index, [&](auto* idx) {
    rt::parallel_for(outer * K, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(inner, 1)),
                     [&](int64_t b, int64_t e) {
                       for (int64_t job = b; job < e; ++job) {
                         int64_t o = job / K, k = job % K;
                         std::memcpy(op + job * row_bytes, xp + (o * D + static_cast<int64_t>(idx[k])) * row_bytes,
                                     row_bytes);
                       }
                     });
  });
}

// out: [outer, D, inner] (shape attrs.dims) = zeros, then out[:, index[k], :] += src[:, k, :]
// for k in order. Jobs own (outer, column block) pairs, so every element's sum runs in
// the same order whatever the thread count.
void index_add_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor src = contiguous_copy(in[0]), index = contiguous_copy(in[1]);
  int64_t outer, inner;
  split_at_axis(out.shape(), a.axis, outer, inner);
  int64_t D = out.shape()[a.axis], K = index.numel();
  int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
  TL_DISPATCH_NUMERIC(out.dtype(), "index_add", {
    using A = compute_t<T>;
    const T* sp = src.data<T>();
    T* op = out.data<T>();
    with_index(index, [&](auto* idx) {
      rt::parallel_for(outer * blocks, 1, [&](int64_t b, int64_t e) {
        for (int64_t job = b; job < e; ++job) {
          int64_t o = job / blocks, c0 = (job % blocks) * kColumnBlock, c1 = std::min(inner, c0 + kColumnBlock);
          for (int64_t r = 0; r < D; ++r)
            for (int64_t c = c0; c < c1; ++c) op[(o * D + r) * inner + c] = T(0);
          for (int64_t k = 0; k < K; ++k) {
            T* orow = op + (o * D + static_cast<int64_t>(idx[k])) * inner;
            const T* srow = sp + (o * K + k) * inner;
            for (int64_t c = c0; c < c1; ++c) orow[c] = static_cast<T>(static_cast<A>(orow[c]) + static_cast<A>(srow[c]));
          }
        }
      });
    });
  })
}

// ---------- gather / scatter_add ----------

// out (index's shape) = x at index along attrs.axis: out[..., j, ...] = x[..., index[..., j, ...], ...].
void gather_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor x = contiguous_copy(in[0]), index = contiguous_copy(in[1]);
  const Shape& shape = index.shape();
  Shape xs = x.strides();
  int64_t rank = shape.size();
  TL_DISPATCH_ALL(x.dtype(), "gather", {
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    with_index(index, [&](auto* idx) {
      rt::parallel_for(out.numel(), rt::kElementwiseGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          int64_t rest = i, offset = 0;
          for (int64_t d = rank - 1; d >= 0; --d) {
            int64_t coord = rest % shape[d];
            rest /= shape[d];
            offset += (d == a.axis ? static_cast<int64_t>(idx[i]) : coord) * xs[d];
          }
          op[i] = xp[offset];
        }
      });
    });
  })
}

// out (shape attrs.dims) = zeros, then out[..., index[..., j, ...], ...] += src[..., j, ...].
// One job per line along attrs.axis (all other coordinates fixed): lines of src map to
// distinct lines of out, and each line adds its values in order.
void scatter_add_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor src = contiguous_copy(in[0]), index = contiguous_copy(in[1]);
  std::memset(out.data_ptr(), 0, out.nbytes());
  const Shape& shape = src.shape();
  int64_t rank = shape.size(), J = shape[a.axis];
  if (src.numel() == 0) return;
  Shape ss = src.strides(), os = out.strides();
  int64_t lines = src.numel() / J;
  TL_DISPATCH_NUMERIC(out.dtype(), "scatter_add", {
    using A = compute_t<T>;
    const T* sp = src.data<T>();
    T* op = out.data<T>();
    with_index(index, [&](auto* idx) {
      rt::parallel_for(lines, std::max<int64_t>(1, rt::kElementwiseGrain / J), [&](int64_t b, int64_t e) {
        for (int64_t line = b; line < e; ++line) {
          int64_t rest = line, src_base = 0, out_base = 0;
          for (int64_t d = rank - 1; d >= 0; --d) {
            if (d == a.axis) continue;
            int64_t coord = rest % shape[d];
            rest /= shape[d];
            src_base += coord * ss[d];
            out_base += coord * os[d];
          }
          for (int64_t j = 0; j < J; ++j) {
            int64_t s = src_base + j * ss[a.axis];
            T& dst = op[out_base + static_cast<int64_t>(idx[s]) * os[a.axis]];
            dst = static_cast<T>(static_cast<A>(dst) + static_cast<A>(sp[s]));
          }
        }
      });
    });
  })
}

// ---------- one_hot ----------

// out: (..., attrs.count) float32 with a 1 at each index.
void one_hot_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor index = contiguous_copy(in[0]);
  std::memset(out.data_ptr(), 0, out.nbytes());
  float* op = out.data<float>();
  with_index(index, [&](auto* idx) {
    for (int64_t i = 0; i < index.numel(); ++i) op[i * a.count + static_cast<int64_t>(idx[i])] = 1.0f;
  });
}

// Checks the (x, index) operands of index_select/gather along attrs.axis.
void check_indexed(std::span<const Tensor> in, const Attrs& a, const char* op, Site site) {
  check_arity(in, 2, op, site);
  check_axis(a.axis, in[0].dim(), op, site);
  require_index_dtype(in[1], op, "index", site);
}

// Shape rule of index_add/scatter_add: zeros of shape attrs.dims (src's dtype) into which
// src (input 0) is added at index (input 1) along attrs.axis.
OutputMeta infer_scatter(std::span<const Tensor> in, const Attrs& a, const char* op, Site site) {
  check_arity(in, 2, op, site);
  check_sizes(a.dims, op, "dims", site);
  check_axis(a.axis, a.dims.size(), op, site);
  require_numeric(in[0], op, "src", site);
  require_index_dtype(in[1], op, "index", site);
  return {a.dims, in[0].dtype()};
}

[[maybe_unused]] const OpDef& op_cat = define_op("cat", [](OpDef& op) {
  op.doc = "joins tensors of one dtype along axis (other dims equal)";
  op.arity = kVariadic;
  op.attrs = {{"axis", AttrField::kAxis, "the joined dim"}};
  op.infer = infer_cat;
  op.kernels[kCpu] = cat_kernel;
});

[[maybe_unused]] const OpDef& op_index_select = define_op("index_select", [](OpDef& op) {
  op.doc = "rows of input 0 along axis picked by the 1-D integer input 1";
  op.arity = 2;
  op.attrs = {{"axis", AttrField::kAxis, "the indexed dim"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    check_indexed(in, a, "index_select", site);
    if (in[1].dim() != 1) {
      throw ShapeError("tl::index_select: index must be 1-D, got " + in[1].shape().str() + " at " + site.str());
    }
    Shape shape = in[0].shape();
    shape[a.axis] = in[1].numel();
    return OutputMeta{shape, in[0].dtype()};
  };
  op.kernels[kCpu] = index_select_kernel;
});

[[maybe_unused]] const OpDef& op_index_add = define_op("index_add", [](OpDef& op) {
  op.doc = "zeros of shape `shape` with rows of input 0 added at the rows input 1 names along axis";
  op.arity = 2;
  op.attrs = {{"axis", AttrField::kAxis, "the indexed dim"}, {"shape", AttrField::kDims, "the result's shape"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    OutputMeta out = infer_scatter(in, a, "index_add", site);
    Shape expected = a.dims;
    expected[a.axis] = in[1].numel();
    if (in[1].dim() != 1 || in[0].shape() != expected) {
      throw ShapeError("tl::index_add: src must be dims " + a.dims.str() + " with dim " + std::to_string(a.axis) +
                       " replaced by the length of the 1-D index: " + describe(in, {"src", "index"}) + " at " +
                       site.str());
    }
    return out;
  };
  op.kernels[kCpu] = index_add_kernel;
});

[[maybe_unused]] const OpDef& op_gather = define_op("gather", [](OpDef& op) {
  op.doc = "values of input 0 at the integer input 1 along axis (output has the index's shape)";
  op.arity = 2;
  op.attrs = {{"axis", AttrField::kAxis, "the indexed dim"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    check_indexed(in, a, "gather", site);
    const Tensor& x = in[0];
    const Tensor& index = in[1];
    bool fits = index.dim() == x.dim();
    for (int64_t k = 0; fits && k < x.dim(); ++k) fits = k == a.axis || index.shape()[k] <= x.shape()[k];
    if (!fits) {
      throw ShapeError("tl::gather: index needs the same rank and no larger size than x in every dim except " +
                       std::to_string(a.axis) + ": " + describe(in, {"x", "index"}) + " at " + site.str());
    }
    return OutputMeta{index.shape(), x.dtype()};
  };
  op.kernels[kCpu] = gather_kernel;
});

[[maybe_unused]] const OpDef& op_scatter_add = define_op("scatter_add", [](OpDef& op) {
  op.doc = "zeros of shape `shape` plus input 0 added at the integer input 1 along axis (gather's adjoint)";
  op.arity = 2;
  op.attrs = {{"axis", AttrField::kAxis, "the indexed dim"}, {"shape", AttrField::kDims, "the result's shape"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    OutputMeta out = infer_scatter(in, a, "scatter_add", site);
    const Tensor& src = in[0];
    bool fits = in[1].shape() == src.shape() && src.dim() == a.dims.size();
    for (int64_t k = 0; fits && k < src.dim(); ++k) fits = k == a.axis || src.shape()[k] <= a.dims[k];
    if (!fits) {
      throw ShapeError("tl::scatter_add: src and index need one shape, of the rank of dims " + a.dims.str() +
                       " and no larger in any dim except " + std::to_string(a.axis) + ": " +
                       describe(in, {"src", "index"}) + " at " + site.str());
    }
    return out;
  };
  op.kernels[kCpu] = scatter_add_kernel;
});

[[maybe_unused]] const OpDef& op_one_hot = define_op("one_hot", [](OpDef& op) {
  op.doc = "float32 one-hot vectors of length num_classes in a new last dim";
  op.arity = 1;
  op.attrs = {{"num_classes", AttrField::kCount, "length of each vector"}};
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    check_arity(in, 1, "one_hot", site);
    require_index_dtype(in[0], "one_hot", "indices", site);
    if (a.count < 1) {
      throw ValueError("tl::one_hot: count (num_classes) must be at least 1, got " + std::to_string(a.count) + " at " +
                       site.str());
    }
    Shape shape = in[0].shape();
    shape.push_back(a.count);
    check_sizes(shape, "one_hot", "the result shape", site);
    return OutputMeta{shape, kFloat32};
  };
  op.kernels[kCpu] = one_hot_kernel;
});

}  // namespace
}  // namespace tl::ops
