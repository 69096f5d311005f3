// Runs ops_cuda_test's GPU checks on the emulated CUDA device (tests/runtime/cuda_emulation.h)
// where there is no GPU: kernels run their CUDA C on the host. Its own cases check what only
// the emulation can see: which writes into CUDA tensors ran a kernel.
#include <catch2/catch.hpp>

#include "tests/runtime/cuda_emulation.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tl/tl.h"

namespace {
[[maybe_unused]] const bool emulated = tl::test::emulate_cuda_device();
}  // namespace

using namespace tl;

TEST_CASE("writes into CUDA tensors run a kernel, never a host copy of device memory", "[cuda][emulated]") {
  const test::HostKernelRunner* runner = test::emulated_runner();
  if (runner == nullptr) {
    WARN("skipped: a real GPU is present (this checks the emulated device's launches)");
    return;
  }
  Tensor target = zeros({4, 3}).to(kCUDA);
  Tensor source = arange(12, {.dtype = kFloat64}).reshape({3, 4}).to(kCUDA);
  int64_t before = runner->launches();
  target.copy_(source.t());  // a strided source and a dtype conversion
  CHECK(runner->launches() > before);
  CHECK(allclose(target.to(kCPU), arange(12).reshape({3, 4}).t(), 0, 0));
  before = runner->launches();
  {
    NoGradGuard no_grad;
    target.mul_(full({}, 2.0));  // an in-place op writes its result back through a copy
  }
  CHECK(runner->launches() >= before + 2);
  CHECK(allclose(target.to(kCPU), mul(arange(12).reshape({3, 4}).t(), full({}, 2.0)), 0, 0));
}
