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
#include "tl/nn/functional.h"
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

TEST_CASE("a program compiled for CUDA fuses layer norm's statistics into row reductions, a block per output",
          "[cuda][host][compile]") {
  manual_seed(13);
  Tensor w = randn({48}), b = randn({48}), x = randn({6, 48});
  auto body = [&](std::span<const Tensor> args) {
    const Tensor& h = args[0];
    // Layer norm (its variance: mean(d * d) along rows), an RMS norm (mean(h * h) along rows)
    // and a loss over both (a mean of everything to a scalar).
    Tensor y = nn::functional::layer_norm(h, {48}, w, b, 1e-5);
    Tensor z = mul(h, rsqrt(add(mean(mul(h, h), {1}, true), full({}, 1e-6))));
    return std::vector<Tensor>{y, z, mean(mul(y, z))};
  };
  std::vector<Tensor> args{x};
  std::vector<Tensor> want = body(args);
  compiler::PipelineResult result = compile_for_cuda(body, args);
  // Each of the three statistics is a fused group ending in its mean, and each takes the block form.
  int blocks = 0;
  for (const trace::Node& node : result.graph.nodes) {
    auto* k = node.op == trace::kFused ? dynamic_cast<const rt::cuda::CudaFusedKernel*>(node.kernel.get()) : nullptr;
    if (k == nullptr || k->is_elementwise()) continue;
    std::vector<Shape> shapes;
    for (int v : node.inputs) shapes.push_back(result.graph.values[v].shape);
    INFO(k->describe());
    CHECK(k->reduce_form(shapes) == rt::cuda::FusedReduceForm::kBlockPerOutput);
    CHECK_THAT(k->block_kernel().entry, Catch::StartsWith("tl_fused_block_"));
    ++blocks;
  }
  CHECK(blocks == 3);

  test::HostCudaKernels on_host;
  trace::ExecResult r = trace::execute(result.graph, args);
  REQUIRE(r.ok);
  REQUIRE(r.outputs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO("output " << i);
    CHECK(allclose(r.outputs[i], want[i], 1e-5, 1e-6));
  }
  // The same bits on a second run: the trees add in a fixed order.
  trace::ExecResult again = trace::execute(result.graph, args);
  REQUIRE(again.ok);
  for (size_t i = 0; i < 3; ++i) CHECK(equal(again.outputs[i], r.outputs[i]));
}
