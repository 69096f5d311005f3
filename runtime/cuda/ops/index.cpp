// CUDA kernels of the op table's data-movement and indexing ops (runtime/cuda/launch.h says
// how op kernels are written: a source per dtype, sizes and strides as parameters): copy, cat,
// slice_backward, gather, index_select, one_hot, and the accumulating index_add and scatter_add.
//
// Index values are checked on the device before any kernel uses them (one small reduction
// read back by the host), so a bad index raises ValueError naming the op instead of reading
// or writing out of bounds. index_add and scatter_add add without floating atomics: a stable
// merge sort of each index line gives every output element the sources that land on it, in
// the CPU's order, so sums are deterministic and match the CPU's rounding.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "runtime/cuda/launch.h"
#include "runtime/device_backend.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

constexpr DType kAllDTypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kBool};
constexpr DType kNumericDTypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64};
constexpr DType kIndexDTypes[] = {kInt32, kInt64};

// Block size of every kernel here; the shared arrays of the reductions and the sort are sized
// for it.
constexpr unsigned kThreads = 256;

// `text` with each "$KEY" replaced by its value (keys are tried in order, so none may be a
// prefix of a later one).
std::string substitute(std::string text, const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [key, value] : values) {
    const std::string pattern = "$" + key;
    for (size_t at = text.find(pattern); at != std::string::npos; at = text.find(pattern, at + value.size()))
      text.replace(at, pattern.size(), value);
  }
  return text;
}

std::string entry(const char* op, DType dtype) { return std::string("tl_") + op + "_" + dtype_name(dtype); }
std::string entry(const char* op, DType dtype, DType index) { return entry(op, dtype) + "_" + dtype_name(index); }

KernelStrides raw_strides(const Tensor& t) {
  KernelStrides s;
  for (int64_t d = 0; d < t.dim() && d < kMaxKernelRank; ++d) s.stride[d] = t.strides()[d];
  return s;
}

// ---- copy: any strided operand into a contiguous result ----

std::string copy_source(DType dtype) {
  const std::string t = storage_type(dtype);
  return "extern \"C\" __global__ void " + entry("copy", dtype) + "(const " + t + "* __restrict__ in, " + t +
         "* __restrict__ out, TlShape shape, TlStrides s_in, long long n) {\n"
         "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
         "       i += (long long)gridDim.x * blockDim.x) {\n"
         "    long long rest = i, offset = 0;\n"
         "    for (int d = shape.rank - 1; d >= 0; --d) {\n"
         "      const long long c = rest % shape.size[d];\n"
         "      rest /= shape.size[d];\n"
         "      offset += c * s_in.stride[d];\n"
         "    }\n"
         "    out[i] = in[offset];\n"
         "  }\n"
         "}\n";
}

void copy_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs&) {
  const Tensor& x = in[0];
  const int64_t n = out.numel();
  KernelArgs args;
  args.add(x).add(out).add(kernel_shape(x.shape())).add(kernel_strides(x, x.dim())).add<long long>(n);
  launch_kernel(entry("copy", x.dtype()), x.dtype(), [&] { return copy_source(x.dtype()); }, launch_1d(n), args);
}

// ---- index checks ----

// first_bad: (gridDim.x, 2) int64: per block, the smallest row-major position of an index
// value outside [0, bound) and that value; (n, 0) when there is none. Each thread walks its
// positions in increasing order, so its first bad one is its smallest.
const char* kIndexCheckSource = R"(
extern "C" __global__ void $NAME(const $I* __restrict__ index, long long* __restrict__ first_bad,
                                 TlShape shape, TlStrides s_index, long long bound, long long n) {
  __shared__ long long at[256];
  __shared__ long long value[256];
  long long my_at = n, my_value = 0;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    long long rest = i, offset = 0;
    for (int d = shape.rank - 1; d >= 0; --d) {
      offset += rest % shape.size[d] * s_index.stride[d];
      rest /= shape.size[d];
    }
    const long long v = (long long)index[offset];
    if (v < 0 || v >= bound) {
      my_at = i;
      my_value = v;
      break;
    }
  }
  const unsigned t = threadIdx.x;
  at[t] = my_at;
  value[t] = my_value;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half && at[t + half] < at[t]) {
      at[t] = at[t + half];
      value[t] = value[t + half];
    }
    __syncthreads();
  }
  if (t == 0) {
    first_bad[2 * blockIdx.x] = at[0];
    first_bad[2 * blockIdx.x + 1] = value[0];
  }
}
)";

