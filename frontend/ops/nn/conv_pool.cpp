// 2-D convolution and pooling over NCHW tensors as the frontend adds them: the derivatives
// (through the backward ops), the samples the generic tests sweep, and the public functions.
// The ops' definitions, shape rules and kernels are the runtime's
// (runtime/ops/nn/conv_pool.cpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "frontend/ops/pointwise/pointwise.h"

namespace tl {
namespace ops {
namespace {

// Attrs of the conv ops: stride, padding, dilation (2 values each), count = groups.
// The backward ops also carry attrs.dims = the shape of the tensor they produce.
Attrs conv_attrs(Shape stride, Shape padding, Shape dilation, int64_t groups) {
  Attrs a;
  a.stride = stride;
  a.padding = padding;
  a.dilation = dilation;
  a.count = groups;
  return a;
}

// Attrs of the pool ops: dims = kernel, stride, padding (2 values each).
Attrs pool_attrs(Shape kernel, Shape stride, Shape padding) {
  Attrs a;
  a.dims = kernel;
  a.stride = stride;
  a.padding = padding;
  return a;
}

}  // namespace

extern const OpDef& op_conv2d_backward_input;
extern const OpDef& op_conv2d_backward_weight;

const OpDef& op_conv2d = extend_op("conv2d", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    std::vector<Tensor> grads(g.inputs.size());
    Attrs a = g.attrs;
    a.flag = false;  // the backward ops have no relu
    a.axis = 0;      // nor blocked layouts (an inference-only rewrite)
    // With the relu epilogue, the sum's gradient is dout where the result is positive.
    const Tensor dout = g.attrs.flag ? ops::relu_backward(g.dout, g.output(), g.site) : g.dout;
    if (g.needs_input_grad(0)) {
      a.dims = g.input(0).shape();
      grads[0] = call(op_conv2d_backward_input, {dout, g.input(1)}, a, g.site);
    }
    if (g.needs_input_grad(1)) {
      a.dims = g.input(1).shape();
      grads[1] = call(op_conv2d_backward_weight, {g.input(0), dout}, a, g.site);
    }
    // Two reductions that read dout in place (trailing dims, then the leading one); one sum
    // over {0, 2, 3} would first copy dout into (O, N*OH*OW) order.
    if (g.inputs.size() > 2 && g.inputs[2].defined() && g.needs_input_grad(2)) {
      grads[2] = sum(sum(dout, {2, 3}, false, g.site), {0}, false, g.site);
    }
    if (g.inputs.size() > 3 && g.needs_input_grad(3)) grads[3] = dout;  // the residual is added as is
    return grads;
  };
  op.samples = {
      Sample{{Shape{2, 3, 5, 5}, Shape{4, 3, 3, 3}, Shape{4}},
             [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2]); }},
      Sample{{Shape{1, 4, 6, 5}, Shape{6, 2, 3, 2}},
             [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), {2, 1}, {1, 1}, {1, 2}, 2); }},
      Sample{{Shape{1, 2, 7, 7}, Shape{2, 1, 3, 3}, Shape{2}},
             [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], {2, 2}, {2, 2}, {2, 2}, 2); }}};
});

const OpDef& op_conv2d_backward_input = extend_op("conv2d_backward_input", [](OpDef& op) {
  // The op is bilinear in (dout, weight): <conv2d(x, w), dout> = <x, this(dout, w)>.
  op.grad = [](const GradContext& g) {
    Attrs a = g.attrs;
    a.dims = g.input(1).shape();
    Attrs forward = g.attrs;  // conv2d has no result shape to carry
    forward.dims = {};
    return std::vector<Tensor>{
        g.needs_input_grad(0) ? call(op_conv2d, {g.dout, g.input(1)}, forward, g.site) : Tensor(),
        g.needs_input_grad(1) ? call(op_conv2d_backward_weight, {g.dout, g.input(0)}, a, g.site) : Tensor()};
  };
  op.samples = {Sample{{Shape{2, 4, 3, 3}, Shape{4, 3, 3, 3}},
                       [](const std::vector<Tensor>& in) {
                         Attrs a = conv_attrs({1, 1}, {0, 0}, {1, 1}, 1);
                         a.dims = Shape{2, 3, 5, 5};
                         return call(op_conv2d_backward_input, {in[0], in[1]}, a, Site::here());
                       }},
                // Stride 2 on a 6-wide input leaves the last row and column out of every window.
                Sample{{Shape{1, 4, 2, 2}, Shape{4, 1, 3, 3}}, [](const std::vector<Tensor>& in) {
                         Attrs a = conv_attrs({2, 2}, {0, 0}, {1, 1}, 2);
                         a.dims = Shape{1, 2, 6, 6};
                         return call(op_conv2d_backward_input, {in[0], in[1]}, a, Site::here());
                       }}};
});

