// Tensor basics: element access, conversions, in-place updates and method forms of ops.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "frontend/autograd/graph.h"
#include "frontend/trace/tracer.h"
#include "frontend/ops/pointwise/pointwise.h"
#include "runtime/device_backend.h"
#include "tl/autograd.h"

namespace tl {

namespace {
Tensor to_cpu_contiguous(const Tensor& t, Site site) {
  Tensor c = t.device() == kCPU ? t : t.to(kCPU, site);
  return c.contiguous(site);
}
}  // namespace

template <class T> T Tensor::item(Site site) const {
  if (!defined()) throw ValueError("tl::item: the tensor is undefined at " + site.str());
  if (numel() != 1) {
    throw ShapeError("tl::item: expected a tensor with one element, got shape " + shape().str() + " at " + site.str());
  }
  T value = to_vector<T>(site)[0];
  // A value read on the host decides what the program does next: compiled calls check it.
  if (trace::active()) {
    double as_double;
    if constexpr (std::is_arithmetic_v<T>) as_double = static_cast<double>(value);
    else as_double = static_cast<double>(static_cast<float>(value));
    trace::on_item(*this, as_double, site);
  }
  return value;
}

template <class T> T Tensor::item_at(std::initializer_list<int64_t> index, Site site) const {
  if (static_cast<int64_t>(index.size()) != dim()) {
    throw ShapeError("tl::item_at: index has " + std::to_string(index.size()) + " entries for a tensor of shape " +
                     shape().str() + " at " + site.str());
  }
  Tensor t = *this;
  int64_t d = 0;
  for (int64_t i : index) {
    t = t.narrow(d, i < 0 ? i + shape()[d] : i, 1, site);
    ++d;
  }
  return t.item<T>(site);
}

template <class T> std::vector<T> Tensor::to_vector(Site site) const {
  NoGradGuard no_grad;
  trace::PauseScope pause;  // a host read, not part of a traced program
  Tensor c = to_cpu_contiguous(*this, site);
  if (c.dtype() != dtype_of<T>()) c = cast(c, dtype_of<T>(), site);
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}

#define TL_INSTANTIATE(T)                                                          \
  template T Tensor::item<T>(Site) const;                                          \
  template T Tensor::item_at<T>(std::initializer_list<int64_t>, Site) const;       \
  template std::vector<T> Tensor::to_vector<T>(Site) const;
TL_INSTANTIATE(float)
TL_INSTANTIATE(double)
TL_INSTANTIATE(Half)
TL_INSTANTIATE(BFloat16)
TL_INSTANTIATE(int32_t)
TL_INSTANTIATE(int64_t)
TL_INSTANTIATE(bool)
#undef TL_INSTANTIATE

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>(checked_impl("detach"));
  impl->autograd.reset();
  Tensor out(std::move(impl));
  if (trace::Tracer* tracer = trace::active()) tracer->bind(out, tracer->value_of(*this, Site{}));
  return out;
}

Tensor Tensor::to(DType dtype, Site site) const { return cast(*this, dtype, site); }

namespace {
// An uninitialized contiguous CPU tensor of `like`'s shape and dtype in `pinned` memory.
Tensor empty_pinned(const Tensor& like, rt::Allocator& pinned, const char* op, Site site) {
  auto storage = std::make_shared<Storage>();
  storage->nbytes = like.nbytes();
  try {
    storage->data = pinned.allocate(storage->nbytes);
  } catch (const Error& e) {
    throw DeviceError(std::string("tl::") + op + ": " + e.what() + " for a tensor of shape " + like.shape().str() +
                      " " + dtype_name(like.dtype()) + " at " + site.str());
  }
  storage->device = kCPU;
  storage->allocator = &pinned;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = like.shape();
  impl->strides = contiguous_strides(like.shape());
  impl->dtype = like.dtype();
  Tensor out(std::move(impl));
  trace::on_alloc(out);  // made here, not captured, as empty_tensor tells the tracer
  return out;
}
}  // namespace

Tensor Tensor::pin_memory(Site site) const {
  ops::require_defined(*this, "Tensor::pin_memory", "the tensor", site);
  if (is_pinned()) return *this;
  if (device() != kCPU)
    throw DeviceError("tl::Tensor::pin_memory: only a CPU tensor can be pinned, this one is on " + device().str() +
                     " at " + site.str());
  rt::Allocator* pinned = rt::backend_for(kCUDA, "Tensor::pin_memory").pinned_allocator();
  if (pinned == nullptr)
    throw DeviceError("tl::Tensor::pin_memory: the CUDA device has no pinned host memory at " + site.str());
  Tensor out = empty_pinned(*this, *pinned, "Tensor::pin_memory", site);
  {
    trace::PauseScope pause;  // a host copy into the new tensor, not an op of a traced program
    ops::strided_copy(*this, out);
  }
  if (is_grad_enabled() && requires_grad())
    out = custom_op("pin_memory", {*this}, [out](const std::vector<Tensor>&) { return out; },
                    [](const std::vector<Tensor>&, const Tensor&, const Tensor& dout) {
                      return std::vector<Tensor>{dout};
                    }, site);
  return out;
}

