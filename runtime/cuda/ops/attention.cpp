// CUDA kernels of the op table's fused attention ops, attention and attention_backward
// (runtime/ops/nn/attention.cpp defines them; runtime/cuda/launch.h says how op kernels are
// written). FlashAttention-2's blocked online softmax (Dao 2023), as the CPU kernel
// (runtime/cpu/attention.cpp) computes it: scores exist one (64 x 64) tile at a time in shared
// memory, never as an (L, S) buffer. The backward recomputes each row's logsumexp and
// D = rowsum(dout * out) in a first kernel, then dq per query tile and dk, dv per key tile, each
// owning what it writes: no atomics, every sum in a fixed order.
//
// Letters as in runtime/cpu/attention.h: B batch (the broadcast leading dims, flattened),
// L queries, S keys, E query/key features, Ev value features. Operands are read at any strides
// (0 along broadcast dims); results are contiguous.
#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "runtime/cuda/launch.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

// The ops take float32 and float64 only (their shape rule refuses the rest); both compute in
// their own type, as the CPU kernel does.
constexpr DType kAttentionDTypes[] = {kFloat32, kFloat64};

// Every kernel works on a 64 x 64 tile (queries x keys, or keys x queries) with 256 threads:
// thread (tx, ty) = (t % 16, t / 16) owns rows ty + 16 i and columns tx + 16 j (i, j < 4).
constexpr int64_t kTile = 64;
constexpr unsigned kThreads = 256;
constexpr int64_t kMaxGridYZ = 65535;  // the kernels loop over chunks and batch elements beyond it

// Per dtype: `chunk`, the feature columns one block accumulates (a thread holds 4 rows x
// chunk / 16 of them), and `slice`, how much of a sum over features or keys is staged in shared
// memory at a time. Sized so that a block's static shared memory stays under 48 KiB: the score
// tile (64 x 65) alone is 16.6 KB in float and 33.3 KB in double. Feature dims past `chunk`
// split over blockIdx.y, each chunk recomputing the scores; q's tile is restaged for each key
// tile rather than kept, for the same budget.
struct Tiling {
  int chunk, slice;
};
Tiling tiling(DType dtype) { return dtype == kFloat64 ? Tiling{64, 8} : Tiling{128, 16}; }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The parameters every attention kernel takes, as each source declares `struct <entry>_problem`:
// same fields, same order. Row and column strides of each operand's (rows, cols) matrices.
struct AttentionProblem {
  long long B, L, S, E, Ev;
  long long q_rs, q_cs, k_rs, k_cs, v_rs, v_cs, m_rs, m_cs, do_rs, do_cs, o_rs, o_cs;
  long long causal, mask_kind;  // mask_kind: 0 none, 1 bool (true = attend), 2 added
  double scale;
};
static_assert(sizeof(AttentionProblem) == 20 * 8);

// What every source starts with. $E entry, $T stored type, $C compute type, $F "f" (float math)
// or "", $K the staged slice, $V the column chunk, $J columns per thread (chunk / 16), $S the
// staging buffer's size.
constexpr const char* kCommonSource = R"(
struct $E_problem {
  long long B, L, S, E, Ev;
  long long q_rs, q_cs, k_rs, k_cs, v_rs, v_cs, m_rs, m_cs, do_rs, do_cs, o_rs, o_cs;
  long long causal, mask_kind;
  double scale;
};

__device__ inline long long $E_min(long long a, long long b) { return a < b ? a : b; }

// max(a, b) where a NaN in either wins, as the CPU's max_nan.
__device__ inline $C $E_max_nan($C a, $C b) { return (b > a || b != b) ? b : a; }

// The offset of batch element z (row-major over `batch`) of an operand with these batch strides.
__device__ inline long long $E_batch_offset(long long z, const TlShape& batch, const TlStrides& strides) {
  long long offset = 0;
  for (int d = batch.rank - 1; d >= 0; --d) {
    offset += z % batch.size[d] * strides.stride[d];
    z /= batch.size[d];
  }
  return offset;
}

