// Joining (cat, stack), splitting (split, chunk: narrow views) and integer indexing
// (index_select, gather, embedding, one_hot), with the scatter-style ops their derivatives
// need (index_add, scatter_add). The shape rules check shapes, dtypes and axes; index values
// are data, validated in the public functions, and kernels trust them. Accumulating kernels give each output
// element to one job and add contributions in index order, so results are deterministic.
#include "frontend/ops/pointwise/pointwise.h"

namespace tl {
namespace ops {

namespace {

// Calls f(p) with p the int32_t* or int64_t* data of the contiguous integer tensor `index`.
template <class F>
void with_index(const Tensor& index, const F& f) {
  if (index.dtype() == kInt32) f(index.data<int32_t>());
  else if (index.dtype() == kInt64) f(index.data<int64_t>());
  else unsupported_dtype("index", index.dtype());
}

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
  Tensor x = in[0].contiguous(), index = in[1].contiguous();
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
  Tensor src = in[0].contiguous(), index = in[1].contiguous();
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
  Tensor x = in[0].contiguous(), index = in[1].contiguous();
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
  Tensor src = in[0].contiguous(), index = in[1].contiguous();
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
  Tensor index = in[0].contiguous();
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


Attrs axis_attrs(int64_t axis, Shape dims = {}) {
  Attrs a;
  a.axis = axis;
  a.dims = dims;
  return a;
}

}  // namespace

const OpDef& op_cat = define_op("cat", [](OpDef& op) {
  op.doc = "joins tensors of one dtype along axis (other dims equal)";
  op.arity = kVariadic;
  op.attrs = {{"axis", AttrField::kAxis, "the joined dim"}};
  op.infer = infer_cat;
  op.kernels[kCpu] = cat_kernel;
  op.grad = [](const GradContext& g) {
    std::vector<Tensor> grads(g.inputs.size());
    int64_t offset = 0;
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      int64_t size = g.input(static_cast<int>(i)).shape()[g.attrs.axis];
      if (g.needs_input_grad(static_cast<int>(i))) grads[i] = g.dout.narrow(g.attrs.axis, offset, size, g.site);
      offset += size;
    }
    return grads;
  };
  op.samples = {Sample{{Shape{2, 3}, Shape{4, 3}}, [](const std::vector<Tensor>& in) { return cat(in, 0); }},
                Sample{{Shape{2, 1, 3}, Shape{2, 2, 3}, Shape{2, 3, 3}},
                       [](const std::vector<Tensor>& in) { return cat(in, -2); }},
                Sample{{Shape{3, 2}, Shape{3, 2}}, [](const std::vector<Tensor>& in) { return stack(in, 1); }}};
});

extern const OpDef& op_index_add;

const OpDef& op_index_select = define_op("index_select", [](OpDef& op) {
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
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{
        call(op_index_add, {g.dout, g.input(1)}, axis_attrs(g.attrs.axis, g.input(0).shape()), g.site), Tensor()};
  };
  op.samples = {Sample{{Shape{5, 3}, Shape{4}}, [](const std::vector<Tensor>& in) { return index_select(in[0], 0, in[1]); },
                       -2, 2, {1}, {5}},
                Sample{{Shape{2, 6, 3}, Shape{7}},
                       [](const std::vector<Tensor>& in) { return index_select(in[0], -2, in[1]); }, -2, 2, {1}, {6}},
                Sample{{Shape{6, 4}, Shape{2, 3}}, [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); },
                       -2, 2, {1}, {6}}};
});

const OpDef& op_index_add = define_op("index_add", [](OpDef& op) {
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
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{call(op_index_select, {g.dout, g.input(1)}, axis_attrs(g.attrs.axis), g.site), Tensor()};
  };
  op.samples = {Sample{{Shape{4, 3}, Shape{4}}, [](const std::vector<Tensor>& in) {
                         return call(op_index_add, {in[0], in[1]}, axis_attrs(0, {5, 3}), Site::here());
                       }, -2, 2, {1}, {5}},
                Sample{{Shape{2, 7, 3}, Shape{7}}, [](const std::vector<Tensor>& in) {
                         return call(op_index_add, {in[0], in[1]}, axis_attrs(1, {2, 4, 3}), Site::here());
                       }, -2, 2, {1}, {4}}};
});

extern const OpDef& op_scatter_add;

