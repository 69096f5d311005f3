// Anomaly detection: NaN/Inf checks on op outputs and gradients, naming the op and the
// user's line. Also the determinism switch (recorded for device backends).
#include "frontend/autograd/anomaly.h"

#include <atomic>
#include <cmath>

#include "runtime/ops/dispatch.h"
#include "tl/debug.h"

namespace tl {

namespace {
std::atomic<bool> g_anomaly{false};
std::atomic<bool> g_deterministic{false};
}  // namespace

void detect_anomaly(bool enabled) { g_anomaly = enabled; }
bool is_anomaly_enabled() { return g_anomaly.load(std::memory_order_relaxed); }
DetectAnomalyGuard::DetectAnomalyGuard() : previous_(is_anomaly_enabled()) { detect_anomaly(true); }
DetectAnomalyGuard::~DetectAnomalyGuard() { detect_anomaly(previous_); }

void use_deterministic_algorithms(bool enabled) { g_deterministic = enabled; }
bool are_deterministic_algorithms_enabled() { return g_deterministic.load(); }

namespace autograd {

std::optional<NonFinite> find_non_finite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype()) || t.numel() == 0) return std::nullopt;
  Tensor c = t.device() == kCPU ? t : t.to(kCPU);
  c = c.contiguous();
  std::optional<NonFinite> found;
  TL_DISPATCH_FLOATING(c.dtype(), "detect_anomaly", {
    const T* p = c.data<T>();
    for (int64_t i = 0; i < c.numel(); ++i) {
      double v = static_cast<double>(static_cast<ops::compute_t<T>>(p[i]));
      if (!std::isfinite(v)) {
        found = NonFinite{i, std::isnan(v) ? "NaN" : "Inf"};
        break;
      }
    }
  })
  return found;
}

std::string index_str(const Shape& shape, int64_t linear) {
  Shape index;
  index.resize(shape.size());
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    index[d] = shape[d] ? linear % shape[d] : 0;
    linear = shape[d] ? linear / shape[d] : 0;
  }
  return index.str();
}

}  // namespace autograd
}  // namespace tl