// The score of query i and key j as the softmax sees it: -inf past the last query or key, for a
// key after the query (causal, top-left aligned) and where a bool mask is false; an additive
// mask's value added to the scaled product.
__device__ inline $C $E_masked($C s, long long i, long long j, const $E_problem& p, const void* mask,
                               long long mask_base) {
  const $C inf = ($C)__int_as_float(0x7f800000);
  if (i >= p.L || j >= p.S || (p.causal != 0 && j > i)) return -inf;
  const long long at = mask_base + i * p.m_rs + j * p.m_cs;
  if (p.mask_kind == 1) return ((const bool*)mask)[at] ? s : -inf;
  if (p.mask_kind == 2) return s + ($C)((const $T*)mask)[at];
  return s;
}

// acc[i][j] = sum over d < D of A(ty + 16 i, d) * B(tx + 16 j, d), d in increasing order, with
// A(r, d) = a[r * a_rs + d * a_cs] * a_scale for r < a_rows (0 beyond) and B likewise. The scale
// (q's) rounds each value once, as the CPU's packed (q * scale).
// Slices of $K along d are staged transposed in As and Bs ([$K][65]: [d][row]; the pad spreads
// column-wise stores over the banks), loaded along whichever of d or the row is unit-stride.
// Ends with a barrier: the caller may overwrite As and Bs at once.
__device__ inline void $E_scores(const $T* a, long long a_rs, long long a_cs, long long a_rows, $C a_scale,
                                 const $T* b, long long b_rs, long long b_cs, long long b_rows, $C b_scale,
                                 long long D, $C* As, $C* Bs, $C acc[4][4]) {
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0;
  for (long long d0 = 0; d0 < D; d0 += $K) {
    for (int x = t; x < $K * 64; x += 256) {
      const int kk = a_cs == 1 ? x % $K : x / 64, r = a_cs == 1 ? x / $K : x % 64;
      const long long d = d0 + kk;
      As[kk * 65 + r] = r < a_rows && d < D ? ($C)a[r * a_rs + d * a_cs] * a_scale : ($C)0;
    }
    for (int x = t; x < $K * 64; x += 256) {
      const int kk = b_cs == 1 ? x % $K : x / 64, r = b_cs == 1 ? x / $K : x % 64;
      const long long d = d0 + kk;
      Bs[kk * 65 + r] = r < b_rows && d < D ? ($C)b[r * b_rs + d * b_cs] * b_scale : ($C)0;
    }
    __syncthreads();
    for (int kk = 0; kk < $K; ++kk) {
      $C av[4], bv[4];
      for (int i = 0; i < 4; ++i) av[i] = As[kk * 65 + ty + 16 * i];
      for (int j = 0; j < 4; ++j) bv[j] = Bs[kk * 65 + tx + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();
  }
}

// acc[i][j] += sum over c < 64 of P[(ty + 16 i) * 65 + c] * M(c, e0 + tx + 16 j), c in
// increasing order, with M(c, e) = m[c * m_rs + e * m_cs] * m_scale for c < m_rows and
// e < m_cols (0 beyond). Slices of $K rows of M are staged in Ms ([$K][$V + 1]). P is the
// block's tile in shared memory, complete before the call. Ends with a barrier.
__device__ inline void $E_accumulate(const $C* P, const $T* m, long long m_rs, long long m_cs, long long m_rows,
                                     long long e0, long long m_cols, $C m_scale, $C* Ms, $C acc[4][$J]) {
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  for (int c0 = 0; c0 < 64 && c0 < m_rows; c0 += $K) {
    for (int x = t; x < $K * $V; x += 256) {
      const int kk = m_cs == 1 ? x / $V : x % $K, e = m_cs == 1 ? x % $V : x / $K;
      const long long c = c0 + kk, col = e0 + e;
      Ms[kk * ($V + 1) + e] = c < m_rows && col < m_cols ? ($C)m[c * m_rs + col * m_cs] * m_scale : ($C)0;
    }
    __syncthreads();
    for (int kk = 0; kk < $K; ++kk) {
      $C pv[4], mv[$J];
      for (int i = 0; i < 4; ++i) pv[i] = P[(ty + 16 * i) * 65 + c0 + kk];
      for (int j = 0; j < $J; ++j) mv[j] = Ms[kk * ($V + 1) + tx + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < $J; ++j) acc[i][j] += pv[i] * mv[j];
    }
    __syncthreads();
  }
}
)";

// The parameters of all three kernels: dout, q, k, v, out: (batch..., rows, cols) at their
// strides (batch strides s_do ... s_o, the matrices' in p); mask: bool or $T, (batch..., L, S)
// at s_m and (m_rs, m_cs); result: the op's contiguous result; stats: (2, B, L), each row's
// logsumexp, then D. Grid: x over the row tiles, y over the column chunks, z over the batch,
// each looping past the grid's size.
constexpr const char* kParams =
    "const $T* __restrict__ dout, const $T* __restrict__ q, const $T* __restrict__ k, const $T* __restrict__ v, "
    "const $T* __restrict__ out, const void* __restrict__ mask, $T* __restrict__ result, $T* __restrict__ stats, "
    "$E_problem p, TlShape batch, TlStrides s_do, TlStrides s_q, TlStrides s_k, TlStrides s_v, TlStrides s_o, "
    "TlStrides s_m";

// The forward pass over one tile of 64 queries (and one chunk of $V value columns): for each
// key tile, the scores into P, the online softmax's running max and sum per row (4 threads per
// row, 16 keys each, combined in order), P = exp(s - max) and acc = acc * alpha + P v. A row
// whose every key is masked keeps max -inf and sum 0 and is written as zeros.
// Without `stats` (attention): result (B, L, Ev) = acc / sum. With `stats` (the backward's first
// pass, one chunk): stats[0] = logsumexp (+inf for a fully masked row: exp(s - lse) is then 0)
// and stats[1] = D = rowsum(dout * out); no P v.
constexpr const char* kForwardSource = R"(extern "C" __global__ void $E($P) {
  __shared__ $C P[64 * 65];       // [query][key]: scores, then their exponentials
  __shared__ $C stage[$S];        // the operand slices $E_scores and $E_accumulate stage
  __shared__ $C row_max[64], row_sum[64], row_scale[64];  // running max and sum, this tile's alpha
  __shared__ $C part_max[256], part_sum[256];             // per thread: its 16 keys' max and sum
  const $C inf = ($C)__int_as_float(0x7f800000);
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const int r = t / 4, quarter = t % 4;  // the softmax step's row and 16 keys
  const long long L = p.L, S = p.S, tiles = (L + 63) / 64, chunks = stats != 0 ? 1 : (p.Ev + $V - 1) / $V;
  const $C scale = ($C)p.scale;
  for (long long z = blockIdx.z; z < p.B; z += gridDim.z) {
    const $T* qz = q + $E_batch_offset(z, batch, s_q);
    const $T* kz = k + $E_batch_offset(z, batch, s_k);
    const $T* vz = v + $E_batch_offset(z, batch, s_v);
    const long long mz = p.mask_kind != 0 ? $E_batch_offset(z, batch, s_m) : 0;
    for (long long cy = blockIdx.y; cy < chunks; cy += gridDim.y) {
      for (long long qt = blockIdx.x; qt < tiles; qt += gridDim.x) {
        const long long i0 = qt * 64, e0 = cy * $V, rows = $E_min(64, L - i0);
        if (t < 64) {
          row_max[t] = -inf;
          row_sum[t] = 0;
        }
        __syncthreads();
        $C acc[4][$J];
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < $J; ++j) acc[i][j] = 0;
        // Causal: keys after the tile's last query are masked for all its rows; skipping them
        // changes nothing (their weights would be exactly 0).
        const long long key_end = p.causal != 0 ? $E_min(S, i0 + rows) : S;
        for (long long j0 = 0; j0 < key_end; j0 += 64) {
          $C s[4][4];
          $E_scores(qz + i0 * p.q_rs, p.q_rs, p.q_cs, rows, scale, kz + j0 * p.k_rs, p.k_rs, p.k_cs,
                    $E_min(64, S - j0), 1, p.E, stage, stage + $K * 65, s);
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j)
              P[(ty + 16 * i) * 65 + tx + 16 * j] = $E_masked(s[i][j], i0 + ty + 16 * i, j0 + tx + 16 * j, p, mask, mz);
          __syncthreads();
          $C m_tile = -inf;
          for (int c = quarter * 16; c < quarter * 16 + 16; ++c) m_tile = $E_max_nan(m_tile, P[r * 65 + c]);
          part_max[t] = m_tile;
          __syncthreads();
          m_tile = part_max[4 * r];
          for (int q4 = 1; q4 < 4; ++q4) m_tile = $E_max_nan(m_tile, part_max[4 * r + q4]);
          const $C m_old = row_max[r], m_new = $E_max_nan(m_old, m_tile);
          // m_new = -inf: every key so far is masked (or a padding row): no weight, nothing to
          // rescale. A NaN max makes the whole row NaN, as softmax does.
          $C sum = 0;
          for (int c = quarter * 16; c < quarter * 16 + 16; ++c) {
            const $C e = m_new == -inf ? ($C)0 : exp$F(P[r * 65 + c] - m_new);
            P[r * 65 + c] = e;
            sum += e;
          }
          part_sum[t] = sum;
          __syncthreads();
          if (quarter == 0) {
            $C alpha = 1;
            if (m_new != -inf) {
              alpha = m_new == m_old ? ($C)1 : exp$F(m_old - m_new);  // exp(-inf) = 0 the first time
              row_sum[r] = row_sum[r] * alpha + (((part_sum[4 * r] + part_sum[4 * r + 1]) + part_sum[4 * r + 2]) +
                                                 part_sum[4 * r + 3]);
              row_max[r] = m_new;
            }
            row_scale[r] = alpha;
          }
          __syncthreads();
          if (stats == 0) {
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < $J; ++j) acc[i][j] *= row_scale[ty + 16 * i];
            $E_accumulate(P, vz + j0 * p.v_rs, p.v_rs, p.v_cs, $E_min(64, S - j0), e0, p.Ev, 1, stage, acc);
          }
        }
        if (stats == 0) {
          for (int i = 0; i < 4; ++i) {
            const long long row = i0 + ty + 16 * i;
            if (row >= L) continue;
            // The sum is 0 exactly when every key is masked: the row is zeros, not 0/0.
            const $C l = row_sum[ty + 16 * i];
            for (int j = 0; j < $J; ++j) {
              const long long col = e0 + tx + 16 * j;
              if (col < p.Ev) result[(z * L + row) * p.Ev + col] = l == 0 ? ($C)0 : acc[i][j] / l;
            }
          }
        } else {
          const $T* doz = dout + $E_batch_offset(z, batch, s_do);
          const $T* oz = out + $E_batch_offset(z, batch, s_o);
          $C d = 0;
          if (r < rows)
            for (long long e = quarter; e < p.Ev; e += 4)
              d += ($C)doz[(i0 + r) * p.do_rs + e * p.do_cs] * ($C)oz[(i0 + r) * p.o_rs + e * p.o_cs];
          part_sum[t] = d;
          __syncthreads();
          if (quarter == 0 && r < rows) {
            const $C l = row_sum[r];
            stats[z * L + i0 + r] = l == 0 ? inf : row_max[r] + log$F(l);
            stats[p.B * L + z * L + i0 + r] = ((part_sum[t] + part_sum[t + 1]) + part_sum[t + 2]) + part_sum[t + 3];
          }
        }
        __syncthreads();  // the next tile resets the row statistics
      }
    }
  }
}
)";

