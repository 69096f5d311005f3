// 2-D convolution and pooling over NCHW tensors, with their backward ops: the ops'
// definitions, shape rules and kernels. Their derivatives, samples and public functions are
// the frontend's (frontend/ops/nn/conv_pool.cpp). float32 runs on oneDNN (convolution,
// runtime/cpu/onednn_conv.cpp) and on hand-written loops (pooling, runtime/cpu/pool.cpp);
// other float dtypes run the reference loops below, which are also what float32 is tested
// against. Every loop gives each output element to exactly one job and sums in a fixed
// order, so results do not depend on the thread count.
//
// Dimension letters: N batch, C input channels, O output channels, G groups,
// H/W input height/width, OH/OW output height/width, KH/KW kernel height/width.
#include <optional>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/cpu/onednn.h"
#include "runtime/cpu/pool.h"
#include "runtime/ops/nn/conv_pool.h"
#include "runtime/ops/pointwise/pointwise.h"

namespace tl::ops {

rt::cpu::Pool2dGeometry pool_geometry(const Shape& x, const Attrs& a) {
  rt::cpu::Pool2dGeometry g{};
  g.N = x[0], g.C = x[1], g.H = x[2], g.W = x[3];
  g.KH = a.dims[0], g.KW = a.dims[1];
  g.stride_h = a.stride[0], g.stride_w = a.stride[1];
  g.pad_h = a.padding[0], g.pad_w = a.padding[1];
  g.OH = (g.H + 2 * g.pad_h - g.KH) / g.stride_h + 1;
  g.OW = (g.W + 2 * g.pad_w - g.KW) / g.stride_w + 1;
  return g;
}

namespace {

using rt::cpu::Conv2dGeometry;
using rt::cpu::Pool2dGeometry;

// Attrs of the conv ops: stride, padding, dilation (2 values each), count = groups.
// The backward ops also carry attrs.dims = the shape of the tensor they produce.
Conv2dGeometry conv_geometry(const Shape& x, const Shape& w, const Attrs& a) {
  Conv2dGeometry g{};
  g.N = x[0], g.C = x[1], g.H = x[2], g.W = x[3];
  g.O = w[0], g.KH = w[2], g.KW = w[3];
  g.stride_h = a.stride[0], g.stride_w = a.stride[1];
  g.pad_h = a.padding[0], g.pad_w = a.padding[1];
  g.dilation_h = a.dilation[0], g.dilation_w = a.dilation[1];
  g.groups = a.count;
  g.OH = (g.H + 2 * g.pad_h - g.dilation_h * (g.KH - 1) - 1) / g.stride_h + 1;
  g.OW = (g.W + 2 * g.pad_w - g.dilation_w * (g.KW - 1) - 1) / g.stride_w + 1;
  return g;
}


// ---------- reference convolution loops (any float dtype) ----------

// y: (N, O, OH, OW) = x: (N, C, H, W) conv w: (O, C/G, KH, KW) + b: (O) or none.
template <class T>
void conv2d_forward_reference(const Conv2dGeometry& g, const T* x, const T* w, const T* b, T* y) {
  using A = compute_t<T>;
  int64_t Cg = g.C / g.groups, Og = g.O / g.groups;
  rt::parallel_for(g.N * g.O, 1, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      int64_t n = job / g.O, o = job % g.O, c0 = (o / Og) * Cg;
      T* yp = y + job * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          A acc = b ? static_cast<A>(b[o]) : A(0);
          for (int64_t c = 0; c < Cg; ++c) {
            const T* xp = x + (n * g.C + c0 + c) * g.H * g.W;
            const T* wp = w + (o * Cg + c) * g.KH * g.KW;
            for (int64_t kh = 0; kh < g.KH; ++kh) {
              int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                int64_t iw = ow * g.stride_w - g.pad_w + kw * g.dilation_w;
                if (iw < 0 || iw >= g.W) continue;
                acc += static_cast<A>(xp[ih * g.W + iw]) * static_cast<A>(wp[kh * g.KW + kw]);
              }
            }
          }
          yp[oh * g.OW + ow] = static_cast<T>(acc);
        }
      }
    }
  });
}

