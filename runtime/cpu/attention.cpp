// Fused attention (attention.h): FlashAttention-2's blocked online softmax (Dao 2023,
// algorithms 1 and 2) on the CPU. Scores exist only one (kQueryBlock x kKeyBlock) block at a
// time; every product of blocks runs through one register-tiled micro-kernel on operands packed
// into zero-padded scratch, so no loop has a ragged edge. The composite of matmul and softmax
// (frontend/ops/nn/attention_op.cpp) is the reference the tests compare against.
//
// Letters as in attention.h; Br = kQueryBlock, Bc = kKeyBlock; Ep, Evp: E, Ev rounded up to
// the micro-tile width.
#include "runtime/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/ops/pointwise/vector_math.h"  // std::exp in loops vectorizes through libmvec

namespace tl::rt::cpu {
namespace {

// A micro-tile is kMr rows by two AVX2 registers (kNr<T> columns): 12 accumulators, enough
// independent FMAs to keep both of Zen 2's FMA pipes busy. Blocks are multiples of kMr and of
// kNr<float> = 16, since either side of a score block is the M or N of some block product.
// 48 x 96 ran fastest of (48, 96, 192)^2 (bench/attention_bench.cpp, one thread, E = 64): about
// 75% of the FMA peak forward and backward; larger blocks spill the L1 cache.
constexpr int64_t kMr = 6;
template <class T> constexpr int64_t kLanes = 32 / static_cast<int64_t>(sizeof(T));
template <class T> constexpr int64_t kNr = 2 * kLanes<T>;
constexpr int64_t kQueryBlock = 48;  // Br
constexpr int64_t kKeyBlock = 96;    // Bc: one (Br x Bc) score block is 18 KiB in float32
// Work items per call: a batch element's query (or key) blocks are split into groups until
// there are about this many. Fixed, so the split never depends on the thread count.
constexpr int64_t kTargetJobs = 16;

static_assert(kQueryBlock % kMr == 0 && kKeyBlock % kMr == 0);
static_assert(kKeyBlock % kNr<float> == 0 && kKeyBlock % kNr<double> == 0);

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }
int64_t blocks(int64_t n, int64_t block) { return (n + block - 1) / block; }

template <class T> constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// c (kMr x kNr, row stride ldc) = c (when `accumulate`, else 0) + a (kMr x K) * b (K x kNr, row
// stride ldb). a's element (r, k) is a[r * ars + k * acs]: a row-major matrix (acs = 1), or the
// transpose of one (ars = 1), which is how P^T and dS^T are read without a transposing copy.
template <class T>
void micro_tile(const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t K,
                bool accumulate) {
  using V [[gnu::vector_size(32)]] = T;
  constexpr int64_t W = kLanes<T>;
  V acc[kMr][2] = {};
  for (int64_t k = 0; k < K; ++k) {
    V b0, b1;
    std::memcpy(&b0, b + k * ldb, sizeof(V));
    std::memcpy(&b1, b + k * ldb + W, sizeof(V));
    const T* ak = a + k * acs;
    for (int64_t r = 0; r < kMr; ++r) {
      const T av = ak[r * ars];
      acc[r][0] += av * b0;
      acc[r][1] += av * b1;
    }
  }
  for (int64_t r = 0; r < kMr; ++r)
    for (int64_t h = 0; h < 2; ++h) {
      T* cp = c + r * ldc + h * W;
      V out = acc[r][h];
      if (accumulate) {
        V old;
        std::memcpy(&old, cp, sizeof(V));
        out += old;
      }
      std::memcpy(cp, &out, sizeof(V));
    }
}

// c (M x N) = c (when `accumulate`, else 0) + a (M x K) * b (K x N), a read as in micro_tile.
// M is a multiple of kMr and N of kNr<T> (the callers' buffers are padded so).
template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb, T* c,
          int64_t ldc, bool accumulate) {
  for (int64_t j = 0; j < N; j += kNr<T>)
    for (int64_t i = 0; i < M; i += kMr)
      micro_tile(a + i * ars, ars, acs, b + j, ldb, c + i * ldc + j, ldc, K, accumulate);
}