// dq for one tile of 64 queries and one chunk of $V columns of E: for each key tile,
// P = exp(s - lse) from the recomputed scores, dP = dout v^T, dS = P * (dP - D) into the shared
// tile and acc += dS k; result's dq part (B, L, E) = scale * acc.
constexpr const char* kDqSource = R"(extern "C" __global__ void $E($P) {
  __shared__ $C P[64 * 65];  // [query][key]: dS
  __shared__ $C stage[$S];
  __shared__ $C row_lse[64], row_d[64];
  const $C inf = ($C)__int_as_float(0x7f800000);
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const long long L = p.L, S = p.S, tiles = (L + 63) / 64, chunks = (p.E + $V - 1) / $V;
  const long long per_batch = L * p.E + S * p.E + S * p.Ev;
  const $C scale = ($C)p.scale;
  for (long long z = blockIdx.z; z < p.B; z += gridDim.z) {
    const $T* qz = q + $E_batch_offset(z, batch, s_q);
    const $T* kz = k + $E_batch_offset(z, batch, s_k);
    const $T* vz = v + $E_batch_offset(z, batch, s_v);
    const $T* doz = dout + $E_batch_offset(z, batch, s_do);
    const long long mz = p.mask_kind != 0 ? $E_batch_offset(z, batch, s_m) : 0;
    for (long long cy = blockIdx.y; cy < chunks; cy += gridDim.y) {
      for (long long qt = blockIdx.x; qt < tiles; qt += gridDim.x) {
        const long long i0 = qt * 64, e0 = cy * $V, rows = $E_min(64, L - i0);
        if (t < 64) {
          row_lse[t] = t < rows ? stats[z * L + i0 + t] : inf;
          row_d[t] = t < rows ? stats[p.B * L + z * L + i0 + t] : ($C)0;
        }
        __syncthreads();
        $C acc[4][$J];
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < $J; ++j) acc[i][j] = 0;
        const long long key_end = p.causal != 0 ? $E_min(S, i0 + rows) : S;
        for (long long j0 = 0; j0 < key_end; j0 += 64) {
          const long long cols = $E_min(64, S - j0);
          $C s[4][4], dp[4][4];
          $E_scores(qz + i0 * p.q_rs, p.q_rs, p.q_cs, rows, scale, kz + j0 * p.k_rs, p.k_rs, p.k_cs, cols, 1, p.E,
                    stage, stage + $K * 65, s);
          $E_scores(doz + i0 * p.do_rs, p.do_rs, p.do_cs, rows, 1, vz + j0 * p.v_rs, p.v_rs, p.v_cs, cols, 1, p.Ev,
                    stage, stage + $K * 65, dp);
          for (int i = 0; i < 4; ++i) {
            const int ri = ty + 16 * i;
            for (int j = 0; j < 4; ++j) {
              const int cj = tx + 16 * j;
              const $C pv = exp$F($E_masked(s[i][j], i0 + ri, j0 + cj, p, mask, mz) - row_lse[ri]);
              P[ri * 65 + cj] = ri < rows && cj < cols ? pv * (dp[i][j] - row_d[ri]) : ($C)0;
            }
          }
          __syncthreads();
          $E_accumulate(P, kz + j0 * p.k_rs, p.k_rs, p.k_cs, cols, e0, p.E, 1, stage, acc);
        }
        for (int i = 0; i < 4; ++i) {
          const long long row = i0 + ty + 16 * i;
          if (row >= L) continue;
          for (int j = 0; j < $J; ++j) {
            const long long col = e0 + tx + 16 * j;
            if (col < p.E) result[z * per_batch + row * p.E + col] = scale * acc[i][j];
          }
        }
        __syncthreads();  // the next tile overwrites row_lse and row_d
      }
    }
  }
}
)";