const OpDef& op_conv2d_backward_weight = extend_op("conv2d_backward_weight", [](OpDef& op) {
  // Bilinear in (x, dout): <conv2d(x, w), dout> = <w, this(x, dout)>.
  op.grad = [](const GradContext& g) {
    Attrs a = g.attrs;
    a.dims = g.input(0).shape();
    Attrs forward = g.attrs;  // conv2d has no result shape to carry
    forward.dims = {};
    return std::vector<Tensor>{
        g.needs_input_grad(0) ? call(op_conv2d_backward_input, {g.input(1), g.dout}, a, g.site) : Tensor(),
        g.needs_input_grad(1) ? call(op_conv2d, {g.input(0), g.dout}, forward, g.site) : Tensor()};
  };
  op.samples = {Sample{{Shape{2, 3, 5, 5}, Shape{2, 4, 3, 3}}, [](const std::vector<Tensor>& in) {
                  Attrs a = conv_attrs({1, 1}, {0, 0}, {1, 1}, 1);
                  a.dims = Shape{4, 3, 3, 3};
                  return call(op_conv2d_backward_weight, {in[0], in[1]}, a, Site::here());
                }},
                Sample{{Shape{1, 4, 6, 5}, Shape{1, 6, 3, 5}}, [](const std::vector<Tensor>& in) {
                  Attrs a = conv_attrs({2, 1}, {1, 1}, {1, 2}, 2);
                  a.dims = Shape{6, 2, 3, 2};
                  return call(op_conv2d_backward_weight, {in[0], in[1]}, a, Site::here());
                }}};
});

extern const OpDef& op_max_pool2d_gather;

// Max pooling's routing is piecewise constant in x: its derivatives in x are zero, and in
// the routed tensor each of these two ops is the other's adjoint.
const OpDef& op_max_pool2d_backward = extend_op("max_pool2d_backward", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{
        g.needs_input_grad(0) ? call(op_max_pool2d_gather, {g.dout, g.input(1)}, g.attrs, g.site) : Tensor(), Tensor()};
  };
});

const OpDef& op_max_pool2d_gather = extend_op("max_pool2d_gather", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{
        g.needs_input_grad(0) ? call(op_max_pool2d_backward, {g.dout, g.input(1)}, g.attrs, g.site) : Tensor(), Tensor()};
  };
  op.samples = {Sample{{Shape{2, 3, 6, 6}, Shape{2, 3, 6, 6}}, [](const std::vector<Tensor>& in) {
                         return call(op_max_pool2d_gather, {in[0], in[1]}, pool_attrs({2, 2}, {2, 2}, {0, 0}),
                                     Site::here());
                       }},
                Sample{{Shape{1, 2, 5, 7}, Shape{1, 2, 5, 7}}, [](const std::vector<Tensor>& in) {
                         return call(op_max_pool2d_gather, {in[0], in[1]}, pool_attrs({3, 3}, {2, 2}, {1, 1}),
                                     Site::here());
                       }}};
});

const OpDef& op_max_pool2d = extend_op("max_pool2d", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{call(op_max_pool2d_backward, {g.dout, g.input(0)}, g.attrs, g.site)};
  };
  op.samples = {Sample{{Shape{2, 3, 6, 6}}, [](const std::vector<Tensor>& in) { return max_pool2d(in[0], {2, 2}); }},
                Sample{{Shape{1, 2, 5, 7}},
                       [](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}); }}};
});

extern const OpDef& op_avg_pool2d;

const OpDef& op_avg_pool2d_backward = extend_op("avg_pool2d_backward", [](OpDef& op) {
  // Linear in dout, and its adjoint is avg_pool2d itself; x only supplies the shape.
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{g.needs_input_grad(0) ? call(op_avg_pool2d, {g.dout}, g.attrs, g.site) : Tensor(),
                               Tensor()};
  };
  op.samples = {Sample{{Shape{1, 2, 3, 4}, Shape{1, 2, 5, 7}}, [](const std::vector<Tensor>& in) {
    return call(op_avg_pool2d_backward, {in[0], in[1]}, pool_attrs({3, 3}, {2, 2}, {1, 1}), Site::here());
  }}};
});

