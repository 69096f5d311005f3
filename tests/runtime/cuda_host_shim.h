// Just enough of CUDA's device environment for the host C++ compiler to compile tl's emitted
// CUDA C kernels as plain functions (tests/runtime/cuda_host_test.cpp). Called directly, a
// kernel is one "thread" whose grid-stride loop covers every element; launched through the
// host runner (cuda_host_runner.h), each block runs as blockDim host threads at once, so
// __syncthreads() and __shared__ arrays work as on a GPU. The kernels' math then runs on the
// CPU and can be compared with the eager kernels, element by element, without a GPU.
//
// What kernels may use beyond plain C/C++ arithmetic and <cmath>: threadIdx, blockIdx,
// blockDim, gridDim (x, y, z), __syncthreads(), statically sized __shared__ arrays,
// __int_as_float / __float_as_int, atomicAdd on float, double, int, unsigned, long long and
// unsigned long long, and __half / __nv_bfloat16 with float conversions. Not warp shuffles,
// not dynamic shared memory.
#pragma once

#include <barrier>
#include <cmath>
#include <cstring>
#include <mutex>

#include "tl/dtype.h"

struct TlHostDim3 {
  unsigned x = 0, y = 0, z = 0;
};
// Each host thread is one CUDA thread, and holds its view of the launch: its indices, the
// launch's sizes and its block's barrier (null when a kernel is called directly, by one
// thread). A kernel compiled into its own library at run time has its own copies of these,
// which the runner sets through tl_host_set_thread (below) in each thread before the call.
inline thread_local TlHostDim3 blockIdx{0, 0, 0}, threadIdx{0, 0, 0};
inline thread_local TlHostDim3 blockDim{1, 1, 1}, gridDim{1, 1, 1};
inline thread_local std::barrier<>* tl_host_block_barrier = nullptr;
struct TlHostThread {
  TlHostDim3 block_idx, thread_idx, block_dim, grid_dim;
  std::barrier<>* barrier;
};
inline void tl_host_set_thread(const TlHostThread& t) {
  blockIdx = t.block_idx;
  threadIdx = t.thread_idx;
  blockDim = t.block_dim;
  gridDim = t.grid_dim;
  tl_host_block_barrier = t.barrier;
}
inline void __syncthreads() {
  if (tl_host_block_barrier != nullptr) tl_host_block_barrier->arrive_and_wait();
}
inline void __threadfence() {}
inline std::mutex& tl_host_atomic_mutex() {
  static std::mutex m;
  return m;
}
template <class T>
inline T atomicAdd(T* address, T value) {
  std::lock_guard<std::mutex> lock(tl_host_atomic_mutex());
  const T old = *address;
  *address = old + value;
  return old;
}

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
// One block runs at a time, so a function-static array is the block's shared memory.
#define __shared__ static

inline float __int_as_float(int bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline int __float_as_int(float f) {
  int bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// CUDA's half and bfloat16 as tl's (float conversions both ways, round to nearest even).
struct __half {
  tl::Half h;
  __half() : h(0.0f) {}
  __half(float f) : h(f) {}
  operator float() const { return static_cast<float>(h); }
};
struct __nv_bfloat16 {
  tl::BFloat16 b;
  __nv_bfloat16() : b(0.0f) {}
  __nv_bfloat16(float f) : b(f) {}
  operator float() const { return static_cast<float>(b); }
};