// dk and dv for one tile of 64 keys and column chunk y of both (dk's when y * $V < E, dv's when
// y * $V < Ev): the transposed tiles, keys down and queries across. For each query tile,
// P^T = exp(s - lse) from the recomputed scores into the shared tile, dv += P^T dout; then
// dP^T = v dout^T, dS^T = P^T * (dP^T - D) into the shared tile, dk += dS^T (q * scale).
// Causal: query tiles that end before the key tile starts see none of it and are skipped.
constexpr const char* kDkDvSource = R"(extern "C" __global__ void $E($P) {
  __shared__ $C P[64 * 65];  // [key][query]: P^T, then dS^T
  __shared__ $C stage[$S];
  __shared__ $C col_lse[64], col_d[64];  // the query tile's
  const $C inf = ($C)__int_as_float(0x7f800000);
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const long long L = p.L, S = p.S, tiles = (S + 63) / 64, width = p.E > p.Ev ? p.E : p.Ev;
  const long long chunks = (width + $V - 1) / $V, per_batch = L * p.E + S * p.E + S * p.Ev;
  const $C scale = ($C)p.scale;
  for (long long z = blockIdx.z; z < p.B; z += gridDim.z) {
    const $T* qz = q + $E_batch_offset(z, batch, s_q);
    const $T* kz = k + $E_batch_offset(z, batch, s_k);
    const $T* vz = v + $E_batch_offset(z, batch, s_v);
    const $T* doz = dout + $E_batch_offset(z, batch, s_do);
    const long long mz = p.mask_kind != 0 ? $E_batch_offset(z, batch, s_m) : 0;
    for (long long cy = blockIdx.y; cy < chunks; cy += gridDim.y) {
      for (long long kt = blockIdx.x; kt < tiles; kt += gridDim.x) {
        const long long j0 = kt * 64, e0 = cy * $V, keys = $E_min(64, S - j0);
        const bool want_dk = e0 < p.E, want_dv = e0 < p.Ev;
        $C dk[4][$J], dv[4][$J];
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < $J; ++j) dk[i][j] = dv[i][j] = 0;
        for (long long i0 = p.causal != 0 ? j0 : 0; i0 < L; i0 += 64) {
          const long long queries = $E_min(64, L - i0);
          if (t < 64) {
            col_lse[t] = t < queries ? stats[z * L + i0 + t] : inf;
            col_d[t] = t < queries ? stats[p.B * L + z * L + i0 + t] : ($C)0;
          }
          __syncthreads();
          $C s[4][4];
          $E_scores(kz + j0 * p.k_rs, p.k_rs, p.k_cs, keys, 1, qz + i0 * p.q_rs, p.q_rs, p.q_cs, queries, scale,
                    p.E, stage, stage + $K * 65, s);
          $C pt[4][4];
          for (int i = 0; i < 4; ++i) {
            const int ri = ty + 16 * i;
            for (int j = 0; j < 4; ++j) {
              const int cj = tx + 16 * j;
              const $C pv = exp$F($E_masked(s[i][j], i0 + cj, j0 + ri, p, mask, mz) - col_lse[cj]);
              pt[i][j] = ri < keys && cj < queries ? pv : ($C)0;
            }
          }
          if (want_dv) {
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) P[(ty + 16 * i) * 65 + tx + 16 * j] = pt[i][j];
            __syncthreads();
            $E_accumulate(P, doz + i0 * p.do_rs, p.do_rs, p.do_cs, queries, e0, p.Ev, 1, stage, dv);
          }
          if (want_dk) {
            $C dpt[4][4];
            $E_scores(vz + j0 * p.v_rs, p.v_rs, p.v_cs, keys, 1, doz + i0 * p.do_rs, p.do_rs, p.do_cs, queries, 1,
                      p.Ev, stage, stage + $K * 65, dpt);
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j)
                P[(ty + 16 * i) * 65 + tx + 16 * j] = pt[i][j] * (dpt[i][j] - col_d[tx + 16 * j]);
            __syncthreads();
            $E_accumulate(P, qz + i0 * p.q_rs, p.q_rs, p.q_cs, queries, e0, p.E, scale, stage, dk);
          }
          __syncthreads();  // the next query tile overwrites col_lse, col_d and P
        }
        for (int i = 0; i < 4; ++i) {
          const long long key = j0 + ty + 16 * i;
          if (key >= S) continue;
          for (int j = 0; j < $J; ++j) {
            const long long col = e0 + tx + 16 * j;
            if (want_dk && col < p.E) result[z * per_batch + L * p.E + key * p.E + col] = dk[i][j];
            if (want_dv && col < p.Ev) result[z * per_batch + L * p.E + S * p.E + key * p.Ev + col] = dv[i][j];
          }
        }
      }
    }
  }
}
)";

