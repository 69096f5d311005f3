// View ops (reshape, permute, expand, slice) share their input's storage; copy ops
// (contiguous/clone, slice_backward) materialize. Each view's derivative maps the gradient
// back through the inverse geometry.
#include "frontend/ops/pointwise/pointwise.h"

namespace tl {
namespace ops {
namespace {

// reshape to attrs.dims (resolved sizes with x's element count); only valid on contiguous
// input, which the public reshape makes first.
Tensor reshape_view(const Tensor& x, const Attrs& a, Site site) {
  check_sizes(a.dims, "reshape", "dims", site);
  if (a.dims.numel() != x.numel()) {
    throw ShapeError("tl::reshape: cannot view " + x.shape().str() + " (" + std::to_string(x.numel()) +
                     " elements) as " + a.dims.str() + " (" + std::to_string(a.dims.numel()) + " elements) at " +
                     site.str());
  }
  if (!x.is_contiguous()) {
    throw ShapeError("tl::reshape: the input " + x.shape().str() + " is not contiguous (strides " + x.strides().str() +
                     ") at " + site.str());
  }
  return make_view(x, a.dims, contiguous_strides(a.dims), x.storage_offset());
}

// permute by attrs.dims (a permutation of [0, rank)).
Tensor permute_view(const Tensor& x, const Attrs& a, Site site) {
  if (a.dims.size() != x.dim()) {
    throw ShapeError("tl::permute: dims " + a.dims.str() + " is not a permutation of the " + std::to_string(x.dim()) +
                     " dims of " + x.shape().str() + " at " + site.str());
  }
  check_dims(a.dims, x.dim(), "permute", site);
  Shape shape, strides;
  for (int64_t d : a.dims) {
    shape.push_back(x.shape()[d]);
    strides.push_back(x.strides()[d]);
  }
  return make_view(x, shape, strides, x.storage_offset());
}

// expand to attrs.dims (resolved: no -1; new leading dims and size-1 dims broadcast).
Tensor expand_view(const Tensor& x, const Attrs& a, Site site) {
  check_sizes(a.dims, "expand", "dims", site);
  int64_t off = a.dims.size() - x.dim();
  bool fits = off >= 0;
  for (int64_t i = 0; fits && i < x.dim(); ++i) fits = x.shape()[i] == a.dims[off + i] || x.shape()[i] == 1;
  if (!fits) {
    throw ShapeError("tl::expand: cannot expand " + x.shape().str() + " to " + a.dims.str() +
                     " (only size-1 dims grow, and new dims go in front) at " + site.str());
  }
  Shape strides = broadcast_strides(x, a.dims);
  return make_view(x, a.dims, strides, x.storage_offset());
}

// Slice attributes (slice_attrs): axis, start, end, step; the public slice clamps them to
// 0 <= start <= end <= size(axis). Returns the sliced shape of `shape`.
Shape check_slice(const Shape& shape, const Attrs& a, const char* op, Site site) {
  check_axis(a.axis, shape.size(), op, site);
  if (a.step < 1) {
    throw ShapeError(std::string("tl::") + op + ": step must be >= 1, got " + std::to_string(a.step) + " at " +
                     site.str());
  }
  int64_t n = shape[a.axis];
  if (!(a.count >= 0 && a.count <= a.count2 && a.count2 <= n)) {
    throw ShapeError(std::string("tl::") + op + ": the range [start, end) = [" + std::to_string(a.count) + ", " +
                     std::to_string(a.count2) + ") must satisfy 0 <= start <= end <= " + std::to_string(n) +
                     ", the size of dim " + std::to_string(a.axis) + " of " + shape.str() + ", at " + site.str());
  }
  int64_t start = a.count, end = a.count2, step = a.step;
  Shape out = shape;
  out[a.axis] = end > start ? (end - start - 1) / step + 1 : 0;
  return out;
}

// The attributes of slice and slice_backward (which adds the sliced input's shape).
std::vector<AttrSpec> slice_attrs() {
  return {{"axis", AttrField::kAxis, "the sliced dim"},
          {"start", AttrField::kCount, "first index taken"},
          {"end", AttrField::kCount2, "one past the last index the range covers"},
          {"step", AttrField::kStep, "distance between taken indices (>= 1)"}};
}

// x[start:end:step] along attrs.axis, for attributes check_slice accepted.
Tensor slice_geometry(const Tensor& x, const Attrs& a, const Shape& shape) {
  int64_t start = a.count;
  Shape strides = x.strides();
  strides[a.axis] = x.strides()[a.axis] * a.step;
  return make_view(x, shape, strides, x.storage_offset() + start * x.strides()[a.axis]);
}

Tensor slice_view(const Tensor& x, const Attrs& a, Site site) {
  return slice_geometry(x, a, check_slice(x.shape(), a, "slice", site));
}

// Strided copy of `src` (broadcast to dst's shape) into `dst`, converting dtypes.
void copy_kernel(std::span<const Tensor> in, Tensor& out, const Attrs&);

}  // namespace

void strided_copy(const Tensor& src, const Tensor& dst) {
  Shape strides[2] = {dst.strides(), broadcast_strides(src, dst.shape())};
  TL_DISPATCH_ALL(src.dtype(), "copy", {
    using In = T;
    const In* sp = src.data<In>();
    TL_DISPATCH_ALL(dst.dtype(), "copy", {
      using Out = T;
      Out* dp = static_cast<Out*>(dst.data_ptr());
      if (std::is_same_v<In, Out> && dst.is_contiguous() && src.is_contiguous() &&
          src.shape() == dst.shape()) {
        std::memcpy(static_cast<void*>(dp), static_cast<const void*>(sp), dst.nbytes());
      } else {
        rt::parallel_for(dst.numel(), rt::kElementwiseGrain, [&](int64_t b, int64_t e) {
          for_each_run<2>(dst.shape(), strides, b, e,
                          [&](const int64_t* offs, int64_t count, const int64_t* inner) {
                            Out* d = dp + offs[0];
                            const In* s = sp + offs[1];
                            for (int64_t i = 0; i < count; ++i) {
                              if constexpr (std::is_same_v<Out, bool>) {
                                d[i * inner[0]] = static_cast<compute_t<In>>(s[i * inner[1]]) != compute_t<In>(0);
                              } else {
                                d[i * inner[0]] = static_cast<Out>(
                                    static_cast<compute_t<Out>>(static_cast<compute_t<In>>(s[i * inner[1]])));
                              }
                            }
                          });
        });
      }
    })
  })
}

namespace {
void copy_kernel(std::span<const Tensor> in, Tensor& out, const Attrs&) { strided_copy(in[0], out); }

// out = zeros(input shape attrs.dims); out.slice(...) = dout.
void slice_backward_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  std::memset(out.data_ptr(), 0, out.nbytes());
  strided_copy(in[0], slice_geometry(out, a, in[0].shape()));
}
}  // namespace

const OpDef& op_reshape = define_op("reshape", [](OpDef& op) {
  op.doc = "same elements, new shape (a view of contiguous input)";
  op.arity = 1;
  op.attrs = {{"shape", AttrField::kDims, "the result's shape (no -1)"}};
  op.view = reshape_view;
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{g.dout.reshape(g.input(0).shape())}; };
  op.samples = {Sample{{Shape{2, 6}}, [](const std::vector<Tensor>& in) { return in[0].reshape({3, -1}); }}};
});
const OpDef& op_permute = define_op("permute", [](OpDef& op) {
  op.doc = "reorders dims (a view)";
  op.arity = 1;
  op.attrs = {{"perm", AttrField::kDims, "result dim i is input dim perm[i]"}};
  op.view = permute_view;
  op.grad = [](const GradContext& g) {
    Shape inverse;
    inverse.resize(g.attrs.dims.size());
    for (int64_t i = 0; i < g.attrs.dims.size(); ++i) inverse[g.attrs.dims[i]] = i;
    return std::vector<Tensor>{g.dout.permute(inverse)};
  };
  op.samples = {Sample{{Shape{2, 3, 4}}, [](const std::vector<Tensor>& in) { return in[0].permute({2, 0, 1}); }}};
});
const OpDef& op_expand = define_op("expand", [](OpDef& op) {
  op.doc = "broadcasts size-1 dims without copying (a view)";
  op.arity = 1;
  op.attrs = {{"shape", AttrField::kDims, "the result's shape (new leading dims and size-1 dims broadcast)"}};
  op.view = expand_view;
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{sum_to(g.dout, g.input(0).shape())}; };
  op.samples = {Sample{{Shape{3, 1}}, [](const std::vector<Tensor>& in) { return in[0].expand({2, 3, 4}); }}};
});
const OpDef& op_slice_backward = define_op("slice_backward", [](OpDef& op) {
  op.doc = "zeros of the sliced input's shape with the gradient scattered into the slice";
  op.arity = 1;
  op.attrs = slice_attrs();
  op.attrs.push_back({"shape", AttrField::kDims, "the sliced input's shape (the result's)"});
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    check_arity(in, 1, "slice_backward", site);
    check_sizes(a.dims, "slice_backward", "dims", site);
    Shape sliced = check_slice(a.dims, a, "slice_backward", site);
    if (sliced != in[0].shape()) {
      throw ShapeError("tl::slice_backward: the gradient is " + in[0].shape().str() + " but slicing shape " +
                       a.dims.str() + " gives " + sliced.str() + " at " + site.str());
    }
    return OutputMeta{a.dims, in[0].dtype()};
  };
  op.kernels[kCpu] = slice_backward_kernel;
  op.grad = [](const GradContext& g) {
    const Attrs& a = g.attrs;
    return std::vector<Tensor>{g.dout.slice(a.axis, a.count, a.count2, a.step)};
  };
});
const OpDef& op_slice = define_op("slice", [](OpDef& op) {
  op.doc = "elements [start, end) by step along one dim (a view)";
  op.arity = 1;
  op.attrs = slice_attrs();
  op.view = slice_view;
  op.grad = [](const GradContext& g) {
    Attrs a = g.attrs;
    a.dims = g.input(0).shape();
    return std::vector<Tensor>{call(op_slice_backward, {g.dout}, a, g.site)};
  };
  op.samples = {Sample{{Shape{5, 4}}, [](const std::vector<Tensor>& in) { return in[0].slice(0, 1, 5, 2); }},
                Sample{{Shape{3, 6}}, [](const std::vector<Tensor>& in) { return in[0].narrow(1, 2, 3); }}};
});
const OpDef& op_copy = define_op("copy", [](OpDef& op) {
  op.doc = "a contiguous copy";
  op.arity = 1;
  op.infer = [](std::span<const Tensor> in, const Attrs&, Site site) {
    check_arity(in, 1, "copy", site);
    return OutputMeta{in[0].shape(), in[0].dtype()};
  };
  op.kernels[kCpu] = copy_kernel;
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{g.dout}; };
  op.samples = {Sample{{Shape{3, 4}}, [](const std::vector<Tensor>& in) { return in[0].t().contiguous(); }}};
});

}  // namespace ops

