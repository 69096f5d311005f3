// CUDA kernels of the op table's conv and pool ops (runtime/ops/nn/conv_pool.cpp defines them;
// runtime/cuda/launch.h says how op kernels are written). Convolution and both of its backward
// ops are implicit GEMMs over one tiled kernel shape; pooling is one thread per output element,
// and every backward op is a gather (each element sums what reads it), so nothing needs atomics
// and every sum runs in a fixed order.
//
// Dimension letters: N batch, C input channels, O output channels, G groups (Cg = C / G and
// Og = O / G per group), H/W input height/width, OH/OW output height/width, KH/KW kernel
// height/width; in formulas sh/sw are the strides, ph/pw the paddings and dh/dw the dilations.
// Operands are NCHW at any strides; results are contiguous.
#include <algorithm>
#include <climits>
#include <cstddef>
#include <string>
#include <vector>

#include "runtime/cuda/launch.h"
#include "runtime/ops/nn/conv_pool.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

constexpr DType kFloatDTypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16};

// The GEMM tile every conv kernel uses: 64 rows x 64 columns per block, 16 along the sum at a
// time; 256 threads, each owning a 4 x 4 block of results (rows ty + 16 i, columns tx + 16 j).
constexpr unsigned kTile = 64;
constexpr unsigned kConvThreads = 256;
// gridDim.y and gridDim.z are limited to 65535; the kernels loop over z beyond it.
constexpr long long kMaxGridZ = 65535;

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// `text` with $ENTRY, $T (stored type) and $C (accumulation type: double for float64, float
// otherwise) filled in.
std::string fill(const char* text, const std::string& entry, DType dtype) {
  std::string s = replace_all(text, "$ENTRY", entry);
  s = replace_all(s, "$T", storage_type(dtype));
  return replace_all(s, "$C", compute_type(dtype));
}

long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }

// ---- convolution ----

// As each conv source declares `struct <entry>_geometry`: same fields, same order.
struct ConvParams {
  long long N, C, H, W, O, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, G, Cg, Og;
};
static_assert(sizeof(ConvParams) == 18 * sizeof(long long));

constexpr const char* kConvGeometry = R"(struct $ENTRY_geometry {
  long long N, C, H, W, O, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, G, Cg, Og;
};
)";

// The tile product every conv kernel shares: As[k][m] and Bs[k][p] hold 16 steps of the sum;
// each thread adds its 4 x 4 products. Shared rows are 65 wide so that the column-wise
// stores of the tile loads do not all hit one bank.
constexpr const char* kConvTileProduct = R"(      __syncthreads();
      for (int kk = 0; kk < 16; ++kk) {
        $C a[4], b[4];
        for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
        for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
      }
      __syncthreads();
)";

