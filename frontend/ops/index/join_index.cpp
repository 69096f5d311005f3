// Joining (cat, stack), splitting (split, chunk: narrow views) and integer indexing
// (index_select, gather, embedding, one_hot) as the frontend adds them: the derivatives
// (through the scatter-style ops index_add and scatter_add), the samples the generic tests
// sweep, and the public functions, which validate index values (data the shape rules cannot
// see; kernels trust them). The ops' definitions, shape rules and kernels are the runtime's
// (runtime/ops/index/join_index.cpp).
#include "frontend/ops/pointwise/pointwise.h"
#include "runtime/ops/index/join_index.h"

namespace tl {
namespace ops {

namespace {

Attrs axis_attrs(int64_t axis, Shape dims = {}) {
  Attrs a;
  a.axis = axis;
  a.dims = dims;
  return a;
}

}  // namespace

const OpDef& op_cat = extend_op("cat", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    std::vector<Tensor> grads(g.inputs.size());
    int64_t offset = 0;
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      int64_t size = g.input(static_cast<int>(i)).shape()[g.attrs.axis];
      if (g.needs_input_grad(static_cast<int>(i))) grads[i] = g.dout.narrow(g.attrs.axis, offset, size, g.site);
      offset += size;
    }
    return grads;
  };
  op.samples = {Sample{{Shape{2, 3}, Shape{4, 3}}, [](const std::vector<Tensor>& in) { return cat(in, 0); }},
                Sample{{Shape{2, 1, 3}, Shape{2, 2, 3}, Shape{2, 3, 3}},
                       [](const std::vector<Tensor>& in) { return cat(in, -2); }},
                Sample{{Shape{3, 2}, Shape{3, 2}}, [](const std::vector<Tensor>& in) { return stack(in, 1); }}};
});

extern const OpDef& op_index_add;

const OpDef& op_index_select = extend_op("index_select", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{
        call(op_index_add, {g.dout, g.input(1)}, axis_attrs(g.attrs.axis, g.input(0).shape()), g.site), Tensor()};
  };
  op.samples = {Sample{{Shape{5, 3}, Shape{4}}, [](const std::vector<Tensor>& in) { return index_select(in[0], 0, in[1]); },
                       -2, 2, {1}, {5}},
                Sample{{Shape{2, 6, 3}, Shape{7}},
                       [](const std::vector<Tensor>& in) { return index_select(in[0], -2, in[1]); }, -2, 2, {1}, {6}},
                Sample{{Shape{6, 4}, Shape{2, 3}}, [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); },
                       -2, 2, {1}, {6}}};
});

const OpDef& op_index_add = extend_op("index_add", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{call(op_index_select, {g.dout, g.input(1)}, axis_attrs(g.attrs.axis), g.site), Tensor()};
  };
  op.samples = {Sample{{Shape{4, 3}, Shape{4}}, [](const std::vector<Tensor>& in) {
                         return call(op_index_add, {in[0], in[1]}, axis_attrs(0, {5, 3}), Site::here());
                       }, -2, 2, {1}, {5}},
                Sample{{Shape{2, 7, 3}, Shape{7}}, [](const std::vector<Tensor>& in) {
                         return call(op_index_add, {in[0], in[1]}, axis_attrs(1, {2, 4, 3}), Site::here());
                       }, -2, 2, {1}, {4}}};
});

extern const OpDef& op_scatter_add;

const OpDef& op_gather = extend_op("gather", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{
        call(op_scatter_add, {g.dout, g.input(1)}, axis_attrs(g.attrs.axis, g.input(0).shape()), g.site), Tensor()};
  };
  op.samples = {Sample{{Shape{3, 5}, Shape{3, 4}}, [](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); },
                       -2, 2, {1}, {5}},
                Sample{{Shape{4, 3, 2}, Shape{6, 2, 2}},
                       [](const std::vector<Tensor>& in) { return gather(in[0], 0, in[1]); }, -2, 2, {1}, {4}}};
});

const OpDef& op_scatter_add = extend_op("scatter_add", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    return std::vector<Tensor>{call(op_gather, {g.dout, g.input(1)}, axis_attrs(g.attrs.axis), g.site), Tensor()};
  };
  op.samples = {Sample{{Shape{3, 4}, Shape{3, 4}}, [](const std::vector<Tensor>& in) {
    return call(op_scatter_add, {in[0], in[1]}, axis_attrs(1, {3, 5}), Site::here());
  }, -2, 2, {1}, {5}}};
});

const OpDef& op_one_hot = extend_op("one_hot", [](OpDef& op) { op.not_differentiable = "integer input"; });

}  // namespace ops

