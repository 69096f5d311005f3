// CUDA kernels of the op table's reduce ops: sum / mean, amax / amin, argmax / argmin,
// softmax / log_softmax, cumsum and argsort (runtime/cuda/launch.h says how op kernels are
// written). Each matches its CPU kernel (runtime/ops/reduce/) in dtypes, accumulation type,
// NaN handling and tie order; every sum is a fixed-order tree, so results do not vary run to run.
//
// Reductions and the line ops share one block shape: threadIdx.x runs across outputs (lines)
// and threadIdx.y along one output's values, so a block is one output with 256 threads for
// long rows, 256 outputs with a thread each for short ones, or 32 outputs x 8 when the kept
// dims are the contiguous ones (a column sum reads 32 adjacent values per step).
#include <algorithm>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "runtime/cuda/launch.h"
#include "runtime/cuda/reduce_layout.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

constexpr DType kAllDTypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kBool};
constexpr DType kNumericDTypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64};
constexpr DType kFloatingDTypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16};

constexpr int64_t kSortTile = 2048;  // values one block sorts in shared memory (argsort)

DType compute_dtype_of(DType dtype) { return dtype == kFloat16 || dtype == kBFloat16 ? kFloat32 : dtype; }
// What sum accumulates in, as the CPU's SumAcc: float for half types and float32, int64 for integers.
DType sum_acc_dtype(DType dtype) { return is_floating(dtype) ? compute_dtype_of(dtype) : kInt64; }

// The source `text` with $E (the entry), $T (storage type), $C (compute type), $A (accumulator),
// $O (output type), $F ("f": the float math functions, or "" for double's) and $S (the mean's
// scaling of an accumulated value, empty for integers) replaced.
struct SourceTypes {
  std::string entry, storage, compute, acc, output, math_suffix, scale;
};

std::string fill(const char* text, const SourceTypes& t) {
  std::string out;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p != '$') {
      out += *p;
      continue;
    }
    switch (*++p) {
      case 'E': out += t.entry; break;
      case 'T': out += t.storage; break;
      case 'C': out += t.compute; break;
      case 'A': out += t.acc; break;
      case 'O': out += t.output; break;
      case 'F': out += t.math_suffix; break;
      case 'S': out += t.scale; break;
      default: TL_ASSERT(false, std::string("reduce kernel source: unknown placeholder $") + *p);
    }
  }
  return out;
}

SourceTypes types_for(const std::string& entry, DType dtype) {
  SourceTypes t;
  t.entry = entry;
  t.storage = storage_type(dtype);
  t.compute = storage_type(compute_dtype_of(dtype));
  t.acc = storage_type(sum_acc_dtype(dtype));
  t.output = is_floating(dtype) ? t.storage : "long long";
  t.math_suffix = dtype == kFloat64 ? "" : "f";
  t.scale = is_floating(dtype) ? " * (" + t.acc + ")scale" : "";
  return t;
}

std::string entry_of(const char* kernel, DType dtype) { return std::string("tl_") + kernel + "_" + dtype_name(dtype); }

// Every source starts with this: the offset of element i, row-major over `shape`, at `strides`.
constexpr const char* kOffsetSource = R"(
__device__ inline long long $E_offset(long long i, const TlShape& shape, const TlStrides& strides) {
  if (shape.rank == 1) return i * strides.stride[0];
  long long offset = 0;
  for (int d = shape.rank - 1; d >= 0; --d) {
    offset += i % shape.size[d] * strides.stride[d];
    i /= shape.size[d];
  }
  return offset;
}
)";

// ---- sum / mean ----

