#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <unordered_map>

#include "runtime/cpu/onednn.h"
#include "runtime/cpu/onednn_common.h"

namespace tl::rt::cpu {
namespace {

struct MatmulKey {
  int64_t batch, M, N, K, a_bs, a_rs, a_cs, b_bs, b_rs, b_cs;
  bool operator==(const MatmulKey& o) const {
    return std::tie(batch, M, N, K, a_bs, a_rs, a_cs, b_bs, b_rs, b_cs) ==
           std::tie(o.batch, o.M, o.N, o.K, o.a_bs, o.a_rs, o.a_cs, o.b_bs, o.b_rs, o.b_cs);
  }
};
struct MatmulKeyHash {
  size_t operator()(const MatmulKey& k) const {
    size_t h = 0;
    for (int64_t v : {k.batch, k.M, k.N, k.K, k.a_bs, k.a_rs, k.a_cs, k.b_bs, k.b_rs, k.b_cs})
      h = h * 1000003u ^ static_cast<size_t>(v);
    return h;
  }
};

struct MatmulEntry {
  dnnl::matmul primitive;
  dnnl::memory::desc a, b, c;
};

}  // namespace

namespace {

// Runs one cached primitive. Descriptors use real strides only: a batch dim of extent 1
// with stride 0 makes oneDNN 2.6 fall back to its reference kernel, so single matrices get
// 2-D descriptors and broadcast batches are looped over by the caller.
void run_matmul(MatrixArg a, MatrixArg b, float* c, int64_t batch, int64_t M, int64_t N, int64_t K) {
  using dnnl::memory;
  MatmulKey key{batch, M, N, K, a.batch_stride, a.row_stride, a.col_stride, b.batch_stride, b.row_stride, b.col_stride};
  static std::mutex mutex;
  static std::unordered_map<MatmulKey, MatmulEntry, MatmulKeyHash> cache;
  MatmulEntry* entry;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(key);
    if (it == cache.end()) {
      auto f32 = memory::data_type::f32;
      memory::desc a_md, b_md, c_md;
      if (batch == 1) {
        a_md = memory::desc({M, K}, f32, {a.row_stride, a.col_stride});
        b_md = memory::desc({K, N}, f32, {b.row_stride, b.col_stride});
        c_md = memory::desc({M, N}, f32, {N, 1});
      } else {
        a_md = memory::desc({batch, M, K}, f32, {a.batch_stride, a.row_stride, a.col_stride});
        b_md = memory::desc({batch, K, N}, f32, {b.batch_stride, b.row_stride, b.col_stride});
        c_md = memory::desc({batch, M, N}, f32, {M * N, N, 1});
      }
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), engine());
      it = cache.emplace(key, MatmulEntry{dnnl::matmul(pd), a_md, b_md, c_md}).first;
    }
    entry = &it->second;
  }
  memory am(entry->a, engine(), const_cast<float*>(a.data));
  memory bm(entry->b, engine(), const_cast<float*>(b.data));
  memory cm(entry->c, engine(), c);
  static thread_local dnnl::stream s(engine());
  entry->primitive.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  s.wait();
}

}  // namespace

void matmul_f32(MatrixArg a, MatrixArg b, float* c, int64_t batch, int64_t M, int64_t N, int64_t K) {
  if (batch == 1) {
    run_matmul({a.data, 0, a.row_stride, a.col_stride}, {b.data, 0, b.row_stride, b.col_stride}, c, 1, M, N, K);
    return;
  }
  if (a.batch_stride == 0 || b.batch_stride == 0) {
    for (int64_t i = 0; i < batch; ++i) {
      run_matmul({a.data + i * a.batch_stride, 0, a.row_stride, a.col_stride},
                 {b.data + i * b.batch_stride, 0, b.row_stride, b.col_stride}, c + i * M * N, 1, M, N, K);
    }
    return;
  }
  run_matmul(a, b, c, batch, M, N, K);
}

}  // namespace tl::rt::cpu