Tensor Tensor::to(Device device, Site site) const { return to(device, false, site); }

Tensor Tensor::to(Device device, bool non_blocking, Site site) const {
  if (device == this->device()) return *this;
  trace::on_device_copy(*this, device, site);
  Tensor src = contiguous(site);
  auto& backend = rt::backend_for(device.type == DeviceType::kCPU ? this->device() : device, "to");
  // An asynchronous copy to the host needs pinned memory to land in (as in PyTorch).
  rt::Allocator* pinned = non_blocking && device == kCPU ? backend.pinned_allocator() : nullptr;
  Tensor out = pinned != nullptr ? empty_pinned(*this, *pinned, "to", site) : ops::empty_tensor(shape(), dtype(), device);
  if (non_blocking) backend.copy_async(out.data_ptr(), device, src.data_ptr(), this->device(), nbytes());
  else backend.copy(out.data_ptr(), device, src.data_ptr(), this->device(), nbytes());
  if (is_grad_enabled() && requires_grad()) {
    Device from = this->device();
    out = custom_op("to_device", {*this}, [out](const std::vector<Tensor>&) { return out; },
                    [from](const std::vector<Tensor>&, const Tensor&, const Tensor& dout) {
                      return std::vector<Tensor>{dout.to(from)};
                    }, site);
  }
  return out;
}

Tensor Tensor::to(Device device, DType dtype, Site site) const { return to(device, site).to(dtype, site); }