// dx: (N, C, H, W) from dy: (N, O, OH, OW) and w. Written as a gather over the outputs
// each input element touched, so no two jobs write the same element.
template <class T>
void conv2d_backward_input_reference(const Conv2dGeometry& g, const T* dy, const T* w, T* dx) {
  using A = compute_t<T>;
  int64_t Cg = g.C / g.groups, Og = g.O / g.groups;
  rt::parallel_for(g.N * g.C, 1, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      int64_t n = job / g.C, ci = job % g.C, c = ci % Cg, o0 = (ci / Cg) * Og;
      T* dxp = dx + job * g.H * g.W;
      for (int64_t ih = 0; ih < g.H; ++ih) {
        for (int64_t iw = 0; iw < g.W; ++iw) {
          A acc = 0;
          for (int64_t o = o0; o < o0 + Og; ++o) {
            const T* dyp = dy + (n * g.O + o) * g.OH * g.OW;
            const T* wp = w + (o * Cg + c) * g.KH * g.KW;
            for (int64_t kh = 0; kh < g.KH; ++kh) {
              int64_t th = ih + g.pad_h - kh * g.dilation_h;
              if (th < 0 || th % g.stride_h != 0 || th / g.stride_h >= g.OH) continue;
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                int64_t tw = iw + g.pad_w - kw * g.dilation_w;
                if (tw < 0 || tw % g.stride_w != 0 || tw / g.stride_w >= g.OW) continue;
                acc += static_cast<A>(dyp[(th / g.stride_h) * g.OW + tw / g.stride_w]) *
                       static_cast<A>(wp[kh * g.KW + kw]);
              }
            }
          }
          dxp[ih * g.W + iw] = static_cast<T>(acc);
        }
      }
    }
  });
}

// dw: (O, C/G, KH, KW) from x: (N, C, H, W) and dy: (N, O, OH, OW); one job per (o, c).
template <class T>
void conv2d_backward_weight_reference(const Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
  using A = compute_t<T>;
  int64_t Cg = g.C / g.groups, Og = g.O / g.groups;
  rt::parallel_for(g.O * Cg, 1, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      int64_t o = job / Cg, c = job % Cg, ci = (o / Og) * Cg + c;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          A acc = 0;
          for (int64_t n = 0; n < g.N; ++n) {
            const T* xp = x + (n * g.C + ci) * g.H * g.W;
            const T* dyp = dy + (n * g.O + o) * g.OH * g.OW;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t ow = 0; ow < g.OW; ++ow) {
                int64_t iw = ow * g.stride_w - g.pad_w + kw * g.dilation_w;
                if (iw < 0 || iw >= g.W) continue;
                acc += static_cast<A>(dyp[oh * g.OW + ow]) * static_cast<A>(xp[ih * g.W + iw]);
              }
            }
          }
          dw[(job * g.KH + kh) * g.KW + kw] = static_cast<T>(acc);
        }
      }
    }
  });
}

// oneDNN rejects empty dims; those (all-zero or bias-only) results take the reference loop.
bool use_onednn(DType dtype, std::initializer_list<const Tensor*> operands) {
  if (dtype != kFloat32) return false;
  for (const Tensor* t : operands)
    if (t->numel() == 0) return false;
  return true;
}