// max(a, b) where a NaN in either wins (std::max would drop a NaN in b).
template <class T> T max_nan(T a, T b) { return (b > a || b != b) ? b : a; }

// The largest of x[0, n) (n a multiple of kLanes<T>); NaN if any is NaN. NaNs are counted
// apart, so the loop and the fold over lanes have no branch.
template <class T>
T row_max(const T* x, int64_t n) {
  using V [[gnu::vector_size(32)]] = T;
  using M = decltype(V{} != V{});  // a lane mask
  constexpr int64_t W = kLanes<T>;
  V m = V{} + kNegInf<T>;
  M nan = {};
  for (int64_t j = 0; j < n; j += W) {
    V v;
    std::memcpy(&v, x + j, sizeof(V));
    m = v > m ? v : m;
    nan |= v != v;
  }
  T r = kNegInf<T>;
  bool any_nan = false;
  for (int64_t l = 0; l < W; ++l) {
    r = m[l] > r ? m[l] : r;
    any_nan |= nan[l] != 0;
  }
  return any_nan ? std::numeric_limits<T>::quiet_NaN() : r;
}

// x[j] = exp(x[j] - shift) for j in [0, n) (n a multiple of kLanes<T>); returns their sum.
template <class T>
T exp_shifted_sum(T* x, int64_t n, T shift) {
  using V [[gnu::vector_size(32)]] = T;
  constexpr int64_t W = kLanes<T>;
  for (int64_t j = 0; j < n; ++j) x[j] = std::exp(x[j] - shift);
  V s = {};
  for (int64_t j = 0; j < n; j += W) {
    V v;
    std::memcpy(&v, x + j, sizeof(V));
    s += v;
  }
  T r = 0;
  for (int64_t l = 0; l < W; ++l) r += s[l];
  return r;
}

// dst (rows_p x cols_p, row-major) = factor * rows [0, rows) and columns [0, cols) of the
// strided matrix src (element (r, c) at src[r * rs + c * cs]); zeros in the padding.
template <class T>
void pack_rows(const T* src, int64_t rs, int64_t cs, int64_t rows, int64_t cols, T factor, T* dst, int64_t rows_p,
               int64_t cols_p) {
  for (int64_t r = 0; r < rows_p; ++r) {
    T* d = dst + r * cols_p;
    int64_t c = 0;
    if (r < rows) {
      const T* s = src + r * rs;
      for (; c < cols; ++c) d[c] = factor * s[c * cs];
    }
    for (; c < cols_p; ++c) d[c] = T(0);
  }
}

// dst (cols x ld, row-major): dst[c * ld + r] = src (r, c) for r < rows, zero for rows <= r < ld:
// the transpose of src's rows [0, rows), padded to ld rows.
template <class T>
void pack_transposed(const T* src, int64_t rs, int64_t cs, int64_t rows, int64_t cols, T* dst, int64_t ld) {
  for (int64_t c = 0; c < cols; ++c) {
    T* d = dst + c * ld;
    const T* s = src + c * cs;
    int64_t r = 0;
    for (; r < rows; ++r) d[r] = s[r * rs];
    for (; r < ld; ++r) d[r] = T(0);
  }
}

// Runs job(i) for i in [0, jobs) on the OpenMP pool, one job at a time per thread (a thread the
// OS deschedules holds up only its current job). What a job computes never depends on which
// thread runs it, so results do not depend on the thread count.
template <class Job>
void run_jobs(int64_t jobs, const Job& job) {
  if (jobs <= 0) return;
  if (jobs == 1 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    for (int64_t i = 0; i < jobs; ++i) job(i);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < jobs; ++i) job(i);
}

// Grow-only scratch buffers of one thread, reused across calls (a training loop stops
// allocating after its first step). take() returns room for n values, contents unspecified.
template <class T>
struct Scratch {
  std::vector<T> buffers[8];
  T* take(int slot, int64_t n) {
    std::vector<T>& v = buffers[slot];
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
  }
};
template <class T>
Scratch<T>& thread_scratch() {
  thread_local Scratch<T> scratch;
  return scratch;
}

