// Random draws on CUDA: the Philox kernels of cuda_source.h (the CPU's draws, element i at
// counter offset + i), registered as the device's draws when the op kernels are installed.
#include <string>

#include "runtime/cuda/launch.h"
#include "runtime/ops/factory/random.h"
#include "tl/error.h"

namespace tl::rt::cuda {
namespace {

std::string random_entry(trace::RandomKind kind, DType dtype, bool keyed) {
  return "tl_random" + std::to_string(static_cast<int>(kind)) + "_" + dtype_name(dtype) + (keyed ? "_k" : "");
}

void launch_draw(trace::RandomKind kind, DType dtype, bool keyed, Tensor& out, KernelArgs& args) {
  const std::string entry = random_entry(kind, dtype, keyed);
  launch_kernel(entry, dtype,
                [&] {
                  std::optional<std::string> body = random_kernel(static_cast<int>(kind), dtype, entry, keyed);
                  if (!body) throw DTypeError("tl: no CUDA random kernel draws " + std::string(dtype_name(dtype)));
                  return random_preamble() + *body;
                },
                launch_1d(out.numel()), args);
}

Tensor draw_at_key(trace::RandomKind kind, const Shape& shape, DType dtype, double a, double b, uint64_t seed,
                   uint64_t offset, Device device) {
  Tensor out = ops::empty_tensor(shape, dtype, device);
  if (out.numel() == 0) return out;
  KernelArgs args;
  args.add(out).add<long long>(out.numel()).add<unsigned long long>(seed).add<unsigned long long>(offset);
  args.add<double>(a).add<double>(b);
  launch_draw(kind, dtype, false, out, args);
  return out;
}

Tensor draw_at_device_key(const Tensor& key, int64_t delta, trace::RandomKind kind, const Shape& shape, DType dtype,
                          double a, double b) {
  Tensor out = ops::empty_tensor(shape, dtype, key.device());
  if (out.numel() == 0) return out;
  KernelArgs args;
  args.add(out).add<long long>(out.numel()).add(key).add<long long>(delta).add<double>(a).add<double>(b);
  launch_draw(kind, dtype, true, out, args);
  return out;
}

}  // namespace

void register_random_draws() {
  register_device_random(DeviceType::kCUDA, {.at_key = draw_at_key, .at_device_key = draw_at_device_key});
}

}  // namespace tl::rt::cuda