enum class AttentionKernel { kForward, kDq, kDkDv };

std::string attention_entry(AttentionKernel k, DType dtype) {
  const char* name = k == AttentionKernel::kForward ? "attention_forward" : k == AttentionKernel::kDq ? "attention_dq"
                                                                                                     : "attention_dkdv";
  return std::string("tl_") + name + "_" + dtype_name(dtype);
}

// `text` with the placeholders of kCommonSource filled in, and $P: kParams.
std::string fill(const char* text, const std::string& entry, DType dtype) {
  const Tiling tile = tiling(dtype);
  const int stage = std::max(2 * tile.slice * 65, tile.slice * (tile.chunk + 1));
  std::string out;
  for (const char* c = text; *c != '\0'; ++c) {
    if (*c != '$') {
      out += *c;
      continue;
    }
    switch (*++c) {
      case 'E': out += entry; break;
      case 'T': out += storage_type(dtype); break;
      case 'C': out += compute_type(dtype); break;
      case 'F': out += dtype == kFloat64 ? "" : "f"; break;
      case 'K': out += std::to_string(tile.slice); break;
      case 'V': out += std::to_string(tile.chunk); break;
      case 'J': out += std::to_string(tile.chunk / 16); break;
      case 'S': out += std::to_string(stage); break;
      case 'P': out += fill(kParams, entry, dtype); break;
      default: TL_ASSERT(false, std::string("attention kernel source: unknown placeholder $") + *c);
    }
  }
  return out;
}