std::string index_check_source(DType index) {
  return substitute(kIndexCheckSource, {{"NAME", entry("index_check", index)}, {"I", storage_type(index)}});
}

// Throws ValueError, as the public functions do on the CPU, unless every value of `index` lies
// in [0, bound). `what` names the index operand and `target` what it indexes. Waits for the
// device: the verdict is read back before any kernel trusts the values.
void check_index_range(const Tensor& index, int64_t bound, const char* op, const char* what,
                       const std::string& target) {
  const int64_t n = index.numel();
  if (n == 0) return;
  LaunchShape shape = launch_1d(n, kThreads);
  shape.grid.x = std::min(shape.grid.x, 1024u);
  Tensor first_bad = ops::empty_tensor(Shape{static_cast<int64_t>(shape.grid.x), 2}, kInt64, index.device(), op);
  KernelArgs args;
  args.add(index).add(first_bad).add(kernel_shape(index.shape())).add(kernel_strides(index, index.dim()));
  args.add<long long>(bound).add<long long>(n);
  launch_kernel(entry("index_check", index.dtype()), kInt64,
                [&] { return index_check_source(index.dtype()); }, shape, args);

  auto verdict = [n, bound, op = std::string(op), what = std::string(what), target](const std::vector<int64_t>& host) {
    int64_t at = n, value = 0;
    for (size_t b = 0; b + 1 < host.size(); b += 2) {
      if (host[b] < at) {
        at = host[b];
        value = host[b + 1];
      }
    }
    if (at == n) return;
    throw ValueError("tl::" + op + ": " + what + " value " + std::to_string(value) + " (element " +
                     std::to_string(at) + ") is out of range for " + target + " of size " + std::to_string(bound) +
                     " (valid values are 0 to " + std::to_string(bound - 1) + "; negative indices are not supported)");
  };
  // Captured into a graph, the host cannot wait here: the verdict is read after each replay,
  // and the kernels that use the index skip values out of range meanwhile.
  if (DeferredChecks* deferred = capturing_checks()) {
    deferred->add(first_bad, verdict);
    return;
  }
  std::vector<int64_t> host(static_cast<size_t>(first_bad.numel()));
  backend_for(index.device(), op).copy(host.data(), kCPU, first_bad.data_ptr(), index.device(), first_bad.nbytes());
  verdict(host);
}

std::string dim_of(int64_t axis, const char* tensor) {
  return "dim " + std::to_string(axis) + " of " + tensor;
}

// ---- cat: each operand copied into its slice of the result ----

// out points at the operand's slice of the result; s_out are the result's strides.
const char* kCatSource = R"(
extern "C" __global__ void $NAME(const $T* __restrict__ in, $T* __restrict__ out, TlShape shape,
                                 TlStrides s_in, TlStrides s_out, long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    long long rest = i, from = 0, to = 0;
    for (int d = shape.rank - 1; d >= 0; --d) {
      const long long c = rest % shape.size[d];
      rest /= shape.size[d];
      from += c * s_in.stride[d];
      to += c * s_out.stride[d];
    }
    out[to] = in[from];
  }
}
)";

std::string cat_source(DType dtype) {
  return substitute(kCatSource, {{"NAME", entry("cat", dtype)}, {"T", storage_type(dtype)}});
}