using namespace ops;

namespace {
// Resolves one -1 in `shape` against `numel`; names the op and both shapes on mismatch.
Shape infer_size(Shape shape, int64_t numel, const Tensor& x, const char* op, Site site) {
  int64_t infer = -1;
  int64_t known = 1;
  for (int64_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw ShapeError(std::string("tl::") + op + ": only one dim can be -1 in " + shape.str() + " at " + site.str());
      infer = i;
    } else if (shape[i] < 0) {
      throw ShapeError(std::string("tl::") + op + ": invalid size " + std::to_string(shape[i]) + " in " + shape.str() + " at " + site.str());
    } else if (__builtin_mul_overflow(known, shape[i], &known)) {
      throw ShapeError(std::string("tl::") + op + ": the size of " + shape.str() + " overflows int64 at " + site.str());
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) {
      throw ShapeError(std::string("tl::") + op + ": cannot reshape " + x.shape().str() + " (" + std::to_string(numel) +
                       " elements) into " + shape.str() + " at " + site.str());
    }
    shape[infer] = numel / known;
  } else if (known != numel) {
    throw ShapeError(std::string("tl::") + op + ": cannot reshape " + x.shape().str() + " (" + std::to_string(numel) +
                     " elements) into " + shape.str() + " (" + std::to_string(known) + " elements) at " + site.str());
  }
  return shape;
}
}  // namespace