void conv2d_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor x = contiguous_copy(in[0]), w = contiguous_copy(in[1]);
  Tensor b = in.size() > 2 && in[2].defined() ? contiguous_copy(in[2]) : Tensor();
  Tensor residual = in.size() > 3 ? contiguous_copy(in[3]) : Tensor();
  Conv2dGeometry g = conv_geometry(x.shape(), w.shape(), a);
  if (use_onednn(out.dtype(), {&x, &w})) {
    // Weights in memory tl owns (every write bumps the storage's version) may keep their
    // reordered copy between calls; caller-owned memory (from_blob) may change unseen.
    std::optional<rt::cpu::WeightsIdentity> reuse;
    const std::shared_ptr<Storage>& storage = in[1].impl()->storage;
    if (in[1].is_contiguous() && storage && storage->allocator) reuse.emplace(rt::cpu::WeightsIdentity{storage, storage->version});
    rt::cpu::conv2d_forward_f32(g, x.data<float>(), w.data<float>(), b.defined() ? b.data<float>() : nullptr,
                                out.data<float>(), reuse ? &*reuse : nullptr,
                                {.relu = a.flag, .residual = residual.defined() ? residual.data<float>() : nullptr,
                                 .blocked = static_cast<int>(a.axis)});
    return;
  }
  if (a.axis != 0) throw ValueError("tl::conv2d: blocked operands need the float32 oneDNN kernel");
  TL_DISPATCH_FLOATING(out.dtype(), "conv2d", {
    conv2d_forward_reference<T>(g, x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr, out.data<T>());
    T* y = out.data<T>();
    if (residual.defined()) {
      const T* r = residual.data<T>();
      for (int64_t i = 0; i < out.numel(); ++i) y[i] = static_cast<T>(static_cast<float>(y[i]) + static_cast<float>(r[i]));
    }
    if (a.flag) {
      for (int64_t i = 0; i < out.numel(); ++i) y[i] = y[i] > T(0) ? y[i] : T(0);
    }
  })
}

// in: dout, weight; out: dx with shape attrs.dims.
void conv2d_backward_input_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor dy = contiguous_copy(in[0]), w = contiguous_copy(in[1]);
  Conv2dGeometry g = conv_geometry(out.shape(), w.shape(), a);
  if (use_onednn(out.dtype(), {&dy, &w})) {
    rt::cpu::conv2d_backward_data_f32(g, dy.data<float>(), w.data<float>(), out.data<float>());
    return;
  }
  TL_DISPATCH_FLOATING(out.dtype(), "conv2d_backward_input", {
    conv2d_backward_input_reference<T>(g, dy.data<T>(), w.data<T>(), out.data<T>());
  })
}

// in: x, dout; out: dw with shape attrs.dims.
void conv2d_backward_weight_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor x = contiguous_copy(in[0]), dy = contiguous_copy(in[1]);
  Conv2dGeometry g = conv_geometry(x.shape(), out.shape(), a);
  if (use_onednn(out.dtype(), {&x, &dy})) {
    rt::cpu::conv2d_backward_weights_f32(g, x.data<float>(), dy.data<float>(), out.data<float>());
    return;
  }
  TL_DISPATCH_FLOATING(out.dtype(), "conv2d_backward_weight", {
    conv2d_backward_weight_reference<T>(g, x.data<T>(), dy.data<T>(), out.data<T>());
  })
}

// ---------- reference pooling loops ----------

// Planes are independent: one job per (n, c) plane, so writes never overlap.
template <class F>
void for_each_plane(const Pool2dGeometry& g, const F& f) {
  int64_t plane = std::max<int64_t>(g.H * g.W, 1);
  rt::parallel_for(g.N * g.C, std::max<int64_t>(1, rt::kElementwiseGrain / plane), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) f(p);
  });
}

// Index (ih * W + iw) of the first maximum in the window of output (oh, ow); padding never
// wins, and a NaN wins and stays, as in PyTorch.
template <class T>
int64_t window_argmax(const Pool2dGeometry& g, const T* xp, int64_t oh, int64_t ow) {
  using A = compute_t<T>;
  A best = -std::numeric_limits<A>::infinity();
  int64_t best_i = -1;
  for (int64_t kh = 0; kh < g.KH; ++kh) {
    int64_t ih = oh * g.stride_h - g.pad_h + kh;
    if (ih < 0 || ih >= g.H) continue;
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      int64_t iw = ow * g.stride_w - g.pad_w + kw;
      if (iw < 0 || iw >= g.W) continue;
      A v = static_cast<A>(xp[ih * g.W + iw]);
      if (best_i < 0 || v > best || (v != v && best == best)) {
        best = v;
        best_i = ih * g.W + iw;
      }
    }
  }
  return best_i;
}

