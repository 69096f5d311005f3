// matmul: [..., M, K] x [..., K, N] -> [..., M, N] with broadcast batch dims, and
// matmul_bias, the same with a bias add and relu folded in. float32 runs on oneDNN; other
// float dtypes use a reference loop (float64 is what gradcheck needs). Their derivatives and
// the public tl::matmul are the frontend's (frontend/ops/linalg/matmul.cpp).
#include <cstring>

#include "runtime/cpu/onednn.h"
#include "runtime/ops/pointwise/pointwise.h"

namespace tl::ops {
namespace {

// Describes the last two dims of `t` as a matrix operand, or returns false when neither
// dim is unit-stride (the caller then makes it contiguous).
bool as_matrix(const Tensor& t, int64_t& row_stride, int64_t& col_stride) {
  int64_t r = t.dim() - 2;
  row_stride = t.strides()[r];
  col_stride = t.strides()[r + 1];
  int64_t rows = t.shape()[r], cols = t.shape()[r + 1];
  if (cols == 1) col_stride = 1;
  if (rows == 1) row_stride = cols;
  return col_stride == 1 || row_stride == 1;
}

// Strides of the flattened batch of `t` (dims before the last two) as one uniform stride,
// given the broadcast batch shape; false when not expressible.
bool uniform_batch(const Tensor& t, const Shape& batch, int64_t& stride) {
  Shape bs = broadcast_strides(t, [&] {
    Shape s = batch;
    s.push_back(t.shape()[t.dim() - 2]);
    s.push_back(t.shape()[t.dim() - 1]);
    return s;
  }());
  // All-broadcast batch: stride 0.
  bool all_zero = true;
  for (int64_t i = 0; i < batch.size(); ++i) all_zero = all_zero && (bs[i] == 0 || batch[i] == 1);
  if (all_zero) {
    stride = 0;
    return true;
  }
  int64_t expected = -1;
  int64_t inner = 1;
  for (int64_t i = batch.size() - 1; i >= 0; --i) {
    if (batch[i] == 1) continue;
    if (expected < 0) {
      expected = bs[i];
      stride = bs[i];
    } else if (bs[i] != expected * inner) {
      return false;
    }
    inner *= batch[i];
  }
  return stride != 0;
}

// out (contiguous, last dim N) += bias (N contiguous elements, when defined), then relu.
void apply_epilogue(Tensor& out, const Tensor& bias, bool relu) {
  const int64_t N = out.shape()[out.dim() - 1];
  const int64_t rows = N == 0 ? 0 : out.numel() / N;
  TL_DISPATCH_FLOATING(out.dtype(), "matmul_bias", {
    T* o = out.data<T>();
    const T* bv = bias.defined() ? bias.data<T>() : nullptr;
    rt::parallel_for(rows, std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(N, 1)), [&](int64_t s, int64_t e) {
      for (int64_t r = s; r < e; ++r) {
        T* row = o + r * N;
        for (int64_t n = 0; n < N; ++n) {
          T v = bv ? static_cast<T>(row[n] + bv[n]) : row[n];
          row[n] = relu && !(v > T(0)) ? T(0) : v;
        }
      }
    });
  })
}

template <class T>
void reference_matmul(const T* a, const T* b, T* c, int64_t batch, int64_t M, int64_t N, int64_t K,
                      const int64_t as[3], const int64_t bs[3]) {
  using C = compute_t<T>;
  rt::parallel_for(batch * M, std::max<int64_t>(1, 4096 / std::max<int64_t>(N * K, 1)), [&](int64_t s, int64_t e) {
    std::vector<C> acc(static_cast<size_t>(N));
    for (int64_t bm = s; bm < e; ++bm) {
      int64_t bi = bm / M, m = bm % M;
      std::fill(acc.begin(), acc.end(), C(0));
      for (int64_t k = 0; k < K; ++k) {
        C av = static_cast<C>(a[bi * as[0] + m * as[1] + k * as[2]]);
        const T* brow = b + bi * bs[0] + k * bs[1];
        for (int64_t n = 0; n < N; ++n) acc[n] += av * static_cast<C>(brow[n * bs[2]]);
      }
      T* crow = c + bm * N;
      for (int64_t n = 0; n < N; ++n) crow[n] = static_cast<T>(acc[n]);
    }
  });
}

// `t` broadcast to `shape`, contiguous: t itself when that is already its layout, else a
// copy (what t.expand(shape).contiguous() gives, without running ops inside a kernel).
Tensor expanded_copy(const Tensor& t, const Shape& shape) {
  if (shape == t.shape()) return contiguous_copy(t);
  return contiguous_copy(make_view(t, shape, broadcast_strides(t, shape), t.storage_offset()));
}

// out = a @ b, then + bias (along the last dim, when defined) and relu (when `relu`).
void matmul_into(Tensor a, Tensor b, Tensor& out, const Tensor& bias, bool relu) {
  int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1], N = b.shape()[b.dim() - 1];
  Shape batch(out.shape().begin(), out.shape().end() - 2);
  int64_t nbatch = batch.numel();
  if (K == 0) {
    std::memset(out.data_ptr(), 0, out.nbytes());
    if (bias.defined() || relu) apply_epilogue(out, bias, relu);
    return;
  }
  int64_t ars, acs, brs, bcs, abs_, bbs;
  // Fold a's batch into M when b is a single matrix and a's rows are evenly spaced.
  if (b.dim() == 2 && a.dim() > 2 && a.is_contiguous()) {
    a = make_view(a, Shape{nbatch * M, K}, contiguous_strides(Shape{nbatch * M, K}), a.storage_offset());
    M = nbatch * M;
    nbatch = 1;
    batch = Shape{};
  }
  if (!as_matrix(a, ars, acs) || !uniform_batch(a, batch, abs_)) {
    a = expanded_copy(a, [&] { Shape s = batch; s.push_back(M); s.push_back(K); return s; }());
    as_matrix(a, ars, acs);
    abs_ = nbatch > 1 ? M * K : 0;
  }
  if (!as_matrix(b, brs, bcs) || !uniform_batch(b, batch, bbs)) {
    b = expanded_copy(b, [&] { Shape s = batch; s.push_back(K); s.push_back(N); return s; }());
    as_matrix(b, brs, bcs);
    bbs = nbatch > 1 ? K * N : 0;
  }
  if (nbatch <= 1) abs_ = bbs = 0;
  if (out.dtype() == kFloat32) {
    rt::cpu::MatmulEpilogue epilogue{bias.defined() ? bias.data<float>() : nullptr, relu};
    rt::cpu::matmul_f32({a.data<float>(), abs_, ars, acs}, {b.data<float>(), bbs, brs, bcs}, out.data<float>(),
                        std::max<int64_t>(nbatch, 1), M, N, K, epilogue);
    return;
  }
  int64_t as[3] = {abs_, ars, acs}, bs[3] = {bbs, brs, bcs};
  TL_DISPATCH_FLOATING(out.dtype(), "matmul", {
    reference_matmul<T>(a.data<T>(), b.data<T>(), out.data<T>(), std::max<int64_t>(nbatch, 1), M, N, K, as, bs);
  })
  if (bias.defined() || relu) apply_epilogue(out, bias, relu);
}

