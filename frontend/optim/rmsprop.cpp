// RMSprop, optionally centered and with momentum, following torch.optim.RMSprop
// (PyTorch 1.13, _single_tensor_rmsprop).
#include <cmath>

#include "frontend/optim/fused.h"
#include "frontend/optim/state.h"
#include "tl/ops.h"
#include "tl/optim.h"

namespace tl::optim {
namespace {

struct RMSpropStep {
  double lr, weight_decay, alpha, eps, momentum;
};

// g += wd * p;  sq = alpha * sq + (1 - alpha) * g * g;
// centered: ga = alpha * ga + (1 - alpha) * g, avg = sqrt(sq - ga * ga) + eps; else sqrt(sq) + eps
// momentum: buf = momentum * buf + g / avg, p -= lr * buf;  else p -= lr * g / avg.
template <class T, bool kCentered, bool kMomentum>
void rmsprop_fused(T* p, const T* g, T* sq, T* ga, T* buf, int64_t n, const RMSpropStep& s) {
  const T wd = static_cast<T>(s.weight_decay), alpha = static_cast<T>(s.alpha);
  const T one_minus_alpha = static_cast<T>(1 - s.alpha), eps = static_cast<T>(s.eps);
  const T mom = static_cast<T>(s.momentum), neg_lr = static_cast<T>(-s.lr);
  detail::for_each_chunk(n, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      T gi = g[i] + wd * p[i];
      T si = sq[i] * alpha + one_minus_alpha * gi * gi;
      sq[i] = si;
      T avg;
      if constexpr (kCentered) {
        T ai = ga[i] * alpha + one_minus_alpha * gi;
        ga[i] = ai;
        avg = std::sqrt(si - ai * ai) + eps;
      } else {
        avg = std::sqrt(si) + eps;
      }
      if constexpr (kMomentum) {
        T bi = buf[i] * mom + gi / avg;
        buf[i] = bi;
        p[i] = p[i] + neg_lr * bi;
      } else {
        p[i] = p[i] + neg_lr * gi / avg;
      }
    }
  });
}

void rmsprop_composite(Tensor& p, const Tensor& grad, Tensor& sq, Tensor& ga, Tensor& buf,
                       const RMSpropStep& s, const Tensor& lr, Site site) {
  Tensor g = s.weight_decay != 0 ? grad + p * s.weight_decay : grad;
  sq.mul_(s.alpha, site).add_(g * g, 1 - s.alpha, site);
  Tensor avg;
  if (ga.defined()) {
    ga.mul_(s.alpha, site).add_(g, 1 - s.alpha, site);
    avg = sqrt(sq - ga * ga, site) + s.eps;
  } else {
    avg = sqrt(sq, site) + s.eps;
  }
  if (buf.defined()) {
    buf.mul_(s.momentum, site).add_(g / avg, 1.0, site);
    p.sub_(buf * lr, site);
  } else {
    p.sub_(g / avg * lr, site);
  }
}

template <class T>
void rmsprop_dispatch(T* p, const T* g, T* sq, T* ga, T* buf, int64_t n, const RMSpropStep& s) {
  if (ga && buf) {
    rmsprop_fused<T, true, true>(p, g, sq, ga, buf, n, s);
  } else if (ga) {
    rmsprop_fused<T, true, false>(p, g, sq, ga, buf, n, s);
  } else if (buf) {
    rmsprop_fused<T, false, true>(p, g, sq, ga, buf, n, s);
  } else {
    rmsprop_fused<T, false, false>(p, g, sq, ga, buf, n, s);
  }
}

// The rules the constructor and tl::load (through check_group) apply to RMSprop's options.
void check_options(const std::string& name, const RMSpropOptions& options, Site site) {
  detail::check_group_options(name, options.lr, options.weight_decay, site);
  detail::check_option(options.alpha >= 0, name, "alpha", ">= 0", options.alpha, site);
  detail::check_option(options.eps >= 0, name, "eps", ">= 0", options.eps, site);
  detail::check_option(options.momentum >= 0, name, "momentum", ">= 0", options.momentum, site);
}

}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options, Site site) : options_(options) {
  groups_ = detail::make_groups(name(), std::move(params), options.lr, options.weight_decay, site);
  check_options(name(), options, site);
}

void RMSprop::check_group(double lr, double weight_decay, Site site) const {
  RMSpropOptions options = options_;
  options.lr = lr;
  options.weight_decay = weight_decay;
  check_options(name(), options, site);
}

void RMSprop::step(Site site) {
  NoGradGuard no_grad;
  detail::for_each_param_with_grad(groups_, {&square_avg_, &momentum_, &grad_avg_}, nullptr, name(), site,
                                 [&](size_t gi, size_t i, Tensor& p, const Tensor& g) {
    const ParamGroup& group = groups_[gi];
    Tensor &sq = square_avg_[i], &buf = momentum_[i], &ga = grad_avg_[i];
    TensorOptions like{.dtype = p.dtype(), .device = p.device()};
    if (!sq.defined()) sq = zeros(p.shape(), like);
    if (options_.momentum > 0 && !buf.defined()) buf = zeros(p.shape(), like);
    if (options_.centered && !ga.defined()) ga = zeros(p.shape(), like);
    RMSpropStep s{group.lr, group.weight_decay, options_.alpha, options_.eps, options_.momentum};
    if (detail::is_fusable(p, {&g, &sq, &buf, &ga})) {
      detail::dispatch_float(p, [&](auto tag) {
        using T = decltype(tag);
        rmsprop_dispatch<T>(p.data<T>(), g.data<T>(), sq.data<T>(), detail::data_or_null<T>(ga),
                            detail::data_or_null<T>(buf), p.numel(), s);
      });
      detail::bump_version(p);
    } else {
      rmsprop_composite(p, g, sq, ga, buf, s, detail::host_value(p, [this, gi] { return groups_[gi].lr; }), site);
    }
  });
}

std::map<std::string, Tensor> RMSprop::state_view() const {
  return detail::save_state(name(), detail::flat_params(groups_).size(),
                            {{"square_avg", &square_avg_}, {"momentum_buffer", &momentum_}, {"grad_avg", &grad_avg_}},
                            nullptr);
}

void RMSprop::restore_state(const std::map<std::string, Tensor>& state, bool adopt, Site site) {
  std::vector<Tensor> params = detail::flat_params(groups_);
  detail::load_state(state, name(), params,
                     {{"square_avg", &square_avg_},
                      {"momentum_buffer", &momentum_, options_.momentum > 0},
                      {"grad_avg", &grad_avg_, options_.centered}},
                     nullptr, adopt, site);
}

}  // namespace tl::optim