// ---------------- in-place ----------------
namespace {
void check_inplace(const Tensor& t, const char* op, Site site) {
  ops::require_defined(t, op, "the in-place target", site);
  if (is_grad_enabled() && t.requires_grad()) {
    throw AutogradError(std::string("tl::") + op + ": in-place update of a tensor that requires grad " +
                        t.shape().str() + " while grad mode is on; wrap the update in tl::NoGradGuard "
                        "(as optimizers do) or use the out-of-place op, at " + site.str());
  }
}

// self = result, where result was computed from self (shape broadcast must equal self's).
Tensor& assign(Tensor& self, const Tensor& result, const char* op, Site site) {
  if (result.shape() != self.shape()) {
    throw ShapeError(std::string("tl::") + op + ": the result " + result.shape().str() +
                     " does not fit the in-place target " + self.shape().str() + " at " + site.str());
  }
  if (!result.is_same(self)) {
    trace::PauseScope pause;
    ops::strided_copy(result, self);
  }
  self.impl()->storage->mark_written(op, site);
  trace::on_inplace(self, result, site);
  return self;
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src, Site site) {
  check_inplace(*this, "copy_", site);
  ops::require_defined(src, "copy_", "the source", site);
  Shape out;
  if (!broadcast_shapes(shape(), src.shape(), out) || out != shape()) {
    throw ShapeError("tl::copy_: source " + src.shape().str() + " cannot be broadcast to " + shape().str() + " at " + site.str());
  }
  Tensor s = src.device() == device() ? src : src.to(device(), site);
  if (trace::Tracer* tracer = trace::active()) {
    // The traced program sees copy_ as "target = cast(expand(src))".
    Tensor v = s;
    if (v.shape() != shape()) v = v.expand(shape(), site);
    if (v.dtype() != dtype()) v = v.to(dtype(), site);
    trace::PauseScope pause;
    ops::strided_copy(s, *this);
    impl_->storage->mark_written("copy_", site);
    tracer->record_inplace(*this, v, site);
    return *this;
  }
  ops::strided_copy(s, *this);
  impl_->storage->mark_written("copy_", site);
  return *this;
}

Tensor& Tensor::fill_(double value, Site site) {
  check_inplace(*this, "fill_", site);
  if (trace::active()) return copy_(ops::scalar_like(value, *this), site);
  ops::strided_copy(ops::scalar_like(value, *this).to(dtype(), site), *this);
  impl_->storage->mark_written("fill_", site);
  return *this;
}

Tensor& Tensor::zero_(Site site) {
  if (is_contiguous() && !trace::active()) {
    check_inplace(*this, "zero_", site);
    std::memset(data_ptr(), 0, nbytes());
    impl_->storage->mark_written("zero_", site);
    return *this;
  }
  return fill_(0.0, site);
}

Tensor& Tensor::add_(const Tensor& other, double alpha, Site site) {
  check_inplace(*this, "add_", site);
  NoGradGuard no_grad;
  Tensor o = alpha == 1.0 ? other : mul(other, ops::scalar_like(alpha, other), site);
  return assign(*this, add(*this, o, site).to(dtype(), site), "add_", site);
}
Tensor& Tensor::sub_(const Tensor& other, Site site) {
  check_inplace(*this, "sub_", site);
  NoGradGuard no_grad;
  return assign(*this, sub(*this, other, site).to(dtype(), site), "sub_", site);
}
Tensor& Tensor::mul_(const Tensor& other, Site site) {
  check_inplace(*this, "mul_", site);
  NoGradGuard no_grad;
  return assign(*this, mul(*this, other, site).to(dtype(), site), "mul_", site);
}
Tensor& Tensor::mul_(double value, Site site) {
  check_inplace(*this, "mul_", site);
  return mul_(ops::scalar_like(value, *this), site);
}
Tensor& Tensor::div_(const Tensor& other, Site site) {
  check_inplace(*this, "div_", site);
  NoGradGuard no_grad;
  return assign(*this, div(*this, other, site).to(dtype(), site), "div_", site);
}

// ---------------- method forms ----------------
Tensor Tensor::sum(Site site) const { return tl::sum(*this, {}, false, site); }
Tensor Tensor::sum(Dims dims, bool keepdim, Site site) const { return tl::sum(*this, dims, keepdim, site); }
Tensor Tensor::mean(Site site) const { return tl::mean(*this, {}, false, site); }
Tensor Tensor::mean(Dims dims, bool keepdim, Site site) const { return tl::mean(*this, dims, keepdim, site); }
Tensor Tensor::exp(Site site) const { return tl::exp(*this, site); }
Tensor Tensor::log(Site site) const { return tl::log(*this, site); }
Tensor Tensor::sqrt(Site site) const { return tl::sqrt(*this, site); }
Tensor Tensor::abs(Site site) const { return tl::abs(*this, site); }
Tensor Tensor::relu(Site site) const { return tl::relu(*this, site); }
Tensor Tensor::tanh(Site site) const { return tl::tanh(*this, site); }
Tensor Tensor::sigmoid(Site site) const { return tl::sigmoid(*this, site); }
Tensor Tensor::pow(double exponent, Site site) const { return tl::pow(*this, exponent, site); }
Tensor Tensor::matmul(const Tensor& other, Site site) const { return tl::matmul(*this, other, site); }
Tensor Tensor::pow(const Tensor& exponent, Site site) const { return tl::pow(*this, exponent, site); }
Tensor Tensor::reciprocal(Site site) const { return tl::reciprocal(*this, site); }
Tensor Tensor::cumsum(int64_t dim, Site site) const { return tl::cumsum(*this, dim, site); }
ValuesIndices Tensor::max(int64_t dim, bool keepdim, Site site) const { return tl::max(*this, dim, keepdim, site); }
ValuesIndices Tensor::min(int64_t dim, bool keepdim, Site site) const { return tl::min(*this, dim, keepdim, site); }
ValuesIndices Tensor::sort(int64_t dim, bool descending, Site site) const {
  return tl::sort(*this, dim, descending, site);
}

Tensor Tensor::operator[](int64_t index) const {
  ops::require_defined(*this, "operator[]", "the tensor", Site{});
  if (dim() == 0) throw ShapeError("tl::Tensor::operator[]: the tensor is 0-d (a scalar); it has no dim to index");
  return select(0, index, Site{});
}

Tensor Tensor::index(std::initializer_list<TensorIndex> indices, Site site) const {
  ops::require_defined(*this, "index", "the tensor", site);
  if (static_cast<int64_t>(indices.size()) > dim())
    throw ShapeError("tl::Tensor::index: " + std::to_string(indices.size()) + " indices for a tensor of shape " +
                     shape().str() + " at " + site.str());
  Tensor out = *this;
  int64_t d = 0;  // the dim of `out` the next index applies to
  for (const TensorIndex& i : indices) {
    if (!i.is_slice()) {
      out = out.select(d, i.index(), site);
      continue;
    }
    const Slice& s = i.slice();
    if (s.step < 1)
      throw ValueError("tl::Tensor::index: a slice's step must be at least 1, got " + std::to_string(s.step) + " at " +
                       site.str());
    const int64_t n = out.shape()[d];
    // Python's rules: negative bounds count from the end, then clamp to [0, n].
    auto bound = [n](std::optional<int64_t> v, int64_t fallback) {
      if (!v) return fallback;
      const int64_t b = *v < 0 ? *v + n : *v;
      return std::clamp<int64_t>(b, 0, n);
    };
    const int64_t start = bound(s.start, 0);
    const int64_t stop = std::max(start, bound(s.stop, n));
    out = out.slice(d, start, stop, s.step, site);
    ++d;
  }
  return out;
}

Tensor Tensor::argmax(int64_t dim, bool keepdim, Site site) const { return tl::argmax(*this, dim, keepdim, site); }

// ---------------- whole-tensor comparisons ----------------
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, Site site) {
  if (a.shape() != b.shape()) {
    throw ShapeError("tl::allclose: shapes differ: " + a.shape().str() + " vs " + b.shape().str() + " at " + site.str());
  }
  auto x = a.to_vector<double>(site);
  auto y = b.to_vector<double>(site);
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) || std::isnan(y[i])) {
      if (std::isnan(x[i]) != std::isnan(y[i])) return false;
      continue;
    }
    if (std::abs(x[i] - y[i]) > atol + rtol * std::abs(y[i])) return false;
  }
  return true;
}

bool equal(const Tensor& a, const Tensor& b, Site site) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor x = to_cpu_contiguous(a, site);
  Tensor y = to_cpu_contiguous(b, site);
  return std::memcmp(x.data_ptr(), y.data_ptr(), x.nbytes()) == 0;
}

}  // namespace tl
