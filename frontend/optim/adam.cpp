// Adam and AdamW with bias correction and AMSGrad, following torch.optim.Adam and AdamW
// (PyTorch 1.13, _single_tensor_adam / _single_tensor_adamw) formula for formula.
#include <cmath>

#include "frontend/optim/fused.h"
#include "frontend/optim/state.h"
#include "tl/ops.h"
#include "tl/optim.h"

namespace tl::optim {
namespace {

struct AdamStep {
  double lr, weight_decay, beta1, beta2, eps;
  bool decoupled, amsgrad;
  double step_size;             // lr / (1 - beta1^t)
  double bias_correction2_sqrt;  // sqrt(1 - beta2^t)
};

// Adam:  g += wd * p.   AdamW: p *= 1 - lr * wd.
// m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g;  vmax = max(vmax, v)
// p -= step_size * m / (sqrt(amsgrad ? vmax : v) / bias_correction2_sqrt + eps)
template <class T, bool kAmsgrad>
void adam_fused(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamStep& s) {
  const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
  const T one_minus_b1 = static_cast<T>(1 - s.beta1), one_minus_b2 = static_cast<T>(1 - s.beta2);
  const T eps = static_cast<T>(s.eps), bc2_sqrt = static_cast<T>(s.bias_correction2_sqrt);
  const T neg_step_size = static_cast<T>(-s.step_size);
  const T l2 = static_cast<T>(s.decoupled ? 0.0 : s.weight_decay);
  const T shrink = static_cast<T>(s.decoupled ? 1 - s.lr * s.weight_decay : 1.0);
  detail::for_each_chunk(n, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      T pi = p[i] * shrink;
      T gi = g[i] + l2 * p[i];
      T mi = m[i] * b1 + one_minus_b1 * gi;
      T vi = v[i] * b2 + one_minus_b2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      if constexpr (kAmsgrad) {
        vi = vmax[i] > vi ? vmax[i] : vi;
        vmax[i] = vi;
      }
      p[i] = pi + neg_step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
    }
  });
}

// Host step values as 0-d tensors (detail::host_value), so traced steps re-read them.
struct AdamScalars {
  Tensor shrink;     // 1 - lr * wd (AdamW)
  Tensor step_size;  // lr / (1 - beta1^t)
  Tensor bias_correction2_sqrt;
};

void adam_composite(Tensor& p, const Tensor& grad, Tensor& m, Tensor& v, Tensor& vmax, const AdamStep& s,
                    const AdamScalars& k, Site site) {
  Tensor g = grad;
  if (s.decoupled) {
    p.mul_(k.shrink, site);
  } else if (s.weight_decay != 0) {
    g = g + p * s.weight_decay;
  }
  m.mul_(s.beta1, site).add_(g, 1 - s.beta1, site);
  v.mul_(s.beta2, site).add_(g * g, 1 - s.beta2, site);
  Tensor second = v;
  if (s.amsgrad) {
    vmax.copy_(maximum(vmax, v, site), site);
    second = vmax;
  }
  Tensor denom = sqrt(second, site) / k.bias_correction2_sqrt + s.eps;
  p.sub_(m / denom * k.step_size, site);
}

// The rules the constructor and tl::load (through check_group) apply to Adam's and AdamW's
// options.
void check_options(const std::string& name, const AdamOptions& options, Site site) {
  detail::check_group_options(name, options.lr, options.weight_decay, site);
  detail::check_option(options.beta1 >= 0 && options.beta1 < 1, name, "beta1", "in [0, 1)", options.beta1, site);
  detail::check_option(options.beta2 >= 0 && options.beta2 < 1, name, "beta2", "in [0, 1)", options.beta2, site);
  detail::check_option(options.eps >= 0, name, "eps", ">= 0", options.eps, site);
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions options, Site site) : Adam(std::move(params), options, false, site) {}

