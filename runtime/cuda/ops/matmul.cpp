// CUDA kernels of the op table's matmul ops (runtime/cuda/launch.h says how op kernels are
// written): matmul, a (..., M, K) @ b (..., K, N) with broadcast batch dims, and matmul_bias,
// the same with b (K, N), a bias (N) added along the last dim and an optional relu. On a GPU
// they run cuBLASLt (runtime/cuda/cublas.h); where it cannot be loaded, and in host tests, tl's
// own tiled kernel, which reads any operand strides in place.
#include <algorithm>
#include <climits>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/cuda/cublas.h"
#include "runtime/cuda/launch.h"
#include "runtime/logging.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

// M, N, K: a is (M, K), b (K, N), out (M, N) per batch element.

constexpr DType kMatmulDTypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16};
constexpr int kTile = 64;          // out tile per block: kTile x kTile
constexpr unsigned kThreads = 256;  // 16 x 16 threads, each a 4 x 4 block of the tile

// ---- the tiled kernel ----

std::string matmul_entry(DType dtype) { return std::string("tl_matmul_") + dtype_name(dtype); }

// a: (batch..., M, K) at strides (sa_batch..., sa_m, sa_k); b: (batch..., K, N) at (sb_batch...,
// sb_k, sb_n): stride 0 along broadcast dims. bias: (N) at s_bias, or null. out: (batch..., M, N)
// contiguous. Block (x, y) computes out tile (y, x) of batch element z, stepping by the grid when
// there are more tiles or batch elements than blocks. Each K step stages a (64 x 16) slice of a
// and a (16 x 64) slice of b in shared memory, loaded along whichever of each operand's dims is
// unit-stride (coalesced for row-major operands and for transposed views alike); thread (tx, ty)
// accumulates rows ty + 16i and columns tx + 16j (i, j < 4), k in increasing order, in C
// (float for float32 and 16-bit types, double for float64), so results do not depend on the grid.
// The bias is added to the accumulator before the one rounding to T; relu maps NaN to 0, as the
// CPU kernel's !(v > 0) does.
constexpr const char* kMatmulSource = R"(extern "C" __global__ void $ENTRY(
    const $T* __restrict__ a, const $T* __restrict__ b, const $T* __restrict__ bias, $T* __restrict__ out,
    long long M, long long N, long long K, long long sa_m, long long sa_k, long long sb_k, long long sb_n,
    long long s_bias, TlShape batch, TlStrides sa_batch, TlStrides sb_batch, long long nbatch, int relu) {
  __shared__ $C a_tile[16][65];  // [k][m]; the pad spreads the column writes over the banks
  __shared__ $C b_tile[16][65];  // [k][n]
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const long long tiles_m = (M + 63) / 64, tiles_n = (N + 63) / 64;
  for (long long z = blockIdx.z; z < nbatch; z += gridDim.z) {
    long long rest = z, oa = 0, ob = 0;
    for (int d = batch.rank - 1; d >= 0; --d) {
      const long long c = rest % batch.size[d];
      rest /= batch.size[d];
      oa += c * sa_batch.stride[d];
      ob += c * sb_batch.stride[d];
    }
    const $T* az = a + oa;
    const $T* bz = b + ob;
    $T* outz = out + z * M * N;
    for (long long tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      for (long long tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
        const long long m0 = tm * 64, n0 = tn * 64;
        $C acc[4][4];
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) acc[i][j] = 0;
        for (long long k0 = 0; k0 < K; k0 += 16) {
          for (int i = 0; i < 4; ++i) {
            // Neighbouring threads read neighbouring elements: along k for row-major a, else along m.
            const int mm = sa_k == 1 ? t / 16 + 16 * i : t % 64;
            const int kk = sa_k == 1 ? t % 16 : t / 64 + 4 * i;
            const long long m = m0 + mm, k = k0 + kk;
            a_tile[kk][mm] = m < M && k < K ? ($C)az[m * sa_m + k * sa_k] : ($C)0;
          }
          for (int i = 0; i < 4; ++i) {
            const int nn = sb_n == 1 ? t % 64 : t / 16 + 16 * i;
            const int kk = sb_n == 1 ? t / 64 + 4 * i : t % 16;
            const long long n = n0 + nn, k = k0 + kk;
            b_tile[kk][nn] = n < N && k < K ? ($C)bz[k * sb_k + n * sb_n] : ($C)0;
          }
          __syncthreads();
          for (int kk = 0; kk < 16; ++kk) {
            $C av[4], bv[4];
            for (int i = 0; i < 4; ++i) av[i] = a_tile[kk][ty + 16 * i];
            for (int j = 0; j < 4; ++j) bv[j] = b_tile[kk][tx + 16 * j];
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
          }
          __syncthreads();
        }
        for (int i = 0; i < 4; ++i) {
          const long long m = m0 + ty + 16 * i;
          if (m >= M) continue;
          for (int j = 0; j < 4; ++j) {
            const long long n = n0 + tx + 16 * j;
            if (n >= N) continue;
            $C v = acc[i][j];
            if (bias != 0) v += ($C)bias[n * s_bias];
            if (relu) v = v > 0 ? v : ($C)0;
            outz[m * N + n] = ($T)(v);
          }
        }
      }
    }
  }
}
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