constexpr const char* kSumSource = R"(
// in: strided; output r's values at offset(r, kept) + offset(c, red), c < cols, in the order
// of the CPU's reduced dims. out: [rows]. partial: [gridDim.y, rows], when blockIdx.y splits
// each output's values into chunks of `chunk`. Each thread sums a strided share of its chunk;
// a tree over threadIdx.y (a power of two) adds the shares in a fixed order.
extern "C" __global__ void $E(const $T* __restrict__ in, $O* __restrict__ out, $A* __restrict__ partial,
                             TlShape kept, TlStrides kept_strides, TlShape red, TlStrides red_strides,
                             long long rows, long long cols, long long chunk, double scale) {
  __shared__ $A part[256];
  const unsigned tx = threadIdx.x, ty = threadIdx.y, slot = ty * blockDim.x + tx;
  const long long c_begin = (long long)blockIdx.y * chunk;
  const long long c_end = cols - c_begin < chunk ? cols : c_begin + chunk;
  for (long long first = (long long)blockIdx.x * blockDim.x; first < rows; first += (long long)gridDim.x * blockDim.x) {
    const long long r = first + tx;
    $A s = 0;
    if (r < rows) {
      const long long base = $E_offset(r, kept, kept_strides);
      for (long long c = c_begin + ty; c < c_end; c += blockDim.y) s += ($A)in[base + $E_offset(c, red, red_strides)];
    }
    part[slot] = s;
    __syncthreads();
    for (unsigned half = blockDim.y / 2; half > 0; half /= 2) {
      if (ty < half) part[slot] += part[slot + half * blockDim.x];
      __syncthreads();
    }
    if (ty == 0 && r < rows) {
      if (gridDim.y > 1) partial[(long long)blockIdx.y * rows + r] = part[tx];
      else out[r] = ($O)(part[tx]$S);
    }
    __syncthreads();
  }
}
)";

constexpr const char* kSumCombineSource = R"(
// partial: [splits, rows], each output's chunk sums; out: [rows], the chunks added in order.
extern "C" __global__ void $E(const $A* __restrict__ partial, $O* __restrict__ out, long long rows, long long splits,
                             double scale) {
  for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += (long long)gridDim.x * blockDim.x) {
    $A s = 0;
    for (long long k = 0; k < splits; ++k) s += partial[k * rows + r];
    out[r] = ($O)(s$S);
  }
}
)";

// ---- amax / amin / argmax / argmin ----

// As the CPU's scan: the first NaN wins, else the largest (smallest) value, the first on ties
// (so of -0.0 and 0.0, whichever comes first). Index -1 stands for no value yet.
constexpr const char* kBetterSource = R"(
__device__ inline bool $E_better($C a, long long ia, $C b, long long ib, int is_min) {
  if (ia < 0) return false;
  if (ib < 0) return true;
  const bool a_nan = a != a, b_nan = b != b;
  if (a_nan || b_nan) return a_nan && (!b_nan || ia < ib);
  if (a == b) return ia < ib;
  return is_min ? a < b : a > b;
}
)";

constexpr const char* kExtremumSource = R"(
// in, kept, red, rows, cols, chunk: as in sum. out_value (amax, amin) or out_index (argmax,
// argmin; the other is null): [rows]. partial_value, partial_index: [gridDim.y, rows], when split.
extern "C" __global__ void $E(const $T* __restrict__ in, $T* __restrict__ out_value, long long* __restrict__ out_index,
                             $C* __restrict__ partial_value, long long* __restrict__ partial_index, TlShape kept,
                             TlStrides kept_strides, TlShape red, TlStrides red_strides, long long rows,
                             long long cols, long long chunk, int is_min) {
  __shared__ $C best_value[256];
  __shared__ long long best_index[256];
  const unsigned tx = threadIdx.x, ty = threadIdx.y, slot = ty * blockDim.x + tx;
  const long long c_begin = (long long)blockIdx.y * chunk;
  const long long c_end = cols - c_begin < chunk ? cols : c_begin + chunk;
  for (long long first = (long long)blockIdx.x * blockDim.x; first < rows; first += (long long)gridDim.x * blockDim.x) {
    const long long r = first + tx;
    $C v = 0;
    long long i = -1;
    if (r < rows) {
      const long long base = $E_offset(r, kept, kept_strides);
      for (long long c = c_begin + ty; c < c_end; c += blockDim.y) {
        const $C x = ($C)in[base + $E_offset(c, red, red_strides)];
        if ($E_better(x, c, v, i, is_min)) {
          v = x;
          i = c;
        }
      }
    }
    best_value[slot] = v;
    best_index[slot] = i;
    __syncthreads();
    for (unsigned half = blockDim.y / 2; half > 0; half /= 2) {
      const unsigned other = slot + half * blockDim.x;
      if (ty < half && $E_better(best_value[other], best_index[other], best_value[slot], best_index[slot], is_min)) {
        best_value[slot] = best_value[other];
        best_index[slot] = best_index[other];
      }
      __syncthreads();
    }
    if (ty == 0 && r < rows) {
      if (gridDim.y > 1) {
        partial_value[(long long)blockIdx.y * rows + r] = best_value[tx];
        partial_index[(long long)blockIdx.y * rows + r] = best_index[tx];
      } else if (out_index != 0) {
        out_index[r] = best_index[tx];
      } else {
        out_value[r] = ($T)best_value[tx];
      }
    }
    __syncthreads();
  }
}
)";