// Groups per batch element for `units` blocks: enough that there are about kTargetJobs work
// items in all, no more than there are blocks.
int64_t groups_for(int64_t B, int64_t units) {
  return std::clamp<int64_t>(blocks(kTargetJobs, std::max<int64_t>(B, 1)), 1, std::max<int64_t>(units, 1));
}

// The scores s (Br x Bc, row-major) of query rows [i0, i0 + nr) and keys [j0, j0 + nc) of one
// batch element (its mask at `mask_base`) as the softmax sees them: the mask applied (added,
// or -inf where a bool mask is false), and -inf for keys after the query (causal) and for the
// padding past the last key. Rows nr and beyond are left alone (their callers ignore them).
template <class T>
void mask_scores(T* s, int64_t i0, int64_t nr, int64_t j0, int64_t nc, const AttentionShape& shape,
                 const AttentionMask& mask, int64_t mask_base) {
  for (int64_t r = 0; r < nr; ++r) {
    T* row = s + r * kKeyBlock;
    const int64_t i = i0 + r;
    // Keys [0, open) of the block may be attended; causal: key j <= query i.
    const int64_t open = shape.causal ? std::clamp<int64_t>(i - j0 + 1, 0, nc) : nc;
    const int64_t at = mask_base + i * mask.row_stride + j0 * mask.col_stride;
    if (mask.kind == AttentionMaskKind::kAdditive) {
      const T* m = static_cast<const T*>(mask.data) + at;
      for (int64_t c = 0; c < open; ++c) row[c] += m[c * mask.col_stride];
    } else if (mask.kind == AttentionMaskKind::kBool) {
      const bool* m = static_cast<const bool*>(mask.data) + at;
      for (int64_t c = 0; c < open; ++c)
        if (!m[c * mask.col_stride]) row[c] = kNegInf<T>;
    }
    for (int64_t c = open; c < kKeyBlock; ++c) row[c] = kNegInf<T>;
  }
}

// The key blocks [0, end) query rows [i0, i0 + nr) attend: all of them, or under the causal
// mask those that start at or before the last of the rows.
int64_t key_blocks_for(const AttentionShape& shape, int64_t i0, int64_t nr) {
  const int64_t all = blocks(shape.S, kKeyBlock);
  return shape.causal ? std::min(all, (i0 + nr - 1) / kKeyBlock + 1) : all;
}