// y: (N, C, OH, OW) from x: (N, C, H, W).
template <class T>
void pool2d_forward_reference(const Pool2dGeometry& g, bool is_max, const T* x, T* y) {
  using A = compute_t<T>;
  A divisor = static_cast<A>(g.KH * g.KW);  // count_include_pad: padding counts as zeros
  for_each_plane(g, [&](int64_t p) {
    const T* xp = x + p * g.H * g.W;
    T* yp = y + p * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        if (is_max) {
          yp[oh * g.OW + ow] = xp[window_argmax(g, xp, oh, ow)];
          continue;
        }
        A acc = 0;
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          int64_t ih = oh * g.stride_h - g.pad_h + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            int64_t iw = ow * g.stride_w - g.pad_w + kw;
            if (iw >= 0 && iw < g.W) acc += static_cast<A>(xp[ih * g.W + iw]);
          }
        }
        yp[oh * g.OW + ow] = static_cast<T>(acc / divisor);
      }
    }
  });
}

// dx: (N, C, H, W) from dy: (N, C, OH, OW); for max, x picks where each gradient goes.
// Within a plane the outputs are visited in order, so overlapping windows accumulate in a
// fixed order.
template <class T>
void pool2d_backward_reference(const Pool2dGeometry& g, bool is_max, const T* dy, const T* x, T* dx) {
  using A = compute_t<T>;
  A divisor = static_cast<A>(g.KH * g.KW);
  for_each_plane(g, [&](int64_t p) {
    const T* xp = x + p * g.H * g.W;
    const T* dyp = dy + p * g.OH * g.OW;
    std::vector<A> acc(static_cast<size_t>(g.H * g.W), A(0));
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        A d = static_cast<A>(dyp[oh * g.OW + ow]);
        if (is_max) {
          acc[window_argmax(g, xp, oh, ow)] += d;
          continue;
        }
        d /= divisor;
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          int64_t ih = oh * g.stride_h - g.pad_h + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            int64_t iw = ow * g.stride_w - g.pad_w + kw;
            if (iw >= 0 && iw < g.W) acc[ih * g.W + iw] += d;
          }
        }
      }
    }
    T* dxp = dx + p * g.H * g.W;
    for (int64_t i = 0; i < g.H * g.W; ++i) dxp[i] = static_cast<T>(acc[i]);
  });
}

template <bool kMax>
void pool2d_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor x = contiguous_copy(in[0]);
  Pool2dGeometry g = pool_geometry(x.shape(), a);
  if (out.dtype() == kFloat32) {
    rt::cpu::pool2d_forward_f32(g, kMax, x.data<float>(), out.data<float>());
    return;
  }
  TL_DISPATCH_FLOATING(out.dtype(), kMax ? "max_pool2d" : "avg_pool2d", {
    pool2d_forward_reference<T>(g, kMax, x.data<T>(), out.data<T>());
  })
}

// in: dout, x; out: dx with x's shape.
template <bool kMax>
void pool2d_backward_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor dy = contiguous_copy(in[0]), x = contiguous_copy(in[1]);
  Pool2dGeometry g = pool_geometry(x.shape(), a);
  if (out.dtype() == kFloat32 && g.KH * g.KW <= std::numeric_limits<int32_t>::max()) {
    rt::cpu::pool2d_backward_f32(g, kMax, dy.data<float>(), x.data<float>(), out.data<float>());
    return;
  }
  TL_DISPATCH_FLOATING(out.dtype(), kMax ? "max_pool2d_backward" : "avg_pool2d_backward", {
    pool2d_backward_reference<T>(g, kMax, dy.data<T>(), x.data<T>(), out.data<T>());
  })
}