constexpr const char* kExtremumCombineSource = R"(
// partial_value, partial_index: [splits, rows], each output's chunk winners; out_value or
// out_index (the other null): [rows].
extern "C" __global__ void $E(const $C* __restrict__ partial_value, const long long* __restrict__ partial_index,
                             $T* __restrict__ out_value, long long* __restrict__ out_index, long long rows,
                             long long splits, int is_min) {
  for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += (long long)gridDim.x * blockDim.x) {
    $C v = 0;
    long long i = -1;
    for (long long k = 0; k < splits; ++k) {
      if ($E_better(partial_value[k * rows + r], partial_index[k * rows + r], v, i, is_min)) {
        v = partial_value[k * rows + r];
        i = partial_index[k * rows + r];
      }
    }
    if (out_index != 0) out_index[r] = i;
    else out_value[r] = ($T)v;
  }
}
)";

// ---- softmax / log_softmax ----

constexpr const char* kSoftmaxSource = R"(
// in: strided; line l's n values at offset(l, kept) + k * axis_stride. out: contiguous, the
// input's shape: line l = (o, i) of [outer, inner], its value k at (o * n + k) * inner + i.
// Three passes per line (max, sum of exp, write), each split over threadIdx.y with trees in
// a fixed order.
extern "C" __global__ void $E(const $T* __restrict__ in, $T* __restrict__ out, TlShape kept, TlStrides kept_strides,
                             long long axis_stride, long long n, long long lines, long long inner, int log_form) {
  __shared__ $C red[256];
  const unsigned tx = threadIdx.x, ty = threadIdx.y, slot = ty * blockDim.x + tx;
  const $C inf = ($C)__int_as_float(0x7f800000);
  for (long long first = (long long)blockIdx.x * blockDim.x; first < lines; first += (long long)gridDim.x * blockDim.x) {
    const long long l = first + tx;
    const bool active = l < lines;
    const long long src = active ? $E_offset(l, kept, kept_strides) : 0;
    const long long dst = active ? l / inner * n * inner + l % inner : 0;
    // NaN never wins the max (as std::max on the CPU); it spreads through the sum instead.
    $C m = -inf;
    if (active)
      for (long long k = ty; k < n; k += blockDim.y) m = fmax$F(m, ($C)in[src + k * axis_stride]);
    red[slot] = m;
    __syncthreads();
    for (unsigned half = blockDim.y / 2; half > 0; half /= 2) {
      if (ty < half) red[slot] = fmax$F(red[slot], red[slot + half * blockDim.x]);
      __syncthreads();
    }
    m = red[tx];
    __syncthreads();
    if (m == -inf) m = 0;  // a line of -inf: avoid inf - inf
    $C s = 0;
    if (active)
      for (long long k = ty; k < n; k += blockDim.y) s += exp$F(($C)in[src + k * axis_stride] - m);
    red[slot] = s;
    __syncthreads();
    for (unsigned half = blockDim.y / 2; half > 0; half /= 2) {
      if (ty < half) red[slot] += red[slot + half * blockDim.x];
      __syncthreads();
    }
    s = red[tx];
    __syncthreads();
    if (!active) continue;
    if (log_form) {
      const $C lse = m + log$F(s);
      for (long long k = ty; k < n; k += blockDim.y) out[dst + k * inner] = ($T)(($C)in[src + k * axis_stride] - lse);
    } else {
      const $C inv = ($C)1 / s;
      for (long long k = ty; k < n; k += blockDim.y)
        out[dst + k * inner] = ($T)(exp$F(($C)in[src + k * axis_stride] - m) * inv);
    }
  }
}
)";

