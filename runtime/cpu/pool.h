// float32 max and average pooling over NCHW planes, forward and backward, on the CPU.
// Hand-written: oneDNN 2.6 has only its reference kernel (simple_nchw) for plain NCHW.
#pragma once

#include <cstdint>

namespace tl::rt::cpu {

// Geometry of 2-D pooling over NCHW planes; padding is symmetric. The ops' shape rules keep
// padding <= kernel / 2, so a window covers padding alone only on an empty input (its max
// is then -inf, its mean 0, and it sends no gradient anywhere).
struct Pool2dGeometry {
  int64_t N, C, H, W;
  int64_t OH, OW;
  int64_t KH, KW, stride_h, stride_w, pad_h, pad_w;
};

// y: (N, C, OH, OW) = window max (padding never wins; a NaN in the window wins) or window
// mean (padding counts as zeros in a divisor of KH*KW) of x: (N, C, H, W). Each window is
// read in the order of runtime/ops/nn/conv_pool.cpp's reference loops; results do not
// depend on the thread count.
void pool2d_forward_f32(const Pool2dGeometry& g, bool is_max, const float* x, float* y);

// dx: (N, C, H, W) from dy: (N, C, OH, OW). Max: each window's gradient goes to its first
// maximum in row-major window order (its first NaN, if any) in x. Average: each window's
// gradient / (KH*KW) goes to each element it covers. Overlapping windows accumulate in
// output order, as in the reference loops.
// KH*KW must fit in int32 (window positions are stored as int32).
void pool2d_backward_f32(const Pool2dGeometry& g, bool is_max, const float* dy, const float* x, float* dx);

}  // namespace tl::rt::cpu
