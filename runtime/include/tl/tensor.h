// tl::Tensor: a strided view of a reference-counted storage on a device, with optional
// autograd state. Copying a Tensor copies the handle, not the data (like PyTorch).
//
// One type for both libraries: the runtime (libtl_runtime) implements the data methods
// (geometry, data_ptr/data, from_blob) and is all a program that runs compiled artifacts
// needs; the methods that run ops (arithmetic, views, reductions, conversions, autograd,
// printing) are libtl's and need a program to link it.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "tl/device.h"
#include "tl/dtype.h"
#include "tl/error.h"
#include "tl/shape.h"

namespace tl {

namespace rt {
class Allocator;
}
namespace autograd {
struct AutogradMeta;
struct Node;
}  // namespace autograd

// Device memory owned by one allocation; several tensors (views) may share it.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device = kCPU;
  rt::Allocator* allocator = nullptr;  // null: memory owned by the caller (from_blob)
  uint64_t version = 0;  // bumped by in-place writes; autograd checks saved tensors with it
  // The in-place write that last bumped `version`, named in autograd's stale-tensor errors
  // (null when the writer did not say: an optimizer step, a compiled write-back).
  const char* last_write_op = nullptr;
  Site last_write_site;
  void mark_written(const char* op, Site site) {
    ++version;
    last_write_op = op;
    last_write_site = site;
  }
  ~Storage();
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = kFloat32;
  Device device = kCPU;
  bool is_contiguous = true;
  std::shared_ptr<autograd::AutogradMeta> autograd;  // null unless grad is involved
  std::string name;  // optional, for printing and error messages
};

