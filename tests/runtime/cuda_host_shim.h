// Just enough of CUDA's device environment for the host C++ compiler to compile tl's emitted
// CUDA C kernels as plain functions (tests/runtime/cuda_host_test.cpp): one "thread" whose
// grid-stride loop covers every element. The kernels' math then runs on the CPU and can be
// compared with the eager kernels, element by element, without a GPU.
#pragma once

#include <cmath>
#include <cstring>

#include "tl/dtype.h"

struct TlHostDim3 {
  unsigned x = 0;
};
inline TlHostDim3 blockIdx{0}, threadIdx{0}, blockDim{1}, gridDim{1};

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__

inline float __int_as_float(int bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// CUDA's half and bfloat16 as tl's (float conversions both ways, round to nearest even).
struct __half {
  tl::Half h;
  __half(float f) : h(f) {}
  operator float() const { return static_cast<float>(h); }
};
struct __nv_bfloat16 {
  tl::BFloat16 b;
  __nv_bfloat16(float f) : b(f) {}
  operator float() const { return static_cast<float>(b); }
};
