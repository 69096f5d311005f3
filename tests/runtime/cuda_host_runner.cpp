#include "tests/runtime/cuda_host_runner.h"

#include <barrier>
#include <thread>

#include "tests/runtime/cuda_host_kernels.h"
#include "tests/runtime/cuda_host_shim.h"
#include "tl/error.h"

namespace tl::test {

void* HostKernelRunner::function(const std::string& source, const std::string& entry, const std::string&) {
  for (const HostOpKernel& k : host_op_kernels()) {
    if (entry != k.entry) continue;
    // The source asked for must be the one the host build compiled (its preamble before it).
    const std::string body = k.source;
    if (source.size() < body.size() || source.compare(source.size() - body.size(), body.size(), body) != 0)
      throw Error("tl test: the host build of CUDA kernel " + entry + " has another source than the one launched");
    return const_cast<HostOpKernel*>(&k);
  }
  throw Error("tl test: no host build of CUDA kernel " + entry +
              " (is its source listed by its family's KernelSourceFamily?)");
}

void HostKernelRunner::launch(void* function, const rt::cuda::LaunchShape& shape, rt::cuda::KernelArgs& args) {
  const auto* kernel = static_cast<const HostOpKernel*>(function);
  const unsigned threads = shape.block.x * shape.block.y * shape.block.z;
  if (threads == 0 || threads > 1024) throw Error("tl test: a CUDA block of " + std::to_string(threads) + " threads");
  ++launches_;
  blockDim = {shape.block.x, shape.block.y, shape.block.z};
  gridDim = {shape.grid.x, shape.grid.y, shape.grid.z};
  void** params = args.pointers().data();
  for (unsigned bz = 0; bz < shape.grid.z; ++bz) {
    for (unsigned by = 0; by < shape.grid.y; ++by) {
      for (unsigned bx = 0; bx < shape.grid.x; ++bx) {
        std::barrier<> barrier(threads);
        tl_host_block_barrier = &barrier;
        std::vector<std::thread> block;
        block.reserve(threads);
        for (unsigned t = 0; t < threads; ++t) {
          block.emplace_back([&, t] {
            blockIdx = {bx, by, bz};
            threadIdx = {t % shape.block.x, t / shape.block.x % shape.block.y, t / (shape.block.x * shape.block.y)};
            kernel->invoke(params);
          });
        }
        for (std::thread& th : block) th.join();
        tl_host_block_barrier = nullptr;
      }
    }
  }
  blockDim = {1, 1, 1};
  gridDim = {1, 1, 1};
}

HostCudaKernels::HostCudaKernels() {
  rt::cuda::install_op_kernels();
  rt::cuda::set_runner(&runner_);
  constexpr int cpu = static_cast<int>(DeviceType::kCPU), cuda = static_cast<int>(DeviceType::kCUDA);
  for (const std::string& name : rt::cuda::ops_with_cuda_kernels()) {
    ops::extend_op(name.c_str(), [&](ops::OpDef& def) {
      saved_.emplace_back(name, def.kernels[cpu]);
      def.kernels[cpu] = def.kernels[cuda];
    });
  }
}

HostCudaKernels::~HostCudaKernels() {
  constexpr int cpu = static_cast<int>(DeviceType::kCPU);
  for (const auto& [name, kernel] : saved_) {
    ops::KernelFn k = kernel;
    ops::extend_op(name.c_str(), [k](ops::OpDef& def) { def.kernels[cpu] = k; });
  }
  rt::cuda::set_runner(nullptr);
}

}  // namespace tl::test