void cat_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const DType dtype = out.dtype();
  const KernelStrides s_out = raw_strides(out);
  int64_t offset = 0;
  for (const Tensor& t : in) {
    const int64_t size = t.shape()[a.axis], n = t.numel();
    if (n > 0) {
      const DevicePtr slice =
          device_ptr(out) + static_cast<DevicePtr>(offset * out.strides()[a.axis]) * dtype_size(dtype);
      KernelArgs args;
      args.add(t).add(slice).add(kernel_shape(t.shape())).add(kernel_strides(t, t.dim())).add(s_out);
      args.add<long long>(n);
      launch_kernel(entry("cat", dtype), dtype, [&] { return cat_source(dtype); }, launch_1d(n, kThreads), args);
    }
    offset += size;
  }
}

// ---- slice_backward: zeros with the gradient in the slice, in one pass over the result ----

// out: the sliced input's shape (contiguous); in: the gradient, len entries along axis, which
// land at out positions start, start + step, ...
const char* kSliceBackwardSource = R"(
extern "C" __global__ void $NAME(const $T* __restrict__ in, $T* __restrict__ out, TlShape shape,
                                 TlStrides s_in, int axis, long long start, long long step, long long len,
                                 long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    long long rest = i, from = 0;
    bool inside = true;
    for (int d = shape.rank - 1; d >= 0; --d) {
      long long c = rest % shape.size[d];
      rest /= shape.size[d];
      if (d == axis) {
        c -= start;
        inside = c >= 0 && c % step == 0 && c / step < len;
        c /= step;
      }
      from += c * s_in.stride[d];
    }
    out[i] = inside ? in[from] : ($T)0.0f;
  }
}
)";

std::string slice_backward_source(DType dtype) {
  return substitute(kSliceBackwardSource, {{"NAME", entry("slice_backward", dtype)}, {"T", storage_type(dtype)}});
}

void slice_backward_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& dout = in[0];
  const DType dtype = out.dtype();
  const int64_t n = out.numel();
  KernelArgs args;
  args.add(dout).add(out).add(kernel_shape(out.shape())).add(kernel_strides(dout, dout.dim()));
  args.add<int>(static_cast<int>(a.axis)).add<long long>(a.count).add<long long>(a.step);
  args.add<long long>(dout.shape()[a.axis]).add<long long>(n);
  launch_kernel(entry("slice_backward", dtype), dtype,
                [&] { return slice_backward_source(dtype); }, launch_1d(n, kThreads), args);
}

// ---- gather ----

// out (index's shape) = x at index along axis; x and index at any strides.
const char* kGatherSource = R"(
extern "C" __global__ void $NAME(const $T* __restrict__ x, const $I* __restrict__ index, $T* __restrict__ out,
                                 TlShape shape, TlStrides s_x, TlStrides s_index, int axis, long long bound,
                                 long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    long long rest = i, from = 0, at = 0;
    for (int d = shape.rank - 1; d >= 0; --d) {
      const long long c = rest % shape.size[d];
      rest /= shape.size[d];
      at += c * s_index.stride[d];
      if (d != axis) from += c * s_x.stride[d];
    }
    const long long k = (long long)index[at];
    // A value out of range (reported by the index check) reads nothing.
    out[i] = k >= 0 && k < bound ? x[from + k * s_x.stride[axis]] : ($T)0.0f;
  }
}
)";

std::string gather_source(DType dtype, DType index) {
  return substitute(kGatherSource,
                    {{"NAME", entry("gather", dtype, index)}, {"T", storage_type(dtype)}, {"I", storage_type(index)}});
}

void gather_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor &x = in[0], &index = in[1];
  check_index_range(index, x.shape()[a.axis], "gather", "index", dim_of(a.axis, "x"));
  const int64_t n = out.numel();
  KernelArgs args;
  args.add(x).add(index).add(out).add(kernel_shape(index.shape())).add(kernel_strides(x, x.dim()));
  args.add(kernel_strides(index, index.dim())).add<int>(static_cast<int>(a.axis));
  args.add<long long>(x.shape()[a.axis]).add<long long>(n);
  launch_kernel(entry("gather", x.dtype(), index.dtype()), x.dtype(),
                [&] { return gather_source(x.dtype(), index.dtype()); }, launch_1d(n, kThreads), args);
}