// y: (N, O, OH, OW) contiguous; x: (N, C, H, W), w: (O, Cg, KH, KW), bias: (O) and
// residual: (N, O, OH, OW) at their strides. Per image n and group: the GEMM
// y[o, p] = sum over k = (c, kh, kw) of w[o, k] * x[c, oh * sh - ph + kh * dh, ow * sw - pw + kw * dw]
// with p = (oh, ow), zero outside x. Grid: (pixel tiles, output-channel tiles, N * G).
// epilogue bits: 1 add bias, 2 add residual, 4 relu (in that order).
constexpr const char* kConvForward = R"(extern "C" __global__ void $ENTRY(const $T* __restrict__ x,
    const $T* __restrict__ w, const $T* __restrict__ bias, const $T* __restrict__ residual, $T* __restrict__ y,
    $ENTRY_geometry g, TlStrides sx, TlStrides sw, TlStrides sb, TlStrides sr, int epilogue) {
  __shared__ $C As[16][65];
  __shared__ $C Bs[16][65];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const long long KHW = g.KH * g.KW, K = g.Cg * KHW, P = g.OH * g.OW;
  const long long m0 = (long long)blockIdx.y * 64, p0 = (long long)blockIdx.x * 64;
  // The 4 pixels whose x this thread loads (columns tx + 16 j): each window's corner.
  long long h0[4], w0[4];
  bool p_in[4];
  for (int j = 0; j < 4; ++j) {
    const long long p = p0 + tx + 16 * j;
    p_in[j] = p < P;
    const long long oh = p_in[j] ? p / g.OW : 0;
    h0[j] = oh * g.stride_h - g.pad_h;
    w0[j] = (p_in[j] ? p - oh * g.OW : 0) * g.stride_w - g.pad_w;
  }
  for (long long z = blockIdx.z; z < g.N * g.G; z += gridDim.z) {
    const long long n = z / g.G, grp = z - n * g.G;
    const $T* xg = x + n * sx.stride[0] + grp * g.Cg * sx.stride[1];
    const $T* wg = w + grp * g.Og * sw.stride[0];
    $C acc[4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] = 0;
    for (long long k0 = 0; k0 < K; k0 += 16) {
      {  // As[k][m] = w[m, k]: this thread loads step k0 + tx of 4 rows (k runs along w's row).
        const long long k = k0 + tx;
        const long long c = k / KHW, r = k - c * KHW, kh = r / g.KW, kw = r - kh * g.KW;
        const long long off = c * sw.stride[1] + kh * sw.stride[2] + kw * sw.stride[3];
        for (int i = 0; i < 4; ++i) {
          const long long m = m0 + ty + 16 * i;
          As[tx][ty + 16 * i] = k < K && m < g.Og ? ($C)wg[m * sw.stride[0] + off] : ($C)0;
        }
      }
      {  // Bs[k][p] = x at tap k of pixel p: this thread loads step k0 + ty of its 4 pixels.
        const long long k = k0 + ty;
        const long long c = k / KHW, r = k - c * KHW, kh = r / g.KW, kw = r - kh * g.KW;
        for (int j = 0; j < 4; ++j) {
          const long long ih = h0[j] + kh * g.dilation_h, iw = w0[j] + kw * g.dilation_w;
          const bool in = k < K && p_in[j] && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
          Bs[ty][tx + 16 * j] = in ? ($C)xg[c * sx.stride[1] + ih * sx.stride[2] + iw * sx.stride[3]] : ($C)0;
        }
      }
$TILE_PRODUCT    }
    for (int i = 0; i < 4; ++i) {
      const long long m = m0 + ty + 16 * i;
      if (m >= g.Og) continue;
      const long long o = grp * g.Og + m;
      for (int j = 0; j < 4; ++j) {
        const long long p = p0 + tx + 16 * j;
        if (p >= P) continue;
        $C v = acc[i][j];
        if (epilogue & 1) v += ($C)bias[o * sb.stride[0]];
        if (epilogue & 2) {
          const long long oh = p / g.OW, ow = p - oh * g.OW;
          v += ($C)residual[n * sr.stride[0] + o * sr.stride[1] + oh * sr.stride[2] + ow * sr.stride[3]];
        }
        if (epilogue & 4) v = v > ($C)0 ? v : ($C)0;
        y[(n * g.O + o) * P + p] = ($T)v;
      }
    }
  }
}
)";

// dx: (N, C, H, W) contiguous; dy: (N, O, OH, OW), w: (O, Cg, KH, KW) at their strides. Per
// image n and group, the gather form: dx[c, q] = sum over k = (o, kh, kw) of w[o, c, kh, kw] *
// dy[o, th / sh, tw / sw] with q = (ih, iw), th = ih + ph - kh * dh and tw = iw + pw - kw * dw,
// where both divide evenly and land inside dy (the output pixels whose window reads x at q).
// Grid: (input-pixel tiles, input-channel tiles, N * G).
constexpr const char* kConvBackwardInput = R"(extern "C" __global__ void $ENTRY(const $T* __restrict__ dy,
    const $T* __restrict__ w, $T* __restrict__ dx, $ENTRY_geometry g, TlStrides sdy, TlStrides sw) {
  __shared__ $C As[16][65];
  __shared__ $C Bs[16][65];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const long long KHW = g.KH * g.KW, K = g.Og * KHW, Q = g.H * g.W;
  const long long m0 = (long long)blockIdx.y * 64, q0 = (long long)blockIdx.x * 64;
  // The 4 input pixels whose gradient terms this thread loads (columns tx + 16 j), padded.
  long long th0[4], tw0[4];
  bool q_in[4];
  for (int j = 0; j < 4; ++j) {
    const long long q = q0 + tx + 16 * j;
    q_in[j] = q < Q;
    const long long ih = q_in[j] ? q / g.W : 0;
    th0[j] = ih + g.pad_h;
    tw0[j] = (q_in[j] ? q - ih * g.W : 0) + g.pad_w;
  }
  for (long long z = blockIdx.z; z < g.N * g.G; z += gridDim.z) {
    const long long n = z / g.G, grp = z - n * g.G;
    const $T* dyg = dy + n * sdy.stride[0] + grp * g.Og * sdy.stride[1];
    const $T* wg = w + grp * g.Og * sw.stride[0];
    $C acc[4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] = 0;
    for (long long k0 = 0; k0 < K; k0 += 16) {
      {  // As[k][c] = w[o, c, kh, kw] for k = (o, kh, kw): step k0 + tx of 4 channels.
        const long long k = k0 + tx;
        const long long o = k / KHW, r = k - o * KHW, kh = r / g.KW, kw = r - kh * g.KW;
        const long long off = o * sw.stride[0] + kh * sw.stride[2] + kw * sw.stride[3];
        for (int i = 0; i < 4; ++i) {
          const long long m = m0 + ty + 16 * i;
          As[tx][ty + 16 * i] = k < K && m < g.Cg ? ($C)wg[m * sw.stride[1] + off] : ($C)0;
        }
      }
      {  // Bs[k][q] = dy of the output pixel that reads q at tap k, or 0: step k0 + ty of 4 pixels.
        const long long k = k0 + ty;
        const long long o = k / KHW, r = k - o * KHW, kh = r / g.KW, kw = r - kh * g.KW;
        for (int j = 0; j < 4; ++j) {
          const long long th = th0[j] - kh * g.dilation_h, tw = tw0[j] - kw * g.dilation_w;
          bool in = k < K && q_in[j] && th >= 0 && tw >= 0;
          const long long oh = in ? th / g.stride_h : 0, ow = in ? tw / g.stride_w : 0;
          in = in && oh * g.stride_h == th && ow * g.stride_w == tw && oh < g.OH && ow < g.OW;
          Bs[ty][tx + 16 * j] =
              in ? ($C)dyg[o * sdy.stride[1] + oh * sdy.stride[2] + ow * sdy.stride[3]] : ($C)0;
        }
      }
$TILE_PRODUCT    }
    for (int i = 0; i < 4; ++i) {
      const long long m = m0 + ty + 16 * i;
      if (m >= g.Cg) continue;
      for (int j = 0; j < 4; ++j) {
        const long long q = q0 + tx + 16 * j;
        if (q < Q) dx[(n * g.C + grp * g.Cg + m) * Q + q] = ($T)acc[i][j];
      }
    }
  }
}
)";

