// Focused checks of the CUDA matmul kernels on the host runner (tests/runtime/cuda_host_runner.h):
// shapes the op samples do not reach (many blocks, long rows, edge sizes).
#include <catch2/catch.hpp>