// ---- index_select ----

// out: x's shape with K = index's length along axis; out[..., k, ...] = x[..., index[k], ...].
const char* kIndexSelectSource = R"(
extern "C" __global__ void $NAME(const $T* __restrict__ x, const $I* __restrict__ index, $T* __restrict__ out,
                                 TlShape shape, TlStrides s_x, long long s_index, int axis, long long bound,
                                 long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    long long rest = i, from = 0;
    bool inside = true;
    for (int d = shape.rank - 1; d >= 0; --d) {
      const long long c = rest % shape.size[d];
      rest /= shape.size[d];
      const long long k = d == axis ? (long long)index[c * s_index] : c;
      if (d == axis) inside = k >= 0 && k < bound;
      from += k * s_x.stride[d];
    }
    // A value out of range (reported by the index check) reads nothing.
    out[i] = inside ? x[from] : ($T)0.0f;
  }
}
)";

std::string index_select_source(DType dtype, DType index) {
  return substitute(kIndexSelectSource, {{"NAME", entry("index_select", dtype, index)},
                                         {"T", storage_type(dtype)},
                                         {"I", storage_type(index)}});
}

void index_select_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor &x = in[0], &index = in[1];
  check_index_range(index, x.shape()[a.axis], "index_select", "index", dim_of(a.axis, "x"));
  const int64_t n = out.numel();
  KernelArgs args;
  args.add(x).add(index).add(out).add(kernel_shape(out.shape())).add(kernel_strides(x, x.dim()));
  args.add<long long>(index.strides()[0]).add<int>(static_cast<int>(a.axis)).add<long long>(x.shape()[a.axis]);
  args.add<long long>(n);
  launch_kernel(entry("index_select", x.dtype(), index.dtype()), x.dtype(),
                [&] { return index_select_source(x.dtype(), index.dtype()); }, launch_1d(n, kThreads), args);
}

// ---- one_hot ----

// out: (index's shape..., count) float32, row-major.
const char* kOneHotSource = R"(
extern "C" __global__ void $NAME(const $I* __restrict__ index, float* __restrict__ out, TlShape shape,
                                 TlStrides s_index, long long count, long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    long long rest = i / count, at = 0;
    for (int d = shape.rank - 1; d >= 0; --d) {
      at += rest % shape.size[d] * s_index.stride[d];
      rest /= shape.size[d];
    }
    out[i] = (long long)index[at] == i % count ? 1.0f : 0.0f;
  }
}
)";

std::string one_hot_source(DType index) {
  return substitute(kOneHotSource, {{"NAME", entry("one_hot", index)}, {"I", storage_type(index)}});
}

void one_hot_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  const Tensor& index = in[0];
  check_index_range(index, a.count, "one_hot", "indices", "num_classes");
  const int64_t n = out.numel();
  KernelArgs args;
  args.add(index).add(out).add(kernel_shape(index.shape())).add(kernel_strides(index, index.dim()));
  args.add<long long>(a.count).add<long long>(n);
  launch_kernel(entry("one_hot", index.dtype()), kInt64,
                [&] { return one_hot_source(index.dtype()); }, launch_1d(n, kThreads), args);
}

// ---- index_add and scatter_add: a stable sort of each index line, then a sum per element ----
//
// An index of `lines` lines of J values each (index_add: one line, the 1-D index; scatter_add:
// one line along axis per position of the other dims) is sorted line by line into keys (the
// values) and perm (their positions in the line), ties in position order. Output element e,
// at r along axis, then adds the sources at perm[lo..hi), the run of keys equal to r, in that
// order: the order of the CPU kernels' loops.