// dw: (O, Cg, KH, KW) contiguous; x: (N, C, H, W), dy: (N, O, OH, OW) at their strides. Per
// group: dw[o, col] = sum over k = (n, oh, ow) of dy[n, o, oh, ow] * x[n, c, oh * sh - ph + kh * dh,
// ow * sw - pw + kw * dw] with col = (c, kh, kw). The sum is split into `splits` consecutive
// ranges of k, `split_len` long; with more than one, split s writes its sums to
// partial: (splits, O, Cg * KH * KW) and the reduce kernel adds them in order.
// Grid: (column tiles, output-channel tiles, G * splits).
constexpr const char* kConvBackwardWeight = R"(extern "C" __global__ void $ENTRY(const $T* __restrict__ x,
    const $T* __restrict__ dy, $T* __restrict__ dw, $C* __restrict__ partial, $ENTRY_geometry g, TlStrides sx,
    TlStrides sdy, long long splits, long long split_len) {
  __shared__ $C As[16][65];
  __shared__ $C Bs[16][65];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const long long KHW = g.KH * g.KW, COLS = g.Cg * KHW, P = g.OH * g.OW, K = g.N * P;
  const long long m0 = (long long)blockIdx.y * 64, col0 = (long long)blockIdx.x * 64;
  // The 4 weight columns (c, kh, kw) whose x this thread loads (columns ty + 16 j).
  long long c_off[4], kh_off[4], kw_off[4];
  bool col_in[4];
  for (int j = 0; j < 4; ++j) {
    const long long col = col0 + ty + 16 * j;
    col_in[j] = col < COLS;
    const long long c = col_in[j] ? col / KHW : 0, r = col_in[j] ? col - c * KHW : 0, kh = r / g.KW;
    c_off[j] = c * sx.stride[1];
    kh_off[j] = kh * g.dilation_h - g.pad_h;
    kw_off[j] = (r - kh * g.KW) * g.dilation_w - g.pad_w;
  }
  for (long long z = blockIdx.z; z < g.G * splits; z += gridDim.z) {
    const long long grp = z / splits, s = z - grp * splits;
    const long long k_begin = s * split_len, k_end = k_begin + split_len < K ? k_begin + split_len : K;
    const $T* xg = x + grp * g.Cg * sx.stride[1];
    const $T* dyg = dy + grp * g.Og * sdy.stride[1];
    $C acc[4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] = 0;
    for (long long k0 = k_begin; k0 < k_end; k0 += 16) {
      // Both tiles load step k0 + tx: (n, oh, ow), consecutive along dy's and x's rows.
      const long long k = k0 + tx;
      const bool k_in = k < k_end;
      const long long n = k_in ? k / P : 0, p = k_in ? k - n * P : 0, oh = p / g.OW, ow = p - oh * g.OW;
      for (int i = 0; i < 4; ++i) {  // As[k][o] = dy[n, o, oh, ow]
        const long long m = m0 + ty + 16 * i;
        As[tx][ty + 16 * i] = k_in && m < g.Og
            ? ($C)dyg[n * sdy.stride[0] + m * sdy.stride[1] + oh * sdy.stride[2] + ow * sdy.stride[3]] : ($C)0;
      }
      for (int j = 0; j < 4; ++j) {  // Bs[k][col] = x[n, c, ih, iw], 0 in the padding
        const long long ih = oh * g.stride_h + kh_off[j], iw = ow * g.stride_w + kw_off[j];
        const bool in = k_in && col_in[j] && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
        Bs[tx][ty + 16 * j] =
            in ? ($C)xg[n * sx.stride[0] + c_off[j] + ih * sx.stride[2] + iw * sx.stride[3]] : ($C)0;
      }
$TILE_PRODUCT    }
    for (int i = 0; i < 4; ++i) {
      const long long m = m0 + ty + 16 * i;
      if (m >= g.Og) continue;
      const long long row = (grp * g.Og + m) * COLS;
      for (int j = 0; j < 4; ++j) {
        const long long col = col0 + tx + 16 * j;
        if (col >= COLS) continue;
        if (splits == 1) dw[row + col] = ($T)acc[i][j];
        else partial[s * g.O * COLS + row + col] = acc[i][j];
      }
    }
  }
}
)";

