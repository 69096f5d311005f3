// float32 pooling over NCHW planes (see pool.h). Each plane is one unit of work; within a
// plane, a row of outputs is updated one window offset (kh, kw) at a time, so the inner
// loop runs over output columns with a fixed input stride and vectorizes. Every output sees
// its window's elements in the reference loops' row-major order, and overlapping windows
// accumulate into the input gradient in the reference loops' output order.
#include "runtime/cpu/pool.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "runtime/cpu/parallel.h"

namespace tl::rt::cpu {
namespace {

// Output columns [lo, hi) whose window column `k` lands inside a row of `in` elements:
// 0 <= o * stride - pad + k < in.
struct OutputSpan {
  int64_t lo, hi;
};
OutputSpan valid_outputs(int64_t k, int64_t stride, int64_t pad, int64_t in, int64_t out) {
  int64_t first = pad - k, last = in - 1 + pad - k;
  int64_t lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  int64_t hi = last < 0 ? 0 : std::min(out, last / stride + 1);
  return {lo, std::max(lo, hi)};
}

// The row loops take the stride as a template argument when it is 1 or 2 (kStride 0: read
// `stride`), so the common cases compile to contiguous or deinterleaving vector loads.
// xr points at the input row; element `o` of the span reads xr[o * stride + off].

// y[o] = max(y[o], x): a NaN wins and then stays (the first NaN is kept).
template <int64_t kStride>
void max_row(float* y, const float* xr, int64_t stride, int64_t off, OutputSpan s) {
  const int64_t st = kStride ? kStride : stride;
  for (int64_t o = s.lo; o < s.hi; ++o) {
    float v = xr[o * st + off], b = y[o];
    y[o] = (v > b || (v != v && b == b)) ? v : b;
  }
}

template <int64_t kStride>
void add_row(float* y, const float* xr, int64_t stride, int64_t off, OutputSpan s) {
  const int64_t st = kStride ? kStride : stride;
  for (int64_t o = s.lo; o < s.hi; ++o) y[o] += xr[o * st + off];
}

// Like max_row, and records the window position `k` of each output's current maximum in
// `pos` (-1: nothing seen yet; the first element seen always wins then).
template <int64_t kStride>
void argmax_row(float* best, int32_t* pos, int32_t k, const float* xr, int64_t stride, int64_t off, OutputSpan s) {
  const int64_t st = kStride ? kStride : stride;
  for (int64_t o = s.lo; o < s.hi; ++o) {
    float v = xr[o * st + off], b = best[o];
    bool take = pos[o] < 0 || v > b || (v != v && b == b);
    best[o] = take ? v : b;
    pos[o] = take ? k : pos[o];
  }
}

// dxr[o * stride + off] += d[o] / divisor.
template <int64_t kStride>
void spread_row(float* dxr, const float* d, float divisor, int64_t stride, int64_t off, OutputSpan s) {
  const int64_t st = kStride ? kStride : stride;
  for (int64_t o = s.lo; o < s.hi; ++o) dxr[o * st + off] += d[o] / divisor;
}

// Calls row<kStride>(args...) with the stride as a constant where it is 1 or 2.
#define TL_POOL_ROW(row, stride, ...)         \
  do {                                        \
    if ((stride) == 1) {                      \
      row<1>(__VA_ARGS__);                    \
    } else if ((stride) == 2) {               \
      row<2>(__VA_ARGS__);                    \
    } else {                                  \
      row<0>(__VA_ARGS__);                    \
    }                                         \
  } while (0)

// Calls f(p) for each of the N*C planes, in chunks of planes that depend only on the shape.
template <class F>
void for_each_plane(const Pool2dGeometry& g, const F& f) {
  int64_t plane = std::max<int64_t>(g.H * g.W, 1);
  parallel_for(g.N * g.C, std::max<int64_t>(1, kElementwiseGrain / plane), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) f(p);
  });
}