using GradHook = std::function<class Tensor(const class Tensor&)>;
struct ValuesIndices;
class TensorIndex;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // False for a default-constructed or moved-from tensor. Every other member throws
  // ValueError on such a tensor (naming the member; ops name themselves and the call site).
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return checked_impl("shape").shape; }
  const Shape& strides() const { return checked_impl("strides").strides; }
  int64_t dim() const { return checked_impl("dim").shape.size(); }
  int64_t size(int64_t dim) const;  // negative dims count from the end
  int64_t numel() const;
  int64_t storage_offset() const { return checked_impl("storage_offset").offset; }
  DType dtype() const { return checked_impl("dtype").dtype; }
  Device device() const { return checked_impl("device").device; }
  bool is_contiguous() const { return checked_impl("is_contiguous").is_contiguous; }
  bool is_floating_point() const { return is_floating(dtype()); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  // Pointer to the first element (device memory for non-CPU tensors).
  void* data_ptr() const;
  template <class T> T* data() const;  // throws DTypeError when T does not match

  // The single value of a one-element tensor, converted to T. Synchronizes with the device.
  template <class T> T item(Site site = Site::here()) const;
  // The value at a multi-index (for tests and debugging; slow).
  template <class T> T item_at(std::initializer_list<int64_t> index, Site site = Site::here()) const;
  // A copy of all elements, in row-major order, converted to T.
  template <class T> std::vector<T> to_vector(Site site = Site::here()) const;

  // --- views (share storage) ---
  Tensor view(Shape shape, Site site = Site::here()) const;     // -1 infers one dim
  Tensor reshape(Shape shape, Site site = Site::here()) const;  // view when possible, else copy
  Tensor permute(Shape dims, Site site = Site::here()) const;
  Tensor transpose(int64_t dim0, int64_t dim1, Site site = Site::here()) const;
  Tensor t(Site site = Site::here()) const;   // 2-D transpose
  Tensor mT(Site site = Site::here()) const;  // swaps the last two dims
  Tensor narrow(int64_t dim, int64_t start, int64_t length, Site site = Site::here()) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1,
               Site site = Site::here()) const;
  Tensor select(int64_t dim, int64_t index, Site site = Site::here()) const;
  Tensor expand(Shape shape, Site site = Site::here()) const;  // -1 keeps a dim
  Tensor squeeze(Site site = Site::here()) const;
  Tensor squeeze(int64_t dim, Site site = Site::here()) const;
  Tensor unsqueeze(int64_t dim, Site site = Site::here()) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1, Site site = Site::here()) const;
  Tensor contiguous(Site site = Site::here()) const;
  Tensor clone(Site site = Site::here()) const;
  Tensor to(Device device, Site site = Site::here()) const;
  // The same; with `non_blocking`, a copy between pinned host memory (pin_memory()) and a
  // CUDA device is queued on the current stream and this returns at once. Ops queued after it
  // on that stream (or on a stream that waits for it) see the copied values; the host side
  // must not be written, nor (for a copy to the host, which is pinned) read, until the stream
  // reaches the copy (synchronize the stream, or wait for an Event recorded after it). Other
  // copies are synchronous, as without `non_blocking`.
  Tensor to(Device device, bool non_blocking, Site site = Site::here()) const;
  Tensor to(DType dtype, Site site = Site::here()) const;
  Tensor to(Device device, DType dtype, Site site = Site::here()) const;
  // A new tensor sharing storage but cut from the autograd graph.
  Tensor detach() const;
  // Whether this is a CPU tensor in pinned (page-locked) host memory, which a CUDA device
  // copies asynchronously (to(device, non_blocking)). Views of a pinned tensor are pinned.
  bool is_pinned() const;
  // A contiguous copy of this CPU tensor in pinned host memory, or this tensor itself when it
  // is already pinned. Pinned memory comes from the CUDA backend's caching allocator
  // (tl::cuda_device::pinned_memory_stats()). Throws DeviceError when no CUDA device is
  // available or the tensor is not on the CPU.
  Tensor pin_memory(Site site = Site::here()) const;

  // --- common ops as methods (see ops.h for the full list and contracts) ---
  Tensor sum(Site site = Site::here()) const;
  Tensor sum(Dims dims, bool keepdim = false, Site site = Site::here()) const;
  Tensor mean(Site site = Site::here()) const;
  Tensor mean(Dims dims, bool keepdim = false, Site site = Site::here()) const;
  Tensor exp(Site site = Site::here()) const;
  Tensor log(Site site = Site::here()) const;
  Tensor sqrt(Site site = Site::here()) const;
  Tensor abs(Site site = Site::here()) const;
  Tensor relu(Site site = Site::here()) const;
  Tensor tanh(Site site = Site::here()) const;
  Tensor sigmoid(Site site = Site::here()) const;
  Tensor pow(double exponent, Site site = Site::here()) const;
  Tensor matmul(const Tensor& other, Site site = Site::here()) const;
  Tensor argmax(int64_t dim, bool keepdim = false, Site site = Site::here()) const;
  Tensor pow(const Tensor& exponent, Site site = Site::here()) const;
  Tensor reciprocal(Site site = Site::here()) const;
  Tensor cumsum(int64_t dim, Site site = Site::here()) const;
  // The largest (smallest) values along `dim` and their indices: auto [v, i] = x.max(1);
  ValuesIndices max(int64_t dim, bool keepdim = false, Site site = Site::here()) const;
  ValuesIndices min(int64_t dim, bool keepdim = false, Site site = Site::here()) const;
  ValuesIndices sort(int64_t dim = -1, bool descending = false, Site site = Site::here()) const;

  // --- indexing (views) ---
  // x[i]: the i-th entry along dim 0 (negative counts from the end), like x.select(0, i).
  Tensor operator[](int64_t index) const;
  // x.index({0, tl::Slice(1, 3), tl::Slice()}): one entry per leading dim; an integer selects
  // (the dim goes away), a Slice keeps a range (start, stop, step; negative counts from the end).
  Tensor index(std::initializer_list<TensorIndex> indices, Site site = Site::here()) const;

  // --- in-place (no autograd; refused on tensors that require grad while grad mode is on) ---
  Tensor& copy_(const Tensor& src, Site site = Site::here());
  Tensor& fill_(double value, Site site = Site::here());
  Tensor& zero_(Site site = Site::here());
  Tensor& add_(const Tensor& other, double alpha = 1.0, Site site = Site::here());
  Tensor& sub_(const Tensor& other, Site site = Site::here());
  Tensor& mul_(const Tensor& other, Site site = Site::here());
  Tensor& mul_(double value, Site site = Site::here());
  Tensor& div_(const Tensor& other, Site site = Site::here());

  // --- autograd ---
  bool requires_grad() const;
  Tensor& requires_grad_(bool requires_grad = true, Site site = Site::here());
  bool is_leaf() const;
  // The accumulated gradient (undefined until a backward pass reaches this tensor).
  Tensor grad() const;
  // Sets (or with an undefined tensor, clears) the gradient. Throws ShapeError, DTypeError or
  // DeviceError, naming this tensor and `site`, unless `grad` has this tensor's shape, dtype and
  // device: a gradient that differs would be broadcast or converted silently later.
  void set_grad(const Tensor& grad, Site site = Site::here());
  // Keep .grad() for a non-leaf tensor during backward.
  void retain_grad();
  // Computes gradients of this tensor w.r.t. graph leaves. A non-scalar tensor needs
  // `gradient` (same shape). The graph is freed unless `retain_graph`.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false,
                Site site = Site::here()) const;
  // `hook(grad)` runs when this tensor's gradient is computed; a defined return value
  // replaces the gradient. Returns a handle for remove_hook.
  int register_hook(GradHook hook, Site site = Site::here());
  void remove_hook(int handle);
  // Name of the op that produced this tensor ("mul", "matmul"), empty for leaves.
  std::string grad_fn_name() const;

  // Debug name, shown when printing and in anomaly reports.
  const std::string& name() const { return checked_impl("name").name; }
  Tensor& set_name(std::string name) {
    checked_impl("set_name");
    impl_->name = std::move(name);
    return *this;
  }

  // Same underlying impl (identity, not value equality).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  // Throws ValueError when the tensor is undefined, like every accessor above.
  TensorImpl* impl() const { return const_cast<TensorImpl*>(&checked_impl("impl")); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  const TensorImpl& checked_impl(const char* member) const {
    if (impl_ == nullptr) [[unlikely]] throw_undefined(member);
    return *impl_;
  }
  [[noreturn]] static void throw_undefined(const char* member);

  std::shared_ptr<TensorImpl> impl_;
};

