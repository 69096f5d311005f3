#include <algorithm>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "runtime/cpu/onednn.h"
#include "runtime/cpu/onednn_common.h"

namespace tl::rt::cpu {
namespace {

struct MatmulKey {
  int64_t batch, M, N, K, a_bs, a_rs, a_cs, b_bs, b_rs, b_cs, bias, relu;
  bool operator==(const MatmulKey& o) const {
    return std::tie(batch, M, N, K, a_bs, a_rs, a_cs, b_bs, b_rs, b_cs, bias, relu) ==
           std::tie(o.batch, o.M, o.N, o.K, o.a_bs, o.a_rs, o.a_cs, o.b_bs, o.b_rs, o.b_cs, o.bias, o.relu);
  }
};
struct MatmulKeyHash {
  size_t operator()(const MatmulKey& k) const {
    size_t h = 0;
    for (int64_t v : {k.batch, k.M, k.N, k.K, k.a_bs, k.a_rs, k.a_cs, k.b_bs, k.b_rs, k.b_cs, k.bias, k.relu})
      h = h * 1000003u ^ static_cast<size_t>(v);
    return h;
  }
};

struct MatmulEntry {
  dnnl::matmul primitive;
  dnnl::memory::desc a, b, c, bias;
};

// This thread's oneDNN memory objects for an entry's operands and its argument map, created
// once and pointed at each call's data: creating them per call allocated several times per
// matmul, which showed in small train steps.
struct ThreadArgs {
  dnnl::memory a, b, c, bias, scratchpad;
  size_t scratchpad_bytes = 0;
  std::unordered_map<int, dnnl::memory> args;
};

ThreadArgs& thread_args(const MatmulEntry& entry, bool has_bias) {
  // Entries are never erased from their cache, so their addresses identify them.
  thread_local std::unordered_map<const MatmulEntry*, ThreadArgs> bound;
  auto [it, fresh] = bound.try_emplace(&entry);
  ThreadArgs& t = it->second;
  if (fresh) {
    dnnl::memory::desc scratchpad_md = scratchpad_desc(entry.primitive);
    t.scratchpad_bytes = scratchpad_md.get_size();
    t.a = dnnl::memory(entry.a, engine(), nullptr);
    t.b = dnnl::memory(entry.b, engine(), nullptr);
    t.c = dnnl::memory(entry.c, engine(), nullptr);
    t.scratchpad = dnnl::memory(scratchpad_md, engine(), nullptr);
    t.args = {{DNNL_ARG_SRC, t.a}, {DNNL_ARG_WEIGHTS, t.b}, {DNNL_ARG_DST, t.c}, {DNNL_ARG_SCRATCHPAD, t.scratchpad}};
    if (has_bias) {
      t.bias = dnnl::memory(entry.bias, engine(), nullptr);
      t.args.emplace(DNNL_ARG_BIAS, t.bias);
    }
  }
  return t;
}

}  // namespace

namespace {

// Runs one cached 2-D primitive: C (M x N, row stride ldc) = act(A (M x K) * B (K x N) + bias).
// Always 2-D: a size-1 batch dim with stride 0 makes oneDNN 2.6 fall back to its reference
// kernel.
void run_matmul(MatrixArg a, MatrixArg b, float* c, int64_t ldc, int64_t M, int64_t N, int64_t K,
                MatmulEpilogue epilogue) {
  using dnnl::memory;
  const bool has_bias = epilogue.bias != nullptr;
  MatmulKey key{ldc, M, N, K, 0, a.row_stride, a.col_stride, 0, b.row_stride, b.col_stride, has_bias, epilogue.relu};
  static std::mutex mutex;
  static std::unordered_map<MatmulKey, MatmulEntry, MatmulKeyHash> cache;
  MatmulEntry* entry;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(key);
    if (it == cache.end()) {
      auto f32 = memory::data_type::f32;
      memory::desc a_md({M, K}, f32, {a.row_stride, a.col_stride});
      memory::desc b_md({K, N}, f32, {b.row_stride, b.col_stride});
      memory::desc c_md({M, N}, f32, {ldc, 1});

      memory::desc bias_md({1, N}, f32, {N, 1});
      dnnl::primitive_attr attr = scratchpad_attr();
      if (epilogue.relu) {
        dnnl::post_ops ops;
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        attr.set_post_ops(ops);
      }
      auto desc = has_bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md) : dnnl::matmul::desc(a_md, b_md, c_md);
      dnnl::matmul::primitive_desc pd(desc, attr, engine());
      it = cache.emplace(key, MatmulEntry{dnnl::matmul(pd), a_md, b_md, c_md, bias_md}).first;
    }
    entry = &it->second;
  }
  ThreadArgs& bound = thread_args(*entry, has_bias);
  bound.a.set_data_handle(const_cast<float*>(a.data));
  bound.b.set_data_handle(const_cast<float*>(b.data));
  bound.c.set_data_handle(c);
  if (has_bias) bound.bias.set_data_handle(const_cast<float*>(epilogue.bias));
  bound.scratchpad.set_data_handle(thread_scratchpad(bound.scratchpad_bytes));
  static thread_local dnnl::stream s(engine());
  execute_primitive(entry->primitive, s, bound.args);
  s.wait();
}

}  // namespace

void matmul_f32(MatrixArg a, MatrixArg b, float* c, int64_t batch, int64_t M, int64_t N, int64_t K,
                MatmulEpilogue epilogue) {
  // The output is cut into tiles by its shape alone; each tile is one single-threaded GEMM
  // over the full K, so every element is reduced the same way at any thread count. oneDNN's
  // AVX2 sgemm runs about twice as fast per thread with 512 or more rows than with fewer, so
  // tall outputs are cut into row blocks of at least 512 and short ones into column blocks.
  constexpr int64_t kRowTile = 512, kColTile = 256;
  int64_t mt = M >= 2 * kRowTile ? M / kRowTile : 1;
  int64_t nt = mt == 1 && N >= 2 * kColTile ? (N + kColTile - 1) / kColTile : 1;
  int64_t tm = (M + mt - 1) / mt, tn = (N + nt - 1) / nt;
  run_jobs_single_threaded(batch * mt * nt, [&](int64_t job) {
    int64_t bi = job / (mt * nt), ti = (job / nt) % mt, tj = job % nt;
    int64_t m0 = ti * tm, n0 = tj * tn;
    int64_t m = std::min(tm, M - m0), n = std::min(tn, N - n0);
    MatrixArg at{a.data + bi * a.batch_stride + m0 * a.row_stride, 0, a.row_stride, a.col_stride};
    MatrixArg bt{b.data + bi * b.batch_stride + n0 * b.col_stride, 0, b.row_stride, b.col_stride};
    MatmulEpilogue tile = epilogue;
    if (tile.bias != nullptr) tile.bias += n0;
    run_matmul(at, bt, c + bi * M * N + m0 * N + n0, N, m, n, K, tile);
  });
}

}  // namespace tl::rt::cpu