// xp: (H, W), yp: (OH, OW).
void forward_plane(const Pool2dGeometry& g, bool is_max, const float* xp, float* yp) {
  const float divisor = static_cast<float>(g.KH * g.KW);
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* yr = yp + oh * g.OW;
    std::fill(yr, yr + g.OW, is_max ? -std::numeric_limits<float>::infinity() : 0.0f);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      int64_t ih = oh * g.stride_h - g.pad_h + kh;
      if (ih < 0 || ih >= g.H) continue;
      const float* xr = xp + ih * g.W;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        OutputSpan s = valid_outputs(kw, g.stride_w, g.pad_w, g.W, g.OW);
        if (is_max) {
          TL_POOL_ROW(max_row, g.stride_w, yr, xr, g.stride_w, kw - g.pad_w, s);
        } else {
          TL_POOL_ROW(add_row, g.stride_w, yr, xr, g.stride_w, kw - g.pad_w, s);
        }
      }
    }
    if (!is_max) {
      for (int64_t ow = 0; ow < g.OW; ++ow) yr[ow] /= divisor;
    }
  }
}

// dyp: (OH, OW), xp and dxp: (H, W). Window positions are int32 (pool.h: KH*KW fits).
void max_backward_plane(const Pool2dGeometry& g, const float* dyp, const float* xp, float* dxp) {
  thread_local std::vector<float> best;
  thread_local std::vector<int32_t> pos;
  best.resize(static_cast<size_t>(g.OW));
  pos.resize(static_cast<size_t>(g.OW));
  std::fill(dxp, dxp + g.H * g.W, 0.0f);
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
    std::fill(pos.begin(), pos.end(), -1);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      int64_t ih = oh * g.stride_h - g.pad_h + kh;
      if (ih < 0 || ih >= g.H) continue;
      const float* xr = xp + ih * g.W;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        OutputSpan s = valid_outputs(kw, g.stride_w, g.pad_w, g.W, g.OW);
        auto k = static_cast<int32_t>(kh * g.KW + kw);
        TL_POOL_ROW(argmax_row, g.stride_w, best.data(), pos.data(), k, xr, g.stride_w, kw - g.pad_w, s);
      }
    }
    // In output order, as the reference loops accumulate overlapping windows.
    const float* dyr = dyp + oh * g.OW;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      if (pos[ow] < 0) continue;  // a window over padding alone (an empty input)
      int64_t ih = oh * g.stride_h - g.pad_h + pos[ow] / g.KW;
      int64_t iw = ow * g.stride_w - g.pad_w + pos[ow] % g.KW;
      dxp[ih * g.W + iw] += dyr[ow];
    }
  }
}

void avg_backward_plane(const Pool2dGeometry& g, const float* dyp, float* dxp) {
  const float divisor = static_cast<float>(g.KH * g.KW);
  std::fill(dxp, dxp + g.H * g.W, 0.0f);
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const float* dyr = dyp + oh * g.OW;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      int64_t ih = oh * g.stride_h - g.pad_h + kh;
      if (ih < 0 || ih >= g.H) continue;
      float* dxr = dxp + ih * g.W;
      // kw descending: an input element then receives its windows' shares in increasing
      // ow, the reference loops' order.
      for (int64_t kw = g.KW - 1; kw >= 0; --kw) {
        OutputSpan s = valid_outputs(kw, g.stride_w, g.pad_w, g.W, g.OW);
        TL_POOL_ROW(spread_row, g.stride_w, dxr, dyr, divisor, g.stride_w, kw - g.pad_w, s);
      }
    }
  }
}

#undef TL_POOL_ROW

}  // namespace

void pool2d_forward_f32(const Pool2dGeometry& g, bool is_max, const float* x, float* y) {
  for_each_plane(g, [&](int64_t p) { forward_plane(g, is_max, x + p * g.H * g.W, y + p * g.OH * g.OW); });
}

void pool2d_backward_f32(const Pool2dGeometry& g, bool is_max, const float* dy, const float* x, float* dx) {
  for_each_plane(g, [&](int64_t p) {
    const float* dyp = dy + p * g.OH * g.OW;
    float* dxp = dx + p * g.H * g.W;
    if (is_max) {
      max_backward_plane(g, dyp, x + p * g.H * g.W, dxp);
    } else {
      avg_backward_plane(g, dyp, dxp);
    }
  });
}

}  // namespace tl::rt::cpu