// The position in the merged run of element j of two adjacent sorted runs [s, mid) and
// [mid, end) of keys: j's position in its own run plus how many of the other run precede it,
// the left run's first among equal keys (a stable merge).
const char* kMergeRankSource = R"(
__device__ inline long long $NAME_rank(const long long* keys, long long s, long long mid, long long end,
                                       long long j) {
  const long long key = keys[j];
  long long lo = j < mid ? mid : s, hi = j < mid ? end : mid;
  while (lo < hi) {
    const long long m = lo + (hi - lo) / 2;
    if (j < mid ? keys[m] < key : keys[m] <= key) lo = m + 1;
    else hi = m;
  }
  return j < mid ? j + (lo - mid) : j - mid + lo;
}
)";

// keys, perm: (lines, J), J = shape.size[axis]; line l enumerates the index's coordinates other
// than axis, row-major. Loads the index and sorts its runs of `width` (a power of two <= the
// block size, aligned in each line) in shared memory: each block sorts blockDim.x / width runs.
const char* kSortRunsSource = R"(
extern "C" __global__ void $NAME(const $I* __restrict__ index, long long* __restrict__ keys,
                                 long long* __restrict__ perm, TlShape shape, TlStrides s_index, int axis,
                                 long long lines, long long width, long long tiles) {
  __shared__ long long keys_a[256];
  __shared__ long long keys_b[256];
  __shared__ long long perm_a[256];
  __shared__ long long perm_b[256];
  const long long J = shape.size[axis];
  const long long runs_per_line = (J + width - 1) / width;
  const long long runs_per_tile = blockDim.x / width;
  const int t = threadIdx.x;
  const long long slot = t % width;
  const int base = t - (int)slot;
  for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const long long run = tile * runs_per_tile + t / width;
    const long long line = run / runs_per_line, j0 = run % runs_per_line * width;
    const long long len = line < lines ? (J - j0 < width ? J - j0 : width) : 0;
    const bool valid = slot < len;
    if (valid) {
      long long rest = line, at = (j0 + slot) * s_index.stride[axis];
      for (int d = shape.rank - 1; d >= 0; --d) {
        if (d == axis) continue;
        at += rest % shape.size[d] * s_index.stride[d];
        rest /= shape.size[d];
      }
      keys_a[t] = (long long)index[at];
      perm_a[t] = j0 + slot;
    }
    __syncthreads();
    long long *keys_in = keys_a, *keys_out = keys_b, *perm_in = perm_a, *perm_out = perm_b;
    for (long long w = 1; w < width; w *= 2) {
      if (valid) {
        const long long s = slot - slot % (2 * w);
        const long long mid = s + w < len ? s + w : len, end = s + 2 * w < len ? s + 2 * w : len;
        const long long to = base + $NAME_rank(keys_in + base, s, mid, end, slot);
        keys_out[to] = keys_in[t];
        perm_out[to] = perm_in[t];
      }
      __syncthreads();
      long long* k = keys_in;
      keys_in = keys_out;
      keys_out = k;
      long long* p = perm_in;
      perm_in = perm_out;
      perm_out = p;
    }
    if (valid) {
      keys[line * J + j0 + slot] = keys_in[t];
      perm[line * J + j0 + slot] = perm_in[t];
    }
    __syncthreads();
  }
}
)";

// One merge pass over (n / J) lines of J: sorted runs of `width` (aligned in each line) become
// sorted runs of 2 * width.
const char* kMergeSource = R"(
extern "C" __global__ void $NAME(const long long* __restrict__ keys_in, const long long* __restrict__ perm_in,
                                 long long* __restrict__ keys_out, long long* __restrict__ perm_out, long long J,
                                 long long width, long long n) {
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;
       e += (long long)gridDim.x * blockDim.x) {
    const long long base = e / J * J, j = e - base;
    const long long s = j - j % (2 * width);
    const long long mid = s + width < J ? s + width : J, end = s + 2 * width < J ? s + 2 * width : J;
    const long long to = base + $NAME_rank(keys_in + base, s, mid, end, j);
    keys_out[to] = keys_in[e];
    perm_out[to] = perm_in[e];
  }
}
)";