// ---- cumsum ----

constexpr const char* kCumsumSource = R"(
// in, out: as in softmax. Running sums in double (int64 for integers), as on the CPU. A line
// is read in tiles of blockDim.y values: each tile is scanned in shared memory (Hillis-Steele,
// fixed order) and added to the total of the tiles before it. With blockDim.y = 1 that is the
// CPU's sequential sum.
extern "C" __global__ void $E(const $T* __restrict__ in, $T* __restrict__ out, TlShape kept, TlStrides kept_strides,
                             long long axis_stride, long long n, long long lines, long long inner) {
  __shared__ $A scan[256];
  const unsigned tx = threadIdx.x, ty = threadIdx.y, slot = ty * blockDim.x + tx;
  const unsigned last = (blockDim.y - 1) * blockDim.x + tx;
  for (long long first = (long long)blockIdx.x * blockDim.x; first < lines; first += (long long)gridDim.x * blockDim.x) {
    const long long l = first + tx;
    const bool active = l < lines;
    const long long src = active ? $E_offset(l, kept, kept_strides) : 0;
    const long long dst = active ? l / inner * n * inner + l % inner : 0;
    $A carry = 0;
    for (long long tile = 0; tile < n; tile += blockDim.y) {
      const long long k = tile + ty;
      const bool here = active && k < n;
      scan[slot] = here ? ($A)($C)in[src + k * axis_stride] : ($A)0;
      __syncthreads();
      for (unsigned step = 1; step < blockDim.y; step *= 2) {
        const $A add = ty >= step ? scan[slot - step * blockDim.x] : ($A)0;
        __syncthreads();
        scan[slot] += add;
        __syncthreads();
      }
      if (here) out[dst + k * inner] = ($T)($C)(carry + scan[slot]);
      carry += scan[last];
      __syncthreads();
    }
  }
}
)";

// ---- argsort ----

// As the CPU's stable sort: value a at position ia goes before value b at position ib when it
// is smaller (descending: larger), NaN counting as the largest value, and equal values keep
// their positions' order. A strict total order, so any sorting network gives the CPU's result.
constexpr const char* kBeforeSource = R"(
__device__ inline bool $E_before($C a, long long ia, $C b, long long ib, int descending) {
  const bool a_nan = a != a, b_nan = b != b;
  if (a_nan || b_nan) {
    if (a_nan && b_nan) return ia < ib;
    return descending ? a_nan : b_nan;
  }
  if (a == b) return ia < ib;
  return descending ? a > b : a < b;
}
)";

constexpr const char* kArgsortTileSource = R"(
#define $E_PAD 0x7fffffff
// Whether slot a sorts before slot b; padding slots sort after every value.
__device__ inline bool $E_slot_before(const $C* key, const int* pos, int a, int b, int descending) {
  if (pos[b] == $E_PAD) return pos[a] != $E_PAD;
  if (pos[a] == $E_PAD) return false;
  return $E_before(key[a], pos[a], key[b], pos[b], descending);
}

