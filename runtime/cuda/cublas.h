// cuBLASLt, loaded with dlopen (libcublasLt.so.13 or .12): batched matrix products on the GPU
// for the matmul ops (runtime/cuda/ops/matmul.cpp). A build of tl needs no CUDA header, and a
// machine without the library, a driver or a device gets null from get() with the reason; the
// ops then run tl's own tiled kernel. Not run on a GPU yet (docs/cuda.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "runtime/cuda/driver.h"
#include "tl/dtype.h"

namespace tl::rt::cuda {

// One operand of a batched product, element (z, r, c) of a (batch, rows, cols) stack at
// data + (z * batch_stride + r * row_stride + c * col_stride) elements. One of row_stride and
// col_stride is 1; the other (the leading dimension) is at least the dim it steps over.
// batch_stride is 0 for an operand broadcast over the batch.
struct LtOperand {
  DevicePtr data = 0;
  int64_t batch_stride = 0, row_stride = 0, col_stride = 1;
};

// out[z] = a[z] @ b[z] (+ bias) (then relu), row-major: a (batch, M, K), b (batch, K, N), out
// (batch, M, N) contiguous, bias (N) contiguous or absent (0). Every size is in [1, 2^31).
struct LtProblem {
  DType dtype = kFloat32;
  int64_t batch = 1, M = 0, N = 0, K = 0;
  LtOperand a, b;
  DevicePtr out = 0;
  DevicePtr bias = 0;
  bool relu = false;
};

class CublasLt {
 public:
  // The library with a handle on device 0, made on the first call; null when there is no
  // library, no driver or no device, or the handle cannot be made, with the reason in `*why`.
  static const CublasLt* get(std::string* why = nullptr);

  // Runs `p` on the default stream (where tl's kernels run): float32 in float (CUBLAS_COMPUTE_32F,
  // no TF32), float64 in double, float16 and bfloat16 accumulated in float. `workspace(bytes)`
  // gives device memory that stays valid until the product is done. Returns false (with the
  // reason in `*why`) when cuBLASLt has no algorithm for `p`; throws DeviceError when the launch fails.
  bool matmul(const LtProblem& p, const std::function<DevicePtr(size_t)>& workspace, std::string* why) const;

  // "13.1.0"
  std::string version() const;

 private:
  CublasLt() = default;
  void* library_ = nullptr;
  void* handle_ = nullptr;
};

}  // namespace tl::rt::cuda