// dw[i] = sum over s in order of partial[s, i]: partial: (splits, n) -> dw: (n).
constexpr const char* kConvReducePartials = R"(extern "C" __global__ void $ENTRY(const $C* __restrict__ partial,
    $T* __restrict__ dw, long long n, long long splits) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    $C acc = 0;
    for (long long s = 0; s < splits; ++s) acc += partial[s * n + i];
    dw[i] = ($T)acc;
  }
}
)";

enum class ConvKernel { kForward, kBackwardInput, kBackwardWeight, kReducePartials };

std::string conv_entry(ConvKernel k, DType dtype) {
  static const char* const names[] = {"tl_conv2d_", "tl_conv2d_backward_input_", "tl_conv2d_backward_weight_",
                                      "tl_conv2d_backward_weight_reduce_"};
  return names[static_cast<int>(k)] + std::string(dtype_name(dtype));
}

std::string conv_source(ConvKernel k, DType dtype) {
  const std::string entry = conv_entry(k, dtype);
  if (k == ConvKernel::kReducePartials) return fill(kConvReducePartials, entry, dtype);
  const char* body = k == ConvKernel::kForward         ? kConvForward
                     : k == ConvKernel::kBackwardInput ? kConvBackwardInput
                                                       : kConvBackwardWeight;
  return fill(kConvGeometry, entry, dtype) +
         fill(replace_all(body, "$TILE_PRODUCT", kConvTileProduct).c_str(), entry, dtype);
}

void launch_conv(ConvKernel k, DType dtype, const LaunchShape& shape, KernelArgs& args) {
  launch_kernel(conv_entry(k, dtype), dtype, [&] { return conv_source(k, dtype); }, shape, args);
}

// The geometry of conv2d over x: (N, C, H, W) and w: (O, C/G, KH, KW) under attrs `a` (stride,
// padding, dilation, count = groups), as the CPU kernels compute it.
ConvParams conv_params(const Shape& x, const Shape& w, const ops::Attrs& a) {
  ConvParams g{};
  g.N = x[0], g.C = x[1], g.H = x[2], g.W = x[3];
  g.O = w[0], g.KH = w[2], g.KW = w[3];
  g.stride_h = a.stride[0], g.stride_w = a.stride[1];
  g.pad_h = a.padding[0], g.pad_w = a.padding[1];
  g.dilation_h = a.dilation[0], g.dilation_w = a.dilation[1];
  g.G = a.count;
  g.Cg = g.C / g.G, g.Og = g.O / g.G;
  g.OH = (g.H + 2 * g.pad_h - g.dilation_h * (g.KH - 1) - 1) / g.stride_h + 1;
  g.OW = (g.W + 2 * g.pad_w - g.dilation_w * (g.KW - 1) - 1) / g.stride_w + 1;
  return g;
}

