// Random draws at an explicit Philox key (random.h): element i of a draw uses counter
// offset + i, so the values do not depend on how the loop is split across threads.
#include "runtime/ops/factory/random.h"

#include <cmath>

#include "runtime/cpu/parallel.h"
#include "runtime/cpu/philox.h"
#include "runtime/device_backend.h"
#include "runtime/ops/dispatch.h"
#include "runtime/ops/registry.h"

namespace tl {

namespace {

// Fills t with f(words[4]) per element, element i from Philox counter offset + i.
template <class T, class F>
void fill_philox(Tensor& t, uint64_t seed, uint64_t offset, const F& f) {
  T* p = t.data<T>();
  rt::parallel_for(t.numel(), 16384, [&](int64_t b, int64_t e) {
    uint32_t w[4];
    for (int64_t i = b; i < e; ++i) {
      rt::Philox4x32::generate(seed, offset + static_cast<uint64_t>(i), w);
      p[i] = static_cast<T>(f(w));
    }
  });
}

}  // namespace

Tensor random_from_key(trace::RandomKind kind, const Shape& shape, DType dtype, double a, double b, uint64_t seed,
                       uint64_t offset) {
  Tensor t = ops::empty_tensor(shape, dtype, kCPU);
  using trace::RandomKind;
  if (kind == RandomKind::kRandint) {
    auto low = static_cast<int64_t>(a);
    auto range = static_cast<uint64_t>(static_cast<int64_t>(b) - low);
    fill_philox<int64_t>(t, seed, offset, [=](const uint32_t* w) { return rt::random_int(w, low, range); });
    return t;
  }
  TL_DISPATCH_FLOATING(dtype, "random", {
    switch (kind) {
      case RandomKind::kUniform:
        fill_philox<T>(t, seed, offset, [=](const uint32_t* w) { return rt::random_uniform(w, a, b); });
        break;
      case RandomKind::kNormal:
        fill_philox<T>(t, seed, offset, [=](const uint32_t* w) { return rt::random_normal(w, a, b); });
        break;
      case RandomKind::kBernoulli:
        fill_philox<T>(t, seed, offset, [=](const uint32_t* w) { return rt::random_bernoulli(w, a); });
        break;
      default:
        throw ValueError("tl::random_from_key: unknown kind");
    }
  });
  return t;
}

namespace {
DeviceRandom& device_random(DeviceType type) {
  static DeviceRandom table[static_cast<int>(DeviceType::kCUDA) + 1];
  return table[static_cast<int>(type)];
}
}  // namespace

void register_device_random(DeviceType type, DeviceRandom draws) { device_random(type) = draws; }

bool has_device_key_random(DeviceType type) { return device_random(type).at_device_key != nullptr; }

Tensor random_on_device(Device device, trace::RandomKind kind, const Shape& shape, DType dtype, double a, double b,
                        uint64_t seed, uint64_t offset) {
  if (device.type == DeviceType::kCPU) return random_from_key(kind, shape, dtype, a, b, seed, offset);
  if (auto draw = device_random(device.type).at_key) return draw(kind, shape, dtype, a, b, seed, offset, device);
  const Tensor host = random_from_key(kind, shape, dtype, a, b, seed, offset);
  Tensor out = ops::empty_tensor(shape, dtype, device);
  rt::backend_for(device, "a random draw").copy(out.data_ptr(), device, host.data_ptr(), kCPU, host.nbytes());
  return out;
}

Tensor random_at_device_key(const Tensor& key, int64_t delta, trace::RandomKind kind, const Shape& shape, DType dtype,
                            double a, double b) {
  auto draw = device_random(key.device().type).at_device_key;
  if (draw == nullptr) throw DeviceError("tl: " + key.device().str() + " draws no random numbers at a key in its memory");
  return draw(key, delta, kind, shape, dtype, a, b);
}

}  // namespace tl