// in: g, x (same shape); out: (N, C, OH, OW), g at the first max of each window of x: the
// adjoint of max_pool2d_backward in its dout (so max pooling's second derivative).
void max_pool2d_gather_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& a) {
  Tensor gv = contiguous_copy(in[0]), x = contiguous_copy(in[1]);
  Pool2dGeometry geo = pool_geometry(x.shape(), a);
  TL_DISPATCH_FLOATING(out.dtype(), "max_pool2d_gather", {
    const T* gp = gv.data<T>();
    const T* xd = x.data<T>();
    T* y = out.data<T>();
    for_each_plane(geo, [&](int64_t p) {
      const T* xp = xd + p * geo.H * geo.W;
      const T* gplane = gp + p * geo.H * geo.W;
      T* yp = y + p * geo.OH * geo.OW;
      for (int64_t oh = 0; oh < geo.OH; ++oh)
        for (int64_t ow = 0; ow < geo.OW; ++ow) yp[oh * geo.OW + ow] = gplane[window_argmax(geo, xp, oh, ow)];
    });
  })
}

// ---------- shape rules ----------
// The rules check everything the geometry functions and the loops above assume, for IR
// written by hand as much as for the public functions' calls.

void require_nchw(const Tensor& x, const char* op, const char* what, Site site) {
  if (!x.defined()) throw ShapeError(std::string("tl::") + op + ": " + what + " is undefined at " + site.str());
  if (x.dim() != 4) {
    throw ShapeError(std::string("tl::") + op + ": expected " + what + " as a 4-D (N, C, H, W) tensor, got " +
                     x.shape().str() + " " + dtype_name(x.dtype()) + " at " + site.str());
  }
  require_floating(x, op, what, site);
}

// Throws unless attribute `what` holds exactly (height, width), each >= `min`.
void check_pair(const Shape& s, int64_t min, const char* op, const char* what, Site site) {
  if (s.size() != 2 || s[0] < min || s[1] < min) {
    throw ShapeError(std::string("tl::") + op + ": " + what + " must hold 2 values (height, width), each >= " +
                     std::to_string(min) + ", got " + s.str() + " at " + site.str());
  }
}

// a + b and a * b, throwing instead of overflowing: sizes and attributes may come from IR.
int64_t checked_add(int64_t a, int64_t b, const char* op, Site site) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    throw ShapeError(std::string("tl::") + op + ": the window geometry overflows int64 at " + site.str());
  return r;
}
int64_t checked_mul(int64_t a, int64_t b, const char* op, Site site) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw ShapeError(std::string("tl::") + op + ": the window geometry overflows int64 at " + site.str());
  return r;
}

// The conv geometry of input `x` and weight `w` (NCHW shapes) under attrs `a`, after checking
// that they fit together; `operands()` describes the operands for the messages.
template <class Describe>
Conv2dGeometry checked_conv_geometry(const Shape& x, const Shape& w, const Attrs& a, const char* op,
                                     const Describe& operands, Site site) {
  check_pair(a.stride, 1, op, "stride", site);
  check_pair(a.padding, 0, op, "padding", site);
  check_pair(a.dilation, 1, op, "dilation", site);
  int64_t groups = a.count, C = x[1], O = w[0];
  if (groups < 1 || C % groups != 0 || O % groups != 0) {
    throw ShapeError(std::string("tl::") + op + ": groups = " + std::to_string(groups) +
                     " must be positive and divide both the " + std::to_string(C) + " input channels and the " +
                     std::to_string(O) + " output channels: " + operands() + " at " + site.str());
  }
  if (w[1] != C / groups) {
    throw ShapeError(std::string("tl::") + op + ": weight expects " +
                     std::to_string(checked_mul(w[1], groups, op, site)) + " input channels (weight dim 1 = " +
                     std::to_string(w[1]) + " times groups = " + std::to_string(groups) + "), but x has " +
                     std::to_string(C) + ": " + operands() + " at " + site.str());
  }
  for (int i = 0; i < 2; ++i) {
    int64_t extent = checked_add(checked_mul(a.dilation[i], w[2 + i] - 1, op, site), 1, op, site);
    int64_t padded = checked_add(x[2 + i], checked_mul(2, a.padding[i], op, site), op, site);
    if (padded < extent) {
      throw ShapeError(std::string("tl::") + op + ": the dilated kernel (" + std::to_string(extent) + " wide in dim " +
                       std::to_string(2 + i) + ") is larger than the padded input (" + std::to_string(padded) +
                       "): " + operands() + ", padding " + a.padding.str() + ", dilation " + a.dilation.str() + " at " +
                       site.str());
    }
  }
  return conv_geometry(x, w, a);
}