// A GEMM grid of `columns` x `rows` tiles over `planes` (the kernels loop past 65535 planes).
// Throws when the tiles do not fit the grid (x: 2^31 - 1 blocks, y: 65535).
LaunchShape conv_grid(long long columns, long long rows, long long planes, const char* op) {
  if (ceil_div(columns, kTile) > INT_MAX || ceil_div(rows, kTile) > kMaxGridZ)
    throw ValueError(std::string("tl::") + op + ": the CUDA kernel's grid cannot cover " + std::to_string(rows) +
                     " x " + std::to_string(columns) + " results per image and group");
  LaunchShape shape;
  shape.block.x = kConvThreads;
  shape.grid.x = static_cast<unsigned>(ceil_div(columns, kTile));
  shape.grid.y = static_cast<unsigned>(ceil_div(rows, kTile));
  shape.grid.z = static_cast<unsigned>(std::min(planes, kMaxGridZ));
  return shape;
}

// in: x, weight, optional bias, optional residual; out: (N, O, OH, OW).
void conv2d_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  if (a.axis != 0) throw ValueError("tl::conv2d: blocked operands (nChw8c) need the CPU's float32 oneDNN kernel");
  const Tensor& x = in[0];
  const Tensor& w = in[1];
  const bool has_bias = in.size() > 2 && in[2].defined();
  const bool has_residual = in.size() > 3 && in[3].defined();
  const ConvParams g = conv_params(x.shape(), w.shape(), a);
  if (out.numel() == 0) return;
  const LaunchShape shape = conv_grid(g.OH * g.OW, g.Og, g.N * g.G, "conv2d");
  const Tensor& bias = has_bias ? in[2] : x;  // an unread stand-in when absent
  const Tensor& residual = has_residual ? in[3] : x;
  const int epilogue = (has_bias ? 1 : 0) | (has_residual ? 2 : 0) | (a.flag ? 4 : 0);
  KernelArgs args;
  args.add(x).add(w).add(bias).add(residual).add(out).add(g);
  args.add(kernel_strides(x, 4)).add(kernel_strides(w, 4)).add(kernel_strides(bias, bias.dim()));
  args.add(kernel_strides(residual, 4)).add(epilogue);
  launch_conv(ConvKernel::kForward, out.dtype(), shape, args);
}

// in: dout, weight; out: dx of shape attrs.dims.
void conv2d_backward_input_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& dy = in[0];
  const Tensor& w = in[1];
  const ConvParams g = conv_params(out.shape(), w.shape(), a);
  if (out.numel() == 0) return;
  const LaunchShape shape = conv_grid(g.H * g.W, g.Cg, g.N * g.G, "conv2d_backward_input");
  KernelArgs args;
  args.add(dy).add(w).add(out).add(g).add(kernel_strides(dy, 4)).add(kernel_strides(w, 4));
  launch_conv(ConvKernel::kBackwardInput, out.dtype(), shape, args);
}

// in: x, dout; out: dw of shape attrs.dims.
void conv2d_backward_weight_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  const Tensor& dy = in[1];
  const ConvParams g = conv_params(x.shape(), out.shape(), a);
  if (out.numel() == 0) return;
  const long long cols = g.Cg * g.KH * g.KW, K = g.N * g.OH * g.OW;
  // The sum over (n, oh, ow) is usually far longer than the weight has tiles: split it so
  // that about 1024 blocks run (a few per SM), each over at least 512 steps of the sum.
  const long long tiles = ceil_div(cols, kTile) * ceil_div(g.Og, kTile) * g.G;
  long long splits = std::clamp<long long>(1024 / std::max<long long>(tiles, 1), 1, std::max(ceil_div(K, 512), 1LL));
  const long long split_len = std::max(ceil_div(ceil_div(K, splits), 16) * 16, 16LL);
  splits = std::max<long long>(ceil_div(K, split_len), 1);
  const LaunchShape shape = conv_grid(cols, g.Og, g.G * splits, "conv2d_backward_weight");
  const DType dtype = out.dtype();
  // partial: (splits, O, Cg * KH * KW) in the accumulation type.
  Tensor partial = splits > 1 ? ops::empty_tensor(Shape{splits, out.numel()}, dtype == kFloat64 ? kFloat64 : kFloat32,
                                                  out.device())
                              : out;
  KernelArgs args;
  args.add(x).add(dy).add(out).add(partial).add(g).add(kernel_strides(x, 4)).add(kernel_strides(dy, 4));
  args.add(splits).add(split_len);
  launch_conv(ConvKernel::kBackwardWeight, dtype, shape, args);
  if (splits == 1) return;
  const long long n = out.numel();
  KernelArgs reduce;
  reduce.add(partial).add(out).add(n).add(splits);
  launch_conv(ConvKernel::kReducePartials, dtype, launch_1d(n), reduce);
}

// ---- pooling ----