void matmul_kernel(std::span<const Tensor> in, Tensor& out, const Attrs&) { matmul_into(in[0], in[1], out, {}, false); }

OutputMeta infer_matmul(std::span<const Tensor> in, const Attrs&, Site site) {
  check_arity(in, 2, "matmul", site);
  const Tensor& a = in[0];
  const Tensor& b = in[1];
  if (a.dim() < 2 || b.dim() < 2) {
    throw ShapeError("tl::matmul: the op takes operands of rank >= 2 (the public function unsqueezes 1-D ones): " +
                     describe(in, {"a", "b"}) + " at " + site.str());
  }
  require_same_dtype(in, "matmul", site);
  require_floating(a, "matmul", "the operands", site);
  if (a.shape()[a.dim() - 1] != b.shape()[b.dim() - 2]) {
    throw ShapeError("tl::matmul: inner dimensions differ: " + describe(in, {"a", "b"}) +
                     " (a's last dim must equal b's second-to-last) at " + site.str());
  }
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2), batch;
  if (!broadcast_shapes(ba, bb, batch)) {
    throw ShapeError("tl::matmul: batch dims do not broadcast: " + describe(in, {"a", "b"}) + " at " + site.str());
  }
  batch.push_back(a.shape()[a.dim() - 2]);
  batch.push_back(b.shape()[b.dim() - 1]);
  return {batch, a.dtype()};
}

[[maybe_unused]] const OpDef& op_matmul = define_op("matmul", [](OpDef& op) {
  op.doc = "batched matrix product (operands have rank >= 2 here; the public function handles 1-D)";
  op.arity = 2;
  op.infer = infer_matmul;
  op.kernels[kCpu] = matmul_kernel;
});

OutputMeta infer_matmul_bias(std::span<const Tensor> in, const Attrs& attrs, Site site) {
  check_arity(in, 3, "matmul_bias", site);
  const Tensor &b = in[1], &bias = in[2];
  if (b.dim() != 2 || bias.dim() != 1) {
    throw ShapeError("tl::matmul_bias: takes a [..., M, K], b [K, N] and bias [N]: " +
                     describe(in, {"a", "b", "bias"}) + " at " + site.str());
  }
  require_same_dtype(in, "matmul_bias", site);
  OutputMeta meta = infer_matmul(in.first(2), attrs, site);
  if (bias.shape()[0] != meta.shape[meta.shape.size() - 1]) {
    throw ShapeError("tl::matmul_bias: bias has " + std::to_string(bias.shape()[0]) + " elements for " +
                     std::to_string(meta.shape[meta.shape.size() - 1]) + " columns: " +
                     describe(in, {"a", "b", "bias"}) + " at " + site.str());
  }
  return meta;
}

void matmul_bias_kernel(std::span<const Tensor> in, Tensor& out, const Attrs& attrs) {
  Tensor bias = contiguous_copy(in[2]);
  matmul_into(in[0], in[1], out, bias, attrs.flag);
}

// Built by the compiler's tl-matmul-epilogue pass from matmul + bias add (+ relu), so oneDNN
// applies the epilogue as post-ops while the product is in registers.
[[maybe_unused]] const OpDef& op_matmul_bias = define_op("matmul_bias", [](OpDef& op) {
  op.doc = "a @ b + bias, then relu when asked (a matmul with its epilogue folded)";
  op.arity = 3;
  op.attrs = {{"relu", AttrField::kFlag, "apply relu to the result"}};
  op.infer = infer_matmul_bias;
  op.kernels[kCpu] = matmul_bias_kernel;
  op.optional_inputs = {2};  // no bias: a matmul with only the relu epilogue
});

}  // namespace
}  // namespace tl::ops
