// The tensor's data methods: geometry, element access and storage. They are all a program
// that runs compiled artifacts needs from tl::Tensor; the methods that run ops (arithmetic,
// reductions, autograd, conversions) are the frontend's (frontend/tensor/tensor.cpp).
#include "tl/tensor.h"
#include "runtime/device_backend.h"
#include "runtime/ops/registry.h"

namespace tl {
Storage::~Storage() {
  if (allocator != nullptr && data != nullptr) allocator->deallocate(data, nbytes);
}

void Tensor::throw_undefined(const char* member) {
  throw ValueError(std::string("tl::Tensor::") + member + ": the tensor is undefined (default-constructed "
                   "or moved-from); assign it a value before using it");
}

int64_t Tensor::size(int64_t d) const {
  return shape()[ops::normalize_dim(d, dim(), "size", Site{})];
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape()) n *= d;
  return n;
}

void* Tensor::data_ptr() const {
  checked_impl("data_ptr");
  if (impl_->storage->data == nullptr && impl_->storage->nbytes > 0) [[unlikely]] {
    throw ValueError("tl: this tensor " + shape().str() + " " + dtype_name(dtype()) +
                     " is symbolic (shape only, no data): it stands for a value inside a compiled "
                     "function and cannot be read on the host");
  }
  return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<int64_t>(dtype_size(dtype()));
}

bool Tensor::is_pinned() const {
  const TensorImpl& impl = checked_impl("is_pinned");
  const rt::Allocator* allocator = impl.storage ? impl.storage->allocator : nullptr;
  return impl.device == kCPU && allocator != nullptr && allocator->is_pinned();
}

template <class T> T* Tensor::data() const {
  if (dtype_of<T>() != dtype()) {
    throw DTypeError(std::string("tl::Tensor::data: requested ") + dtype_name(dtype_of<T>()) +
                     " but the tensor is " + dtype_name(dtype()));
  }
  return static_cast<T*>(data_ptr());
}

Tensor from_blob(void* data, Shape shape, DType dtype, Site site) {
  for (int64_t d : shape)
    if (d < 0) throw ShapeError("tl::from_blob: negative dimension in shape " + shape.str() + " at " + site.str());
  int64_t n = 0;
  try {
    n = shape.numel();
  } catch (const ShapeError& e) {
    throw ShapeError(std::string("tl::from_blob: ") + e.what() + " at " + site.str());
  }
  if (data == nullptr && n > 0) throw ValueError("tl::from_blob: null data pointer at " + site.str());
  auto storage = std::make_shared<Storage>();
  storage->data = data;
  storage->nbytes = static_cast<size_t>(n) * dtype_size(dtype);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

#define TL_INSTANTIATE(T) template T* Tensor::data<T>() const;
TL_INSTANTIATE(float)
TL_INSTANTIATE(double)
TL_INSTANTIATE(Half)
TL_INSTANTIATE(BFloat16)
TL_INSTANTIATE(int32_t)
TL_INSTANTIATE(int64_t)
TL_INSTANTIATE(bool)
#undef TL_INSTANTIATE

}  // namespace tl
