// Running generated code for a fused group: operand descriptors, chunking and threads.
#include "runtime/exec/fused_kernel.h"

#include <array>
#include <cstring>

#include "runtime/cpu/parallel.h"
#include "runtime/ops/pointwise/pointwise.h"

namespace tl::rt {

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
  layout.space_rank = rank;
  for (int64_t d = 0; d < rank; ++d) {
    if (out_shape[d] == 1) continue;  // every operand has size 1 there
    bool merges = !layout.dims.empty();
    for (size_t k = 0; k < n && merges; ++k) merges = layout.inputs[k].broadcast.back() == broadcast[k][d];
    if (merges) {
      layout.dims[layout.dims.size() - 1] *= out_shape[d];
    } else {
      layout.dims.push_back(out_shape[d]);
      for (size_t k = 0; k < n; ++k) layout.inputs[k].broadcast.push_back(broadcast[k][d]);
    }
    if (layout.dims.size() == 1) layout.leading_dims = d + 1;
  }
  if (layout.dims.empty()) {
    layout.dims.push_back(1);
    for (auto& in : layout.inputs) in.broadcast.push_back(false);
    layout.leading_dims = rank;
  }
  return layout;
}

namespace {

// Per-call scratch on the stack for the usual operand counts, on the heap beyond: a run of a
// compiled artifact allocates nothing (tests/runtime count it).
template <class T, size_t N>
class Scratch {
 public:
  explicit Scratch(size_t n) : n_(n) {
    if (n > N) heap_.resize(n);
  }
  T& operator[](size_t i) { return n_ > N ? heap_[i] : stack_[i]; }
  T* data() { return n_ > N ? heap_.data() : stack_.data(); }

 private:
  size_t n_;
  std::array<T, N> stack_{};
  std::vector<T> heap_;
};

// The product of `shape`'s dims [begin, end) after right-aligning it to `rank` dims.
int64_t aligned_product(const Shape& shape, int64_t rank, int64_t begin, int64_t end) {
  const int64_t pad = rank - static_cast<int64_t>(shape.size());
  int64_t p = 1;
  for (int64_t d = begin; d < end; ++d) p *= d < pad ? 1 : shape[d - pad];
  return p;
}

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
  const size_t n = inputs.size() + 1;
  Scratch<Tensor, 12> contiguous_copies(n);  // keeps copies of strided inputs alive
  Scratch<const Tensor*, 12> in(n);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = inputs[k];
    TL_ASSERT(t.shape() == l.inputs[k].shape && t.dtype() == l.inputs[k].dtype && t.device().type == DeviceType::kCPU,
              "a fused kernel's input does not match the compiled group");
    if (t.is_contiguous()) {
      in[k] = &t;
      continue;
    }
    contiguous_copies[k] = ops::contiguous_copy(t);
    in[k] = &contiguous_copies[k];
  }

  const int64_t rank = l.dims.size();
  auto reduced = [&](int64_t d) { return !l.reduced.empty() && l.reduced[d]; };
  int64_t row_elems = 1;
  for (int64_t d = 1; d < rank; ++d) row_elems *= l.dims[d];
  const int64_t rows = l.dims[0];
  // A reduction over dim 0 accumulates every row into the same outputs: one chunk.
  const int64_t grain_rows = reduced(0) ? rows
                                        : std::max<int64_t>(1, rt::kElementwiseGrain / std::max<int64_t>(1, row_elems));

  // Per operand: its sizes along the collapsed dims (1 where broadcast) and its elements per row.
  Scratch<int64_t, 12 * kMaxRank> sizes(n * rank);
  Scratch<int64_t, 12> row_step(n);
  Scratch<char*, 12> base(n);
  Scratch<size_t, 12> elem(n);
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
    Scratch<int64_t, 12 * (3 + 2 * kMaxRank)> words(n * words_per);
    Scratch<int64_t, 12 * kMaxRank> chunk_sizes(n * rank);
    Scratch<void*, 12> descriptors(n);
    Scratch<void*, 12> args(n);
    for (size_t k = 0; k < n * rank; ++k) chunk_sizes[k] = sizes[k];
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

std::shared_ptr<const FusedKernel> FusedKernel::rebind(const Shape& out_shape, const std::vector<Shape>& input_shapes,
                                                       const std::string& what) const {
  const FusedLayout& l = layout_;
  auto fail = [&](const std::string& why) -> std::shared_ptr<const FusedKernel> {
    throw ShapeError(what + ": the generated code of '" + description_ + "' cannot run at these shapes: " + why);
  };
  if (input_shapes.size() != l.inputs.size())
    return fail(std::to_string(input_shapes.size()) + " inputs for " + std::to_string(l.inputs.size()));
  if (out_shape == l.out_shape) {
    bool same = true;
    for (size_t k = 0; k < input_shapes.size(); ++k) same = same && input_shapes[k] == l.inputs[k].shape;
    if (same) return std::make_shared<FusedKernel>(*this);
  }
  if (!l.reduced.empty() && l.reduced[0]) return fail("it reduces over its leading dims");
  const int64_t rank = l.space_rank, lead = l.leading_dims;
  // dims[0] from an input that spans it (every dim of the space is spanned by some input).
  int64_t rows = -1;
  for (size_t k = 0; k < input_shapes.size(); ++k) {
    const Shape& s = input_shapes[k];
    if (static_cast<int64_t>(s.size()) > rank || s.size() != l.inputs[k].shape.size())
      return fail("input " + std::to_string(k) + " is " + s.str() + ", traced as " + l.inputs[k].shape.str());
    // Outside the leading dims nothing may change.
    const int64_t pad = rank - static_cast<int64_t>(s.size());
    for (int64_t d = std::max(lead, pad); d < rank; ++d)
      if (s[d - pad] != l.inputs[k].shape[d - pad])
        return fail("input " + std::to_string(k) + " is " + s.str() + ", traced as " + l.inputs[k].shape.str() +
                    " (only its leading dims may change)");
    const int64_t p = aligned_product(s, rank, 0, lead);
    if (l.inputs[k].broadcast[0]) {
      if (p != 1) return fail("input " + std::to_string(k) + " " + s.str() + " was broadcast along the leading dims");
    } else if (rows < 0) {
      rows = p;
    } else if (p != rows) {
      return fail("inputs disagree on the leading dims");
    }
  }
  if (rows < 0 || rows < 1) return fail("no input spans the leading dims");
  // The output: the same elements per row, `rows` rows.
  const int64_t traced_rows = l.dims[0];
  if (traced_rows < 1 || l.out_shape.numel() % traced_rows != 0 ||
      out_shape.numel() != l.out_shape.numel() / traced_rows * rows || out_shape.size() != l.out_shape.size())
    return fail("the result " + out_shape.str() + " does not fit " + std::to_string(rows) + " rows (traced as " +
                l.out_shape.str() + ")");
  FusedLayout bound = l;
  bound.dims[0] = rows;
  bound.out_shape = out_shape;
  for (size_t k = 0; k < input_shapes.size(); ++k) bound.inputs[k].shape = input_shapes[k];
  auto rebound = std::make_shared<FusedKernel>(*this);
  rebound->layout_ = std::move(bound);
  return rebound;
}

}  // namespace tl::rt
