// The CUDA C the op table's scalar math gives (runtime/cuda/cuda_source.h), compiled by NVRTC
// for the GPU architectures tl targets. NVRTC compiles without a GPU, so this runs wherever
// the CUDA toolkit is installed, and skips visibly where it is not.
#include <catch2/catch.hpp>

#include <map>

#include <unistd.h>

#include <ctime>
#include <string>

#include "runtime/base/disk_cache.h"
#include "runtime/cuda/cuda_source.h"
#include "runtime/cuda/kernel_cache.h"
#include "runtime/cuda/launch.h"
#include "runtime/cuda/nvrtc.h"
#include "runtime/ops/registry.h"

using namespace tl;

TEST_CASE("every elementwise op states its math once for the eager kernel, the LLVM lowering and CUDA C",
          "[cuda][codegen]") {
  int elementwise = 0;
  for (const ops::OpDef* op : ops::all_ops()) {
    if (op->kind != ops::OpKind::kElementwise) continue;
    ++elementwise;
    INFO(op->name);
    CHECK(op->kernels[ops::kCpu] != nullptr);
    CHECK(op->pointwise.lower != nullptr);
    // Every op takes float32, or (comparisons' and logical ops' inputs) bool or int64.
    bool has_cuda = false;
    for (DType d : {kFloat32, kInt64, kBool})
      has_cuda = has_cuda || rt::cuda::elementwise_kernel(*op, d, ops::Attrs{}, "k").has_value();
    CHECK(has_cuda);
  }
  CHECK(elementwise > 30);
  // The emitted body is the op's math: gelu's erf, clamp's bounds from its attributes.
  const std::string gelu = rt::cuda::elementwise_kernel(*ops::find_op("gelu"), kFloat32, {}, "g").value();
  CHECK_THAT(gelu, Catch::Contains("erff(") && Catch::Contains("extern \"C\" __global__ void g(const float*"));
  CHECK_THAT(rt::cuda::elementwise_kernel(*ops::find_op("gelu"), kFloat64, {}, "g").value(), Catch::Contains("erf("));
  ops::Attrs bounds;
  bounds.scalar = -0.25;
  bounds.scalar2 = 0.75;
  bounds.flag = bounds.flag2 = true;
  const std::string clamp = rt::cuda::elementwise_kernel(*ops::find_op("clamp"), kFloat32, bounds, "c").value();
  CHECK_THAT(clamp, Catch::Contains("-0.25") && Catch::Contains("0.75"));
  // Half and bfloat16 compute in float and store their own type.
  CHECK_THAT(rt::cuda::elementwise_kernel(*ops::find_op("add"), kFloat16, {}, "h").value(),
             Catch::Contains("__half* __restrict__ out") && Catch::Contains("const float x0"));
  // An op that is not elementwise, or a dtype the op refuses, has no kernel.
  CHECK_FALSE(rt::cuda::elementwise_kernel(*ops::find_op("matmul"), kFloat32, {}, "m").has_value());
  CHECK_FALSE(rt::cuda::elementwise_kernel(*ops::find_op("gelu"), kInt64, {}, "m").has_value());
}

TEST_CASE("NVRTC compiles every elementwise kernel to PTX and to cubins for sm_80 and sm_90", "[cuda][nvrtc]") {
  std::string why;
  const rt::cuda::Nvrtc* nvrtc = rt::cuda::Nvrtc::get(&why);
  if (nvrtc == nullptr) {
    WARN("skipped: " << why << " (install the CUDA toolkit to compile CUDA kernels)");
    SUCCEED();
    return;
  }
  // One translation unit holding every kernel, each checked by its entry in the PTX.
  std::string body;
  std::vector<std::string> names;
  std::vector<rt::cuda::KernelSource> kernels = rt::cuda::all_elementwise_kernels();
  CHECK(kernels.size() > 100);
  for (rt::cuda::KernelSource& k : rt::cuda::all_random_kernels()) {
    // and its variant reading the key from device memory (what CUDA graphs draw with)
    const std::string keyed = k.name + "_k";
    kernels.push_back({k.op, k.dtype, keyed, *rt::cuda::random_kernel(k.op.back() - '0', k.dtype, keyed, true)});
    kernels.push_back(std::move(k));
  }
  for (const rt::cuda::KernelSource& k : kernels) {
    body += k.source;
    names.push_back(k.name);
  }
  const std::string source = rt::cuda::kernel_preamble() + rt::cuda::random_preamble() + body;
  for (const char* arch : {"compute_80", "sm_80", "sm_90"}) {
    INFO(kernels.size() << " kernels for " << arch << " (NVRTC " << nvrtc->version() << ")");
    rt::cuda::NvrtcOutput out = nvrtc->compile(source, "tl_elementwise.cu", arch);
    INFO(out.log);
    REQUIRE(out.ok);
    CHECK(!out.binary.empty());
    if (std::string(arch) == "compute_80") {
      for (const std::string& name : names) {
        INFO(name);
        CHECK(out.binary.find(".entry " + name + "(") != std::string::npos);
      }
    } else {
      CHECK(out.binary.rfind("\x7f" "ELF", 0) == 0);  // a cubin is an ELF file
    }
  }
  // A compile error comes back as a log, not an exception.
  rt::cuda::NvrtcOutput bad = nvrtc->compile("extern \"C\" __global__ void k() { undefined_thing(); }", "bad.cu", "sm_90");
  CHECK_FALSE(bad.ok);
  CHECK_THAT(bad.log, Catch::Contains("undefined_thing"));
}