const OpDef& op_avg_pool2d = extend_op("avg_pool2d", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{call(op_avg_pool2d_backward, {g.dout, g.input(0)}, g.attrs, g.site)};
  };
  op.samples = {Sample{{Shape{2, 3, 6, 6}}, [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {2, 2}); }},
                Sample{{Shape{1, 2, 5, 7}},
                       [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}); }}};
});

}  // namespace ops

using namespace ops;

namespace {

// Expands a 1- or 2-value spatial argument to (h, w) and checks that each value is at
// least `min`.
Shape spatial_pair(const Shape& s, int64_t min, const char* op, const char* what, Site site) {
  if (s.size() != 1 && s.size() != 2) {
    throw ShapeError(std::string("tl::") + op + ": " + what + " must have 1 or 2 values (height, width), got " +
                     s.str() + " at " + site.str());
  }
  Shape out = s.size() == 1 ? Shape{s[0], s[0]} : s;
  if (out[0] < min || out[1] < min) {
    throw ShapeError(std::string("tl::") + op + ": " + what + " must be >= " + std::to_string(min) + ", got " +
                     s.str() + " at " + site.str());
  }
  return out;
}

Tensor pool2d(const OpDef& op, const char* name, const Tensor& x, Shape kernel, Shape stride, Shape padding,
              Site site) {
  kernel = spatial_pair(kernel, 1, name, "kernel", site);
  stride = stride.empty() ? kernel : spatial_pair(stride, 1, name, "stride", site);
  padding = spatial_pair(padding, 0, name, "padding", site);
  return call(op, {x}, pool_attrs(kernel, stride, padding), site);
}

}  // namespace

// The op's shape rule checks the operands (shapes, dtypes, groups, bias, window size).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Shape stride, Shape padding, Shape dilation,
              int64_t groups, Site site) {
  stride = spatial_pair(stride, 1, "conv2d", "stride", site);
  padding = spatial_pair(padding, 0, "conv2d", "padding", site);
  dilation = spatial_pair(dilation, 1, "conv2d", "dilation", site);
  std::vector<Tensor> operands{x, weight};
  if (bias.defined()) operands.push_back(bias);
  return call(op_conv2d, std::span<const Tensor>(operands), conv_attrs(stride, padding, dilation, groups), site);
}

namespace {

std::string shape_and_dtype(const Tensor& t) {
  return t.defined() ? t.shape().str() + " " + dtype_name(t.dtype()) : std::string("undefined");
}

}  // namespace

