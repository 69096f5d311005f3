// Dtype dispatch for kernels: TL_DISPATCH_FLOATING(dtype, T, body) runs `body` with `T`
// bound to the C++ element type. Half and bfloat16 compute in float (compute_t).
#pragma once

#include <cstdint>
#include <type_traits>

#include "tl/dtype.h"
#include "tl/error.h"

namespace tl::ops {

template <class T> struct ComputeType { using type = T; };
template <> struct ComputeType<Half> { using type = float; };
template <> struct ComputeType<BFloat16> { using type = float; };
template <class T> using compute_t = typename ComputeType<T>::type;

[[noreturn]] void unsupported_dtype(const char* what, DType dtype);

}  // namespace tl::ops

#define TL_DTYPE_CASE(enum_value, ctype, ...) \
  case enum_value: {                          \
    using T = ctype;                          \
    __VA_ARGS__;                              \
    break;                                    \
  }

#define TL_DISPATCH_FLOATING(dtype, what, ...)                 \
  switch (dtype) {                                             \
    TL_DTYPE_CASE(::tl::kFloat32, float, __VA_ARGS__)          \
    TL_DTYPE_CASE(::tl::kFloat64, double, __VA_ARGS__)         \
    TL_DTYPE_CASE(::tl::kFloat16, ::tl::Half, __VA_ARGS__)     \
    TL_DTYPE_CASE(::tl::kBFloat16, ::tl::BFloat16, __VA_ARGS__) \
    default: ::tl::ops::unsupported_dtype(what, dtype);        \
  }

#define TL_DISPATCH_NUMERIC(dtype, what, ...)                  \
  switch (dtype) {                                             \
    TL_DTYPE_CASE(::tl::kFloat32, float, __VA_ARGS__)          \
    TL_DTYPE_CASE(::tl::kFloat64, double, __VA_ARGS__)         \
    TL_DTYPE_CASE(::tl::kFloat16, ::tl::Half, __VA_ARGS__)     \
    TL_DTYPE_CASE(::tl::kBFloat16, ::tl::BFloat16, __VA_ARGS__) \
    TL_DTYPE_CASE(::tl::kInt32, int32_t, __VA_ARGS__)          \
    TL_DTYPE_CASE(::tl::kInt64, int64_t, __VA_ARGS__)          \
    default: ::tl::ops::unsupported_dtype(what, dtype);        \
  }

#define TL_DISPATCH_ALL(dtype, what, ...)                      \
  switch (dtype) {                                             \
    TL_DTYPE_CASE(::tl::kFloat32, float, __VA_ARGS__)          \
    TL_DTYPE_CASE(::tl::kFloat64, double, __VA_ARGS__)         \
    TL_DTYPE_CASE(::tl::kFloat16, ::tl::Half, __VA_ARGS__)     \
    TL_DTYPE_CASE(::tl::kBFloat16, ::tl::BFloat16, __VA_ARGS__) \
    TL_DTYPE_CASE(::tl::kInt32, int32_t, __VA_ARGS__)          \
    TL_DTYPE_CASE(::tl::kInt64, int64_t, __VA_ARGS__)          \
    TL_DTYPE_CASE(::tl::kBool, bool, __VA_ARGS__)              \
    default: ::tl::ops::unsupported_dtype(what, dtype);        \
  }