using namespace ops;

namespace {

std::string operand_name(const char* list, size_t i) { return std::string(list) + "[" + std::to_string(i) + "]"; }

std::string describe_one(const Tensor& t) { return t.shape().str() + " " + dtype_name(t.dtype()); }

// Throws unless `index` is an int32/int64 tensor whose values all lie in [0, bound).
// `what` names the index argument and `target` what it indexes ("dim 0 of x").
void check_index(const Tensor& index, int64_t bound, const char* op, const char* what, const std::string& target,
                 Site site) {
  if (!index.defined()) throw ValueError(std::string("tl::") + op + ": " + what + " is undefined at " + site.str());
  if (index.dtype() != kInt32 && index.dtype() != kInt64) {
    throw DTypeError(std::string("tl::") + op + ": " + what + " must be int32 or int64, got " + describe_one(index) +
                     " at " + site.str());
  }
  // A device's indices are checked by its kernel (it reads the first bad one back), so the
  // host never reads device memory here.
  if (index.device() != kCPU) return;
  Tensor flat = index.contiguous(site);
  with_index(flat, [&](auto* idx) {
    for (int64_t i = 0; i < flat.numel(); ++i) {
      int64_t v = static_cast<int64_t>(idx[i]);
      if (v < 0 || v >= bound) {
        throw ValueError(std::string("tl::") + op + ": " + what + " value " + std::to_string(v) +
                         " (element " + std::to_string(i) + ") is out of range for " + target + " of size " +
                         std::to_string(bound) + " (valid values are 0 to " + std::to_string(bound - 1) +
                         "; negative indices are not supported) at " + site.str());
      }
    }
  });
}

void require_rank_at_least_1(const Tensor& x, const char* op, const char* what, Site site) {
  if (!x.defined()) throw ValueError(std::string("tl::") + op + ": " + what + " is undefined at " + site.str());
  if (x.dim() == 0) {
    throw ShapeError(std::string("tl::") + op + ": " + what + " is 0-dimensional; it needs at least 1 dim, at " +
                     site.str());
  }
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim, Site site) {
  if (tensors.empty()) throw ValueError("tl::cat: expected at least one tensor, got an empty list at " + site.str());
  for (size_t i = 0; i < tensors.size(); ++i)
    require_rank_at_least_1(tensors[i], "cat", operand_name("tensors", i).c_str(), site);
  const Tensor& first = tensors[0];
  int64_t d = normalize_dim(dim, first.dim(), "cat", site);
  DType dtype = first.dtype();
  for (size_t i = 1; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    bool same = t.dim() == first.dim();
    for (int64_t k = 0; same && k < t.dim(); ++k) same = k == d || t.shape()[k] == first.shape()[k];
    if (!same) {
      throw ShapeError("tl::cat: tensors[0] is " + describe_one(first) + " and " + operand_name("tensors", i) +
                       " is " + describe_one(t) + "; sizes must match except in dim " + std::to_string(d) + " at " +
                       site.str());
    }
    dtype = promote_types(dtype, t.dtype());
  }
  std::vector<Tensor> inputs;
  inputs.reserve(tensors.size());
  for (const Tensor& t : tensors) inputs.push_back(t.dtype() == dtype ? t : cast(t, dtype, site));
  return call(op_cat, std::span<const Tensor>(inputs), axis_attrs(d), site);
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim, Site site) {
  if (tensors.empty()) throw ValueError("tl::stack: expected at least one tensor, got an empty list at " + site.str());
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) {
      throw ValueError("tl::stack: " + operand_name("tensors", i) + " is undefined at " + site.str());
    }
    if (tensors[i].shape() != tensors[0].shape()) {
      throw ShapeError("tl::stack: tensors[0] is " + describe_one(tensors[0]) + " and " + operand_name("tensors", i) +
                       " is " + describe_one(tensors[i]) + "; all shapes must be equal at " + site.str());
    }
  }
  int64_t d = normalize_dim(dim, tensors[0].dim() + 1, "stack", site);
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(t.unsqueeze(d, site));
  return cat(expanded, d, site);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim, Site site) {
  require_rank_at_least_1(x, "split", "x", site);
  int64_t d = normalize_dim(dim, x.dim(), "split", site);
  if (split_size < 1) {
    throw ValueError("tl::split: split_size must be at least 1, got " + std::to_string(split_size) + " (x is " +
                     describe_one(x) + ") at " + site.str());
  }
  int64_t n = x.shape()[d];
  std::vector<Tensor> parts;
  if (n == 0) parts.push_back(x.narrow(d, 0, 0, site));
  for (int64_t start = 0; start < n; start += split_size)
    parts.push_back(x.narrow(d, start, std::min(split_size, n - start), site));
  return parts;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim, Site site) {
  require_rank_at_least_1(x, "split", "x", site);
  const int64_t d = normalize_dim(dim, x.dim(), "split", site);
  int64_t total = 0;
  for (int64_t size : sizes) {
    if (size < 0)
      throw ValueError("tl::split: sizes must not be negative, got " + Shape(sizes).str() + " at " + site.str());
    total += size;
  }
  if (total != x.shape()[d])
    throw ValueError("tl::split: sizes " + Shape(sizes).str() + " add up to " + std::to_string(total) + " but dim " +
                     std::to_string(d) + " of x (" + describe_one(x) + ") has " + std::to_string(x.shape()[d]) +
                     " entries, at " + site.str());
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t size : sizes) {
    parts.push_back(x.narrow(d, start, size, site));
    start += size;
  }
  return parts;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim, Site site) {
  require_rank_at_least_1(x, "chunk", "x", site);
  int64_t d = normalize_dim(dim, x.dim(), "chunk", site);
  if (chunks < 1) {
    throw ValueError("tl::chunk: chunks must be at least 1, got " + std::to_string(chunks) + " (x is " +
                     describe_one(x) + ") at " + site.str());
  }
  // Like PyTorch: equal chunks of ceil(n / chunks), so fewer than `chunks` may come back.
  int64_t n = x.shape()[d];
  return split(x, std::max<int64_t>(1, (n + chunks - 1) / chunks), d, site);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index, Site site) {
  require_rank_at_least_1(x, "index_select", "x", site);
  int64_t d = normalize_dim(dim, x.dim(), "index_select", site);
  if (index.defined() && index.dim() > 1) {
    throw ShapeError("tl::index_select: index must be 1-D, got " + describe_one(index) + " at " + site.str());
  }
  check_index(index, x.shape()[d], "index_select", "index", "dim " + std::to_string(d) + " of x", site);
  Tensor flat = index.dim() == 0 ? index.reshape({1}, site) : index;
  return call(op_index_select, {x, flat}, axis_attrs(d), site);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index, Site site) {
  require_rank_at_least_1(x, "gather", "x", site);
  int64_t d = normalize_dim(dim, x.dim(), "gather", site);
  if (!index.defined()) throw ValueError("tl::gather: index is undefined at " + site.str());
  bool fits = index.dim() == x.dim();
  for (int64_t k = 0; fits && k < x.dim(); ++k) fits = k == d || index.shape()[k] <= x.shape()[k];
  if (!fits) {
    throw ShapeError("tl::gather: index is " + describe_one(index) + " and x is " + describe_one(x) +
                     "; index needs the same rank and no larger size than x in every dim except " +
                     std::to_string(d) + " at " + site.str());
  }
  check_index(index, x.shape()[d], "gather", "index", "dim " + std::to_string(d) + " of x", site);
  return call(op_gather, {x, index}, axis_attrs(d), site);
}

