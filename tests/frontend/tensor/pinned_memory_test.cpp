// Pinned host memory and non_blocking copies: Tensor::pin_memory, is_pinned and
// to(device, non_blocking), on whatever CUDA device there is (a GPU, or the emulated device
// in ops_cuda_emulated_test); without one, the refusals.
#include <catch2/catch.hpp>

#include "runtime/device_backend.h"
#include "tl/tl.h"

using namespace tl;

namespace {
// Waits for the device's queued work (a no-op on the emulated device, whose copies are done).
void wait_for_device() { rt::backend_for(kCUDA, "test").synchronize(0); }
}  // namespace

TEST_CASE("without a CUDA device pin_memory is refused, naming why", "[cuda][pinned]") {
  if (cuda_device::is_available()) {
    SUCCEED();
    return;
  }
  Tensor x = ones({2, 3});
  CHECK_FALSE(x.is_pinned());
  CHECK_THROWS_AS(x.pin_memory(), DeviceError);
  CHECK_THROWS_WITH(x.pin_memory(), Catch::Contains("tl::Tensor::pin_memory") && Catch::Contains("cuda:0") &&
                                        Catch::Contains("not available"));
  CHECK_THROWS_AS(cuda_device::pinned_memory_stats(), DeviceError);
  CHECK_THROWS_AS(x.to(kCUDA, true), DeviceError);
  CHECK(x.to(kCPU, true).is_same(x));  // nothing to copy
  CHECK_THROWS_AS(Tensor().pin_memory(), ValueError);
}

TEST_CASE("pin_memory copies a CPU tensor into pinned memory once, values and views kept", "[cuda][gpu][pinned]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device");
    return;
  }
  const auto before = cuda_device::pinned_memory_stats();
  Tensor x = arange(24, {.dtype = kFloat64}).reshape({2, 3, 4});
  Tensor p = x.pin_memory();
  CHECK(p.is_pinned());
  CHECK_FALSE(x.is_pinned());
  CHECK(p.device() == kCPU);
  CHECK(p.shape() == x.shape());
  CHECK(p.dtype() == kFloat64);
  CHECK(equal(p, x));
  CHECK(p.pin_memory().is_same(p));  // already pinned: no copy
  CHECK(p.select(0, 1).is_pinned());  // a view shares the pinned storage
  CHECK(p.data_ptr() != x.data_ptr());
  x.fill_(-1.0);  // a copy, not an alias
  CHECK(p.item_at<double>({1, 2, 3}) == 23.0);
  const auto during = cuda_device::pinned_memory_stats();
  CHECK(during.in_use_bytes >= before.in_use_bytes + p.nbytes());
  CHECK(during.allocations == before.allocations + 1);
  CHECK(during.peak_in_use_bytes >= during.in_use_bytes);

  // A strided source comes out contiguous, in every dtype.
  Tensor t = arange(12).reshape({3, 4}).t();
  Tensor pt = t.pin_memory();
  CHECK(pt.is_contiguous());
  CHECK(pt.to_vector<int64_t>() == t.to_vector<int64_t>());
  Tensor b = (arange(6) > 2.0).pin_memory();
  CHECK(b.to_vector<bool>() == std::vector<bool>{false, false, false, true, true, true});
  Tensor h = randn({5}).to(kFloat16);
  CHECK(equal(h.pin_memory(), h));
  Tensor empty_one = zeros({0, 3}).pin_memory();
  CHECK(empty_one.is_pinned());
  CHECK(empty_one.numel() == 0);

  // Freed pinned memory stays cached for the next tensor of its size (a 4 KiB block here).
  const size_t cached = cuda_device::pinned_memory_stats().cached_bytes;
  p = Tensor();
  CHECK(cuda_device::pinned_memory_stats().cached_bytes == cached + 4096);
  CHECK_THROWS_WITH(ones({2}).to(kCUDA).pin_memory(), Catch::Contains("only a CPU tensor"));
}

TEST_CASE("to(cuda, non_blocking) from pinned memory queues the copy, and ops after it see the values",
          "[cuda][gpu][pinned]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device");
    return;
  }
  manual_seed(5);
  Tensor x = randn({64, 33});
  const Tensor want = x * 2.0 + 1.0;
  const auto before = cuda_device::pinned_memory_stats();
  Tensor d = x.pin_memory().to(kCUDA, true);  // the pinned source is dropped at once
  CHECK(d.device() == kCUDA);
  Tensor y = d * 2.0 + 1.0;  // queued after the copy on the same stream
  Tensor back = y.to(kCPU, true);
  CHECK(back.is_pinned());  // an asynchronous copy to the host lands in pinned memory
  CHECK(back.device() == kCPU);
  wait_for_device();
  CHECK(allclose(back, want, 1e-6, 1e-6));
  CHECK(cuda_device::pinned_memory_stats().async_copies == before.async_copies + 2);

  // From pageable memory, non_blocking copies synchronously: right values, nothing queued.
  const auto mid = cuda_device::pinned_memory_stats();
  Tensor e = x.to(kCUDA, true);
  CHECK(equal(e.to(kCPU), x));
  CHECK_FALSE(e.to(kCPU).is_pinned());
  CHECK(cuda_device::pinned_memory_stats().async_copies == mid.async_copies);

  // A non-contiguous pinned view is copied through a contiguous (pageable) copy.
  Tensor pv = x.pin_memory().t();
  CHECK(equal(pv.to(kCUDA, true).to(kCPU), x.t()));

  // Gradients flow back through pin_memory and the asynchronous copy.
  Tensor w = randn({7}).requires_grad_();
  Tensor loss = (w.pin_memory().to(kCUDA, true) * w.pin_memory().to(kCUDA, true)).sum();
  loss.backward();
  REQUIRE(w.grad().defined());
  CHECK(allclose(w.grad(), w.detach() * 2.0));
}
