// expect: tl::compile: a compiled function takes at most 8 Tensor arguments
#include "tl/tl.h"
using T = const tl::Tensor&;
tl::Tensor f(tl::Tensor x) {
  auto sum9 = tl::compile([](T a, T b, T c, T d, T e, T g, T h, T i, T j) { return a + b + c + d + e + g + h + i + j; });
  return sum9(x, x, x, x, x, x, x, x, x);
}
