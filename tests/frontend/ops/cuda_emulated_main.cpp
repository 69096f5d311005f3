// Runs ops_cuda_test's GPU checks on the emulated CUDA device (tests/runtime/cuda_emulation.h)
// where there is no GPU: kernels run their CUDA C on the host.
#include "tests/runtime/cuda_emulation.h"

namespace {
[[maybe_unused]] const bool emulated = tl::test::emulate_cuda_device();
}  // namespace
