#include <cmath>

#include "frontend/ops/pointwise/pointwise.h"

namespace tl::ops {

Tensor as_floating(const Tensor& x, Site site) { return is_floating(x.dtype()) ? x : cast(x, kFloat32, site); }

void promote_operands(Tensor& a, Tensor& b, Site site) {
  if (a.dtype() == b.dtype()) return;
  DType common = promote_types(a.dtype(), b.dtype());
  if (a.dtype() != common) a = cast(a, common, site);
  if (b.dtype() != common) b = cast(b, common, site);
}

Tensor scalar_like(double value, const Tensor& like) {
  DType dtype = like.dtype();
  if (!is_floating(dtype) && value != std::floor(value)) dtype = kFloat32;
  if (dtype == kBool && value != 0 && value != 1) dtype = kInt64;
  Tensor t = empty_tensor(Shape{}, dtype, kCPU);
  TL_DISPATCH_ALL(dtype, "scalar", { *t.data<T>() = static_cast<T>(value); });
  // Stays on the host: ops take a 0-d host tensor with operands on any device (a GPU's
  // elementwise kernels by value, with no copy).
  return t;
}

}  // namespace tl::ops