Tensor embedding(const Tensor& weight, const Tensor& indices, Site site) {
  if (!weight.defined() || weight.dim() != 2) {
    throw ShapeError("tl::embedding: weight must be 2-D (num_embeddings, dim), got " +
                     (weight.defined() ? describe_one(weight) : std::string("undefined")) + " at " + site.str());
  }
  check_index(indices, weight.shape()[0], "embedding", "indices", "the embedding table (weight dim 0)", site);
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.shape()[1]);
  // Backward goes through index_select's rule: index_add of the gradient rows over dim 0.
  Tensor rows = call(op_index_select, {weight, indices.reshape({-1}, site)}, axis_attrs(0), site);
  return rows.reshape(out_shape, site);
}

Tensor one_hot(const Tensor& indices, int64_t num_classes, Site site) {
  if (num_classes == -1 && indices.defined() && indices.numel() > 0 &&
      (indices.dtype() == kInt32 || indices.dtype() == kInt64)) {
    num_classes = amax(indices, {}, false, site).item<int64_t>(site) + 1;  // -1: infer, as in PyTorch
  }
  if (num_classes < 1) {
    throw ValueError("tl::one_hot: num_classes must be at least 1 (or -1 to infer it), got " +
                     std::to_string(num_classes) + " at " + site.str());
  }
  check_index(indices, num_classes, "one_hot", "indices", "num_classes", site);
  Attrs a;
  a.count = num_classes;
  return call(op_one_hot, {indices}, a, site);
}

}  // namespace tl
