// The launch layout shared by the block reductions (reduce_layout.h).
#include "runtime/cuda/reduce_layout.h"

#include <algorithm>

namespace tl::rt::cuda {

namespace {

// A reduction with fewer blocks than this is split along its values over blockIdx.y (chunks of
// at least kSplitChunk values) so that it fills the GPU; the chunks combine in a second pass.
constexpr int64_t kSplitTargetBlocks = 256;
constexpr int64_t kSplitChunk = 4096;

}  // namespace

Dim3 block_2d(int64_t outputs, int64_t length, bool across_first) {
  Dim3 b;
  if (across_first) {
    b.x = std::min(32u, pow2_at_least(outputs));
    b.y = std::min(kBlockThreads / b.x, pow2_at_least(length));
  } else {
    b.y = std::min(kBlockThreads, pow2_at_least(length));
    b.x = std::min(kBlockThreads / b.y, pow2_at_least(outputs));
  }
  return b;
}

BlockReduceLaunch block_reduce_launch(int64_t outputs, int64_t length, bool across_first) {
  BlockReduceLaunch l;
  l.shape.block = block_2d(outputs, length, across_first);
  const int64_t blocks = std::min(ceil_div(outputs, l.shape.block.x), kMaxGrid);
  l.shape.grid.x = static_cast<unsigned>(blocks);
  l.splits = std::max<int64_t>(1, std::min(length / kSplitChunk, kSplitTargetBlocks / blocks));
  l.chunk = std::max<int64_t>(1, ceil_div(length, l.splits));
  l.splits = std::max<int64_t>(1, ceil_div(length, l.chunk));
  l.shape.grid.y = static_cast<unsigned>(l.splits);
  return l;
}

MergedDims merged_dims(const std::vector<int64_t>& sizes, const std::vector<std::vector<int64_t>>& strides) {
  MergedDims m;
  m.strides.resize(strides.size());
  int& rank = m.shape.rank;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    bool merges = rank > 0;
    for (size_t k = 0; k < strides.size() && merges; ++k)
      merges = m.strides[k].stride[rank - 1] == strides[k][d] * sizes[d];
    if (merges) {
      m.shape.size[rank - 1] *= sizes[d];
      for (size_t k = 0; k < strides.size(); ++k) m.strides[k].stride[rank - 1] = strides[k][d];
      continue;
    }
    m.shape.size[rank] = sizes[d];
    for (size_t k = 0; k < strides.size(); ++k) m.strides[k].stride[rank] = strides[k][d];
    ++rank;
  }
  return m;
}

}  // namespace tl::rt::cuda