// What max(dim), min(dim), sort and topk return: auto [values, indices] = x.max(1).
struct ValuesIndices {
  Tensor values;
  Tensor indices;  // int64
};

// A range of one dim for Tensor::index: Slice() is all of it, Slice(1, 3) entries 1 and 2,
// Slice(std::nullopt, std::nullopt, 2) every other one. Negative bounds count from the end and
// are clamped to the dim, as in Python.
struct Slice {
  std::optional<int64_t> start, stop;
  int64_t step = 1;
  Slice() = default;
  Slice(std::optional<int64_t> start_, std::optional<int64_t> stop_, int64_t step_ = 1)
      : start(start_), stop(stop_), step(step_) {}
};
// One entry of Tensor::index: an integer or a Slice.
class TensorIndex {
 public:
  template <std::integral I>
    requires(!std::is_same_v<I, bool>)
  TensorIndex(I index) : is_slice_(false), index_(static_cast<int64_t>(index)) {}  // NOLINT: implicit on purpose
  TensorIndex(Slice slice) : is_slice_(true), slice_(slice) {}                     // NOLINT
  bool is_slice() const { return is_slice_; }
  int64_t index() const { return index_; }
  const Slice& slice() const { return slice_; }

 private:
  bool is_slice_;
  int64_t index_ = 0;
  Slice slice_;
};

// Wraps caller-owned memory (contiguous, `shape` x `dtype`) without copying; the caller keeps
// it alive while the tensor lives.
Tensor from_blob(void* data, Shape shape, DType dtype, Site site = Site::here());

// Operators cannot take a trailing Site; their left operand converts through Operand,
// which records where the expression was written.
struct Operand {
  const Tensor& t;
  Site site;
  Operand(const Tensor& t, Site site = Site::here()) : t(t), site(site) {}
};

Tensor operator+(Operand a, const Tensor& b);
Tensor operator-(Operand a, const Tensor& b);
Tensor operator*(Operand a, const Tensor& b);
Tensor operator/(Operand a, const Tensor& b);
Tensor operator+(Operand a, double b);
Tensor operator-(Operand a, double b);
Tensor operator*(Operand a, double b);
Tensor operator/(Operand a, double b);
Tensor operator+(double a, Operand b);
Tensor operator-(double a, Operand b);
Tensor operator*(double a, Operand b);
Tensor operator/(double a, Operand b);
Tensor operator-(Operand a);
Tensor operator<(Operand a, const Tensor& b);
Tensor operator<=(Operand a, const Tensor& b);
Tensor operator>(Operand a, const Tensor& b);
Tensor operator>=(Operand a, const Tensor& b);
Tensor operator<(Operand a, double b);
Tensor operator<=(Operand a, double b);
Tensor operator>(Operand a, double b);
Tensor operator>=(Operand a, double b);

// Prints values (abbreviated when large), shape, dtype and device.
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);

// Gradient mode: while a NoGradGuard lives, ops record no graph (thread-local).
bool is_grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace tl
