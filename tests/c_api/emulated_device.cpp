// Linked into c_api_device_emulated_test: the emulated CUDA device (tests/runtime/cuda_emulation.h)
// registered before main, so the C API's CUDA path runs without a GPU.
#include "tests/runtime/cuda_emulation.h"

namespace {

[[maybe_unused]] const bool emulated = tl::test::emulate_cuda_device();

}  // namespace
