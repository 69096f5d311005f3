// Running a JIT-compiled fused group: operand descriptors, chunking and threads.
#include "codegen/cpu/fused_kernel.h"

#include <cstring>

#include <llvm/ADT/SmallVector.h>

#include "runtime/cpu/parallel.h"
#include "tl/autograd.h"

namespace tl::codegen::cpu {

FusedLayout collapse_layout(const Shape& out_shape, DType out_dtype, const std::vector<Shape>& input_shapes,
                            const std::vector<DType>& input_dtypes) {
  TL_ASSERT(input_shapes.size() == input_dtypes.size(), "one dtype per fused input");
  FusedLayout layout;
  layout.out_shape = out_shape;
  layout.out_dtype = out_dtype;
  const int64_t rank = out_shape.size();
  const size_t n = input_shapes.size();
  // broadcast[k][d]: input k has size 1 along output dim d while the output does not.
  std::vector<std::vector<bool>> broadcast(n, std::vector<bool>(rank, false));
  for (size_t k = 0; k < n; ++k) {
    const Shape& s = input_shapes[k];
    TL_ASSERT(s.size() <= rank, "a fused input has a higher rank than the group's output");
    const int64_t pad = rank - s.size();
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t size = d < pad ? 1 : s[d - pad];
      TL_ASSERT(size == out_shape[d] || size == 1, "a fused input does not broadcast to the group's output");
      broadcast[k][d] = size == 1 && out_shape[d] != 1;
    }
  }
  layout.inputs.resize(n);
  for (size_t k = 0; k < n; ++k) {
    layout.inputs[k].shape = input_shapes[k];
    layout.inputs[k].dtype = input_dtypes[k];
  }
  for (int64_t d = 0; d < rank; ++d) {
    if (out_shape[d] == 1) continue;  // every operand has size 1 there
    bool merges = !layout.dims.empty();
    for (size_t k = 0; k < n && merges; ++k) merges = layout.inputs[k].broadcast.back() == broadcast[k][d];
    if (merges) {
      layout.dims[layout.dims.size() - 1] *= out_shape[d];
      continue;
    }
    layout.dims.push_back(out_shape[d]);
    for (size_t k = 0; k < n; ++k) layout.inputs[k].broadcast.push_back(broadcast[k][d]);
  }
  if (layout.dims.empty()) {
    layout.dims.push_back(1);
    for (auto& in : layout.inputs) in.broadcast.push_back(false);
  }
  return layout;
}

namespace {

// A ranked memref descriptor as MLIR's C interface lays it out: allocated and aligned
// pointers, offset, sizes[rank], strides[rank]; every field is 8 bytes.
void fill_descriptor(int64_t* words, void* data, const int64_t* sizes, int64_t rank) {
  std::memcpy(&words[0], &data, sizeof data);
  std::memcpy(&words[1], &data, sizeof data);
  words[2] = 0;
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    words[3 + d] = sizes[d];
    words[3 + rank + d] = stride;
    stride *= sizes[d];
  }
}

}  // namespace

void FusedKernel::run(std::span<const Tensor> inputs, Tensor& out) const {
  const FusedLayout& l = layout_;
  TL_ASSERT(inputs.size() == l.inputs.size(), "a fused kernel got the wrong number of inputs");
  TL_ASSERT(out.is_contiguous() && out.shape() == l.out_shape && out.dtype() == l.out_dtype,
            "a fused kernel's output does not match the compiled group");
  if (out.numel() == 0) return;
  // Small buffers on the stack: for tiny tensors the call overhead is the cost.
  llvm::SmallVector<Tensor, 8> contiguous_copies;  // keeps copies of strided inputs alive
  llvm::SmallVector<const Tensor*, 8> in;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = inputs[k];
    TL_ASSERT(t.shape() == l.inputs[k].shape && t.dtype() == l.inputs[k].dtype && t.device().type == DeviceType::kCPU,
              "a fused kernel's input does not match the compiled group");
    if (t.is_contiguous()) {
      in.push_back(&t);
      continue;
    }
    NoGradGuard no_grad;
    contiguous_copies.reserve(inputs.size());  // no reallocation: `in` points into it
    contiguous_copies.push_back(t.contiguous());
    in.push_back(&contiguous_copies.back());
  }

  const int64_t rank = l.dims.size();
  const size_t n = in.size() + 1;
  auto reduced = [&](int64_t d) { return !l.reduced.empty() && l.reduced[d]; };
  int64_t row_elems = 1;
  for (int64_t d = 1; d < rank; ++d) row_elems *= l.dims[d];
  const int64_t rows = l.dims[0];
  // A reduction over dim 0 accumulates every row into the same outputs: one chunk.
  const int64_t grain_rows = reduced(0) ? rows
                                        : std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(1, row_elems));

  // Per operand: its sizes along the collapsed dims (1 where broadcast) and its elements per row.
  llvm::SmallVector<int64_t, 32> sizes(n * rank);
  llvm::SmallVector<int64_t, 8> row_step(n);
  llvm::SmallVector<char*, 8> base(n);
  llvm::SmallVector<size_t, 8> elem(n);
  for (size_t k = 0; k < n; ++k) {
    const bool is_out = k + 1 == n;
    int64_t step = 1;
    for (int64_t d = 0; d < rank; ++d) {
      const bool bc = is_out ? reduced(d) : l.inputs[k].broadcast[d];
      sizes[k * rank + d] = bc ? 1 : l.dims[d];
      if (d > 0) step *= sizes[k * rank + d];
    }
    const bool rows_broadcast = is_out ? reduced(0) : l.inputs[k].broadcast[0];
    row_step[k] = rows_broadcast ? 0 : step;
    const Tensor& t = is_out ? out : *in[k];
    base[k] = static_cast<char*>(t.data_ptr());
    elem[k] = dtype_size(t.dtype());
  }

  const int64_t words_per = 3 + 2 * rank;
  rt::parallel_for(rows, grain_rows, [&](int64_t begin, int64_t end) {
    llvm::SmallVector<int64_t, 64> words(n * words_per);
    llvm::SmallVector<int64_t, 32> chunk_sizes(sizes.begin(), sizes.end());
    llvm::SmallVector<void*, 8> descriptors(n);
    llvm::SmallVector<void*, 8> args(n);
    for (size_t k = 0; k < n; ++k) {
      if (row_step[k] != 0) chunk_sizes[k * rank] = end - begin;
      void* data = base[k] + static_cast<size_t>(begin * row_step[k]) * elem[k];
      fill_descriptor(&words[k * words_per], data, &chunk_sizes[k * rank], rank);
      descriptors[k] = &words[k * words_per];
      args[k] = &descriptors[k];
    }
    entry_(args.data());
  });
}

}  // namespace tl::codegen::cpu
