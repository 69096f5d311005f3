// The Optimizer base (zero_grad, lr, state copies), clip_grad_norm_ and clip_grad_value_.
#include <cmath>
#include <vector>

#include "frontend/optim/fused.h"
#include "tl/ops.h"
#include "tl/optim.h"

namespace tl::optim {

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& group : groups_) {
    for (auto& p : group.params) {
      if (set_to_none) {
        bool defined;
        {
          trace::PauseScope pause;  // clearing the slot does not read the gradient
          defined = p.grad().defined();
        }
        if (defined) p.set_grad(Tensor());
        continue;
      }
      Tensor g = p.grad();
      if (g.defined()) g.zero_();
    }
  }
}

void Optimizer::set_lr(double lr) {
  for (auto& group : groups_) group.lr = lr;
}

std::map<std::string, Tensor> Optimizer::state() const {
  NoGradGuard no_grad;
  std::map<std::string, Tensor> copy = state_view();
  for (auto& [key, t] : copy) t = t.clone();
  return copy;
}

void Optimizer::load_state(const std::map<std::string, Tensor>& state, Site site) {
  restore_state(state, /*adopt=*/false, site);
}

void Optimizer::adopt_state(const std::map<std::string, Tensor>& state, Site site) {
  restore_state(state, /*adopt=*/true, site);
}

namespace {

// Sum of squares of `g`, in double. Chunks are combined in order, so the result does not
// depend on the thread count.
double sum_of_squares(const Tensor& g) {
  if (!detail::is_fusable(g, {})) {
    Tensor g64 = g.to(kFloat64);
    return sum(g64 * g64).item<double>();
  }
  int64_t n = g.numel();
  int64_t chunks = (n + rt::kElementwiseGrain - 1) / rt::kElementwiseGrain;
  std::vector<double> partial(chunks, 0.0);
  detail::dispatch_float(g, [&](auto tag) {
    using T = decltype(tag);
    const T* x = g.data<T>();
    rt::parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) {
        int64_t begin = c * rt::kElementwiseGrain;
        int64_t end = std::min(n, begin + rt::kElementwiseGrain);
        double acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t i = begin; i < end; ++i) acc += static_cast<double>(x[i]) * x[i];
        partial[c] = acc;
      }
    });
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, Site site) {
  if (!(max_norm >= 0)) {
    throw ValueError("tl::optim::clip_grad_norm_: max_norm must be >= 0, got " + std::to_string(max_norm) +
                     " at " + site.str());
  }
  NoGradGuard no_grad;
  if (trace::is_tracing()) {
    // Traced: the same coefficient without a host branch, min(coef, 1) as a tensor.
    Tensor total;
    DType dtype = kFloat32;
    std::vector<Tensor> grads;
    for (const auto& p : params) {
      Tensor g = p.defined() ? p.grad() : Tensor();
      if (!g.defined()) continue;
      if (g.dtype() == kFloat64) dtype = kFloat64;
      Tensor g64 = g.to(kFloat64, site);
      Tensor sq = (g64 * g64).sum(site);
      total = total.defined() ? total + sq : sq;
      grads.push_back(g);
    }
    if (!total.defined()) return scalar_tensor(0.0, {.dtype = dtype});
    Tensor norm = sqrt(total, site);
    Tensor coef = clamp(full({}, max_norm, {.dtype = kFloat64}) / (norm + 1e-6), std::nullopt, 1.0, site);
    for (auto& g : grads) g.mul_(coef.to(g.dtype(), site), site);
    return norm.to(dtype, site);
  }
  std::vector<Tensor> grads;
  DType dtype = kFloat32;
  double total = 0;
  for (const auto& p : params) {
    Tensor g = p.defined() ? p.grad() : Tensor();
    if (!g.defined()) continue;
    if (g.dtype() == kFloat64) dtype = kFloat64;
    total += sum_of_squares(g);
    grads.push_back(g);
  }
  double norm = std::sqrt(total);
  // PyTorch's coefficient: the 1e-6 keeps a zero norm finite.
  double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    for (auto& g : grads) {
      if (detail::is_fusable(g, {})) {
        detail::dispatch_float(g, [&](auto tag) {
          using T = decltype(tag);
          T* x = g.data<T>();
          T c = static_cast<T>(coef);
          detail::for_each_chunk(g.numel(), [&](int64_t begin, int64_t end) {
#pragma omp simd
            for (int64_t i = begin; i < end; ++i) x[i] *= c;
          });
        });
        detail::bump_version(g);
      } else {
        g.mul_(coef, site);
      }
    }
  }
  return scalar_tensor(norm, {.dtype = dtype});
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value, Site site) {
  if (!(clip_value >= 0)) {
    throw ValueError("tl::optim::clip_grad_value_: clip_value must be >= 0, got " + std::to_string(clip_value) +
                     " at " + site.str());
  }
  NoGradGuard no_grad;
  for (const auto& p : params) {
    Tensor g = p.defined() ? p.grad() : Tensor();
    if (g.defined()) g.copy_(clamp(g, -clip_value, clip_value, site), site);
  }
}

}  // namespace tl::optim
