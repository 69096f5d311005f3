// Random draws at an explicit Philox key: the eager factories (frontend) and the
// compiled-graph executor share this, so a compiled call draws exactly the numbers eager
// code would.
#pragma once

#include <cstdint>

#include "tl/tensor.h"

namespace tl {
namespace trace {
// What a draw samples (a graph's random node stores it in attrs.count, with a and b in
// attrs.scalar/scalar2). kUniform: U[a, b); kNormal: N(a, b^2); kBernoulli: 1 with
// probability a; kRandint: [a, b) int64.
enum class RandomKind : int64_t { kUniform = 0, kNormal = 1, kBernoulli = 2, kRandint = 3 };
}  // namespace trace

// A new CPU tensor of `shape` and `dtype` (int64 for kRandint, else floating) whose element
// i is drawn from Philox counter `offset + i` under `seed`, so the values do not depend on
// how the fill is split across threads. No autograd, no tracing.
Tensor random_from_key(trace::RandomKind kind, const Shape& shape, DType dtype, double a, double b, uint64_t seed,
                       uint64_t offset);

// The same draw, made on `device`: by the device's own Philox kernel when it registered one
// (CUDA: the same numbers, without drawing on the host and copying), else on the host and
// copied there.
Tensor random_on_device(Device device, trace::RandomKind kind, const Shape& shape, DType dtype, double a, double b,
                        uint64_t seed, uint64_t offset);

// The draw at a key held in device memory: `key` an int64 [seed, offset] tensor on the
// device, the draw at counter key[1] + delta + i. What a captured CUDA graph draws with: its
// key is refilled before each replay. Throws DeviceError where the device registered none.
Tensor random_at_device_key(const Tensor& key, int64_t delta, trace::RandomKind kind, const Shape& shape, DType dtype,
                            double a, double b);
bool has_device_key_random(DeviceType type);

// A device's draws (its backend registers them when it installs its kernels).
struct DeviceRandom {
  Tensor (*at_key)(trace::RandomKind, const Shape&, DType, double a, double b, uint64_t seed, uint64_t offset,
                   Device device) = nullptr;
  Tensor (*at_device_key)(const Tensor& key, int64_t delta, trace::RandomKind, const Shape&, DType, double a,
                          double b) = nullptr;
};
void register_device_random(DeviceType type, DeviceRandom draws);
}  // namespace tl
