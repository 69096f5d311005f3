// CUDA kernels of the op table's conv and pool ops (runtime/cuda/launch.h says how op kernels are written).
#include "runtime/cuda/launch.h"

namespace tl::rt::cuda {}  // namespace tl::rt::cuda
