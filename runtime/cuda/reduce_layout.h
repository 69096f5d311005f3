// The launch layout of the block reductions: the sum and extremum kernels (ops/reduce.cpp)
// and the block form of a fused sum (fused_reduction.cpp) lay out their blocks the same way.
// A block holds x outputs by y threads along each output's values.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/cuda/launch.h"

namespace tl::rt::cuda {

// Threads in a block at most: the kernels' __shared__ arrays hold one value per thread.
inline constexpr unsigned kBlockThreads = 256;
// Blocks along x at most; the kernels loop over the rest.
inline constexpr int64_t kMaxGrid = 65535;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The least power of two >= `n` (at most 2^30).
inline unsigned pow2_at_least(int64_t n) {
  unsigned p = 1;
  while (p < n && p < (1u << 30)) p *= 2;
  return p;
}

// A block of x outputs by y threads along each (y a power of two: the kernels' trees halve
// it). `across_first`: the kept dims, not the reduced ones, are inner in memory, so adjacent
// threads take adjacent outputs (32 of them).
Dim3 block_2d(int64_t outputs, int64_t length, bool across_first);

// The launch of a block reduction of `outputs` outputs of `length` values each: block_2d's
// block, grid.x blocks of outputs, and grid.y = `splits` chunks of `chunk` values of each
// output. A reduction with too few blocks to fill the GPU is split along its values, in chunks
// long enough to be worth a block; the kernels write each chunk's result to a buffer of
// [splits, outputs] that a second pass combines in order. `splits` is 1 when none is needed.
struct BlockReduceLaunch {
  LaunchShape shape;
  int64_t splits = 1, chunk = 1;
};
BlockReduceLaunch block_reduce_launch(int64_t outputs, int64_t length, bool across_first);

// Dims of an iteration space (`sizes`) as a kernel's shape and each input's strides
// (`strides[k]`, one per dim): size-1 dims dropped, and a dim merged into the one before it
// when each input's stride there spans it (the same element order, fewer divisions per
// value; a contiguous reduction over the last two dims becomes one dim). At most
// kMaxKernelRank dims of size > 1.
struct MergedDims {
  KernelShape shape;
  std::vector<KernelStrides> strides;  // per input
};
MergedDims merged_dims(const std::vector<int64_t>& sizes, const std::vector<std::vector<int64_t>>& strides);

}  // namespace tl::rt::cuda
