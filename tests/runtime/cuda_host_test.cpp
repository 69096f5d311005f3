// tl's emitted CUDA kernels, compiled for the host by the build (cuda_host_dump.cpp writes them
// with a shim for CUDA's built-ins, cuda_host_shim.h), against the eager CPU kernels: the CUDA C
// text computes what the op's math says, for every elementwise op, dtype and attribute set,
// over broadcast and strided operands. This checks the emitter without a GPU; the GPU's own
// math library (expf, erff, ...) is what a GPU run adds: the last case runs the same kernels on
// a GPU when there is one, and skips visibly when there is not.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <sstream>

#include "runtime/cuda/cuda_source.h"
#include "runtime/cuda/driver.h"
#include "runtime/cuda/kernel_cache.h"
#include "frontend/ops/registry.h"
#include "runtime/ops/factory/random.h"
#include "tests/runtime/cuda_attr_sets.h"
#include "tests/runtime/cuda_host_kernels.h"
#include "tl/tl.h"

using namespace tl;

namespace {

// Operand values for `dtype`: floats in [-2, 2], integers in [-5, 5] without 0 (a divisor), bools.
Tensor operand(const Shape& shape, DType dtype, uint64_t seed) {
  manual_seed(seed);
  if (dtype == kBool) return gt(rand(shape), scalar_tensor(0.5)).to(kBool);
  if (dtype == kInt32 || dtype == kInt64) {
    Tensor magnitude = randint(1, 6, shape);
    Tensor sign = sub(mul(randint(0, 2, shape), scalar_tensor(2, {.dtype = kInt64})), scalar_tensor(1, {.dtype = kInt64}));
    return mul(magnitude, sign).to(dtype);
  }
  return sub(mul(rand(shape), scalar_tensor(4.0)), scalar_tensor(2.0)).to(dtype);
}

TlStrides strides_of(const Tensor& t, int64_t rank) {
  TlStrides s{};
  const int64_t pad = rank - t.dim();
  for (int64_t d = 0; d < rank; ++d) s.stride[d] = d < pad || t.shape()[d - pad] == 1 ? 0 : t.strides()[d - pad];
  return s;
}

bool same_values(const Tensor& got, const Tensor& want, DType dtype) {
  if (!is_floating(dtype)) return allclose(got.to(kFloat64), want.to(kFloat64), 0, 0);
  const double rtol = dtype == kFloat16 || dtype == kBFloat16 ? 1e-2 : dtype == kFloat32 ? 2e-6 : 1e-12;
  std::vector<double> g = got.to(kFloat64).to_vector<double>(), w = want.to(kFloat64).to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) && std::isnan(w[i])) continue;
    if (std::isinf(w[i]) && g[i] == w[i]) continue;
    if (!(std::abs(g[i] - w[i]) <= 1e-6 + rtol * std::abs(w[i]))) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("the host-compiled kernels declare the preamble's structs", "[cuda][host]") {
  CHECK_THAT(rt::cuda::kernel_preamble(false, false),
             Catch::Contains("struct TlShape { int rank; long long size[8]; };") &&
                 Catch::Contains("struct TlStrides { long long stride[8]; };"));
}