std::string attention_source(AttentionKernel k, DType dtype) {
  const char* body = k == AttentionKernel::kForward ? kForwardSource : k == AttentionKernel::kDq ? kDqSource
                                                                                               : kDkDvSource;
  const std::string entry = attention_entry(k, dtype);
  return fill(kCommonSource, entry, dtype) + fill(body, entry, dtype);
}

// ---- host side ----

// The operands of one call, their batch strides and the problem, as every kernel takes them.
struct Operands {
  Tensor dout, q, k, v, out, mask;
  AttentionProblem p{};
  Shape batch;
  KernelStrides s_do, s_q, s_k, s_v, s_o, s_m;
};

// `t`'s (rows, cols) strides into the problem, its batch strides (right-aligned to `batch`, 0
// along broadcast dims) into `s`. An undefined operand reads nothing: all zero.
void strides_of(const Tensor& t, const Shape& batch, KernelStrides& s, long long& rs, long long& cs) {
  s = KernelStrides{};
  rs = cs = 0;
  if (!t.defined()) return;
  const int64_t nb = batch.size();
  const KernelStrides all = kernel_strides(t, nb + 2);
  for (int64_t d = 0; d < nb; ++d) s.stride[d] = all.stride[d];
  rs = all.stride[nb];
  cs = all.stride[nb + 1];
}