// in: strided; line l's n values at offset(l, kept) + k * axis_stride. Segment s is tile
// s % tiles of line s / tiles: positions [t * tile, min(n, (t + 1) * tile)). A block sorts
// 2048 / width segments at once, each in `width` slots (a power of two >= tile; the rest are
// padding), with a bitonic network whose stages stop at `width`: each segment is sorted on its
// own. dst: line l's sorted position k at (l / dst_inner * n + k) * dst_inner + l % dst_inner
// (the output's layout for dst_inner = inner; [lines, n] for 1).
extern "C" __global__ void $E(const $T* __restrict__ in, long long* __restrict__ dst, TlShape kept,
                             TlStrides kept_strides, long long axis_stride, long long n, long long lines, long long tile,
                             long long tiles, int width, long long dst_inner, int descending) {
  __shared__ $C key[2048];
  __shared__ int pos[2048];
  const long long segments = lines * tiles;
  const long long per_block = 2048 / width;
  for (long long first = (long long)blockIdx.x * per_block; first < segments; first += (long long)gridDim.x * per_block) {
    const long long count = segments - first < per_block ? segments - first : per_block;
    const int slots = (int)(count * width);
    for (int e = threadIdx.x; e < slots; e += blockDim.x) {
      const long long s = first + e / width;
      const long long l = s / tiles, k = s % tiles * tile + e % width;
      const bool valid = e % width < tile && k < n;
      key[e] = valid ? ($C)in[$E_offset(l, kept, kept_strides) + k * axis_stride] : ($C)0;
      pos[e] = valid ? e % width : $E_PAD;
    }
    __syncthreads();
    for (int size = 2; size <= width; size *= 2) {
      for (int stride = size / 2; stride > 0; stride /= 2) {
        for (int p = threadIdx.x; p < slots / 2; p += blockDim.x) {
          const int a = p / stride * 2 * stride + p % stride, b = a + stride;
          // Within a segment, blocks of `size` alternate direction until the last stage.
          const bool up = (a & size) == 0 || size == width;
          if (up ? $E_slot_before(key, pos, b, a, descending) : $E_slot_before(key, pos, a, b, descending)) {
            const $C t = key[a];
            key[a] = key[b];
            key[b] = t;
            const int q = pos[a];
            pos[a] = pos[b];
            pos[b] = q;
          }
        }
        __syncthreads();
      }
    }
    for (int e = threadIdx.x; e < slots; e += blockDim.x) {
      if (pos[e] == $E_PAD) continue;
      const long long s = first + e / width;
      const long long l = s / tiles, start = s % tiles * tile;
      dst[(l / dst_inner * n + start + e % width) * dst_inner + l % dst_inner] = start + pos[e];
    }
    __syncthreads();
  }
}
)";

constexpr const char* kArgsortMergeSource = R"(
// in: as in the tile sort. src: each line's positions in sorted runs of `run`; dst: each pair
// of runs merged into one of 2 * run. Layouts as the tile sort's dst (src_inner, dst_inner).
// A thread places one position: its rank in its own run plus how many of the other run's
// values sort before it (a binary search; ties are broken by position, so ranks are distinct).
extern "C" __global__ void $E(const $T* __restrict__ in, const long long* __restrict__ src, long long* __restrict__ dst,
                             TlShape kept, TlStrides kept_strides, long long axis_stride, long long n, long long lines,
                             long long run, long long src_inner, long long dst_inner, int descending) {
  const long long total = lines * n;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
    const long long l = e / n, k = e % n;
    const long long base = $E_offset(l, kept, kept_strides);
    const long long src_line = l / src_inner * n * src_inner + l % src_inner;
    const long long dst_line = l / dst_inner * n * dst_inner + l % dst_inner;
    const long long start = k / (2 * run) * (2 * run);
    const long long mid = n - start < run ? n : start + run;
    const long long end = n - start < 2 * run ? n : start + 2 * run;
    const long long me = src[src_line + k * src_inner];
    const $C value = ($C)in[base + me * axis_stride];
    const bool in_first = k < mid;
    long long lo = in_first ? mid : start, hi = in_first ? end : mid;
    const long long other_start = lo;
    while (lo < hi) {
      const long long m = lo + (hi - lo) / 2;
      const long long other = src[src_line + m * src_inner];
      if ($E_before(($C)in[base + other * axis_stride], other, value, me, descending)) lo = m + 1;
      else hi = m;
    }
    const long long rank = (in_first ? k - start : k - mid) + (lo - other_start);
    dst[dst_line + (start + rank) * dst_inner] = me;
  }
}
)";

std::string source_of(DType dtype, const char* kernel, std::initializer_list<const char*> parts) {
  const SourceTypes t = types_for(entry_of(kernel, dtype), dtype);
  std::string s;
  for (const char* p : parts) s += fill(p, t);
  return s;
}