// The pool geometry of input `x` under attrs `a`, after checking the window.
Pool2dGeometry checked_pool_geometry(const Shape& x, const Attrs& a, const char* op, Site site) {
  check_pair(a.dims, 1, op, "kernel (dims)", site);
  check_pair(a.stride, 1, op, "stride", site);
  check_pair(a.padding, 0, op, "padding", site);
  for (int i = 0; i < 2; ++i) {
    // Otherwise a window could cover padding alone and have no element to pick.
    if (a.padding[i] > a.dims[i] / 2) {
      throw ShapeError(std::string("tl::") + op + ": padding " + a.padding.str() +
                       " must be at most half the kernel " + a.dims.str() + " at " + site.str());
    }
    if (checked_add(x[2 + i], 2 * a.padding[i], op, site) < a.dims[i]) {  // 2 * padding <= kernel
      throw ShapeError(std::string("tl::") + op + ": kernel " + a.dims.str() +
                       " is larger than the padded input (x is " + x.str() + ", padding " + a.padding.str() +
                       ") at " + site.str());
    }
  }
  return pool_geometry(x, a);
}

OutputMeta infer_conv2d(std::span<const Tensor> in, const Attrs& a, Site site) {
  if (in.size() < 2 || in.size() > 4) {
    throw ValueError("tl::conv2d: expected 2 to 4 operands (x, weight, optional bias, optional residual), got " +
                     std::to_string(in.size()) + " at " + site.str());
  }
  auto operands = [&] { return describe(in, {"x", "weight", "bias", "residual"}); };
  require_nchw(in[0], "conv2d", "x", site);
  require_nchw(in[1], "conv2d", "weight", site);
  for (const Tensor& t : in) {
    if (!t.defined() || t.dtype() != in[0].dtype()) {
      throw DTypeError("tl::conv2d: operands must share one dtype: " + operands() + " at " + site.str() +
                       " (cast them with .to(dtype))");
    }
  }
  Conv2dGeometry g = checked_conv_geometry(in[0].shape(), in[1].shape(), a, "conv2d", operands, site);
  if (in.size() >= 3 && (in[2].dim() != 1 || in[2].shape()[0] != g.O)) {
    throw ShapeError("tl::conv2d: bias must be 1-D with one value per output channel (" + std::to_string(g.O) +
                     "): " + operands() + " at " + site.str());
  }
  const Shape out{g.N, g.O, g.OH, g.OW};
  if (a.axis != 0) {  // operands in nChw8c (tl-conv-layout): float32, channels in whole blocks of 8
    const bool fits = a.axis > 0 && a.axis < 8 && in[0].dtype() == kFloat32 && g.groups >= 1 &&
                      (!(a.axis & rt::cpu::kBlockedInput) || g.C % 8 == 0) &&
                      (!(a.axis & (rt::cpu::kBlockedOutput | rt::cpu::kBlockedResidual)) || g.O % 8 == 0) &&
                      (!(a.axis & rt::cpu::kBlockedResidual) || in.size() == 4);
    if (!fits) {
      throw ValueError("tl::conv2d: blocked = " + std::to_string(a.axis) + " does not fit " + operands() +
                       " (float32 only; blocked operands need channels in multiples of 8) at " + site.str());
    }
  }
  if (in.size() == 4 && in[3].shape() != out) {
    throw ShapeError("tl::conv2d: the residual must have the result's shape " + out.str() + ": " + operands() +
                     " at " + site.str());
  }
  return {out, in[0].dtype()};
}

