// float32 pooling over NCHW planes (see pool.h). Each plane is one unit of work; within a
// plane, a row of outputs is updated one window offset (kh, kw) at a time, so the inner
// loop runs over output columns with a fixed input stride and vectorizes. Every output sees
// its window's elements in the reference loops' row-major order, and overlapping windows
// accumulate into the input gradient in the reference loops' output order.
#include "runtime/cpu/pool.h"

#include <algorithm>
#include <limits>
#include <vector>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

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

// valid_outputs for each window column of `g`.
std::vector<OutputSpan> column_spans(const Pool2dGeometry& g) {
  std::vector<OutputSpan> spans(static_cast<size_t>(g.KW));
  for (int64_t kw = 0; kw < g.KW; ++kw) spans[kw] = valid_outputs(kw, g.stride_w, g.pad_w, g.W, g.OW);
  return spans;
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

// Max pooling with 2x2 windows, stride 2 and no padding (the common downsampling step):
// each output row reads two input rows and no window overlaps another, so the backward
// pass writes every input element once and needs no accumulation.
bool is_disjoint_2x2(const Pool2dGeometry& g) {
  return g.KH == 2 && g.KW == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0;
}

// The first maximum of (a, b, c, d) (row-major window order; the first NaN wins) and its
// position 0-3. Written without branches: which element wins is data-dependent.
inline float first_max4(float a, float b, float c, float d, int& pos) {
  float best = a;
  pos = 0;
  const float v[3] = {b, c, d};
  for (int k = 0; k < 3; ++k) {
    bool take = (v[k] > best) | ((v[k] != v[k]) & (best == best));
    best = take ? v[k] : best;
    pos = take ? k + 1 : pos;
  }
  return best;
}

#if defined(__AVX2__)
// Vector operations for the 2x2 kernels, 8 lanes (AVX) and 4 lanes (SSE): a row of 7
// outputs, as after two poolings of 28x28, still runs vectorized.
struct Avx {
  using V = __m256;
  static constexpr int64_t kLanes = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V blend(V a, V b, V mask) { return _mm256_blendv_ps(a, b, mask); }
  // Lanes where v replaces best: v > best, or v is the first NaN.
  static V takes(V v, V best) {
    V nan_first = _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
    return _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), nan_first);
  }
  // d where pos == p, else +0.
  static V select(V pos, float p, V d) { return _mm256_and_ps(_mm256_cmp_ps(pos, set1(p), _CMP_EQ_OQ), d); }
  static V plus_zero(V d) { return _mm256_add_ps(_mm256_setzero_ps(), d); }
  // Even and odd elements of p[0, 16). Shuffling within 128-bit lanes gives
  // [p0 p2 p8 p10 | p4 p6 p12 p14]; the 64-bit pieces then go in order (0 2 1 3).
  static void deinterleave(const float* p, V& even, V& odd) {
    V lo = load(p), hi = load(p + 8);
    even = order(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)));
    odd = order(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
  }
  // The inverse: stores even/odd interleaved to p[0, 16).
  static void interleave(float* p, V even, V odd) {
    V e = order(even), o = order(odd);
    store(p, _mm256_unpacklo_ps(e, o));
    store(p + 8, _mm256_unpackhi_ps(e, o));
  }
  static V order(V v) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0))); }
};

struct Sse {
  using V = __m128;
  static constexpr int64_t kLanes = 4;
  static V load(const float* p) { return _mm_loadu_ps(p); }
  static void store(float* p, V v) { _mm_storeu_ps(p, v); }
  static V set1(float f) { return _mm_set1_ps(f); }
  static V blend(V a, V b, V mask) { return _mm_blendv_ps(a, b, mask); }
  static V takes(V v, V best) {
    V nan_first = _mm_and_ps(_mm_cmpunord_ps(v, v), _mm_cmpord_ps(best, best));
    return _mm_or_ps(_mm_cmpgt_ps(v, best), nan_first);
  }
  static V select(V pos, float p, V d) { return _mm_and_ps(_mm_cmpeq_ps(pos, set1(p)), d); }
  static V plus_zero(V d) { return _mm_add_ps(_mm_setzero_ps(), d); }
  static void deinterleave(const float* p, V& even, V& odd) {
    V lo = load(p), hi = load(p + 4);
    even = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    odd = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  }
  static void interleave(float* p, V even, V odd) {
    store(p, _mm_unpacklo_ps(even, odd));
    store(p + 4, _mm_unpackhi_ps(even, odd));
  }
};