std::string sum_source(DType d) { return source_of(d, "sum", {kOffsetSource, kSumSource}); }
std::string sum_combine_source(DType d) { return source_of(d, "sum_combine", {kSumCombineSource}); }
std::string extremum_source(DType d) { return source_of(d, "extremum", {kOffsetSource, kBetterSource, kExtremumSource}); }
std::string extremum_combine_source(DType d) {
  return source_of(d, "extremum_combine", {kBetterSource, kExtremumCombineSource});
}
std::string softmax_source(DType d) { return source_of(d, "softmax", {kOffsetSource, kSoftmaxSource}); }
// Running sums accumulate in double for every floating type (the CPU's cumsum does), not in
// the type sums accumulate in.
std::string cumsum_source(DType d) {
  SourceTypes t = types_for(entry_of("cumsum", d), d);
  if (is_floating(d)) t.acc = "double";
  return fill(kOffsetSource, t) + fill(kCumsumSource, t);
}
std::string argsort_tile_source(DType d) {
  return source_of(d, "argsort_tile", {kOffsetSource, kBeforeSource, kArgsortTileSource});
}
std::string argsort_merge_source(DType d) {
  return source_of(d, "argsort_merge", {kOffsetSource, kBeforeSource, kArgsortMergeSource});
}

void launch(const char* kernel, std::string (*source)(DType), DType dtype, const LaunchShape& shape, KernelArgs& args) {
  launch_kernel(entry_of(kernel, dtype), dtype, [&] { return source(dtype); }, shape, args);
}

// ---- geometry ----

// One tensor's dims as a kernel's shape and strides.
struct Dims {
  KernelShape shape;
  KernelStrides strides;
  bool innermost_contiguous() const { return shape.rank > 0 && strides.stride[shape.rank - 1] == 1; }
};

// (size, stride) pairs, in order, merged as merged_dims merges them.
Dims merged_tensor_dims(const std::vector<std::pair<int64_t, int64_t>>& dims) {
  std::vector<int64_t> sizes, strides;
  for (const auto& [size, stride] : dims) {
    sizes.push_back(size);
    strides.push_back(stride);
  }
  const MergedDims m = merged_dims(sizes, {strides});
  return {m.shape, m.strides[0]};
}

// A reduction over `dims` (normalized, ascending): output r is the r-th combination of the kept
// dims (row-major, the output's order), and its values are the combinations of the reduced dims
// in `dims`' order (the CPU's order, which decides argmax's ties).
struct Reduction {
  Dims kept, red;
  int64_t rows = 1, cols = 1;
  LaunchShape shape;
  int64_t splits = 1, chunk = 1;
};

Reduction plan_reduction(const Tensor& x, const Shape& dims) {
  std::vector<std::pair<int64_t, int64_t>> kept, red;
  Reduction r;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (std::find(dims.begin(), dims.end(), d) != dims.end()) continue;
    kept.emplace_back(x.shape()[d], x.strides()[d]);
    r.rows *= x.shape()[d];
  }
  for (int64_t d : dims) {
    red.emplace_back(x.shape()[d], x.strides()[d]);
    r.cols *= x.shape()[d];
  }
  r.kept = merged_tensor_dims(kept);
  r.red = merged_tensor_dims(red);
  const BlockReduceLaunch l =
      block_reduce_launch(r.rows, r.cols, r.kept.innermost_contiguous() && !r.red.innermost_contiguous());
  r.shape = l.shape;
  r.splits = l.splits;
  r.chunk = l.chunk;
  return r;
}

// A line op along `axis`: line l is the l-th combination of the other dims (row-major), its n
// values along the axis. A 0-d input is one line of one value.
struct Lines {
  Dims kept;
  int64_t axis_stride = 0, n = 1, lines = 1, inner = 1;
  Dim3 block;
  Dim3 grid;
};

Lines plan_lines(const Tensor& x, int64_t axis) {
  Lines g;
  std::vector<std::pair<int64_t, int64_t>> kept;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d == axis) {
      g.n = x.shape()[d];
      g.axis_stride = x.strides()[d];
      continue;
    }
    kept.emplace_back(x.shape()[d], x.strides()[d]);
    g.lines *= x.shape()[d];
    if (d > axis) g.inner *= x.shape()[d];
  }
  g.kept = merged_tensor_dims(kept);
  g.block = block_2d(g.lines, g.n, g.kept.innermost_contiguous() && g.axis_stride != 1);
  g.grid.x = static_cast<unsigned>(std::min(ceil_div(g.lines, g.block.x), kMaxGrid));
  return g;
}