Tensor Tensor::view(Shape shape, Site site) const {
  Attrs a;
  a.dims = infer_size(shape, numel(), *this, "view", site);
  if (!is_contiguous()) {
    throw ShapeError("tl::view: the tensor " + this->shape().str() + " is not contiguous (strides " +
                     strides().str() + "); use reshape() or contiguous() first, at " + site.str());
  }
  return call(op_reshape, {*this}, a, site);
}

Tensor Tensor::reshape(Shape shape, Site site) const {
  Attrs a;
  a.dims = infer_size(shape, numel(), *this, "reshape", site);
  if (a.dims == this->shape()) return *this;
  Tensor src = is_contiguous() ? *this : contiguous(site);
  return call(op_reshape, {src}, a, site);
}

Tensor Tensor::permute(Shape dims, Site site) const {
  if (dims.size() != dim()) {
    throw ShapeError("tl::permute: expected " + std::to_string(dim()) + " dims for a tensor of shape " +
                     shape().str() + ", got " + dims.str() + " at " + site.str());
  }
  Attrs a;
  a.dims = normalize_dims(dims, dim(), "permute", site);
  return call(op_permute, {*this}, a, site);
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1, Site site) const {
  Shape dims;
  for (int64_t i = 0; i < dim(); ++i) dims.push_back(i);
  int64_t a = normalize_dim(dim0, dim(), "transpose", site);
  int64_t b = normalize_dim(dim1, dim(), "transpose", site);
  std::swap(dims[a], dims[b]);
  return permute(dims, site);
}

Tensor Tensor::t(Site site) const {
  if (dim() != 2) throw ShapeError("tl::t: expected a 2-D tensor, got " + shape().str() + " at " + site.str());
  return transpose(0, 1, site);
}

