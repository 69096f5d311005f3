// CUDA kernels of the op table's data-movement and indexing ops (runtime/cuda/launch.h says
// how op kernels are written: a source per dtype, sizes and strides as parameters).
#include <string>
#include <vector>

#include "runtime/cuda/launch.h"

namespace tl::rt::cuda {

namespace {

constexpr DType kAllDTypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kBool};

// ---- copy: any strided operand into a contiguous result ----

std::string copy_entry(DType dtype) { return std::string("tl_copy_") + dtype_name(dtype); }

std::string copy_source(DType dtype) {
  const std::string t = storage_type(dtype);
  return "extern \"C\" __global__ void " + copy_entry(dtype) + "(const " + t + "* __restrict__ in, " + t +
         "* __restrict__ out, TlShape shape, TlStrides s_in, long long n) {\n"
         "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
         "       i += (long long)gridDim.x * blockDim.x) {\n"
         "    long long rest = i, offset = 0;\n"
         "    for (int d = shape.rank - 1; d >= 0; --d) {\n"
         "      const long long c = rest % shape.size[d];\n"
         "      rest /= shape.size[d];\n"
         "      offset += c * s_in.stride[d];\n"
         "    }\n"
         "    out[i] = in[offset];\n"
         "  }\n"
         "}\n";
}

void copy_kernel(std::span<const Tensor> in, Tensor& out, const ops::Attrs&) {
  const Tensor& x = in[0];
  const int64_t n = out.numel();
  KernelArgs args;
  args.add(x).add(out).add(kernel_shape(x.shape())).add(kernel_strides(x, x.dim())).add<long long>(n);
  launch_kernel(copy_source(x.dtype()), x.dtype(), copy_entry(x.dtype()), launch_1d(n), args);
}

std::vector<KernelSource> index_sources() {
  std::vector<KernelSource> all;
  for (DType d : kAllDTypes) all.push_back({"copy", d, copy_entry(d), copy_source(d)});
  return all;
}

const KernelSourceFamily family("index", index_sources);
const CudaKernel copy_registration("copy", copy_kernel);

}  // namespace

}  // namespace tl::rt::cuda
