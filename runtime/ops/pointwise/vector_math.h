// Declares glibc's vector math library (libmvec) variants of the transcendental functions,
// so that loops over contiguous float/double data calling std::exp, std::tanh, ... are
// vectorized by the compiler (AVX2: 8 floats per call). The kernels keep stating their math
// once as a scalar expression. Accuracy: libmvec is within 4 ulp. Needs -fno-math-errno.
#pragma once

#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TL_VECTOR_MATH __attribute__((simd("notinbranch")))
extern "C" {
TL_VECTOR_MATH float expf(float) noexcept;
TL_VECTOR_MATH float logf(float) noexcept;
TL_VECTOR_MATH float sinf(float) noexcept;
TL_VECTOR_MATH float cosf(float) noexcept;
TL_VECTOR_MATH float tanhf(float) noexcept;
TL_VECTOR_MATH float erff(float) noexcept;
TL_VECTOR_MATH float powf(float, float) noexcept;
TL_VECTOR_MATH float log1pf(float) noexcept;
TL_VECTOR_MATH float expm1f(float) noexcept;
TL_VECTOR_MATH double exp(double) noexcept;
TL_VECTOR_MATH double log(double) noexcept;
TL_VECTOR_MATH double sin(double) noexcept;
TL_VECTOR_MATH double cos(double) noexcept;
TL_VECTOR_MATH double tanh(double) noexcept;
TL_VECTOR_MATH double erf(double) noexcept;
TL_VECTOR_MATH double pow(double, double) noexcept;
TL_VECTOR_MATH double log1p(double) noexcept;
TL_VECTOR_MATH double expm1(double) noexcept;
}
#undef TL_VECTOR_MATH
#endif
