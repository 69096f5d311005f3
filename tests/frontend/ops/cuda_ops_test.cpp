// The op table on CUDA tensors: every op sample run on the GPU against its CPU result, and the
// list of ops that have no CUDA kernel yet. Without a GPU (CI) the sweep skips visibly and only
// the refusal is checked.
#include <catch2/catch.hpp>

#include <sstream>

#include "tests/support/op_samples.h"
#include "tl/tl.h"

using namespace tl;

TEST_CASE("a CUDA tensor without a GPU is refused, naming why", "[cuda]") {
  if (cuda_device::is_available()) {
    SUCCEED();
    return;
  }
  CHECK_THROWS_AS(ones({2, 3}).to(kCUDA), DeviceError);
  CHECK_THROWS_WITH(ones({2, 3}).to(kCUDA), Catch::Contains("cuda:0") && Catch::Contains("not available"));
}

TEST_CASE("every op sample on CUDA gives its CPU result, and ops without a CUDA kernel are listed", "[cuda][gpu]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device");
    SUCCEED();
    return;
  }
  // Copies both ways keep every bit.
  Tensor x = randn({5, 7});
  CHECK(allclose(x.to(kCUDA).to(kCPU), x, 0, 0));
  std::ostringstream failures, missing;
  int compared = 0;
  for (const ops::OpDef* op : ops::all_ops()) {
    for (size_t k = 0; k < op->samples.size(); ++k) {
      const ops::Sample& s = op->samples[k];
      std::vector<Tensor> in = test::make_inputs(s, test::seed_for(op->name, k), false);
      Tensor want;
      {
        NoGradGuard no_grad;
        want = s.call(in);
      }
      std::vector<Tensor> on_gpu;
      for (const Tensor& t : in) on_gpu.push_back(t.to(kCUDA));
      Tensor got;
      try {
        NoGradGuard no_grad;
        got = s.call(on_gpu).to(kCPU);
      } catch (const DeviceError& e) {
        if (k == 0) missing << " " << op->name;
        continue;
      }
      ++compared;
      const bool same = got.shape() == want.shape() && got.dtype() == want.dtype() &&
                        (is_floating(want.dtype()) ? allclose(got.to(kFloat64), want.to(kFloat64), 1e-5, 1e-6)
                                                    : allclose(got.to(kFloat64), want.to(kFloat64), 0, 0));
      if (!same) failures << op->name << " sample " << k << " differs from the CPU\n";
    }
  }
  WARN(compared << " op samples compared on " << "the GPU" << "; ops without a CUDA kernel:"
                << missing.str());
  INFO(failures.str());
  CHECK(failures.str().empty());
  CHECK(compared > 0);
}
