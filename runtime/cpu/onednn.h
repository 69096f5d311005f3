// Thin wrappers around oneDNN primitives for float32 on the CPU. Primitives are created
// once per problem shape and cached. Plain C++ types only: oneDNN headers stay in .cpp files.
#pragma once

#include <cstdint>
#include <memory>

namespace tl::rt::cpu {

// A row-major matrix operand: element (r, c) of batch b is at data[b*batch_stride + r*row_stride + c*col_stride].
// One of row_stride/col_stride must be 1. batch_stride 0 broadcasts one matrix over the batch.
struct MatrixArg {
  const float* data;
  int64_t batch_stride;
  int64_t row_stride;
  int64_t col_stride;
};

// What oneDNN applies to a product before storing it (post-ops): C = act(A * B + bias), with
// bias (N floats, contiguous) added to every row when not null.
struct MatmulEpilogue {
  const float* bias = nullptr;
  bool relu = false;
};

// C[b] (M x N, contiguous) = A[b] (M x K) * B[b] (K x N), for b in [0, batch), then the
// epilogue. A batch_stride of 0 repeats one matrix over the batch.
void matmul_f32(MatrixArg a, MatrixArg b, float* c, int64_t batch, int64_t M, int64_t N, int64_t K,
                MatmulEpilogue epilogue = {});

}  // namespace tl::rt::cpu

namespace tl::rt::cpu {

// Geometry of a 2-D convolution. Activations are NCHW and weights OIHW, all contiguous;
// `groups` splits C and O evenly, so weights are (O, C/groups, KH, KW).
// OH = (H + 2*pad_h - dilation_h*(KH-1) - 1) / stride_h + 1, and likewise OW.
struct Conv2dGeometry {
  int64_t N, C, H, W;
  int64_t O, KH, KW;
  int64_t OH, OW;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups;
};

// Where a call's weights live, so that their copy in the primitive's layout can be reused by
// later calls while the weights are unchanged: the storage that holds them (compared by
// identity, and only while it is alive) and its write counter at this call.
struct WeightsIdentity {
  std::weak_ptr<const void> storage;
  uint64_t version = 0;
};

// What oneDNN applies to a convolution's result before storing it (post-ops).
struct ConvEpilogue {
  bool relu = false;
  // Added to the result before the relu: (N, O, OH, OW) contiguous, or null.
  const float* residual = nullptr;
  // Operands held in oneDNN's channel-blocked layout nChw8c (the AVX2 kernels' own) instead of
  // NCHW, so that a chain of convolutions reorders nothing between them: kBlocked* bits.
  // A blocked operand's channel count must be a multiple of 8 (same bytes as NCHW).
  int blocked = 0;
};
inline constexpr int kBlockedInput = 1, kBlockedResidual = 2, kBlockedOutput = 4;

// y: (N, O, OH, OW) = conv(x: (N, C, H, W), w: (O, C/groups, KH, KW)) + bias: (O), or no
// bias when `bias` is null, then the epilogue. With `reuse`, the weights' reordered copy is cached (keyed by
// storage, address and version) instead of being made on every call.
void conv2d_forward_f32(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y,
                        const WeightsIdentity* reuse = nullptr, ConvEpilogue epilogue = {});
// dx: (N, C, H, W) = gradient of the convolution w.r.t. x, given dy: (N, O, OH, OW).
void conv2d_backward_data_f32(const Conv2dGeometry& g, const float* dy, const float* w, float* dx);
// dw: (O, C/groups, KH, KW) = gradient of the convolution w.r.t. w, given x and dy.
void conv2d_backward_weights_f32(const Conv2dGeometry& g, const float* x, const float* dy, float* dw);

}  // namespace tl::rt::cpu
