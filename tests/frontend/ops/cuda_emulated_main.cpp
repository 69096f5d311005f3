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

TEST_CASE("a pinned block is not reused while the copy from it may be in flight", "[cuda][emulated][pinned]") {
  if (test::emulated_runner() == nullptr) {
    WARN("skipped: a real GPU is present (this holds the emulated device's copies in flight)");
    return;
  }
  test::hold_emulated_copies(true);
  Tensor source = full({256}, 3.0).pin_memory();
  void* const block = source.data_ptr();
  Tensor on_device = source.to(kCUDA, true);
  source = Tensor();  // freed while the copy from it counts as queued
  CHECK(cuda_device::pinned_memory_stats().pending_bytes >= 4096);
  Tensor other = zeros({256}).pin_memory();
  CHECK(other.data_ptr() != block);  // handing it out could overwrite what the copy reads
  test::hold_emulated_copies(false);
  Tensor again = zeros({256}).pin_memory();
  CHECK(again.data_ptr() == block);  // the copy is done: its block is reused
  CHECK(cuda_device::pinned_memory_stats().pending_bytes == 0);
  CHECK(allclose(on_device.to(kCPU), full({256}, 3.0), 0, 0));
}

TEST_CASE("random draws on CUDA run Philox on the device and give the CPU's numbers", "[cuda][emulated][random]") {
  const test::HostKernelRunner* runner = test::emulated_runner();
  if (runner == nullptr) {
    WARN("skipped: a real GPU is present (ops_cuda_test compares its draws)");
    return;
  }
  auto draws = [](Device device) {
    manual_seed(77);
    std::vector<Tensor> out{rand({300}, {.device = device}), randn({5, 61}, {.dtype = kFloat64, .device = device}),
                            bernoulli({257}, 0.3, {.device = device}), randint(-4, 9, {129}, {.device = device}),
                            nn::functional::dropout(ones({64}, {.device = device}), 0.5, true)};
    for (Tensor& t : out) t = t.to(kCPU);
    return out;
  };
  const std::vector<Tensor> cpu = draws(kCPU);
  const std::vector<Tensor> cuda = draws(kCUDA);
  // Drawn on the device by one kernel, not drawn on the host and copied there.
  const int64_t before = runner->launches();
  Tensor once = randn({1000}, {.device = kCUDA});
  CHECK(runner->launches() - before == 1);
  for (size_t i = 0; i < cpu.size(); ++i) {
    INFO("draw " << i);
    CHECK(cuda[i].dtype() == cpu[i].dtype());
    CHECK(allclose(cuda[i], cpu[i], 0, 0));
  }
}