// As each pool source declares `struct <entry>_geometry`: same fields, same order.
// The kernels take the CPU's geometry struct as is: the same twelve 64-bit fields in the same order.
using PoolParams = rt::cpu::Pool2dGeometry;
static_assert(sizeof(PoolParams) == 12 * sizeof(long long) && offsetof(PoolParams, OH) == 4 * sizeof(long long));

constexpr const char* kPoolGeometry = R"(struct $ENTRY_geometry {
  long long N, C, H, W, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w;
};
)";

// Each thread (grid-stride) takes output i = (n, c, oh, ow) of the (N, C, OH, OW) result:
// xp is its plane of x, (h0, w0) its window's corner; kh_lo..kh_hi, kw_lo..kw_hi the window rows
// and columns inside x (padding is never read).
constexpr const char* kPoolOutputLoop =
    R"(  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n_out;
       i += (long long)gridDim.x * blockDim.x) {
    const long long ow = i % g.OW, t = i / g.OW, oh = t % g.OH, plane = t / g.OH;
    const long long n = plane / g.C, c = plane - n * g.C;
    const long long h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    const long long kh_lo = h0 < 0 ? -h0 : 0, kh_hi = g.H - h0 < g.KH ? g.H - h0 : g.KH;
    const long long kw_lo = w0 < 0 ? -w0 : 0, kw_hi = g.W - w0 < g.KW ? g.W - w0 : g.KW;
    const $T* xp = x + n * sx.stride[0] + c * sx.stride[1];
)";

// After kPoolOutputLoop: best_k = kh * KW + kw, the window position of the window's first
// maximum in row-major order (a NaN wins and stays, as on the CPU), and best its value;
// best_k is -1 when the window holds no element of x.
constexpr const char* kPoolArgmax = R"(    $C best = 0;
    long long best_k = -1;
    for (long long kh = kh_lo; kh < kh_hi; ++kh) {
      for (long long kw = kw_lo; kw < kw_hi; ++kw) {
        const $C v = ($C)xp[(h0 + kh) * sx.stride[2] + (w0 + kw) * sx.stride[3]];
        if (best_k < 0 || v > best || (v != v && best == best)) {
          best = v;
          best_k = kh * g.KW + kw;
        }
      }
    }
)";

// y: (N, C, OH, OW) contiguous = window max of x: (N, C, H, W) at strides sx; -inf for a window
// with no element (only on an empty x).
constexpr const char* kMaxPool = R"(extern "C" __global__ void $ENTRY(const $T* __restrict__ x, $T* __restrict__ y,
    $ENTRY_geometry g, TlStrides sx, long long n_out) {
$OUTPUT_LOOP$ARGMAX    y[i] = best_k < 0 ? ($T)__int_as_float((int)0xff800000u) : ($T)best;  // -inf: no element
  }
}
)";

// y: (N, C, OH, OW) contiguous = gv: (N, C, H, W) at strides sg, read at the first max of each
// window of x; 0 where a window has no element (nothing is routed there).
constexpr const char* kMaxPoolGather = R"(extern "C" __global__ void $ENTRY(const $T* __restrict__ gv,
    const $T* __restrict__ x, $T* __restrict__ y, $ENTRY_geometry g, TlStrides sg, TlStrides sx, long long n_out) {
$OUTPUT_LOOP$ARGMAX    if (best_k < 0) {
      y[i] = ($T)0.0f;
    } else {
      const long long kh = best_k / g.KW, kw = best_k - kh * g.KW;
      y[i] = gv[n * sg.stride[0] + c * sg.stride[1] + (h0 + kh) * sg.stride[2] + (w0 + kw) * sg.stride[3]];
    }
  }
}
)";

// pos: (N, C, OH, OW) contiguous int32 = the window position kh * KW + kw of each window's
// first max in x, -1 for none: what max_pool2d_backward's gather compares against.
constexpr const char* kMaxPoolArgmax = R"(extern "C" __global__ void $ENTRY(const $T* __restrict__ x,
    int* __restrict__ pos, $ENTRY_geometry g, TlStrides sx, long long n_out) {
$OUTPUT_LOOP$ARGMAX    pos[i] = (int)best_k;
  }
}
)";

// y: (N, C, OH, OW) contiguous = window sum of x / (KH * KW): padding counts as zeros.
constexpr const char* kAvgPool = R"(extern "C" __global__ void $ENTRY(const $T* __restrict__ x, $T* __restrict__ y,
    $ENTRY_geometry g, TlStrides sx, long long n_out) {
$OUTPUT_LOOP    $C acc = 0;
    for (long long kh = kh_lo; kh < kh_hi; ++kh)
      for (long long kw = kw_lo; kw < kw_hi; ++kw) acc += ($C)xp[(h0 + kh) * sx.stride[2] + (w0 + kw) * sx.stride[3]];
    y[i] = ($T)(acc / ($C)(g.KH * g.KW));
  }
}
)";