TEST_CASE("NVRTC compiles every op kernel source, each dtype's with only its own preamble", "[cuda][nvrtc]") {
  std::string why;
  const rt::cuda::Nvrtc* nvrtc = rt::cuda::Nvrtc::get(&why);
  if (nvrtc == nullptr) {
    WARN("skipped: " << why << " (install the CUDA toolkit to compile CUDA kernels)");
    SUCCEED();
    return;
  }
  // One translation unit per dtype, as launch_kernel prepends kernel_preamble_for(dtype).
  std::map<DType, std::vector<rt::cuda::KernelSource>> by_dtype;
  for (rt::cuda::KernelSource& k : rt::cuda::all_op_kernel_sources()) by_dtype[k.dtype].push_back(std::move(k));
  REQUIRE(!by_dtype.empty());
  int kernels = 0;
  for (const auto& [dtype, sources] : by_dtype) {
    std::string source = rt::cuda::kernel_preamble_for(dtype);
    for (const rt::cuda::KernelSource& k : sources) source += k.source;
    for (const char* arch : {"compute_80", "sm_90"}) {
      INFO(sources.size() << " " << dtype_name(dtype) << " op kernels for " << arch);
      rt::cuda::NvrtcOutput out = nvrtc->compile(source, "tl_op_kernels.cu", arch);
      INFO(out.log);
      REQUIRE(out.ok);
      if (std::string(arch) == "compute_80") {
        for (const rt::cuda::KernelSource& k : sources) {
          INFO(k.name);
          CHECK(out.binary.find(".entry " + k.name + "(") != std::string::npos);
        }
      }
    }
    kernels += static_cast<int>(sources.size());
  }
  WARN(kernels << " op kernels compiled");
}

TEST_CASE("a compiled CUDA kernel is kept in memory and on disk, keyed by its source and target", "[cuda][nvrtc][cache]") {
  std::string why;
  if (rt::cuda::Nvrtc::get(&why) == nullptr) {
    WARN("skipped: " << why << " (install the CUDA toolkit to compile CUDA kernels)");
    SUCCEED();
    return;
  }
  // A source no earlier run compiled: the cache folder is shared between test runs.
  const std::string name = "tl_cache_probe_" + std::to_string(::getpid()) + "_" + std::to_string(std::time(nullptr));
  const std::string source = rt::cuda::kernel_preamble_for(kFloat32) +
                             rt::cuda::elementwise_kernel(*ops::find_op("gelu"), kFloat32, {}, name).value();
  const rt::cuda::KernelCacheStats before = rt::cuda::kernel_cache_stats();
  rt::cuda::CompiledKernel cold = rt::cuda::compile_cached(source, name, "sm_90");
  CHECK_FALSE(cold.from_memory);
  CHECK_FALSE(cold.from_disk);
  REQUIRE(cold.binary);
  rt::cuda::CompiledKernel warm = rt::cuda::compile_cached(source, name, "sm_90");
  CHECK(warm.from_memory);
  CHECK(warm.binary == cold.binary);
  // Another architecture is another kernel.
  rt::cuda::CompiledKernel other = rt::cuda::compile_cached(source, name, "sm_80");
  CHECK_FALSE(other.from_memory);
  CHECK(*other.binary != *cold.binary);
  // A new process (the memory cache cleared) reads the disk cache, when there is one.
  rt::cuda::clear_kernel_memory_cache();
  rt::cuda::CompiledKernel disk = rt::cuda::compile_cached(source, name, "sm_90");
  if (rt::disk_cache_in("cuda")) {
    CHECK(disk.from_disk);
    CHECK(*disk.binary == *cold.binary);
  }
  const rt::cuda::KernelCacheStats after = rt::cuda::kernel_cache_stats();
  CHECK(after.compiled - before.compiled == 2);
  CHECK(after.memory_hits - before.memory_hits == 1);
  // A source that does not compile names the kernel and carries NVRTC's log.
  CHECK_THROWS_WITH(rt::cuda::compile_cached("extern \"C\" __global__ void k() { nope(); }", "broken", "sm_90"),
                    Catch::Contains("CUDA kernel 'broken' does not compile for sm_90") && Catch::Contains("nope"));
}