// conv2d_backward_input (`input_grad`) and conv2d_backward_weight: the result has shape
// attrs.dims, and conv2d of the (x, weight) pair under the same attrs gives dout's shape.
OutputMeta infer_conv2d_backward(std::span<const Tensor> in, const Attrs& a, bool input_grad, Site site) {
  const char* op = input_grad ? "conv2d_backward_input" : "conv2d_backward_weight";
  check_arity(in, 2, op, site);
  const Tensor& dout = in[input_grad ? 0 : 1];
  const Tensor& other = in[input_grad ? 1 : 0];  // the weight or x
  require_nchw(dout, op, "dout", site);
  require_nchw(other, op, input_grad ? "weight" : "x", site);
  require_same_dtype(in, op, site);
  if (a.dims.size() != 4) {
    throw ShapeError(std::string("tl::") + op + ": dims (the result's shape) must be 4-D, got " + a.dims.str() +
                     " at " + site.str());
  }
  check_sizes(a.dims, op, "dims", site);
  const Shape& x = input_grad ? a.dims : other.shape();
  const Shape& w = input_grad ? other.shape() : a.dims;
  auto operands = [&] {
    return (input_grad ? describe(in, {"dout", "weight"}) : describe(in, {"x", "dout"})) + ", dims " + a.dims.str();
  };
  Conv2dGeometry g = checked_conv_geometry(x, w, a, op, operands, site);
  Shape expected{g.N, g.O, g.OH, g.OW};
  if (dout.shape() != expected) {
    throw ShapeError(std::string("tl::") + op + ": dout must have conv2d's output shape " + expected.str() + ": " +
                     operands() + " at " + site.str());
  }
  return {a.dims, in[0].dtype()};
}

OutputMeta infer_pool2d(std::span<const Tensor> in, const Attrs& a, const char* op, Site site) {
  check_arity(in, 1, op, site);
  require_nchw(in[0], op, "x", site);
  Pool2dGeometry g = checked_pool_geometry(in[0].shape(), a, op, site);
  return {Shape{g.N, g.C, g.OH, g.OW}, in[0].dtype()};
}

// max_pool2d_backward and avg_pool2d_backward: (dout, x) -> dx of x's shape.
OutputMeta infer_pool2d_backward(std::span<const Tensor> in, const Attrs& a, const char* op, Site site) {
  check_arity(in, 2, op, site);
  require_nchw(in[0], op, "dout", site);
  require_nchw(in[1], op, "x", site);
  require_same_dtype(in, op, site);
  Pool2dGeometry g = checked_pool_geometry(in[1].shape(), a, op, site);
  Shape expected{g.N, g.C, g.OH, g.OW};
  if (in[0].shape() != expected) {
    throw ShapeError(std::string("tl::") + op + ": dout must have the pooled shape " + expected.str() + ": " +
                     describe(in, {"dout", "x"}) + " at " + site.str());
  }
  return {in[1].shape(), in[0].dtype()};
}

// The attributes conv2d and its backward ops declare (the backward ones add their result's shape).
std::vector<AttrSpec> conv_attr_specs() {
  return {{"stride", AttrField::kStride, "(sh, sw)"},
          {"padding", AttrField::kPadding, "(ph, pw) zeros on each side"},
          {"dilation", AttrField::kDilation, "(dh, dw)"},
          {"groups", AttrField::kCount, "channel groups"}};
}

std::vector<AttrSpec> pool_attr_specs() {
  return {{"kernel", AttrField::kDims, "(kh, kw) window"},
          {"stride", AttrField::kStride, "(sh, sw)"},
          {"padding", AttrField::kPadding, "(ph, pw) on each side"}};
}

[[maybe_unused]] const OpDef& op_conv2d = define_op("conv2d", [](OpDef& op) {
  op.doc = "2-D cross-correlation of (N, C, H, W) with (O, C/groups, KH, KW) plus optional bias (O) and "
           "residual (the result's shape), then relu when asked";
  op.arity = 4;
  op.attrs = conv_attr_specs();
  // Set by the compiler's tl-conv-epilogue pass: oneDNN applies it as a post-op.
  op.attrs.push_back({"relu", AttrField::kFlag, "apply relu to the result"});
  // Set by tl-conv-layout between convolutions of an inference program.
  op.attrs.push_back({"blocked", AttrField::kAxis,
                      "operands held in oneDNN's nChw8c layout, bits: 1 input, 2 residual, 4 result"});
  op.infer = infer_conv2d;
  op.kernels[kCpu] = conv2d_kernel;
  op.optional_inputs = {2, 3};  // the bias; the residual (set by tl-conv-epilogue, with a bias)
});

