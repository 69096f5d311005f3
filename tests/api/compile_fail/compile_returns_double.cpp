// expect: tl::compile: the function must return void, Tensor, std::vector<Tensor>, or a std::pair/std::tuple of Tensors
// The misuse is named first, not an incomplete std::tuple_size<double> inside tl.
#include "tl/tl.h"
double f(tl::Tensor x) {
  auto step = tl::compile([](const tl::Tensor& t) { return t.sum().item<double>(); });
  return step(x);
}