// The forward pass over the query blocks of one work item: batch element b, query blocks g,
// g + G, g + 2G, ... (interleaved, so that under a causal mask every group gets short and long
// rows alike). Writes out (B, L, Ev) rows when `out` is given and the rows' logsumexp
// lse (B, L) when `lse` is given (+inf for a row with every key masked: exp(s - lse) is then 0).
template <class T>
void forward_rows(const AttentionShape& sh, const AttentionOperand<T>& q, const AttentionOperand<T>& k,
                  const AttentionOperand<T>& v, const AttentionMask& mask, int64_t b, int64_t g, int64_t G, T* out,
                  T* lse) {
  const int64_t L = sh.L, S = sh.S, E = sh.E, Ev = sh.Ev, Br = kQueryBlock, Bc = kKeyBlock;
  const int64_t Evp = round_up(Ev, kNr<T>), nkb = blocks(S, Bc), Sp = nkb * Bc;
  const bool want_out = out != nullptr;
  Scratch<T>& scratch = thread_scratch<T>();
  // kt: (nkb, E, Bc), each key block's k transposed; vp: (Sp, Evp), v padded.
  T* kt = scratch.take(0, nkb * E * Bc);
  T* vp = want_out ? scratch.take(1, Sp * Evp) : nullptr;
  const T* kb = k.data + k.batch_offsets[b];
  for (int64_t jb = 0; jb < nkb; ++jb) {
    const int64_t j0 = jb * Bc;
    pack_transposed(kb + j0 * k.row_stride, k.row_stride, k.col_stride, std::min(Bc, S - j0), E, kt + jb * E * Bc, Bc);
  }
  if (want_out) pack_rows(v.data + v.batch_offsets[b], v.row_stride, v.col_stride, S, Ev, T(1), vp, Sp, Evp);
  T* qs = scratch.take(2, Br * E);   // (Br, E): q's rows times scale
  T* s = scratch.take(3, Br * Bc);   // (Br, Bc): scores, then their exponentials P
  T* acc = scratch.take(4, Br * Evp);  // (Br, Evp): P v summed over key blocks, unnormalized
  T* m = scratch.take(5, Br);        // running row max
  T* l = scratch.take(6, Br);        // running row sum of exp(s - m)
  const int64_t mask_base = mask.kind == AttentionMaskKind::kNone ? 0 : mask.batch_offsets[b];
  const T scale = static_cast<T>(sh.scale);
  for (int64_t qb = g; qb < blocks(L, Br); qb += G) {
    const int64_t i0 = qb * Br, nr = std::min(Br, L - i0);
    pack_rows(q.data + q.batch_offsets[b] + i0 * q.row_stride, q.row_stride, q.col_stride, nr, E, scale, qs, Br, E);
    std::fill(m, m + Br, kNegInf<T>);
    std::fill(l, l + Br, T(0));
    if (want_out) std::fill(acc, acc + Br * Evp, T(0));
    for (int64_t jb = 0; jb < key_blocks_for(sh, i0, nr); ++jb) {
      const int64_t j0 = jb * Bc;
      gemm<T>(Br, Bc, E, qs, E, 1, kt + jb * E * Bc, Bc, s, Bc, false);
      mask_scores(s, i0, nr, j0, std::min(Bc, S - j0), sh, mask, mask_base);
      for (int64_t r = 0; r < Br; ++r) {
        T* row = s + r * Bc;
        const T m_new = r < nr ? max_nan(m[r], row_max(row, Bc)) : kNegInf<T>;
        if (m_new == kNegInf<T>) {
          // Every key so far is masked (or a padding row): no weight, nothing to rescale.
          std::fill(row, row + Bc, T(0));
          continue;
        }
        // exp(-inf) = 0 the first time; a NaN max makes the whole row NaN, as softmax does.
        const T alpha = m_new == m[r] ? T(1) : std::exp(m[r] - m_new);
        l[r] = l[r] * alpha + exp_shifted_sum(row, Bc, m_new);
        m[r] = m_new;
        if (want_out && alpha != T(1))
          for (int64_t e = 0; e < Evp; ++e) acc[r * Evp + e] *= alpha;
      }
      if (want_out) gemm<T>(Br, Evp, Bc, s, Bc, 1, vp + j0 * Evp, Evp, acc, Evp, true);
    }
    for (int64_t r = 0; r < nr; ++r) {
      const int64_t i = i0 + r;
      if (want_out) {
        T* o = out + (b * L + i) * Ev;
        // l is 0 exactly when every key is masked: the row is zeros, not 0/0.
        for (int64_t e = 0; e < Ev; ++e) o[e] = l[r] == T(0) ? T(0) : acc[r * Evp + e] / l[r];
      }
      if (lse) lse[b * L + i] = l[r] == T(0) ? std::numeric_limits<T>::infinity() : m[r] + std::log(l[r]);
    }
  }
}

}  // namespace

template <class T>
void attention_forward(const AttentionShape& shape, const AttentionOperand<T>& q, const AttentionOperand<T>& k,
                       const AttentionOperand<T>& v, const AttentionMask& mask, T* out) {
  const int64_t G = groups_for(shape.B, blocks(shape.L, kQueryBlock));
  run_jobs(shape.B * G, [&](int64_t job) { forward_rows<T>(shape, q, k, v, mask, job / G, job % G, G, out, nullptr); });
}