Tensor Tensor::mT(Site site) const {
  if (dim() < 2) throw ShapeError("tl::mT: expected at least 2 dims, got " + shape().str() + " at " + site.str());
  return transpose(-2, -1, site);
}

Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step, Site site) const {
  int64_t d = normalize_dim(dim, this->dim(), "slice", site);
  if (step <= 0) throw ShapeError("tl::slice: step must be positive, got " + std::to_string(step) + " at " + site.str());
  int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Attrs a;
  a.axis = d;
  a.count = start;
  a.count2 = end;
  a.step = step;
  return call(op_slice, {*this}, a, site);
}

Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length, Site site) const {
  int64_t d = normalize_dim(dim, this->dim(), "narrow", site);
  if (start < 0) start += shape()[d];
  if (start < 0 || length < 0 || start + length > shape()[d]) {
    throw ShapeError("tl::narrow: range [" + std::to_string(start) + ", " + std::to_string(start + length) +
                     ") is out of bounds for dim " + std::to_string(d) + " of size " + std::to_string(shape()[d]) +
                     " at " + site.str());
  }
  return slice(d, start, start + length, 1, site);
}

Tensor Tensor::select(int64_t dim, int64_t index, Site site) const {
  int64_t d = normalize_dim(dim, this->dim(), "select", site);
  int64_t n = shape()[d];
  if (index < -n || index >= n) {
    throw ShapeError("tl::select: index " + std::to_string(index) + " is out of bounds for dim " +
                     std::to_string(d) + " of size " + std::to_string(n) + " at " + site.str());
  }
  if (index < 0) index += n;
  return narrow(d, index, 1, site).squeeze(d, site);
}

Tensor Tensor::expand(Shape shape, Site site) const {
  if (shape.size() < dim()) {
    throw ShapeError("tl::expand: cannot expand " + this->shape().str() + " to fewer dims " + shape.str() + " at " + site.str());
  }
  int64_t off = shape.size() - dim();
  for (int64_t i = 0; i < shape.size(); ++i) {
    int64_t own = i >= off ? this->shape()[i - off] : 1;
    if (shape[i] == -1) {
      if (i < off) throw ShapeError("tl::expand: -1 is not allowed for a new leading dim in " + shape.str() + " at " + site.str());
      shape[i] = own;
    }
    if (own != shape[i] && own != 1) {
      throw ShapeError("tl::expand: cannot expand " + this->shape().str() + " to " + shape.str() +
                       " (dim " + std::to_string(i) + " has size " + std::to_string(own) + ", not 1) at " + site.str());
    }
  }
  if (shape == this->shape()) return *this;
  Attrs a;
  a.dims = shape;
  return call(op_expand, {*this}, a, site);
}

Tensor Tensor::squeeze(Site site) const {
  Shape s;
  for (int64_t d : shape())
    if (d != 1) s.push_back(d);
  return reshape(s, site);
}

Tensor Tensor::squeeze(int64_t dim, Site site) const {
  int64_t d = normalize_dim(dim, this->dim(), "squeeze", site);
  if (this->dim() == 0 || shape()[d] != 1) return *this;
  Shape s = shape();
  s.erase(d);
  if (is_contiguous()) return reshape(s, site);
  return contiguous(site).reshape(s, site);
}

Tensor Tensor::unsqueeze(int64_t dim, Site site) const {
  int64_t d = normalize_dim(dim, this->dim() + 1, "unsqueeze", site);
  if (this->dim() >= kMaxRank) {
    throw ShapeError("tl::unsqueeze: tensors have at most " + std::to_string(kMaxRank) + " dimensions; " +
                     shape().str() + " already has " + std::to_string(this->dim()) + ", at " + site.str());
  }
  Shape s = shape();
  s.insert(d, 1);
  if (is_contiguous()) return reshape(s, site);
  return contiguous(site).reshape(s, site);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim, Site site) const {
  if (dim() == 0) return reshape({1}, site);
  int64_t s = normalize_dim(start_dim, dim(), "flatten", site);
  int64_t e = normalize_dim(end_dim, dim(), "flatten", site);
  if (s > e) throw ShapeError("tl::flatten: start_dim " + std::to_string(s) + " is after end_dim " + std::to_string(e) + " at " + site.str());
  Shape out;
  for (int64_t i = 0; i < s; ++i) out.push_back(shape()[i]);
  int64_t n = 1;
  for (int64_t i = s; i <= e; ++i) n *= shape()[i];
  out.push_back(n);
  for (int64_t i = e + 1; i < dim(); ++i) out.push_back(shape()[i]);
  return reshape(out, site);
}

Tensor Tensor::contiguous(Site site) const {
  if (is_contiguous()) return *this;
  return call(op_copy, {*this}, {}, site);
}

Tensor Tensor::clone(Site site) const { return call(op_copy, {*this}, {}, site); }

}  // namespace tl