// Each thread (grid-stride) takes input element i = (n, c, ih, iw) of the (N, C, H, W)
// gradient and visits, in output order (as the CPU accumulates), the windows that cover it:
// oh in [oh_lo, oh_hi], ow in [ow_lo, ow_hi], where 0 <= ih + ph - oh * sh < KH (and for w).
constexpr const char* kPoolInputLoop =
    R"(  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n_in;
       i += (long long)gridDim.x * blockDim.x) {
    const long long iw = i % g.W, t = i / g.W, ih = t % g.H, plane = t / g.H;
    const long long n = plane / g.C, c = plane - n * g.C;
    const long long th = ih + g.pad_h, tw = iw + g.pad_w;
    const long long oh_lo = th - g.KH + 1 <= 0 ? 0 : (th - g.KH + g.stride_h) / g.stride_h;
    const long long ow_lo = tw - g.KW + 1 <= 0 ? 0 : (tw - g.KW + g.stride_w) / g.stride_w;
    const long long oh_hi = th / g.stride_h < g.OH - 1 ? th / g.stride_h : g.OH - 1;
    const long long ow_hi = tw / g.stride_w < g.OW - 1 ? tw / g.stride_w : g.OW - 1;
    const $T* dyp = dy + n * sdy.stride[0] + c * sdy.stride[1];
    $C acc = 0;
)";

// dx: (N, C, H, W) contiguous: the sum of dy: (N, C, OH, OW) (at strides sdy) over the windows
// whose first max (pos, from the argmax kernel) is this element.
constexpr const char* kMaxPoolBackward = R"(extern "C" __global__ void $ENTRY(const $T* __restrict__ dy,
    const int* __restrict__ pos, $T* __restrict__ dx, $ENTRY_geometry g, TlStrides sdy, long long n_in) {
$INPUT_LOOP    const int* pp = pos + plane * g.OH * g.OW;
    for (long long oh = oh_lo; oh <= oh_hi; ++oh) {
      const long long kh = th - oh * g.stride_h;
      for (long long ow = ow_lo; ow <= ow_hi; ++ow) {
        if (pp[oh * g.OW + ow] == kh * g.KW + (tw - ow * g.stride_w))
          acc += ($C)dyp[oh * sdy.stride[2] + ow * sdy.stride[3]];
      }
    }
    dx[i] = ($T)acc;
  }
}
)";

// dx: (N, C, H, W) contiguous: the sum of dy / (KH * KW) over the windows that cover this element.
constexpr const char* kAvgPoolBackward = R"(extern "C" __global__ void $ENTRY(const $T* __restrict__ dy,
    $T* __restrict__ dx, $ENTRY_geometry g, TlStrides sdy, long long n_in) {
$INPUT_LOOP    const $C divisor = ($C)(g.KH * g.KW);
    for (long long oh = oh_lo; oh <= oh_hi; ++oh)
      for (long long ow = ow_lo; ow <= ow_hi; ++ow) acc += ($C)dyp[oh * sdy.stride[2] + ow * sdy.stride[3]] / divisor;
    dx[i] = ($T)acc;
  }
}
)";

enum class PoolKernel { kMax, kAvg, kMaxGather, kMaxArgmax, kMaxBackward, kAvgBackward };
constexpr PoolKernel kPoolKernels[] = {PoolKernel::kMax,       PoolKernel::kAvg,         PoolKernel::kMaxGather,
                                       PoolKernel::kMaxArgmax, PoolKernel::kMaxBackward, PoolKernel::kAvgBackward};

std::string pool_entry(PoolKernel k, DType dtype) {
  static const char* const names[] = {"tl_max_pool2d_",        "tl_avg_pool2d_",          "tl_max_pool2d_gather_",
                                      "tl_max_pool2d_argmax_", "tl_max_pool2d_backward_", "tl_avg_pool2d_backward_"};
  return names[static_cast<int>(k)] + std::string(dtype_name(dtype));
}

std::string pool_source(PoolKernel k, DType dtype) {
  static const char* const bodies[] = {kMaxPool, kAvgPool, kMaxPoolGather, kMaxPoolArgmax, kMaxPoolBackward,
                                       kAvgPoolBackward};
  std::string body = replace_all(bodies[static_cast<int>(k)], "$OUTPUT_LOOP", kPoolOutputLoop);
  body = replace_all(body, "$ARGMAX", kPoolArgmax);
  body = replace_all(body, "$INPUT_LOOP", kPoolInputLoop);
  const std::string entry = pool_entry(k, dtype);
  return fill(kPoolGeometry, entry, dtype) + fill(body.c_str(), entry, dtype);
}