template <class T>
void attention_backward(const AttentionShape& sh, const AttentionOperand<T>& dout, const AttentionOperand<T>& q,
                        const AttentionOperand<T>& k, const AttentionOperand<T>& v, const AttentionOperand<T>& out,
                        const AttentionMask& mask, T* grads) {
  const int64_t B = sh.B, L = sh.L, S = sh.S, E = sh.E, Ev = sh.Ev, Br = kQueryBlock, Bc = kKeyBlock;
  const int64_t Ep = round_up(E, kNr<T>), Evp = round_up(Ev, kNr<T>), Lp = round_up(L, Br);
  const int64_t per_batch = L * E + S * E + S * Ev;  // grads' row: dq, dk, dv
  const T scale = static_cast<T>(sh.scale);

  // Pass 1: each row's logsumexp lse (B, L), and D (B, L) = rowsum(dout * out), which equals
  // rowsum(P * dP) (FlashAttention-2, eq. 4), so dS = P * (dP - D) needs no second pass.
  std::vector<T> lse(static_cast<size_t>(B * L)), D(static_cast<size_t>(B * L));
  const int64_t Gq = groups_for(B, blocks(L, Br));
  run_jobs(B * Gq, [&](int64_t job) {
    const int64_t b = job / Gq, g = job % Gq;
    forward_rows<T>(sh, q, k, v, mask, b, g, Gq, nullptr, lse.data());
    for (int64_t qb = g; qb < blocks(L, Br); qb += Gq)
      for (int64_t i = qb * Br; i < std::min(L, (qb + 1) * Br); ++i) {
        const T* d = dout.data + dout.batch_offsets[b] + i * dout.row_stride;
        const T* o = out.data + out.batch_offsets[b] + i * out.row_stride;
        T sum = 0;
        for (int64_t e = 0; e < Ev; ++e) sum += d[e * dout.col_stride] * o[e * out.col_stride];
        D[b * L + i] = sum;
      }
  });

  // Pass 2: work items (batch element, group of key blocks). Each owns its key blocks' dk and
  // dv, and adds into a dq of its own, (Lp, Ep), summed in group order below so that the
  // result does not depend on which thread ran which group.
  const int64_t nkb = blocks(S, Bc), G = groups_for(B, nkb);
  std::vector<T> dq_parts(static_cast<size_t>(B * G * Lp * Ep));
  run_jobs(B * G, [&](int64_t job) {
    const int64_t b = job / G, g = job % G;
    Scratch<T>& scratch = thread_scratch<T>();
    T* qs = scratch.take(0, Lp * Ep);    // (Lp, Ep): q times scale, padded
    T* dop = scratch.take(1, Lp * Evp);  // (Lp, Evp): dout, padded
    T* kt = scratch.take(2, E * Bc);     // (E, Bc): the key block transposed
    T* vt = scratch.take(3, Ev * Bc);    // (Ev, Bc): the value block transposed
    T* kp = scratch.take(4, Bc * Ep);    // (Bc, Ep): the key block
    T* dk = scratch.take(5, Bc * Ep);    // (Bc, Ep): the key block's gradient
    T* dv = scratch.take(6, Bc * Evp);   // (Bc, Evp): the value block's gradient
    T* p = scratch.take(7, 2 * Br * Bc);  // (Br, Bc) twice: P, then dP and dS
    T* ds = p + Br * Bc;
    T* dq = dq_parts.data() + job * Lp * Ep;  // (Lp, Ep)
    pack_rows(q.data + q.batch_offsets[b], q.row_stride, q.col_stride, L, E, scale, qs, Lp, Ep);
    pack_rows(dout.data + dout.batch_offsets[b], dout.row_stride, dout.col_stride, L, Ev, T(1), dop, Lp, Evp);
    const T* kb = k.data + k.batch_offsets[b];
    const T* vb = v.data + v.batch_offsets[b];
    const T* lse_b = lse.data() + b * L;
    const T* D_b = D.data() + b * L;
    const int64_t mask_base = mask.kind == AttentionMaskKind::kNone ? 0 : mask.batch_offsets[b];
    T* grads_b = grads + b * per_batch;
    for (int64_t jb = g; jb < nkb; jb += G) {
      const int64_t j0 = jb * Bc, nc = std::min(Bc, S - j0);
      pack_transposed(kb + j0 * k.row_stride, k.row_stride, k.col_stride, nc, E, kt, Bc);
      pack_transposed(vb + j0 * v.row_stride, v.row_stride, v.col_stride, nc, Ev, vt, Bc);
      pack_rows(kb + j0 * k.row_stride, k.row_stride, k.col_stride, nc, E, T(1), kp, Bc, Ep);
      std::fill(dk, dk + Bc * Ep, T(0));
      std::fill(dv, dv + Bc * Evp, T(0));
      // Under the causal mask, query blocks that end before the key block starts see none of it.
      for (int64_t qb = sh.causal ? j0 / Br : 0; qb < blocks(L, Br); ++qb) {
        const int64_t i0 = qb * Br, nr = std::min(Br, L - i0);
        gemm<T>(Br, Bc, E, qs + i0 * Ep, Ep, 1, kt, Bc, p, Bc, false);  // S = (q * scale) k^T
        mask_scores(p, i0, nr, j0, nc, sh, mask, mask_base);
        for (int64_t r = 0; r < Br; ++r) {
          T* row = p + r * Bc;
          if (r >= nr) {
            std::fill(row, row + Bc, T(0));
            continue;
          }
          const T shift = lse_b[i0 + r];
          for (int64_t c = 0; c < Bc; ++c) row[c] = std::exp(row[c] - shift);  // P
        }
        gemm<T>(Bc, Evp, Br, p, 1, Bc, dop + i0 * Evp, Evp, dv, Evp, true);  // dv += P^T dout
        gemm<T>(Br, Bc, Ev, dop + i0 * Evp, Evp, 1, vt, Bc, ds, Bc, false);  // dP = dout v^T
        for (int64_t r = 0; r < Br; ++r) {
          T* row = ds + r * Bc;
          const T* prow = p + r * Bc;
          const T d = r < nr ? D_b[i0 + r] : T(0);
          for (int64_t c = 0; c < Bc; ++c) row[c] = prow[c] * (row[c] - d);  // dS = P * (dP - D)
        }
        gemm<T>(Br, Ep, Bc, ds, Bc, 1, kp, Ep, dq + i0 * Ep, Ep, true);  // dq += dS k (times scale below)
        gemm<T>(Bc, Ep, Br, ds, 1, Bc, qs + i0 * Ep, Ep, dk, Ep, true);  // dk += dS^T (q * scale)
      }
      for (int64_t c = 0; c < nc; ++c) {
        std::copy(dk + c * Ep, dk + c * Ep + E, grads_b + L * E + (j0 + c) * E);
        std::copy(dv + c * Evp, dv + c * Evp + Ev, grads_b + L * E + S * E + (j0 + c) * Ev);
      }
    }
  });

  // dq = scale * the groups' partial sums, added in group order.
  run_jobs(B, [&](int64_t b) {
    T* dq = grads + b * per_batch;
    for (int64_t i = 0; i < L; ++i)
      for (int64_t e = 0; e < E; ++e) {
        T sum = 0;
        for (int64_t g = 0; g < G; ++g) sum += dq_parts[((b * G + g) * Lp + i) * Ep + e];
        dq[i * E + e] = scale * sum;
      }
  });
}

template void attention_forward<float>(const AttentionShape&, const AttentionOperand<float>&,
                                       const AttentionOperand<float>&, const AttentionOperand<float>&,
                                       const AttentionMask&, float*);
template void attention_forward<double>(const AttentionShape&, const AttentionOperand<double>&,
                                        const AttentionOperand<double>&, const AttentionOperand<double>&,
                                        const AttentionMask&, double*);
template void attention_backward<float>(const AttentionShape&, const AttentionOperand<float>&,
                                        const AttentionOperand<float>&, const AttentionOperand<float>&,
                                        const AttentionOperand<float>&, const AttentionOperand<float>&,
                                        const AttentionMask&, float*);
template void attention_backward<double>(const AttentionShape&, const AttentionOperand<double>&,
                                         const AttentionOperand<double>&, const AttentionOperand<double>&,
                                         const AttentionOperand<double>&, const AttentionOperand<double>&,
                                         const AttentionMask&, double*);

}  // namespace tl::rt::cpu