std::string matmul_source(DType dtype) {
  std::string s = replace_all(kMatmulSource, "$ENTRY", matmul_entry(dtype));
  s = replace_all(s, "$T", storage_type(dtype));
  return replace_all(s, "$C", compute_type(dtype));
}

// The batch dims of the result (all but its last two).
Shape batch_shape(const Tensor& out) { return Shape(out.shape().begin(), out.shape().end() - 2); }

// out = a @ b (+ bias) (relu) with the tiled kernel, reading a, b and bias at their strides.
void matmul_tiled(const Tensor& a, const Tensor& b, const Tensor& bias, bool relu, Tensor& out) {
  const int64_t rank = out.dim();
  const int64_t M = out.shape()[rank - 2], N = out.shape()[rank - 1], K = a.shape()[a.dim() - 1];
  const Shape batch = batch_shape(out);
  const int64_t nbatch = batch.numel();
  // Right-aligned to out, 0 along the dims an operand broadcasts: the batch part, then the matrix's.
  const KernelStrides sa = kernel_strides(a, rank), sb = kernel_strides(b, rank);
  KernelStrides sa_batch, sb_batch;
  for (int64_t d = 0; d < rank - 2; ++d) {
    sa_batch.stride[d] = sa.stride[d];
    sb_batch.stride[d] = sb.stride[d];
  }
  const bool has_bias = bias.defined();
  KernelArgs args;
  args.add(a).add(b).add(has_bias ? device_ptr(bias) : DevicePtr{0}).add(out);
  args.add<long long>(M).add<long long>(N).add<long long>(K);
  args.add<long long>(sa.stride[rank - 2]).add<long long>(sa.stride[rank - 1]);
  args.add<long long>(sb.stride[rank - 2]).add<long long>(sb.stride[rank - 1]);
  args.add<long long>(has_bias ? bias.strides()[0] : 0);
  args.add(kernel_shape(batch)).add(sa_batch).add(sb_batch).add<long long>(nbatch).add<int>(relu ? 1 : 0);
  LaunchShape shape;
  shape.block.x = kThreads;
  shape.grid.x = static_cast<unsigned>(std::min<int64_t>((N + kTile - 1) / kTile, INT_MAX));
  shape.grid.y = static_cast<unsigned>(std::min<int64_t>((M + kTile - 1) / kTile, 65535));
  shape.grid.z = static_cast<unsigned>(std::min<int64_t>(nbatch, 65535));
  const DType dtype = out.dtype();
  launch_kernel(matmul_entry(dtype), dtype, [&] { return matmul_source(dtype); }, shape, args);
}