Operands operands(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                  const Tensor& mask, const Shape& batch, const ops::Attrs& a) {
  Operands o;
  o.dout = dout;
  o.q = q;
  o.k = k;
  o.v = v;
  o.out = out;
  o.mask = mask;
  o.batch = batch;
  AttentionProblem& p = o.p;
  p.B = batch.numel();
  p.L = q.size(-2);
  p.S = k.size(-2);
  p.E = q.size(-1);
  p.Ev = v.size(-1);
  strides_of(q, batch, o.s_q, p.q_rs, p.q_cs);
  strides_of(k, batch, o.s_k, p.k_rs, p.k_cs);
  strides_of(v, batch, o.s_v, p.v_rs, p.v_cs);
  strides_of(mask, batch, o.s_m, p.m_rs, p.m_cs);
  strides_of(dout, batch, o.s_do, p.do_rs, p.do_cs);
  strides_of(out, batch, o.s_o, p.o_rs, p.o_cs);
  p.causal = a.flag ? 1 : 0;
  p.mask_kind = !mask.defined() ? 0 : mask.dtype() == kBool ? 1 : 2;
  p.scale = a.scalar;
  return o;
}

DevicePtr ptr_or_null(const Tensor& t) { return t.defined() ? device_ptr(t) : DevicePtr{0}; }