TEST_CASE("every emitted CUDA kernel computes the eager kernel's results", "[cuda][host]") {
  const auto sets = test::cuda_attr_sets();
  std::ostringstream failures;
  int checked = 0;
  for (const HostKernel& k : host_kernels()) {
    const ops::OpDef& op = *ops::find_op(k.op);
    // A [3, 4] result: operand 0 transposed (strided), operand 1 a broadcast row, operand 2 a column.
    const Shape out_shape{3, 4};
    std::vector<Tensor> in;
    for (int i = 0; i < k.arity; ++i) {
      const DType d = k.arity == 3 && i == 0 ? kBool : k.dtype;
      const uint64_t seed = 1000 * static_cast<uint64_t>(checked) + static_cast<uint64_t>(i);
      if (i == 0) in.push_back(operand({4, 3}, d, seed).t());
      else if (i == 1) in.push_back(operand({4}, d, seed));
      else in.push_back(operand({3, 1}, d, seed));
    }
    std::string label = std::string(k.op) + " " + dtype_name(k.dtype) + " attributes " + std::to_string(k.attr_set);
    Tensor want;
    try {
      NoGradGuard no_grad;
      want = ops::call(op, std::span<const Tensor>(in), sets[static_cast<size_t>(k.attr_set)], Site::here());
    } catch (const Error& e) {
      failures << label << ": the eager kernel refused: " << e.what() << "\n";
      continue;
    }
    Tensor got = empty(out_shape, {.dtype = want.dtype()});
    TlShape shape{2, {3, 4}};
    std::vector<TlStrides> strides;
    std::vector<void*> pointers;
    for (const Tensor& t : in) {
      strides.push_back(strides_of(t, 2));
      pointers.push_back(t.data_ptr());
    }
    strides.push_back(strides_of(got, 2));
    k.call(pointers.data(), got.data_ptr(), shape, strides.data(), got.numel());
    ++checked;
    if (want.shape() != out_shape || !same_values(got, want, want.dtype()))
      failures << label << ": differs from the eager kernel\n";
  }
  INFO(failures.str());
  CHECK(failures.str().empty());
  CHECK(checked > 150);
}

TEST_CASE("every emitted CUDA kernel computes the eager kernel's results on the GPU", "[cuda][gpu]") {
  std::string why;
  const rt::cuda::Driver* gpu = rt::cuda::Driver::get(&why);
  if (gpu == nullptr) {
    WARN("skipped: " << why << " (no CUDA device)");
    SUCCEED();
    return;
  }
  const auto sets = test::cuda_attr_sets();
  // Every kernel of the host table, in one module compiled for this GPU.
  std::string source = rt::cuda::kernel_preamble();
  std::vector<std::string> names;
  for (const HostKernel& k : host_kernels()) {
    names.push_back(std::string("tl_") + k.op + "_" + dtype_name(k.dtype) + "_a" + std::to_string(k.attr_set));
    source += rt::cuda::elementwise_kernel(*ops::find_op(k.op), k.dtype, sets[static_cast<size_t>(k.attr_set)], names.back())
                  .value();
  }
  const rt::cuda::CompiledKernel image = rt::cuda::compile_cached(source, "tl_elementwise_all", gpu->arch());
  auto module = gpu->load_module(*image.binary);
  std::ostringstream failures;
  int checked = 0;
  for (size_t index = 0; index < host_kernels().size(); ++index) {
    const HostKernel& k = host_kernels()[index];
    const ops::OpDef& op = *ops::find_op(k.op);
    std::vector<Tensor> in;
    for (int i = 0; i < k.arity; ++i) {
      const DType d = k.arity == 3 && i == 0 ? kBool : k.dtype;
      const uint64_t seed = 7000 + 1000 * static_cast<uint64_t>(index) + static_cast<uint64_t>(i);
      if (i == 0) in.push_back(operand({4, 3}, d, seed).t());
      else if (i == 1) in.push_back(operand({4}, d, seed));
      else in.push_back(operand({3, 1}, d, seed));
    }
    const std::string label = names[index];
    Tensor want;
    {
      NoGradGuard no_grad;
      want = ops::call(op, std::span<const Tensor>(in), sets[static_cast<size_t>(k.attr_set)], Site::here());
    }
    // Each operand's whole storage to the device (the views here cover theirs exactly).
    std::vector<rt::cuda::DevicePtr> buffers;
    for (const Tensor& t : in) {
      buffers.push_back(gpu->allocate(t.nbytes()));
      gpu->copy_to_device(buffers.back(), t.data_ptr(), t.nbytes());
    }
    Tensor got = empty({3, 4}, {.dtype = want.dtype()});
    const rt::cuda::DevicePtr out = gpu->allocate(got.nbytes());
    TlShape shape{2, {3, 4}};
    std::vector<TlStrides> strides;
    for (const Tensor& t : in) strides.push_back(strides_of(t, 2));
    strides.push_back(strides_of(got, 2));
    long long n = got.numel();
    std::vector<void*> args;
    for (rt::cuda::DevicePtr& b : buffers) args.push_back(&b);
    rt::cuda::DevicePtr out_ptr = out;
    args.push_back(&out_ptr);
    args.push_back(&shape);
    for (TlStrides& s : strides) args.push_back(&s);
    args.push_back(&n);
    gpu->launch(module->function(label), 1, 128, args);
    gpu->synchronize();
    gpu->copy_to_host(got.data_ptr(), out, got.nbytes());
    for (rt::cuda::DevicePtr b : buffers) gpu->free(b);
    gpu->free(out);
    ++checked;
    if (!same_values(got, want, want.dtype())) failures << label << ": differs from the eager kernel\n";
  }
  INFO(gpu->device_name() << " (" << gpu->arch() << "), " << checked << " kernels");
  INFO(failures.str());
  CHECK(failures.str().empty());
}

