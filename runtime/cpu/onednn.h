// Thin wrappers around oneDNN primitives for float32 on the CPU. Primitives are created
// once per problem shape and cached. Plain C++ types only: oneDNN headers stay in .cpp files.
#pragma once

#include <cstdint>

namespace tl::rt::cpu {

// A row-major matrix operand: element (r, c) of batch b is at data[b*batch_stride + r*row_stride + c*col_stride].
// One of row_stride/col_stride must be 1. batch_stride 0 broadcasts one matrix over the batch.
struct MatrixArg {
  const float* data;
  int64_t batch_stride;
  int64_t row_stride;
  int64_t col_stride;
};

// C[b] (M x N, contiguous) = A[b] (M x K) * B[b] (K x N), for b in [0, batch).
void matmul_f32(MatrixArg a, MatrixArg b, float* c, int64_t batch, int64_t M, int64_t N, int64_t K);

}  // namespace tl::rt::cpu