// Launches kernel `k` over `tiles` row tiles and `chunks` column chunks per batch element.
void launch(AttentionKernel k, const Operands& o, const Tensor& result, const Tensor& stats, int64_t tiles,
            int64_t chunks) {
  if (tiles == 0 || chunks == 0 || o.p.B == 0) return;
  KernelArgs args;
  args.add(ptr_or_null(o.dout)).add(ptr_or_null(o.q)).add(ptr_or_null(o.k)).add(ptr_or_null(o.v));
  args.add(ptr_or_null(o.out)).add(ptr_or_null(o.mask)).add(ptr_or_null(result)).add(ptr_or_null(stats));
  args.add(o.p).add(kernel_shape(o.batch));
  args.add(o.s_do).add(o.s_q).add(o.s_k).add(o.s_v).add(o.s_o).add(o.s_m);
  LaunchShape shape;
  shape.block.x = kThreads;
  shape.grid.x = static_cast<unsigned>(std::min<int64_t>(tiles, INT_MAX));
  shape.grid.y = static_cast<unsigned>(std::min(chunks, kMaxGridYZ));
  shape.grid.z = static_cast<unsigned>(std::min(o.p.B, static_cast<long long>(kMaxGridYZ)));
  const DType dtype = o.q.dtype();
  launch_kernel(attention_entry(k, dtype), dtype, [&] { return attention_source(k, dtype); }, shape, args);
}

// The leading dims of `t` (all but the last `keep`).
Shape leading(const Tensor& t, int64_t keep) { return Shape(t.shape().begin(), t.shape().end() - keep); }

// in: q, k, v, optional mask; out: (batch..., L, Ev).
void attention_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  if (out.numel() == 0) return;
  const Tensor mask = in.size() > 3 ? in[3] : Tensor{};
  const Operands o = operands(Tensor{}, in[0], in[1], in[2], Tensor{}, mask, leading(out, 2), a);
  launch(AttentionKernel::kForward, o, out, Tensor{}, ceil_div(o.p.L, kTile),
         ceil_div(o.p.Ev, tiling(out.dtype()).chunk));
}

// in: dout, q, k, v, out, optional mask; out: (batch..., L*E + S*E + S*Ev): dq, dk, dv per
// batch element. stats (2, B, L): each row's logsumexp and D, from the first pass.
void attention_backward_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs& a) {
  if (out.numel() == 0) return;
  const Tensor mask = in.size() > 5 ? in[5] : Tensor{};
  const Operands o = operands(in[0], in[1], in[2], in[3], in[4], mask, leading(out, 1), a);
  const AttentionProblem& p = o.p;
  const int64_t chunk = tiling(out.dtype()).chunk;
  Tensor stats;
  if (p.B * p.L > 0) stats = ops::empty_tensor(Shape{2, p.B, p.L}, out.dtype(), out.device());
  launch(AttentionKernel::kForward, o, Tensor{}, stats, ceil_div(p.L, kTile), 1);
  launch(AttentionKernel::kDq, o, out, stats, ceil_div(p.L, kTile), ceil_div(p.E, chunk));
  launch(AttentionKernel::kDkDv, o, out, stats, ceil_div(p.S, kTile), ceil_div(std::max(p.E, p.Ev), chunk));
}

std::vector<KernelSource> attention_sources() {
  std::vector<KernelSource> all;
  for (DType d : kAttentionDTypes) {
    all.push_back({"attention", d, attention_entry(AttentionKernel::kForward, d),
                   attention_source(AttentionKernel::kForward, d)});
    all.push_back({"attention_backward", d, attention_entry(AttentionKernel::kDq, d),
                   attention_source(AttentionKernel::kDq, d)});
    all.push_back({"attention_backward", d, attention_entry(AttentionKernel::kDkDv, d),
                   attention_source(AttentionKernel::kDkDv, d)});
  }
  return all;
}

const KernelSourceFamily family("attention", attention_sources);
const CudaKernel attention_registration("attention", attention_kernel);
const CudaKernel attention_backward_registration("attention_backward", attention_backward_kernel);

}  // namespace

}  // namespace tl::rt::cuda