// ---- host side ----

void sum_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  const Reduction r = plan_reduction(x, a.dims);
  if (r.rows == 0) return;
  // The mean of no values is 0 * inf = NaN, as on the CPU.
  const double scale = a.flag ? 1.0 / static_cast<double>(r.cols) : 1.0;
  Tensor partial;
  if (r.splits > 1) partial = ops::empty_tensor(Shape{r.splits * r.rows}, sum_acc_dtype(x.dtype()), out.device());
  KernelArgs args;
  args.add(x).add(out).add(partial.defined() ? device_ptr(partial) : DevicePtr{0});
  args.add(r.kept.shape).add(r.kept.strides).add(r.red.shape).add(r.red.strides);
  args.add<long long>(r.rows).add<long long>(r.cols).add<long long>(r.chunk).add<double>(scale);
  launch("sum", sum_source, x.dtype(), r.shape, args);
  if (r.splits == 1) return;
  KernelArgs combine;
  combine.add(partial).add(out).add<long long>(r.rows).add<long long>(r.splits).add<double>(scale);
  launch("sum_combine", sum_combine_source, x.dtype(), launch_1d(r.rows), combine);
}

// attrs.flag2: the minimum; kIndex: the int64 index of the winner (argmax, argmin).
template <bool kIndex>
void extremum_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  const Reduction r = plan_reduction(x, a.dims);
  if (r.rows == 0) return;
  const DevicePtr out_value = kIndex ? DevicePtr{0} : device_ptr(out);
  const DevicePtr out_index = kIndex ? device_ptr(out) : DevicePtr{0};
  Tensor partial_value, partial_index;
  if (r.splits > 1) {
    partial_value = ops::empty_tensor(Shape{r.splits * r.rows}, compute_dtype_of(x.dtype()), out.device());
    partial_index = ops::empty_tensor(Shape{r.splits * r.rows}, kInt64, out.device());
  }
  KernelArgs args;
  args.add(x).add(out_value).add(out_index);
  args.add(r.splits > 1 ? device_ptr(partial_value) : DevicePtr{0});
  args.add(r.splits > 1 ? device_ptr(partial_index) : DevicePtr{0});
  args.add(r.kept.shape).add(r.kept.strides).add(r.red.shape).add(r.red.strides);
  args.add<long long>(r.rows).add<long long>(r.cols).add<long long>(r.chunk).add<int>(a.flag2 ? 1 : 0);
  launch("extremum", extremum_source, x.dtype(), r.shape, args);
  if (r.splits == 1) return;
  KernelArgs combine;
  combine.add(partial_value).add(partial_index).add(out_value).add(out_index);
  combine.add<long long>(r.rows).add<long long>(r.splits).add<int>(a.flag2 ? 1 : 0);
  launch("extremum_combine", extremum_combine_source, x.dtype(), launch_1d(r.rows), combine);
}

// attrs.axis; attrs.flag: log_softmax.
void softmax_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  const Lines g = plan_lines(x, a.axis);
  if (g.lines == 0 || g.n == 0) return;
  KernelArgs args;
  args.add(x).add(out).add(g.kept.shape).add(g.kept.strides);
  args.add<long long>(g.axis_stride).add<long long>(g.n).add<long long>(g.lines).add<long long>(g.inner);
  args.add<int>(a.flag ? 1 : 0);
  launch("softmax", softmax_source, x.dtype(), LaunchShape{g.grid, g.block}, args);
}

void cumsum_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  const Lines g = plan_lines(x, x.dim() == 0 ? 0 : a.axis);
  if (g.lines == 0 || g.n == 0) return;
  KernelArgs args;
  args.add(x).add(out).add(g.kept.shape).add(g.kept.strides);
  args.add<long long>(g.axis_stride).add<long long>(g.n).add<long long>(g.lines).add<long long>(g.inner);
  launch("cumsum", cumsum_source, x.dtype(), LaunchShape{g.grid, g.block}, args);
}