namespace {

// Parameters per RandomKind: uniform [-1, 3), normal N(0.5, 2^2), Bernoulli 0.3, integers [-4, 9).
const double kRandomA[] = {-1.0, 0.5, 0.3, -4.0};
const double kRandomB[] = {3.0, 2.0, 0.0, 9.0};

}  // namespace

TEST_CASE("the CUDA random kernels draw the CPU's numbers for the same seed and offset", "[cuda][host][random]") {
  int checked = 0;
  for (const HostRandomKernel& k : host_random_kernels()) {
    INFO(k.name << " " << dtype_name(k.dtype));
    const uint64_t seed = 0x1234abcd5678ull, offset = 977;
    const int64_t n = 4099;
    Tensor want = random_from_key(static_cast<trace::RandomKind>(k.kind), {n}, k.dtype, kRandomA[k.kind],
                                  kRandomB[k.kind], seed, offset);
    Tensor got = empty({n}, {.dtype = k.dtype});
    k.call(got.data_ptr(), n, seed, offset, kRandomA[k.kind], kRandomB[k.kind]);
    CHECK(std::memcmp(got.data_ptr(), want.data_ptr(), want.nbytes()) == 0);
    ++checked;
  }
  CHECK(checked == 13);  // four draws in four floating types, integers in int64
}

TEST_CASE("the CUDA random kernels draw the CPU's numbers on the GPU", "[cuda][gpu][random]") {
  std::string why;
  const rt::cuda::Driver* gpu = rt::cuda::Driver::get(&why);
  if (gpu == nullptr) {
    WARN("skipped: " << why << " (no CUDA device)");
    SUCCEED();
    return;
  }
  std::string source = rt::cuda::kernel_preamble() + rt::cuda::random_preamble();
  const std::vector<rt::cuda::KernelSource> kernels = rt::cuda::all_random_kernels();
  for (const rt::cuda::KernelSource& k : kernels) source += k.source;
  auto module = gpu->load_module(*rt::cuda::compile_cached(source, "tl_random_all", gpu->arch()).binary);
  for (const HostRandomKernel& k : host_random_kernels()) {
    INFO(k.name << " " << dtype_name(k.dtype) << " on " << gpu->device_name());
    unsigned long long seed = 0x1234abcd5678ull, offset = 977;
    long long n = 4099;
    double a = kRandomA[k.kind], b = kRandomB[k.kind];
    Tensor want = random_from_key(static_cast<trace::RandomKind>(k.kind), {n}, k.dtype, a, b, seed, offset);
    Tensor got = empty({n}, {.dtype = k.dtype});
    rt::cuda::DevicePtr out = gpu->allocate(got.nbytes());
    std::vector<void*> args{&out, &n, &seed, &offset, &a, &b};
    gpu->launch(module->function("tl_random" + std::to_string(k.kind) + "_" + dtype_name(k.dtype)), 8, 128, args);
    gpu->synchronize();
    gpu->copy_to_host(got.data_ptr(), out, got.nbytes());
    gpu->free(out);
    // Bit for bit where the GPU's log and cos round as glibc's (every uniform, Bernoulli and
    // integer draw); normal draws within a few ulp.
    if (k.kind == 1) CHECK(allclose(got.to(kFloat64), want.to(kFloat64), 1e-6, 1e-12));
    else CHECK(std::memcmp(got.data_ptr(), want.data_ptr(), want.nbytes()) == 0);
  }
}