// out (shape) from src (src_shape: out's rank, J along axis, no larger elsewhere), at any
// strides: each element adds the sources whose key is its coordinate along axis, in perm's
// order, rounding to T after each addition as the CPU does. per_line 0: one key line for all
// elements (index_add); 1: the line of the element's other coordinates (scatter_add), and
// elements outside src's extent are 0.
const char* kScatterSumSource = R"(
__device__ inline long long $NAME_lower_bound(const long long* keys, long long lo, long long hi, long long key) {
  while (lo < hi) {
    const long long m = lo + (hi - lo) / 2;
    if (keys[m] < key) lo = m + 1;
    else hi = m;
  }
  return lo;
}

extern "C" __global__ void $NAME(const $T* __restrict__ src, const long long* __restrict__ keys,
                                 const long long* __restrict__ perm, $T* __restrict__ out, TlShape shape,
                                 TlShape src_shape, TlStrides s_src, int axis, int per_line, long long n) {
  const long long J = src_shape.size[axis];
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    long long rest = i, from = 0, line = 0, line_size = 1, r = 0;
    bool inside = true;
    for (int d = shape.rank - 1; d >= 0; --d) {
      const long long c = rest % shape.size[d];
      rest /= shape.size[d];
      if (d == axis) {
        r = c;
        continue;
      }
      inside = inside && c < src_shape.size[d];
      from += c * s_src.stride[d];
      line += c * line_size;
      line_size *= src_shape.size[d];
    }
    $T sum = ($T)0.0f;
    if (inside) {
      const long long base = per_line ? line * J : 0;
      const long long lo = $NAME_lower_bound(keys, base, base + J, r);
      const long long hi = $NAME_lower_bound(keys, lo, base + J, r + 1);
      for (long long j = lo; j < hi; ++j)
        sum = ($T)(($C)sum + ($C)src[from + perm[j] * s_src.stride[axis]]);
    }
    out[i] = sum;
  }
}
)";

std::string sort_runs_source(DType index) {
  const std::string name = entry("index_sort_runs", index);
  return substitute(std::string(kMergeRankSource) + kSortRunsSource, {{"NAME", name}, {"I", storage_type(index)}});
}

std::string merge_source() {
  return substitute(std::string(kMergeRankSource) + kMergeSource, {{"NAME", "tl_index_sort_merge"}});
}

std::string scatter_sum_source(DType dtype) {
  return substitute(kScatterSumSource, {{"NAME", entry("index_scatter_sum", dtype)},
                                        {"T", storage_type(dtype)},
                                        {"C", compute_type(dtype)}});
}

// Adds src (its shape: out's rank, J along axis) into out along axis at `index` (lines of J;
// a 1-D index when !per_line, else src's shape). Allocates keys and perm twice over on the
// device: (4, index.numel()) int64.
void scatter_sum(const Tensor& src, const Tensor& index, Tensor& out, int64_t axis, bool per_line, const char* op) {
  const int64_t index_axis = per_line ? axis : 0;
  const int64_t m = index.numel(), J = index.shape()[index_axis];
  Tensor scratch = ops::empty_tensor(Shape{4, m}, kInt64, out.device(), op);
  const DevicePtr bytes = static_cast<DevicePtr>(m) * sizeof(int64_t);
  DevicePtr keys = device_ptr(scratch), perm = keys + bytes, keys_other = perm + bytes, perm_other = keys_other + bytes;
  if (m > 0) {
    // Sort the runs of a block (or of a line, when shorter) in shared memory, then merge.
    int64_t width = 1;
    while (width < J && width < static_cast<int64_t>(kThreads)) width *= 2;
    const int64_t lines = m / J;
    const int64_t runs = lines * ((J + width - 1) / width), runs_per_tile = kThreads / width;
    const int64_t tiles = (runs + runs_per_tile - 1) / runs_per_tile;
    LaunchShape shape;
    shape.block.x = kThreads;
    shape.grid.x = static_cast<unsigned>(std::min<int64_t>(tiles, 65535));
    KernelArgs args;
    args.add(index).add(keys).add(perm).add(kernel_shape(index.shape())).add(kernel_strides(index, index.dim()));
    args.add<int>(static_cast<int>(index_axis)).add<long long>(lines).add<long long>(width).add<long long>(tiles);
    launch_kernel(entry("index_sort_runs", index.dtype()), kInt64,
                  [&] { return sort_runs_source(index.dtype()); }, shape, args);
    for (; width < J; width *= 2) {
      KernelArgs merge;
      merge.add(keys).add(perm).add(keys_other).add(perm_other).add<long long>(J).add<long long>(width);
      merge.add<long long>(m);
      launch_kernel("tl_index_sort_merge", kInt64, [&] { return merge_source(); }, launch_1d(m, kThreads), merge);
      std::swap(keys, keys_other);
      std::swap(perm, perm_other);
    }
  }
  const DType dtype = out.dtype();
  const int64_t n = out.numel();
  KernelArgs args;
  args.add(src).add(keys).add(perm).add(out).add(kernel_shape(out.shape())).add(kernel_shape(src.shape()));
  args.add(kernel_strides(src, src.dim())).add<int>(static_cast<int>(axis)).add<int>(per_line ? 1 : 0);
  args.add<long long>(n);
  launch_kernel(entry("index_scatter_sum", dtype), dtype,
                [&] { return scatter_sum_source(dtype); }, launch_1d(n, kThreads), args);
}

