// View ops (reshape, permute, expand, slice) share their input's storage: their view
// functions build the aliasing result's geometry. Copy ops (copy, slice_backward)
// materialize, through strided_copy, which is defined here. Their derivatives and the public
// Tensor methods are the frontend's (frontend/ops/shape/views.cpp).
#include <cstring>

#include "runtime/cuda/cuda_backend.h"
#include "runtime/device_backend.h"
#include "runtime/ops/pointwise/pointwise.h"

namespace tl::ops {
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

}  // namespace

void strided_copy(const Tensor& src, const Tensor& dst) {
  if (src.device().type == DeviceType::kCUDA || dst.device().type == DeviceType::kCUDA) {
    // On the GPU: the cast op's generated kernel writes any strides, converting the dtype.
    Tensor from = src;
    if (src.device() != dst.device()) {
      if (dst.device().type != DeviceType::kCUDA)
        throw DeviceError("tl::copy: from " + src.device().str() + " into a tensor on " + dst.device().str() +
                          " (move it with .to(device) first)");
      from = empty_tensor(src.shape(), src.dtype(), dst.device());
      const Tensor host = contiguous_copy(src);
      rt::backend_for(dst.device(), "copy").copy(from.data_ptr(), dst.device(), host.data_ptr(), host.device(),
                                                 host.nbytes());
    }
    static const OpDef& cast = *find_op("cast");
    Attrs attrs;
    attrs.dtype = dst.dtype();
    Tensor out = dst;
    const Tensor inputs[1] = {from};
    if (dst.numel() > 0) rt::cuda::run_elementwise(cast, inputs, out, attrs);
    return;
  }
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

// Strided copy of `src` (broadcast to dst's shape) into `dst`, converting dtypes.
void copy_kernel(std::span<const Tensor> in, Tensor& out, const Attrs&) { strided_copy(in[0], out); }

// out = zeros(input shape attrs.dims); out.slice(...) = dout.
void slice_backward_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  std::memset(out.data_ptr(), 0, out.nbytes());
  strided_copy(in[0], slice_geometry(out, a, in[0].shape()));
}

[[maybe_unused]] const OpDef& op_reshape = define_op("reshape", [](OpDef& op) {
  op.doc = "same elements, new shape (a view of contiguous input)";
  op.arity = 1;
  op.attrs = {{"shape", AttrField::kDims, "the result's shape (no -1)"}};
  op.view = reshape_view;
});
[[maybe_unused]] const OpDef& op_permute = define_op("permute", [](OpDef& op) {
  op.doc = "reorders dims (a view)";
  op.arity = 1;
  op.attrs = {{"perm", AttrField::kDims, "result dim i is input dim perm[i]"}};
  op.view = permute_view;
});
[[maybe_unused]] const OpDef& op_expand = define_op("expand", [](OpDef& op) {
  op.doc = "broadcasts size-1 dims without copying (a view)";
  op.arity = 1;
  op.attrs = {{"shape", AttrField::kDims, "the result's shape (new leading dims and size-1 dims broadcast)"}};
  op.view = expand_view;
});
[[maybe_unused]] const OpDef& op_slice_backward = define_op("slice_backward", [](OpDef& op) {
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
});
[[maybe_unused]] const OpDef& op_slice = define_op("slice", [](OpDef& op) {
  op.doc = "elements [start, end) by step along one dim (a view)";
  op.arity = 1;
  op.attrs = slice_attrs();
  op.view = slice_view;
});
[[maybe_unused]] const OpDef& op_copy = define_op("copy", [](OpDef& op) {
  op.doc = "a contiguous copy";
  op.arity = 1;
  op.infer = [](std::span<const Tensor> in, const Attrs&, Site site) {
    check_arity(in, 1, "copy", site);
    return OutputMeta{in[0].shape(), in[0].dtype()};
  };
  op.kernels[kCpu] = copy_kernel;
});

}  // namespace
}  // namespace tl::ops