// Outputs [o, o + kLanes) of one output row; r0 and r1 are its two input rows.
template <class I>
void max_forward_2x2_block(const float* r0, const float* r1, float* yr, int64_t o) {
  typename I::V a, b, c, d;
  I::deinterleave(r0 + 2 * o, a, b);
  I::deinterleave(r1 + 2 * o, c, d);
  typename I::V m = a;
  for (typename I::V v : {b, c, d}) m = I::blend(m, v, I::takes(v, m));
  I::store(yr + o, m);
}

// Writes the gradient of outputs [o, o + kLanes) to their windows in dx rows d0 and d1.
template <class I>
void max_backward_2x2_block(const float* r0, const float* r1, const float* dyr, float* d0, float* d1, int64_t o) {
  typename I::V a, b, c, d;
  I::deinterleave(r0 + 2 * o, a, b);
  I::deinterleave(r1 + 2 * o, c, d);
  typename I::V m = a, pos = I::set1(0);
  float k = 1;
  for (typename I::V v : {b, c, d}) {
    typename I::V take = I::takes(v, m);
    m = I::blend(m, v, take);
    pos = I::blend(pos, I::set1(k++), take);
  }
  typename I::V dy = I::plus_zero(I::load(dyr + o));
  I::interleave(d0 + 2 * o, I::select(pos, 0, dy), I::select(pos, 1, dy));
  I::interleave(d1 + 2 * o, I::select(pos, 2, dy), I::select(pos, 3, dy));
}

// Calls block(o) for blocks of kLanes covering [0, n), the last one overlapping the one
// before when kLanes does not divide n (its outputs are computed twice, to the same
// values). Returns false, calling nothing, when n < kLanes.
template <class I, class Block>
bool for_each_block(int64_t n, const Block& block) {
  if (n < I::kLanes) return false;
  for (int64_t next = 0; next < n; next += I::kLanes) block(std::min(next, n - I::kLanes));
  return true;
}
#endif

// xp: (H, W), yp: (OH, OW).
void max_forward_2x2_plane(const Pool2dGeometry& g, const float* xp, float* yp) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const float* r0 = xp + 2 * oh * g.W;
    const float* r1 = r0 + g.W;
    float* yr = yp + oh * g.OW;
#if defined(__AVX2__)
    auto avx = [&](int64_t o) { max_forward_2x2_block<Avx>(r0, r1, yr, o); };
    auto sse = [&](int64_t o) { max_forward_2x2_block<Sse>(r0, r1, yr, o); };
    if (for_each_block<Avx>(g.OW, avx) || for_each_block<Sse>(g.OW, sse)) continue;
#endif
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int pos;
      yr[ow] = first_max4(r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1], pos);
    }
  }
}

// dyp: (OH, OW), xp and dxp: (H, W). Gradients are written as 0 + dy, as the reference
// loops accumulate them (so a -0 gradient lands as +0).
void max_backward_2x2_plane(const Pool2dGeometry& g, const float* dyp, const float* xp, float* dxp) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const float* r0 = xp + 2 * oh * g.W;
    const float* r1 = r0 + g.W;
    float* d0 = dxp + 2 * oh * g.W;
    float* d1 = d0 + g.W;
    const float* dyr = dyp + oh * g.OW;
    // An odd W leaves the last column out of every window.
    if (g.W > 2 * g.OW) d0[g.W - 1] = d1[g.W - 1] = 0.0f;
#if defined(__AVX2__)
    auto avx = [&](int64_t o) { max_backward_2x2_block<Avx>(r0, r1, dyr, d0, d1, o); };
    auto sse = [&](int64_t o) { max_backward_2x2_block<Sse>(r0, r1, dyr, d0, d1, o); };
    if (for_each_block<Avx>(g.OW, avx) || for_each_block<Sse>(g.OW, sse)) continue;