Adam::Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled, Site site)
    : options_(options), decoupled_(decoupled) {
  groups_ = detail::make_groups(name(), std::move(params), options.lr, options.weight_decay, site);
  check_options(name(), options, site);
}

void Adam::check_group(double lr, double weight_decay, Site site) const {
  AdamOptions options = options_;
  options.lr = lr;
  options.weight_decay = weight_decay;
  check_options(name(), options, site);
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions options, Site site) : Adam(std::move(params), options, true, site) {}

void Adam::step(Site site) {
  NoGradGuard no_grad;
  detail::for_each_param_with_grad(groups_, {&exp_avg_, &exp_avg_sq_, &max_exp_avg_sq_}, &steps_, name(), site,
                                 [&](size_t gi, size_t i, Tensor& p, const Tensor& g) {
    const ParamGroup& group = groups_[gi];
    Tensor &m = exp_avg_[i], &v = exp_avg_sq_[i], &vmax = max_exp_avg_sq_[i];
    if (!m.defined()) {
      m = zeros(p.shape(), {.dtype = p.dtype(), .device = p.device()});
      v = zeros(p.shape(), {.dtype = p.dtype(), .device = p.device()});
    }
    if (options_.amsgrad && !vmax.defined()) vmax = zeros(p.shape(), {.dtype = p.dtype(), .device = p.device()});
    int64_t t = ++steps_[i];
    trace::replay_on_call([this, i] { ++steps_[i]; });  // compiled steps count too
    AdamStep s{group.lr, group.weight_decay, options_.beta1, options_.beta2, options_.eps, decoupled_,
               options_.amsgrad, 0.0, 0.0};
    // Python's float ** int, as PyTorch computes it.
    s.step_size = group.lr / (1 - std::pow(options_.beta1, static_cast<double>(t)));
    s.bias_correction2_sqrt = std::sqrt(1 - std::pow(options_.beta2, static_cast<double>(t)));
    if (detail::is_fusable(p, {&g, &m, &v, &vmax})) {
      detail::dispatch_float(p, [&](auto tag) {
        using T = decltype(tag);
        if (options_.amsgrad) {
          adam_fused<T, true>(p.data<T>(), g.data<T>(), m.data<T>(), v.data<T>(), vmax.data<T>(), p.numel(), s);
        } else {
          adam_fused<T, false>(p.data<T>(), g.data<T>(), m.data<T>(), v.data<T>(), nullptr, p.numel(), s);
        }
      });
      detail::bump_version(p);
    } else {
      double b1 = options_.beta1, b2 = options_.beta2;
      AdamScalars k{
          detail::host_value(p, [this, gi] { return 1 - groups_[gi].lr * groups_[gi].weight_decay; }),
          detail::host_value(p, [this, gi, i, b1] {
            return groups_[gi].lr / (1 - std::pow(b1, static_cast<double>(steps_[i])));
          }),
          detail::host_value(p, [this, i, b2] { return std::sqrt(1 - std::pow(b2, static_cast<double>(steps_[i]))); })};
      adam_composite(p, g, m, v, vmax, s, k, site);
    }
  });
}

std::map<std::string, Tensor> Adam::state_view() const {
  return detail::save_state(name(), detail::flat_params(groups_).size(),
                            {{"exp_avg", &exp_avg_}, {"exp_avg_sq", &exp_avg_sq_}, {"max_exp_avg_sq", &max_exp_avg_sq_}},
                            &steps_);
}

void Adam::restore_state(const std::map<std::string, Tensor>& state, bool adopt, Site site) {
  std::vector<Tensor> params = detail::flat_params(groups_);
  detail::load_state(state, name(), params,
                     {{"exp_avg", &exp_avg_}, {"exp_avg_sq", &exp_avg_sq_},
                      {"max_exp_avg_sq", &max_exp_avg_sq_, options_.amsgrad}},
                     &steps_, adopt, site);
}

}  // namespace tl::optim