void launch_pool(PoolKernel k, DType dtype, long long n, KernelArgs& args) {
  launch_kernel(pool_entry(k, dtype), dtype, [&] { return pool_source(k, dtype); }, launch_1d(n), args);
}


// in: x; out: (N, C, OH, OW).
template <PoolKernel kKind>
void pool2d_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  const long long n = out.numel();
  KernelArgs args;
  args.add(x).add(out).add(ops::pool_geometry(x.shape(), a)).add(kernel_strides(x, 4)).add(n);
  launch_pool(kKind, out.dtype(), n, args);
}

// in: g, x (same shape); out: (N, C, OH, OW).
void max_pool2d_gather_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& gv = in[0];
  const Tensor& x = in[1];
  const long long n = out.numel();
  KernelArgs args;
  args.add(gv).add(x).add(out).add(ops::pool_geometry(x.shape(), a)).add(kernel_strides(gv, 4)).add(kernel_strides(x, 4));
  args.add(n);
  launch_pool(PoolKernel::kMaxGather, out.dtype(), n, args);
}

// in: dout, x; out: dx of x's shape. Two passes: each window's first max (as a window
// position), then each input element gathers the windows that chose it; recomputing the
// argmax per covering window instead would read KH * KW times more of x.
void max_pool2d_backward_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& dy = in[0];
  const Tensor& x = in[1];
  const PoolParams g = ops::pool_geometry(x.shape(), a);
  if (out.numel() == 0) return;
  if (g.KH * g.KW > INT_MAX)
    throw ValueError("tl::max_pool2d_backward: the CUDA kernel holds window positions as int32; kernel " +
                     a.dims.str() + " has more");
  // pos: (N, C, OH, OW), int32.
  Tensor pos = ops::empty_tensor(dy.shape(), kInt32, out.device());
  const long long n_out = pos.numel();
  KernelArgs argmax;
  argmax.add(x).add(pos).add(g).add(kernel_strides(x, 4)).add(n_out);
  launch_pool(PoolKernel::kMaxArgmax, out.dtype(), n_out, argmax);
  const long long n_in = out.numel();
  KernelArgs gather;
  gather.add(dy).add(pos).add(out).add(g).add(kernel_strides(dy, 4)).add(n_in);
  launch_pool(PoolKernel::kMaxBackward, out.dtype(), n_in, gather);
}

// in: dout, x (only its shape is used); out: dx of x's shape.
void avg_pool2d_backward_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& dy = in[0];
  const long long n = out.numel();
  KernelArgs args;
  args.add(dy).add(out).add(ops::pool_geometry(in[1].shape(), a)).add(kernel_strides(dy, 4)).add(n);
  launch_pool(PoolKernel::kAvgBackward, out.dtype(), n, args);
}

std::vector<KernelSource> conv_pool_sources() {
  std::vector<KernelSource> all;
  for (DType d : kFloatDTypes) {
    for (ConvKernel k : {ConvKernel::kForward, ConvKernel::kBackwardInput, ConvKernel::kBackwardWeight,
                         ConvKernel::kReducePartials})
      all.push_back({"conv2d", d, conv_entry(k, d), conv_source(k, d)});
    for (PoolKernel k : kPoolKernels) all.push_back({"pool2d", d, pool_entry(k, d), pool_source(k, d)});
  }
  return all;
}

const KernelSourceFamily family("conv_pool", conv_pool_sources);
const CudaKernel conv2d_registration("conv2d", conv2d_kernel);
const CudaKernel conv2d_backward_input_registration("conv2d_backward_input", conv2d_backward_input_kernel);
const CudaKernel conv2d_backward_weight_registration("conv2d_backward_weight", conv2d_backward_weight_kernel);
const CudaKernel max_pool2d_registration("max_pool2d", pool2d_kernel<PoolKernel::kMax>);
const CudaKernel avg_pool2d_registration("avg_pool2d", pool2d_kernel<PoolKernel::kAvg>);
const CudaKernel max_pool2d_gather_registration("max_pool2d_gather", max_pool2d_gather_kernel);
const CudaKernel max_pool2d_backward_registration("max_pool2d_backward", max_pool2d_backward_kernel);
const CudaKernel avg_pool2d_backward_registration("avg_pool2d_backward", avg_pool2d_backward_kernel);

}  // namespace

}  // namespace tl::rt::cuda
