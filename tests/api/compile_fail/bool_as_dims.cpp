// expect: no matching function for call to .tl::Tensor::sum\(bool\).
// A bool is not a dim (x.sum(true) would silently reduce dim 1).
#include "tl/tl.h"
tl::Tensor f(tl::Tensor x) { return x.sum(true); }
