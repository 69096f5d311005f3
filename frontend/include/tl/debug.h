// Numerical diagnostics and determinism switches.
#pragma once

#include "tl/error.h"

namespace tl {

// A NaN or Inf caught by anomaly detection.
class NumericsError : public Error { using Error::Error; };

// While enabled, every op's output (forward) and every gradient an op's derivative produces
// (backward) is checked for NaN/Inf; the first one found throws NumericsError naming the op,
// its shapes, the first bad index and the user's line that created the op (for backward, the
// line of the forward op). Off by default; when off it costs one branch per op. When on, each
// op reads its whole output once more.
void detect_anomaly(bool enabled);
bool is_anomaly_enabled();

// Enables anomaly detection for a scope.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard();
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

// Requests deterministic algorithms everywhere. It never raises: every CPU op in tl is already
// bitwise reproducible at any thread count (fixed work splits, ordered reductions), so on the
// CPU this switch changes nothing and costs nothing; device backends consult it to choose a
// deterministic kernel where their fastest one is not. docs/determinism.md lists the costs.
void use_deterministic_algorithms(bool enabled);
bool are_deterministic_algorithms_enabled();

}  // namespace tl
