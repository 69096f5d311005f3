// A program compiled for CUDA (PipelineOptions::device = kCUDA: fused groups as CUDA C, the
// other ops on their CUDA kernels) run without a GPU: the host runner executes the fused
// kernels' CUDA C (compiled for the host) and every op's CUDA kernel on host memory, so the
// program's CUDA path is checked against the eager CPU result.
#include <catch2/catch.hpp>

#include <functional>
#include <utility>

#include "driver/pipeline.h"
#include "frontend/compile/trace_inference.h"
#include "runtime/cuda/fused_kernel.h"
#include "runtime/exec/executor.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tl/tl.h"

using namespace tl;

namespace {

using Body = std::function<std::vector<Tensor>(std::span<const Tensor>)>;

// `body` traced on `args` and optimized for CUDA; the pipeline's error and IR on failure.
compiler::PipelineResult compile_for_cuda(const Body& body, std::span<const Tensor> args) {
  trace::Graph graph = detail::trace_inference(
      [&](std::span<const Tensor> a) { return body(a); }, args, Site::here(),
      [](const std::string& why) { FAIL(why); });
  compiler::PipelineOptions options;
  options.device = DeviceType::kCUDA;
  compiler::PipelineResult result;
  driver::run_pipeline(graph, options, result);
  INFO(result.error << "\n" << result.ir_after);
  REQUIRE(result.ok);
  return result;
}

// The fused nodes that run as CUDA kernels, and of those the ones ending in a reduction.
std::pair<int, int> cuda_fused_nodes(const trace::Graph& graph) {
  int fused = 0, reductions = 0;
  for (const trace::Node& node : graph.nodes) {
    auto* k = node.op == trace::kFused ? dynamic_cast<const rt::cuda::CudaFusedKernel*>(node.kernel.get()) : nullptr;
    if (k == nullptr) continue;
    ++fused;
    if (!k->is_elementwise()) ++reductions;
  }
  return {fused, reductions};
}

}  // namespace

TEST_CASE("a program compiled for CUDA computes the eager result, its fused groups as CUDA kernels", "[cuda][host][compile]") {
  manual_seed(11);
  Tensor w = randn({16, 8}), b = randn({8}), x = randn({5, 16});
  auto body = [&](std::span<const Tensor> args) {
    Tensor h = add(matmul(args[0], w), b);
    Tensor y = mul(gelu(h), full({}, 0.5));
    return std::vector<Tensor>{add(softmax(y, 1), tanh(h))};
  };
  std::vector<Tensor> args{x};
  Tensor want = body(args)[0];
  compiler::PipelineResult result = compile_for_cuda(body, args);
  const int cuda_fused = cuda_fused_nodes(result.graph).first;
  CHECK(cuda_fused >= 1);  // gelu * 0.5 and the final add + tanh

  test::HostCudaKernels on_host;
  trace::ExecResult r = trace::execute(result.graph, args);
  REQUIRE(r.ok);
  CHECK(allclose(r.outputs[0], want, 1e-5, 1e-6));
  CHECK(on_host.runner().launches() > cuda_fused);  // the matmul and softmax ran their CUDA kernels too
}

TEST_CASE("a program compiled for CUDA fuses a column sum into the chain it ends", "[cuda][host][compile]") {
  manual_seed(12);
  Tensor w = randn({16, 8}), x = randn({6, 16});
  auto body = [&](std::span<const Tensor> args) {
    Tensor h = matmul(args[0], w);
    return std::vector<Tensor>{sum(relu(mul(h, full({}, 0.5))), {0}), mean(tanh(h), {0})};
  };
  std::vector<Tensor> args{x};
  std::vector<Tensor> want = body(args);
  compiler::PipelineResult result = compile_for_cuda(body, args);
  const int reductions = cuda_fused_nodes(result.graph).second;
  CHECK(reductions == 2);
  test::HostCudaKernels on_host;
  trace::ExecResult r = trace::execute(result.graph, args);
  REQUIRE(r.ok);
  CHECK(allclose(r.outputs[0], want[0], 1e-5, 1e-6));
  CHECK(allclose(r.outputs[1], want[1], 1e-5, 1e-6));
}