// out: attrs.dims = zeros, then out[:, index[k], :] += src[:, k, :] for k in order.
void index_add_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  check_index_range(in[1], out.shape()[a.axis], "index_add", "index", dim_of(a.axis, "the result"));
  scatter_sum(in[0], in[1], out, a.axis, false, "index_add");
}

// out: attrs.dims = zeros, then out[..., index[..., j, ...], ...] += src[..., j, ...] for j in
// order along each line.
void scatter_add_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  check_index_range(in[1], out.shape()[a.axis], "scatter_add", "index", dim_of(a.axis, "the result"));
  scatter_sum(in[0], in[1], out, a.axis, true, "scatter_add");
}

std::vector<KernelSource> index_sources() {
  std::vector<KernelSource> all;
  for (DType d : kAllDTypes) {
    all.push_back({"copy", d, entry("copy", d), copy_source(d)});
    all.push_back({"cat", d, entry("cat", d), cat_source(d)});
    all.push_back({"slice_backward", d, entry("slice_backward", d), slice_backward_source(d)});
    for (DType i : kIndexDTypes) {
      all.push_back({"gather", d, entry("gather", d, i), gather_source(d, i)});
      all.push_back({"index_select", d, entry("index_select", d, i), index_select_source(d, i)});
    }
  }
  for (DType d : kNumericDTypes)
    all.push_back({"index_add", d, entry("index_scatter_sum", d), scatter_sum_source(d)});
  for (DType i : kIndexDTypes) {
    all.push_back({"index_check", kInt64, entry("index_check", i), index_check_source(i)});
    all.push_back({"one_hot", kInt64, entry("one_hot", i), one_hot_source(i)});
    all.push_back({"index_add", kInt64, entry("index_sort_runs", i), sort_runs_source(i)});
  }
  all.push_back({"index_add", kInt64, "tl_index_sort_merge", merge_source()});
  return all;
}

const KernelSourceFamily family("index", index_sources);
const CudaKernel copy_registration("copy", copy_kernel);
const CudaKernel cat_registration("cat", cat_kernel);
const CudaKernel slice_backward_registration("slice_backward", slice_backward_kernel);
const CudaKernel gather_registration("gather", gather_kernel);
const CudaKernel index_select_registration("index_select", index_select_kernel);
const CudaKernel one_hot_registration("one_hot", one_hot_kernel);
const CudaKernel index_add_registration("index_add", index_add_kernel);
const CudaKernel scatter_add_registration("scatter_add", scatter_add_kernel);

}  // namespace

}  // namespace tl::rt::cuda
