// View and copy ops as the frontend adds them: each view's derivative maps the gradient back
// through the inverse geometry; the samples the generic tests sweep; and the public Tensor
// methods (view, reshape, permute, slice, contiguous, clone, ...). Their view functions and
// copy kernels are the runtime's (runtime/ops/shape/views.cpp).
#include "frontend/ops/pointwise/pointwise.h"

namespace tl {
namespace ops {

const OpDef& op_reshape = extend_op("reshape", [](OpDef& op) {
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{g.dout.reshape(g.input(0).shape())}; };
  op.samples = {Sample{{Shape{2, 6}}, [](const std::vector<Tensor>& in) { return in[0].reshape({3, -1}); }}};
});
const OpDef& op_permute = extend_op("permute", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    Shape inverse;
    inverse.resize(g.attrs.dims.size());
    for (int64_t i = 0; i < g.attrs.dims.size(); ++i) inverse[g.attrs.dims[i]] = i;
    return std::vector<Tensor>{g.dout.permute(inverse)};
  };
  op.samples = {Sample{{Shape{2, 3, 4}}, [](const std::vector<Tensor>& in) { return in[0].permute({2, 0, 1}); }}};
});
const OpDef& op_expand = extend_op("expand", [](OpDef& op) {
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{sum_to(g.dout, g.input(0).shape())}; };
  op.samples = {Sample{{Shape{3, 1}}, [](const std::vector<Tensor>& in) { return in[0].expand({2, 3, 4}); }}};
});
const OpDef& op_slice_backward = extend_op("slice_backward", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Attrs& a = g.attrs;
    return std::vector<Tensor>{g.dout.slice(a.axis, a.count, a.count2, a.step)};
  };
});
const OpDef& op_slice = extend_op("slice", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    Attrs a = g.attrs;
    a.dims = g.input(0).shape();
    return std::vector<Tensor>{call(op_slice_backward, {g.dout}, a, g.site)};
  };
  op.samples = {Sample{{Shape{5, 4}}, [](const std::vector<Tensor>& in) { return in[0].slice(0, 1, 5, 2); }},
                Sample{{Shape{3, 6}}, [](const std::vector<Tensor>& in) { return in[0].narrow(1, 2, 3); }}};
});
const OpDef& op_copy = extend_op("copy", [](OpDef& op) {
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