[[maybe_unused]] const OpDef& op_conv2d_backward_input = define_op("conv2d_backward_input", [](OpDef& op) {
  op.doc = "gradient of conv2d w.r.t. its input (of shape `shape`) from (dout, weight)";
  op.arity = 2;
  op.attrs = conv_attr_specs();
  op.attrs.push_back({"shape", AttrField::kDims, "the input's shape (the result's)"});
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    return infer_conv2d_backward(in, a, true, site);
  };
  op.kernels[kCpu] = conv2d_backward_input_kernel;
});

[[maybe_unused]] const OpDef& op_conv2d_backward_weight = define_op("conv2d_backward_weight", [](OpDef& op) {
  op.doc = "gradient of conv2d w.r.t. its weight (of shape `shape`) from (input, dout)";
  op.arity = 2;
  op.attrs = conv_attr_specs();
  op.attrs.push_back({"shape", AttrField::kDims, "the weight's shape (the result's)"});
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    return infer_conv2d_backward(in, a, false, site);
  };
  op.kernels[kCpu] = conv2d_backward_weight_kernel;
});

[[maybe_unused]] const OpDef& op_max_pool2d_backward = define_op("max_pool2d_backward", [](OpDef& op) {
  op.doc = "gradient of max_pool2d: dout (input 0) routed to the first max of each window of x (input 1)";
  op.arity = 2;
  op.attrs = pool_attr_specs();
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    return infer_pool2d_backward(in, a, "max_pool2d_backward", site);
  };
  op.kernels[kCpu] = pool2d_backward_kernel<true>;
});

[[maybe_unused]] const OpDef& op_max_pool2d_gather = define_op("max_pool2d_gather", [](OpDef& op) {
  op.doc = "g (input 0) read at the first max of each window of x (input 1, g's shape): max pooling's "
           "routing applied to another tensor, the adjoint of max_pool2d_backward";
  op.arity = 2;
  op.attrs = pool_attr_specs();
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    const char* name = "max_pool2d_gather";
    check_arity(in, 2, name, site);
    require_same_dtype(in, name, site);
    if (in[0].shape() != in[1].shape()) {
      throw ShapeError(std::string("tl::") + name + ": g and x must have the same shape: " +
                       describe(in, {"g", "x"}) + " at " + site.str());
    }
    return infer_pool2d(in.subspan(1), a, name, site);
  };
  op.kernels[kCpu] = max_pool2d_gather_kernel;
});

[[maybe_unused]] const OpDef& op_max_pool2d = define_op("max_pool2d", [](OpDef& op) {
  op.doc = "max over KH x KW windows of (N, C, H, W); padding never wins";
  op.arity = 1;
  op.attrs = pool_attr_specs();
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) { return infer_pool2d(in, a, "max_pool2d", site); };
  op.kernels[kCpu] = pool2d_kernel<true>;
});

[[maybe_unused]] const OpDef& op_avg_pool2d_backward = define_op("avg_pool2d_backward", [](OpDef& op) {
  op.doc = "gradient of avg_pool2d: dout (input 0) spread evenly over each window; x (input 1) gives the shape";
  op.arity = 2;
  op.attrs = pool_attr_specs();
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) {
    return infer_pool2d_backward(in, a, "avg_pool2d_backward", site);
  };
  op.kernels[kCpu] = pool2d_backward_kernel<false>;
});

[[maybe_unused]] const OpDef& op_avg_pool2d = define_op("avg_pool2d", [](OpDef& op) {
  op.doc = "mean over KH x KW windows of (N, C, H, W); padding counts as zeros";
  op.arity = 1;
  op.attrs = pool_attr_specs();
  op.infer = [](std::span<const Tensor> in, const Attrs& a, Site site) { return infer_pool2d(in, a, "avg_pool2d", site); };
  op.kernels[kCpu] = pool2d_kernel<false>;
});

}  // namespace
}  // namespace tl::ops
