// Fused per-parameter update loops. An optimizer's step is a handful of elementwise
// updates over a parameter and its buffers; for contiguous float32/float64 CPU tensors they
// run as one pass over memory instead of one temporary per op. Every fused update has a
// composite version written with tensor ops (in the same .cpp) that handles all other cases.
#pragma once

#include <cstring>

#include <functional>
#include <initializer_list>

#include "frontend/trace/tracer.h"
#include "runtime/cpu/parallel.h"
#include "tl/ops.h"
#include "tl/tensor.h"

namespace tl::optim::detail {

// True when `p` is a contiguous float32/float64 CPU tensor and each defined tensor in
// `others` is too, with p's dtype and element count.
// While tracing, nothing is: fused loops write memory directly, which a trace cannot see.
inline bool is_fusable(const Tensor& p, std::initializer_list<const Tensor*> others) {
  if (trace::is_tracing()) return false;
  if (p.device() != kCPU || !p.is_contiguous() || (p.dtype() != kFloat32 && p.dtype() != kFloat64)) {
    return false;
  }
  for (const Tensor* t : others) {
    if (!t->defined()) continue;
    if (t->device() != kCPU || !t->is_contiguous() || t->dtype() != p.dtype() || t->numel() != p.numel()) {
      return false;
    }
  }
  return true;
}

// Calls f(T*) with p's element type (float or double); p must be fusable.
template <class F>
void dispatch_float(const Tensor& p, const F& f) {
  if (p.dtype() == kFloat32) {
    f(float{});
  } else {
    f(double{});
  }
}

// Data pointer of an optional buffer (null when undefined).
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Runs `body(begin, end)` over [0, n) in the chunks the elementwise ops use.
template <class F>
void for_each_chunk(int64_t n, const F& body) {
  rt::parallel_for(n, rt::kElementwiseGrain, body);
}

// A 0-d tensor like `like` holding read(): a step value computed on the host (learning rate,
// bias correction). Under tl::compile the traced program reads the tensor, and read() runs
// again before every compiled call, so schedulers and step counts reach compiled steps.
inline Tensor host_value(const Tensor& like, std::function<double()> read) {
  Tensor t;
  {
    trace::PauseScope pause;  // an input of the traced program, not a constant
    t = full({}, read(), {.dtype = like.dtype(), .device = like.device()});
  }
  // Refilled only when the value changed: a fill is a kernel launch on a GPU, and most step
  // values (a constant learning rate) never change.
  trace::replay_on_call([t, read, last = read()]() mutable {
    const double now = read();
    if (std::memcmp(&now, &last, sizeof now) == 0) return;
    t.fill_(now);
    last = now;
  });
  return t;
}

// Marks an in-place write so autograd notices stale saved tensors.
inline void bump_version(const Tensor& t) { t.impl()->storage->mark_written("an optimizer step", Site{}); }

}  // namespace tl::optim::detail