// ---- cuBLASLt ----

// `t` (on the device) as a contiguous tensor of `shape` it broadcasts to, through the copy
// op's CUDA kernel.
Tensor expanded_copy(const Tensor& t, const Shape& shape) {
  const KernelStrides s = kernel_strides(t, shape.size());
  Shape strides;
  for (int64_t d = 0; d < shape.size(); ++d) strides.push_back(s.stride[d]);
  const Tensor view = ops::make_view(t, shape, strides, t.storage_offset());
  Tensor copy = ops::empty_tensor(shape, t.dtype(), t.device(), "matmul");
  const ops::OpDef* op = ops::find_op("copy");
  const ops::KernelFn kernel = op == nullptr ? nullptr : op->kernels[static_cast<int>(DeviceType::kCUDA)];
  TL_ASSERT(kernel != nullptr, "the copy op has no CUDA kernel");
  kernel(std::span<const Tensor>(&view, 1), copy, ops::Attrs{});
  return copy;
}

// The last two dims of `t` (rows x cols) over `batch` (the result's batch dims) as cuBLASLt
// reads them in place: one matrix dim unit-stride, the other's stride at least the length of
// that dim (a leading dimension), and the batch at one stride (0 when broadcast). nullopt otherwise.
std::optional<LtOperand> lt_operand(const Tensor& t, const Shape& batch) {
  const int64_t rank = batch.size() + 2;
  const int64_t rows = t.shape()[t.dim() - 2], cols = t.shape()[t.dim() - 1];
  int64_t rs = t.strides()[t.dim() - 2], cs = t.strides()[t.dim() - 1];
  // A size-1 dim's stride is arbitrary: pick the one that makes the matrix row-major.
  if (cols == 1) cs = 1;
  if (rows == 1) rs = cols;
  LtOperand op;
  op.data = device_ptr(t);
  op.row_stride = rs;
  op.col_stride = cs;
  if (!(cs == 1 && rs >= std::max<int64_t>(cols, 1)) && !(rs == 1 && cs >= std::max<int64_t>(rows, 1)))
    return std::nullopt;
  // Batch element z (row-major over `batch`) at z * stride: each dim's stride is the next inner
  // (non-unit) dim's times its size, which a broadcast operand (all 0) satisfies too.
  const KernelStrides s = kernel_strides(t, rank);
  int64_t stride = 0, inner = 0;  // inner: the batch elements one step of the current dim skips
  for (int64_t d = batch.size() - 1; d >= 0; --d) {
    if (batch[d] == 1) continue;
    if (inner == 0) {
      stride = s.stride[d];
      inner = batch[d];
    } else {
      if (s.stride[d] != stride * inner) return std::nullopt;
      inner *= batch[d];
    }
  }
  op.batch_stride = stride;
  return op;
}