#endif
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int pos;
      first_max4(r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1], pos);
      float d = 0.0f + dyr[ow];
      d0[2 * ow] = pos == 0 ? d : 0.0f;
      d0[2 * ow + 1] = pos == 1 ? d : 0.0f;
      d1[2 * ow] = pos == 2 ? d : 0.0f;
      d1[2 * ow + 1] = pos == 3 ? d : 0.0f;
    }
  }
  // An odd H leaves the last row out.
  if (g.H > 2 * g.OH) std::fill(dxp + 2 * g.OH * g.W, dxp + g.H * g.W, 0.0f);
}

// xp: (H, W), yp: (OH, OW).
void forward_plane(const Pool2dGeometry& g, bool is_max, const float* xp, float* yp) {
  const float divisor = static_cast<float>(g.KH * g.KW);
  const std::vector<OutputSpan> spans = column_spans(g);
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* yr = yp + oh * g.OW;
    std::fill(yr, yr + g.OW, is_max ? -std::numeric_limits<float>::infinity() : 0.0f);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      int64_t ih = oh * g.stride_h - g.pad_h + kh;
      if (ih < 0 || ih >= g.H) continue;
      const float* xr = xp + ih * g.W;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const OutputSpan& s = spans[kw];
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
  thread_local std::vector<int64_t> delta;  // window position kh*KW + kw -> kh*W + kw
  best.resize(static_cast<size_t>(g.OW));
  pos.resize(static_cast<size_t>(g.OW));
  delta.resize(static_cast<size_t>(g.KH * g.KW));
  for (int64_t k = 0; k < g.KH * g.KW; ++k) delta[k] = (k / g.KW) * g.W + k % g.KW;
  const std::vector<OutputSpan> spans = column_spans(g);
  std::fill(dxp, dxp + g.H * g.W, 0.0f);
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
    std::fill(pos.begin(), pos.end(), -1);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      int64_t ih = oh * g.stride_h - g.pad_h + kh;
      if (ih < 0 || ih >= g.H) continue;
      const float* xr = xp + ih * g.W;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        auto k = static_cast<int32_t>(kh * g.KW + kw);
        TL_POOL_ROW(argmax_row, g.stride_w, best.data(), pos.data(), k, xr, g.stride_w, kw - g.pad_w, spans[kw]);
      }
    }
    // In output order, as the reference loops accumulate overlapping windows.
    const float* dyr = dyp + oh * g.OW;
    int64_t row0 = (oh * g.stride_h - g.pad_h) * g.W - g.pad_w;  // offset of window position 0 at ow = 0
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      if (pos[ow] < 0) continue;  // a window over padding alone (an empty input)
      dxp[row0 + ow * g.stride_w + delta[pos[ow]]] += dyr[ow];
    }
  }
}

void avg_backward_plane(const Pool2dGeometry& g, const float* dyp, float* dxp) {
  const float divisor = static_cast<float>(g.KH * g.KW);
  const std::vector<OutputSpan> spans = column_spans(g);
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
        TL_POOL_ROW(spread_row, g.stride_w, dxr, dyr, divisor, g.stride_w, kw - g.pad_w, spans[kw]);
      }
    }
  }
}

#undef TL_POOL_ROW

}  // namespace

void pool2d_forward_f32(const Pool2dGeometry& g, bool is_max, const float* x, float* y) {
  bool fast = is_max && is_disjoint_2x2(g);
  for_each_plane(g, [&](int64_t p) {
    const float* xp = x + p * g.H * g.W;
    float* yp = y + p * g.OH * g.OW;
    if (fast) {
      max_forward_2x2_plane(g, xp, yp);
    } else {
      forward_plane(g, is_max, xp, yp);
    }
  });
}

void pool2d_backward_f32(const Pool2dGeometry& g, bool is_max, const float* dy, const float* x, float* dx) {
  for_each_plane(g, [&](int64_t p) {
    const float* dyp = dy + p * g.OH * g.OW;
    float* dxp = dx + p * g.H * g.W;
    if (is_max && is_disjoint_2x2(g)) {
      max_backward_2x2_plane(g, dyp, x + p * g.H * g.W, dxp);
    } else if (is_max) {
      max_backward_plane(g, dyp, x + p * g.H * g.W, dxp);
    } else {
      avg_backward_plane(g, dyp, dxp);
    }
  });
}

}  // namespace tl::rt::cpu
