// expect: could not convert '3' from 'int' to 'tl::Site'
// A stray argument is refused where it was written, not taken as the call site (which no
// number converts to).
#include "tl/tl.h"
tl::Tensor f(tl::Tensor x) { return tl::relu(x, 3); }