const OpDef& op_gather = define_op("gather", [](OpDef& op) {
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
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{
        call(op_scatter_add, {g.dout, g.input(1)}, axis_attrs(g.attrs.axis, g.input(0).shape()), g.site), Tensor()};
  };
  op.samples = {Sample{{Shape{3, 5}, Shape{3, 4}}, [](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); },
                       -2, 2, {1}, {5}},
                Sample{{Shape{4, 3, 2}, Shape{6, 2, 2}},
                       [](const std::vector<Tensor>& in) { return gather(in[0], 0, in[1]); }, -2, 2, {1}, {4}}};
});

const OpDef& op_scatter_add = define_op("scatter_add", [](OpDef& op) {
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
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{call(op_gather, {g.dout, g.input(1)}, axis_attrs(g.attrs.axis), g.site), Tensor()};
  };
  op.samples = {Sample{{Shape{3, 4}, Shape{3, 4}}, [](const std::vector<Tensor>& in) {
    return call(op_scatter_add, {in[0], in[1]}, axis_attrs(1, {3, 5}), Site::here());
  }, -2, 2, {1}, {5}}};
});

const OpDef& op_one_hot = define_op("one_hot", [](OpDef& op) {
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
  op.not_differentiable = "integer input";
});

}  // namespace ops

using namespace ops;

namespace {

std::string operand_name(const char* list, size_t i) { return std::string(list) + "[" + std::to_string(i) + "]"; }

std::string describe_one(const Tensor& t) { return t.shape().str() + " " + dtype_name(t.dtype()); }

// Throws unless `index` is an int32/int64 tensor whose values all lie in [0, bound).
// `what` names the index argument and `target` what it indexes ("dim 0 of x").
void check_index(const Tensor& index, int64_t bound, const char* op, const char* what, const std::string& target,
                 Site site) {
  if (!index.defined()) throw ValueError(std::string("tl::") + op + ": " + what + " is undefined at " + site.str());
  if (index.dtype() != kInt32 && index.dtype() != kInt64) {
    throw DTypeError(std::string("tl::") + op + ": " + what + " must be int32 or int64, got " + describe_one(index) +
                     " at " + site.str());
  }
  Tensor flat = index.contiguous(site);
  with_index(flat, [&](auto* idx) {
    for (int64_t i = 0; i < flat.numel(); ++i) {
      int64_t v = static_cast<int64_t>(idx[i]);
      if (v < 0 || v >= bound) {
        throw ValueError(std::string("tl::") + op + ": " + what + " value " + std::to_string(v) +
                         " (element " + std::to_string(i) + ") is out of range for " + target + " of size " +
                         std::to_string(bound) + " (valid values are 0 to " + std::to_string(bound - 1) +
                         "; negative indices are not supported) at " + site.str());
      }
    }
  });
}

void require_rank_at_least_1(const Tensor& x, const char* op, const char* what, Site site) {
  if (!x.defined()) throw ValueError(std::string("tl::") + op + ": " + what + " is undefined at " + site.str());
  if (x.dim() == 0) {
    throw ShapeError(std::string("tl::") + op + ": " + what + " is 0-dimensional; it needs at least 1 dim, at " +
                     site.str());
  }
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim, Site site) {
  if (tensors.empty()) throw ValueError("tl::cat: expected at least one tensor, got an empty list at " + site.str());
  for (size_t i = 0; i < tensors.size(); ++i)
    require_rank_at_least_1(tensors[i], "cat", operand_name("tensors", i).c_str(), site);
  const Tensor& first = tensors[0];
  int64_t d = normalize_dim(dim, first.dim(), "cat", site);
  DType dtype = first.dtype();
  for (size_t i = 1; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    bool same = t.dim() == first.dim();
    for (int64_t k = 0; same && k < t.dim(); ++k) same = k == d || t.shape()[k] == first.shape()[k];
    if (!same) {
      throw ShapeError("tl::cat: tensors[0] is " + describe_one(first) + " and " + operand_name("tensors", i) +
                       " is " + describe_one(t) + "; sizes must match except in dim " + std::to_string(d) + " at " +
                       site.str());
    }
    dtype = promote_types(dtype, t.dtype());
  }
  std::vector<Tensor> inputs;
  inputs.reserve(tensors.size());
  for (const Tensor& t : tensors) inputs.push_back(t.dtype() == dtype ? t : cast(t, dtype, site));
  return call(op_cat, std::span<const Tensor>(inputs), axis_attrs(d), site);
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim, Site site) {
  if (tensors.empty()) throw ValueError("tl::stack: expected at least one tensor, got an empty list at " + site.str());
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) {
      throw ValueError("tl::stack: " + operand_name("tensors", i) + " is undefined at " + site.str());
    }
    if (tensors[i].shape() != tensors[0].shape()) {
      throw ShapeError("tl::stack: tensors[0] is " + describe_one(tensors[0]) + " and " + operand_name("tensors", i) +
                       " is " + describe_one(tensors[i]) + "; all shapes must be equal at " + site.str());
    }
  }
  int64_t d = normalize_dim(dim, tensors[0].dim() + 1, "stack", site);
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(t.unsqueeze(d, site));
  return cat(expanded, d, site);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim, Site site) {
  require_rank_at_least_1(x, "split", "x", site);
  int64_t d = normalize_dim(dim, x.dim(), "split", site);
  if (split_size < 1) {
    throw ValueError("tl::split: split_size must be at least 1, got " + std::to_string(split_size) + " (x is " +
                     describe_one(x) + ") at " + site.str());
  }
  int64_t n = x.shape()[d];
  std::vector<Tensor> parts;
  if (n == 0) parts.push_back(x.narrow(d, 0, 0, site));
  for (int64_t start = 0; start < n; start += split_size)
    parts.push_back(x.narrow(d, start, std::min(split_size, n - start), site));
  return parts;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim, Site site) {
  require_rank_at_least_1(x, "chunk", "x", site);
  int64_t d = normalize_dim(dim, x.dim(), "chunk", site);
  if (chunks < 1) {
    throw ValueError("tl::chunk: chunks must be at least 1, got " + std::to_string(chunks) + " (x is " +
                     describe_one(x) + ") at " + site.str());
  }
  // Like PyTorch: equal chunks of ceil(n / chunks), so fewer than `chunks` may come back.
  int64_t n = x.shape()[d];
  return split(x, std::max<int64_t>(1, (n + chunks - 1) / chunks), d, site);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index, Site site) {
  require_rank_at_least_1(x, "index_select", "x", site);
  int64_t d = normalize_dim(dim, x.dim(), "index_select", site);
  if (index.defined() && index.dim() > 1) {
    throw ShapeError("tl::index_select: index must be 1-D, got " + describe_one(index) + " at " + site.str());
  }
  check_index(index, x.shape()[d], "index_select", "index", "dim " + std::to_string(d) + " of x", site);
  Tensor flat = index.dim() == 0 ? index.reshape({1}, site) : index;
  return call(op_index_select, {x, flat}, axis_attrs(d), site);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index, Site site) {
  require_rank_at_least_1(x, "gather", "x", site);
  int64_t d = normalize_dim(dim, x.dim(), "gather", site);
  if (!index.defined()) throw ValueError("tl::gather: index is undefined at " + site.str());
  bool fits = index.dim() == x.dim();
  for (int64_t k = 0; fits && k < x.dim(); ++k) fits = k == d || index.shape()[k] <= x.shape()[k];
  if (!fits) {
    throw ShapeError("tl::gather: index is " + describe_one(index) + " and x is " + describe_one(x) +
                     "; index needs the same rank and no larger size than x in every dim except " +
                     std::to_string(d) + " at " + site.str());
  }
  check_index(index, x.shape()[d], "gather", "index", "dim " + std::to_string(d) + " of x", site);
  return call(op_gather, {x, index}, axis_attrs(d), site);
}

