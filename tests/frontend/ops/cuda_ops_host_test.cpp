// Every op that has a CUDA kernel, run through that kernel on the host (the host runner of
// tests/runtime/cuda_host_runner.h executes the kernel's CUDA C, compiled for the host, one
// host thread per CUDA thread) against its CPU kernel, over the op table's samples in float64
// and float32, forward and through the derivative's ops. The GPU run of the same comparison
// is ops_cuda_test.
#include <catch2/catch.hpp>

#include <optional>
#include <sstream>

#include "runtime/cuda/launch.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tests/support/op_samples.h"
#include "tl/tl.h"

using namespace tl;

namespace {

bool close_enough(const Tensor& got, const Tensor& want) {
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) return false;
  if (!is_floating(want.dtype())) return allclose(got.to(kFloat64), want.to(kFloat64), 0, 0);
  const double rtol = want.dtype() == kFloat64 ? 1e-10 : 1e-5;
  return allclose(got.to(kFloat64), want.to(kFloat64), rtol, rtol);
}

}  // namespace

TEST_CASE("each op's CUDA kernel, run on the host, gives its CPU kernel's results over the samples", "[cuda][host]") {
  rt::cuda::install_op_kernels();
  const std::vector<std::string> with_kernel = rt::cuda::ops_with_cuda_kernels();
  std::ostringstream failures;
  int compared = 0, compared_backward = 0;
  for (const std::string& name : with_kernel) {
    const ops::OpDef& op = *ops::find_op(name);
    for (size_t k = 0; k < op.samples.size(); ++k) {
      const ops::Sample& s = op.samples[k];
      for (DType dtype : {kFloat64, kFloat32}) {
        std::vector<Tensor> in = test::make_inputs(s, test::seed_for(op.name, k), false);
        for (size_t i = 0; i < in.size(); ++i)
          if (!test::is_integer_input(s, i) && is_floating(in[i].dtype())) in[i] = in[i].to(dtype);
        Tensor want;
        {
          NoGradGuard no_grad;
          want = s.call(in);
        }
        Tensor got;
        try {
          test::HostCudaKernels on_host;
          NoGradGuard no_grad;
          got = s.call(in);
        } catch (const Error& e) {
          failures << name << " sample " << k << " " << dtype_name(dtype) << ": " << e.what() << "\n";
          continue;
        }
        ++compared;
        if (!close_enough(got, want))
          failures << name << " sample " << k << " " << dtype_name(dtype) << ": differs from the CPU kernel\n";
        // Backward: the gradients of sum(out * w), whose derivative ops run their CUDA kernels too.
        if (op.grad == nullptr || !is_floating(want.dtype())) continue;
        auto grads = [&](bool cuda_kernels) {
          std::vector<Tensor> leaves;
          for (size_t i = 0; i < in.size(); ++i) {
            Tensor t = in[i].detach();
            if (!test::is_integer_input(s, i) && is_floating(t.dtype())) t.requires_grad_(true);
            leaves.push_back(t);
          }
          Tensor w = linspace(-1.0, 1.0, want.numel(), {.dtype = want.dtype()}).reshape(want.shape());
          std::optional<test::HostCudaKernels> on_host;
          if (cuda_kernels) on_host.emplace();
          sum(mul(s.call(leaves), w)).backward();
          std::vector<Tensor> g;
          for (const Tensor& t : leaves)
            if (t.requires_grad() && t.grad().defined()) g.push_back(t.grad());
          return g;
        };
        try {
          std::vector<Tensor> g_cpu = grads(false), g_cuda = grads(true);
          bool same = g_cpu.size() == g_cuda.size();
          for (size_t i = 0; same && i < g_cpu.size(); ++i) same = close_enough(g_cuda[i], g_cpu[i]);
          ++compared_backward;
          if (!same) failures << name << " sample " << k << " " << dtype_name(dtype) << ": gradients differ\n";
        } catch (const Error& e) {
          failures << name << " sample " << k << " " << dtype_name(dtype) << " backward: " << e.what() << "\n";
        }
      }
    }
  }
  INFO(failures.str());
  CHECK(failures.str().empty());
  WARN(compared << " samples (" << compared_backward << " with their backward) of " << with_kernel.size() << " ops with CUDA kernels compared");
}

TEST_CASE("every op of the table has a CUDA kernel, or is listed as lacking one", "[cuda]") {
  rt::cuda::install_op_kernels();
  std::ostringstream missing;
  int with_kernel = 0;
  for (const ops::OpDef* op : ops::all_ops()) {
    if (op->view != nullptr || op->kind == ops::OpKind::kElementwise) continue;  // views; generated kernels
    if (op->kernels[static_cast<int>(DeviceType::kCUDA)] != nullptr) ++with_kernel;
    else missing << " " << op->name;
  }
  WARN(with_kernel << " ops that are not elementwise have CUDA kernels; without one:" << missing.str());
  SUCCEED();
}