// attrs.axis; attrs.flag: descending. Lines of up to kSortTile values sort in one block each
// (several short lines share a block); longer lines sort in tiles of kSortTile, then pairs of
// sorted runs merge, pass after pass, between `out` and a [lines, n] scratch buffer.
void argsort_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  const Lines g = plan_lines(x, x.dim() == 0 ? 0 : a.axis);
  if (g.lines == 0 || g.n == 0) return;
  const int64_t tile = std::min(g.n, kSortTile), tiles = ceil_div(g.n, tile);
  const unsigned width = pow2_at_least(tile);
  int passes = 0;
  for (int64_t run = tile; run < g.n; run *= 2) ++passes;
  Tensor scratch;
  if (passes > 0) scratch = ops::empty_tensor(Shape{g.lines * g.n}, kInt64, out.device());
  // The buffers alternate; the tile sort writes where the last merge then lands in `out`.
  struct Buffer {
    DevicePtr data;
    long long inner;
  };
  Buffer current{device_ptr(out), g.inner}, other{passes > 0 ? device_ptr(scratch) : DevicePtr{0}, 1};
  if (passes % 2 == 1) std::swap(current, other);
  const int descending = a.flag ? 1 : 0;

  const int64_t segments = g.lines * tiles, per_block = kSortTile / width;
  LaunchShape sort;
  sort.grid.x = static_cast<unsigned>(std::min(ceil_div(segments, per_block), kMaxGrid));
  sort.block.x = std::min(kBlockThreads, pow2_at_least(std::min(segments, per_block) * width / 2));
  KernelArgs args;
  args.add(x).add(current.data).add(g.kept.shape).add(g.kept.strides);
  args.add<long long>(g.axis_stride).add<long long>(g.n).add<long long>(g.lines).add<long long>(tile);
  args.add<long long>(tiles).add<int>(static_cast<int>(width)).add<long long>(current.inner).add<int>(descending);
  launch("argsort_tile", argsort_tile_source, x.dtype(), sort, args);

  for (int64_t run = tile; run < g.n; run *= 2) {
    KernelArgs merge;
    merge.add(x).add(current.data).add(other.data).add(g.kept.shape).add(g.kept.strides);
    merge.add<long long>(g.axis_stride).add<long long>(g.n).add<long long>(g.lines).add<long long>(run);
    merge.add<long long>(current.inner).add<long long>(other.inner).add<int>(descending);
    launch("argsort_merge", argsort_merge_source, x.dtype(), launch_1d(g.lines * g.n), merge);
    std::swap(current, other);
  }
}

std::vector<KernelSource> reduce_sources() {
  std::vector<KernelSource> all;
  auto add = [&](const char* op, const char* kernel, std::string (*source)(DType), std::span<const DType> dtypes) {
    for (DType d : dtypes) all.push_back({op, d, entry_of(kernel, d), source(d)});
  };
  add("sum", "sum", sum_source, kAllDTypes);
  add("sum", "sum_combine", sum_combine_source, kAllDTypes);
  add("amax", "extremum", extremum_source, kNumericDTypes);
  add("amax", "extremum_combine", extremum_combine_source, kNumericDTypes);
  add("softmax", "softmax", softmax_source, kFloatingDTypes);
  add("cumsum", "cumsum", cumsum_source, kNumericDTypes);
  add("argsort", "argsort_tile", argsort_tile_source, kNumericDTypes);
  add("argsort", "argsort_merge", argsort_merge_source, kNumericDTypes);
  return all;
}

const KernelSourceFamily family("reduce", reduce_sources);
const CudaKernel sum_registration("sum", sum_kernel);
const CudaKernel amax_registration("amax", extremum_kernel<false>);
const CudaKernel argmax_registration("argmax", extremum_kernel<true>);
const CudaKernel softmax_registration("softmax", softmax_kernel);
const CudaKernel cumsum_registration("cumsum", cumsum_kernel);
const CudaKernel argsort_registration("argsort", argsort_kernel);

}  // namespace

}  // namespace tl::rt::cuda