Tensor embedding(const Tensor& weight, const Tensor& indices, Site site) {
  if (!weight.defined() || weight.dim() != 2) {
    throw ShapeError("tl::embedding: weight must be 2-D (num_embeddings, dim), got " +
                     (weight.defined() ? describe_one(weight) : std::string("undefined")) + " at " + site.str());
  }
  check_index(indices, weight.shape()[0], "embedding", "indices", "the embedding table (weight dim 0)", site);
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.shape()[1]);
  // Backward goes through index_select's rule: index_add of the gradient rows over dim 0.
  Tensor rows = call(op_index_select, {weight, indices.reshape({-1}, site)}, axis_attrs(0), site);
  return rows.reshape(out_shape, site);
}

Tensor one_hot(const Tensor& indices, int64_t num_classes, Site site) {
  if (num_classes == -1 && indices.defined() && indices.numel() > 0 &&
      (indices.dtype() == kInt32 || indices.dtype() == kInt64)) {
    num_classes = amax(indices, {}, false, site).item<int64_t>(site) + 1;  // -1: infer, as in PyTorch
  }
  if (num_classes < 1) {
    throw ValueError("tl::one_hot: num_classes must be at least 1 (or -1 to infer it), got " +
                     std::to_string(num_classes) + " at " + site.str());
  }
  check_index(indices, num_classes, "one_hot", "indices", "num_classes", site);
  Attrs a;
  a.count = num_classes;
  return call(op_one_hot, {indices}, a, site);
}

}  // namespace tl