// out = a @ b (+ bias) (relu) with cuBLASLt; false (and why) when it offers no algorithm.
bool matmul_cublas(const CublasLt& lt, const Tensor& a_in, const Tensor& b_in, const Tensor& bias_in, bool relu,
                   Tensor& out, std::string* why) {
  const int64_t rank = out.dim();
  int64_t M = out.shape()[rank - 2], N = out.shape()[rank - 1], K = a_in.shape()[a_in.dim() - 1];
  const Shape batch = batch_shape(out);
  int64_t nbatch = batch.numel();
  auto with_dims = [&](int64_t rows, int64_t cols) {
    Shape s = batch;
    s.push_back(rows);
    s.push_back(cols);
    return s;
  };
  // Operands cuBLASLt cannot read in place are copied, contiguous over the whole batch.
  Tensor a = a_in, b = b_in, bias = bias_in;
  std::optional<LtOperand> ao = lt_operand(a, batch);
  if (!ao) ao = lt_operand(a = expanded_copy(a_in, with_dims(M, K)), batch);
  std::optional<LtOperand> bo = lt_operand(b, batch);
  if (!bo) bo = lt_operand(b = expanded_copy(b_in, with_dims(K, N)), batch);
  TL_ASSERT(ao && bo, "a contiguous matmul operand is not one cuBLASLt reads");
  if (bias.defined() && N > 1 && bias.strides()[0] != 1) bias = expanded_copy(bias_in, Shape{N});
  // One product over the whole batch's rows when b is the same matrix for every batch element
  // and a's rows are evenly spaced across the batch (the common (B, T, C) @ (C, N)).
  if (nbatch > 1 && bo->batch_stride == 0 && ao->col_stride == 1 && ao->batch_stride == M * ao->row_stride &&
      nbatch * M <= INT_MAX) {
    M *= nbatch;
    nbatch = 1;
  }
  if (nbatch <= 1) ao->batch_stride = bo->batch_stride = 0;
  for (int64_t size : {M, N, K, nbatch}) {
    if (size > INT_MAX) {
      if (why) *why = "a matmul dim of " + std::to_string(size) + " is past cuBLASLt's 32-bit sizes";
      return false;
    }
  }
  LtProblem p;
  p.dtype = out.dtype();
  p.batch = std::max<int64_t>(nbatch, 1);
  p.M = M;
  p.N = N;
  p.K = K;
  p.a = *ao;
  p.b = *bo;
  p.out = device_ptr(out);
  p.bias = bias.defined() ? device_ptr(bias) : 0;
  p.relu = relu;
  // The workspace is freed after the launch is queued: the allocator hands it out again only
  // to work queued after this product on the same stream.
  std::vector<Tensor> workspace;
  auto allocate = [&](size_t bytes) {
    const auto words = static_cast<int64_t>((bytes + 7) / 8);
    workspace.push_back(ops::empty_tensor(Shape{words}, kInt64, out.device(), "matmul"));
    return device_ptr(workspace.back());
  };
  return lt.matmul(p, allocate, why);
}

// ---- the ops ----

void run_matmul(const Tensor& a, const Tensor& b, const Tensor& bias, bool relu, Tensor& out) {
  if (out.numel() == 0) return;
  const int64_t K = a.shape()[a.dim() - 1];
  // K = 0 leaves out = bias (relu): nothing for cuBLASLt to do, and the tiled kernel writes it.
  if (runner().on_device() && K > 0) {
    std::string why;
    if (const CublasLt* lt = CublasLt::get(&why)) {
      if (matmul_cublas(*lt, a, b, bias, relu, out, &why)) return;
      logger("tl.cuda")->debug("tl::matmul: {}; running tl's tiled kernel", why);
    } else {
      static std::once_flag once;
      std::call_once(once, [&] { logger("tl.cuda")->info("tl::matmul runs tl's tiled CUDA kernel: {}", why); });
    }
  }
  matmul_tiled(a, b, bias, relu, out);
}

void matmul_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs&) {
  run_matmul(in[0], in[1], Tensor{}, false, out);
}

// attrs.flag: relu after the bias. The bias may be absent (an optional input).
void matmul_bias_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& attrs) {
  const Tensor bias = in.size() > 2 ? in[2] : Tensor{};
  run_matmul(in[0], in[1], bias, attrs.flag, out);
}

std::vector<KernelSource> matmul_sources() {
  std::vector<KernelSource> all;
  for (DType d : kMatmulDTypes) all.push_back({"matmul", d, matmul_entry(d), matmul_source(d)});
  return all;
}

const KernelSourceFamily family("matmul", matmul_sources);
const CudaKernel matmul_registration("matmul", matmul_kernel);
const CudaKernel matmul_bias_registration("matmul_bias", matmul_bias_kernel);

}  // namespace

}  // namespace tl::rt::cuda
