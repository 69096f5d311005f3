// expect: export_program: the example arguments must be tl::Tensor
#include "tl/tl.h"
void f(tl::Tensor x) {
  tl::export_program([](const tl::Tensor& a, double b) { return a * b; }, x, 2.0, "m.tlart");
}