// The transposed convolution is conv2d's input gradient: conv2d_backward_input with the
// result's shape as dims. Its derivative is that op's (conv2d and conv2d_backward_weight).
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Shape stride, Shape padding,
                        Shape output_padding, int64_t groups, Shape dilation, Site site) {
  stride = spatial_pair(stride, 1, "conv_transpose2d", "stride", site);
  padding = spatial_pair(padding, 0, "conv_transpose2d", "padding", site);
  output_padding = spatial_pair(output_padding, 0, "conv_transpose2d", "output_padding", site);
  dilation = spatial_pair(dilation, 1, "conv_transpose2d", "dilation", site);
  auto operands = [&] {
    return "x is " + shape_and_dtype(x) + ", weight is " + shape_and_dtype(weight) +
           (bias.defined() ? ", bias is " + shape_and_dtype(bias) : std::string()) + ", groups " +
           std::to_string(groups);
  };
  if (!x.defined() || !weight.defined() || x.dim() != 4 || weight.dim() != 4) {
    throw ShapeError("tl::conv_transpose2d: expected x (N, C_in, H, W) and weight (C_in, C_out/groups, KH, KW): " +
                     operands() + " at " + site.str());
  }
  if (groups < 1 || weight.size(0) != x.size(1) || x.size(1) % groups != 0) {
    throw ShapeError("tl::conv_transpose2d: weight dim 0 must equal x's " + std::to_string(x.size(1)) +
                     " input channels, which groups must divide: " + operands() + " at " + site.str());
  }
  const int64_t N = x.size(0), O = weight.size(1) * groups;
  Shape full{0, 0}, out{0, 0};
  for (int i = 0; i < 2; ++i) {
    if (output_padding[i] >= stride[i] && output_padding[i] >= dilation[i]) {
      throw ShapeError("tl::conv_transpose2d: output_padding " + output_padding.str() +
                       " must be smaller than the stride " + stride.str() + " or the dilation " + dilation.str() +
                       " in each dim at " + site.str());
    }
    full[i] = (x.size(2 + i) - 1) * stride[i] + dilation[i] * (weight.size(2 + i) - 1) + 1;
    out[i] = full[i] - 2 * padding[i] + output_padding[i];
    if (out[i] <= 0) {
      throw ShapeError("tl::conv_transpose2d: the result would be empty (" + std::to_string(out[i]) + " in dim " +
                       std::to_string(2 + i) + "): " + operands() + ", padding " + padding.str() + " at " + site.str());
    }
  }
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != O)) {
    throw ShapeError("tl::conv_transpose2d: bias must be 1-D with one value per output channel (" +
                     std::to_string(O) + "): " + operands() + " at " + site.str());
  }
  static const OpDef& transposed = *find_op("conv2d_backward_input");
  Attrs a = conv_attrs(stride, padding, dilation, groups);
  Tensor y;
  if (output_padding[0] < stride[0] && output_padding[1] < stride[1]) {
    // conv2d of an (out) input with this padding gives exactly x's H x W, so the op computes
    // the padded window of the transposed convolution directly.
    a.dims = Shape{N, O, out[0], out[1]};
    y = call(transposed, {x, weight}, a, site);
  } else {
    // output_padding >= stride (allowed when below the dilation): the full result without
    // padding, then its window [padding, padding + out), zeros past its end.
    a.padding = Shape{0, 0};
    a.dims = Shape{N, O, full[0], full[1]};
    y = call(transposed, {x, weight}, a, site);
    for (int i = 0; i < 2; ++i) {
      const int64_t d = 2 + i, begin = std::min(padding[i], full[i]), end = std::min(padding[i] + out[i], full[i]);
      y = y.slice(d, begin, end, 1, site);
      if (end - begin < out[i]) {
        Shape zeros_shape = y.shape();
        zeros_shape[d] = out[i] - (end - begin);
        y = cat({y, zeros(zeros_shape, {.dtype = y.dtype(), .device = y.device()}, site)}, d, site);
      }
    }
  }
  return bias.defined() ? add(y, bias.reshape({1, O, 1, 1}, site), site) : y;
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups, Site site) {
  if (!x.defined() || !weight.defined() || x.dim() != 3 || weight.dim() != 3) {
    throw ShapeError("tl::conv1d: expected x (N, C, L) and weight (O, C/groups, K): x is " + shape_and_dtype(x) +
                     ", weight is " + shape_and_dtype(weight) + " at " + site.str());
  }
  return conv2d(x.unsqueeze(2, site), weight.unsqueeze(2, site), bias, {1, stride}, {0, padding}, {1, dilation},
                groups, site)
      .squeeze(2, site);
}

Tensor adaptive_avg_pool2d(const Tensor& x, Shape output_size, Site site) {
  output_size = spatial_pair(output_size, 1, "adaptive_avg_pool2d", "output_size", site);
  if (!x.defined() || (x.dim() != 3 && x.dim() != 4)) {
    throw ShapeError("tl::adaptive_avg_pool2d: expected x as (N, C, H, W) or (C, H, W), got " + shape_and_dtype(x) +
                     " at " + site.str());
  }
  const int64_t H = x.size(-2), W = x.size(-1), OH = output_size[0], OW = output_size[1];
  if (H == 0 || W == 0) {
    throw ShapeError("tl::adaptive_avg_pool2d: x " + shape_and_dtype(x) + " has no element to average at " +
                     site.str());
  }
  if (OH == 1 && OW == 1) return mean(x, {-2, -1}, true, site);
  if (H % OH == 0 && W % OW == 0) {  // equal bins that tile the input: one avg_pool2d
    const Tensor x4 = x.dim() == 4 ? x : x.unsqueeze(0, site);
    Tensor y = avg_pool2d(x4, {H / OH, W / OW}, {H / OH, W / OW}, {0, 0}, site);
    return x.dim() == 4 ? y : y.squeeze(0, site);
  }
  // Each bin's mean is the mean of its rows' means (every row has the same width), so the
  // bins reduce one dim at a time: OH + OW slices instead of OH * OW.
  auto pool_dim = [&](const Tensor& t, int64_t dim, int64_t in, int64_t bins) {
    if (in == bins) return t;
    std::vector<Tensor> parts;
    parts.reserve(bins);
    for (int64_t i = 0; i < bins; ++i) {
      const int64_t begin = i * in / bins, end = ((i + 1) * in + bins - 1) / bins;
      parts.push_back(mean(t.slice(dim, begin, end, 1, site), {dim}, true, site));
    }
    return cat(parts, dim, site);
  };
  return pool_dim(pool_dim(x, x.dim() - 2, H, OH), x.dim() - 1, W, OW);
}

// ---------- the 3-D family: composites over depth of the 2-D ops ----------
// A 3-D window is a 2-D window at each of its KD depth offsets. Output depth od reads input
// depth od * sd - pd + kd * dd at offset kd, so one strided slice per offset gathers every
// output depth's plane; folding depth into the batch (convolution) or the channels (pooling)
// then runs each offset as one 2-D op over all output depths. KD 2-D calls in all, each as
// large as the whole problem, and everything differentiates as the 2-D ops do.
namespace {

Shape spatial_triple(const Shape& s, int64_t min, const char* op, const char* what, Site site) {
  if (s.size() != 1 && s.size() != 3) {
    throw ShapeError(std::string("tl::") + op + ": " + what + " must have 1 or 3 values (depth, height, width), got " +
                     s.str() + " at " + site.str());
  }
  Shape out = s.size() == 1 ? Shape{s[0], s[0], s[0]} : s;
  for (int i = 0; i < 3; ++i) {
    if (out[i] < min) {
      throw ShapeError(std::string("tl::") + op + ": " + what + " must be >= " + std::to_string(min) + ", got " +
                       s.str() + " at " + site.str());
    }
  }
  return out;
}

// x (N, C, D, H, W) with `pad` planes of `value` before and after its depth.
Tensor pad_depth(const Tensor& x, int64_t pad, double value, Site site) {
  if (pad == 0) return x;
  Shape side = x.shape();
  side[2] = pad;
  Tensor planes = full(side, value, {.dtype = x.dtype(), .device = x.device()}, site);
  return cat({planes, x, planes}, 2, site);
}

// The output depth of a window of `k` taps `dilation` apart over `size` padded by `pad`.
int64_t output_depth(const char* op, const Tensor& x, int64_t size, int64_t k, int64_t stride, int64_t pad,
                     int64_t dilation, Site site) {
  const int64_t span = dilation * (k - 1) + 1;
  if (size + 2 * pad < span) {
    throw ShapeError(std::string("tl::") + op + ": x " + x.shape().str() + " has depth " + std::to_string(size) +
                     " (padded " + std::to_string(size + 2 * pad) + "), smaller than the window's " +
                     std::to_string(span) + " at " + site.str());
  }
  return (size + 2 * pad - span) / stride + 1;
}

// The planes of x (N, C, D', H, W) read at depth offset `offset`: (N, C, OD, H, W).
Tensor depth_taps(const Tensor& x, int64_t offset, int64_t out_depth, int64_t stride, Site site) {
  return x.slice(2, offset, offset + (out_depth - 1) * stride + 1, stride, site);
}

void require_rank5(const Tensor& x, const char* op, const char* layout, Site site) {
  if (!x.defined() || x.dim() != 5) {
    throw ShapeError(std::string("tl::") + op + ": expected x as " + layout + ", got " + shape_and_dtype(x) + " at " +
                     site.str());
  }
}

// max_pool3d (max over offsets of max_pool2d) and avg_pool3d (mean of avg_pool2d, padding counted).
Tensor pool3d(bool is_max, const Tensor& x, Shape kernel, Shape stride, Shape padding, Site site) {
  const char* name = is_max ? "max_pool3d" : "avg_pool3d";
  require_rank5(x, name, "(N, C, D, H, W)", site);
  kernel = spatial_triple(kernel, 1, name, "kernel", site);
  stride = stride.empty() ? kernel : spatial_triple(stride, 1, name, "stride", site);
  padding = spatial_triple(padding, 0, name, "padding", site);
  for (int i = 0; i < 3; ++i) {
    if (2 * padding[i] > kernel[i]) {
      throw ShapeError(std::string("tl::") + name + ": padding " + padding.str() + " must be at most half the kernel " +
                       kernel.str() + " at " + site.str());
    }
  }
  const int64_t N = x.size(0), C = x.size(1), D = x.size(2), H = x.size(3), W = x.size(4);
  const int64_t OD = output_depth(name, x, D, kernel[0], stride[0], padding[0], 1, site);
  // Padding never wins a max; it counts as zeros in a mean (count_include_pad).
  const Tensor padded = pad_depth(x, padding[0], is_max ? -INFINITY : 0.0, site);
  Tensor y;
  for (int64_t kd = 0; kd < kernel[0]; ++kd) {
    Tensor planes = depth_taps(padded, kd, OD, stride[0], site).reshape({N, C * OD, H, W}, site);
    Tensor pooled = is_max ? max_pool2d(planes, {kernel[1], kernel[2]}, {stride[1], stride[2]},
                                        {padding[1], padding[2]}, site)
                           : avg_pool2d(planes, {kernel[1], kernel[2]}, {stride[1], stride[2]},
                                        {padding[1], padding[2]}, site);
    y = !y.defined() ? pooled : is_max ? maximum(y, pooled, site) : add(y, pooled, site);
  }
  if (!is_max && kernel[0] > 1) y = div(y, scalar_tensor(static_cast<double>(kernel[0]), {.dtype = y.dtype()}, site), site);
  return y.reshape({N, C, OD, y.size(2), y.size(3)}, site);
}

}  // namespace

Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias, Shape stride, Shape padding, Shape dilation,
              int64_t groups, Site site) {
  require_rank5(x, "conv3d", "(N, C, D, H, W)", site);
  if (!weight.defined() || weight.dim() != 5) {
    throw ShapeError("tl::conv3d: expected weight as (O, C/groups, KD, KH, KW), got " + shape_and_dtype(weight) +
                     " at " + site.str());
  }
  stride = spatial_triple(stride, 1, "conv3d", "stride", site);
  padding = spatial_triple(padding, 0, "conv3d", "padding", site);
  dilation = spatial_triple(dilation, 1, "conv3d", "dilation", site);
  const int64_t N = x.size(0), C = x.size(1), D = x.size(2), H = x.size(3), W = x.size(4);
  const int64_t O = weight.size(0), KD = weight.size(2);
  if (KD == 0) throw ShapeError("tl::conv3d: weight " + weight.shape().str() + " has an empty depth at " + site.str());
  const int64_t OD = output_depth("conv3d", x, D, KD, stride[0], padding[0], dilation[0], site);
  const Tensor padded = pad_depth(x, padding[0], 0.0, site);
  Tensor y;
  for (int64_t kd = 0; kd < KD; ++kd) {
    // (N, C, OD, H, W) -> (N * OD, C, H, W): each output depth is one more image of the batch.
    Tensor planes = depth_taps(padded, kd * dilation[0], OD, stride[0], site).permute({0, 2, 1, 3, 4}, site)
                        .reshape({N * OD, C, H, W}, site);
    Tensor part = conv2d(planes, weight.select(2, kd, site), Tensor(), {stride[1], stride[2]},
                         {padding[1], padding[2]}, {dilation[1], dilation[2]}, groups, site);
    y = y.defined() ? add(y, part, site) : part;
  }
  y = y.reshape({N, OD, O, y.size(2), y.size(3)}, site).permute({0, 2, 1, 3, 4}, site);
  return bias.defined() ? add(y, bias.reshape({1, O, 1, 1, 1}, site), site) : y;
}

Tensor max_pool3d(const Tensor& x, Shape kernel, Shape stride, Shape padding, Site site) {
  return pool3d(true, x, kernel, stride, padding, site);
}

Tensor avg_pool3d(const Tensor& x, Shape kernel, Shape stride, Shape padding, Site site) {
  return pool3d(false, x, kernel, stride, padding, site);
}

Tensor max_pool2d(const Tensor& x, Shape kernel, Shape stride, Shape padding, Site site) {
  return pool2d(op_max_pool2d, "max_pool2d", x, kernel, stride, padding, site);
}

Tensor avg_pool2d(const Tensor& x, Shape kernel, Shape stride, Shape padding, Site site) {
  return pool2d(op_avg_pool2d, "avg_pool2d", x, kernel, stride, padding, site);
}

}  // namespace tl
