// SGD with momentum, dampening, Nesterov momentum and L2 weight decay, in the update order
// of torch.optim.SGD (PyTorch 1.13, _single_tensor_sgd).
#include "frontend/optim/fused.h"
#include "frontend/optim/state.h"
#include "tl/ops.h"
#include "tl/optim.h"

namespace tl::optim {
namespace {

struct SGDStep {
  double lr, weight_decay, momentum, dampening;
  bool nesterov;
};

// d = g + wd * p; buf = first ? d : momentum * buf + (1 - dampening) * d;
// d = nesterov ? d + momentum * buf : buf; p -= lr * d.
template <class T>
void sgd_fused(T* p, const T* g, T* buf, bool is_first, int64_t n, const SGDStep& s) {
  const T wd = static_cast<T>(s.weight_decay), mom = static_cast<T>(s.momentum);
  const T keep = static_cast<T>(1 - s.dampening), neg_lr = static_cast<T>(-s.lr);
  const bool has_wd = s.weight_decay != 0;
  detail::for_each_chunk(n, [&](int64_t begin, int64_t end) {
    if (!buf) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) {
        T d = has_wd ? g[i] + wd * p[i] : g[i];
        p[i] = p[i] + neg_lr * d;
      }
      return;
    }
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      T d = has_wd ? g[i] + wd * p[i] : g[i];
      T b = is_first ? d : buf[i] * mom + keep * d;
      buf[i] = b;
      d = s.nesterov ? d + mom * b : b;
      p[i] = p[i] + neg_lr * d;
    }
  });
}

// The same update with tensor ops, for any dtype and device, and for traced steps; `lr` is
// a 0-d tensor (detail::host_value).
void sgd_composite(Tensor& p, const Tensor& g, Tensor& buf, const SGDStep& s, const Tensor& lr, Site site) {
  Tensor d = s.weight_decay != 0 ? g + p * s.weight_decay : g;
  if (s.momentum != 0) {
    if (!buf.defined()) {
      buf = d.clone(site);
    } else {
      buf.mul_(s.momentum, site).add_(d, 1 - s.dampening, site);
    }
    d = s.nesterov ? d + buf * s.momentum : buf;
  }
  p.sub_(d * lr, site);
}

// The rules the constructor and tl::load (through check_group) apply to SGD's options.
void check_options(const std::string& name, const SGDOptions& options, Site site) {
  detail::check_group_options(name, options.lr, options.weight_decay, site);
  detail::check_option(options.momentum >= 0, name, "momentum", ">= 0", options.momentum, site);
  if (options.nesterov) {
    detail::check_option(options.momentum > 0, name, "momentum", "> 0 with nesterov", options.momentum, site);
    detail::check_option(options.dampening == 0, name, "dampening", "0 with nesterov", options.dampening, site);
  }
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, SGDOptions options, Site site) : options_(options) {
  groups_ = detail::make_groups(name(), std::move(params), options.lr, options.weight_decay, site);
  check_options(name(), options, site);
}

void SGD::check_group(double lr, double weight_decay, Site site) const {
  SGDOptions options = options_;
  options.lr = lr;
  options.weight_decay = weight_decay;
  check_options(name(), options, site);
}

void SGD::step(Site site) {
  NoGradGuard no_grad;
  detail::for_each_param_with_grad(groups_, {&momentum_}, nullptr, name(), site,
                                   [&](size_t gi, size_t i, Tensor& p, const Tensor& g) {
    const ParamGroup& group = groups_[gi];
    SGDStep s{group.lr, group.weight_decay, options_.momentum, options_.dampening, options_.nesterov};
    Tensor& buf = momentum_[i];
    if (detail::is_fusable(p, {&g, &buf})) {
      bool is_first = s.momentum != 0 && !buf.defined();
      if (is_first) buf = empty(p.shape(), {.dtype = p.dtype()});
      detail::dispatch_float(p, [&](auto tag) {
        using T = decltype(tag);
        sgd_fused<T>(p.data<T>(), g.data<T>(), s.momentum != 0 ? buf.data<T>() : nullptr, is_first,
                     p.numel(), s);
      });
      detail::bump_version(p);
    } else {
      sgd_composite(p, g, buf, s, detail::host_value(p, [this, gi] { return groups_[gi].lr; }), site);
    }
  });
}

std::map<std::string, Tensor> SGD::state_view() const {
  return detail::save_state(name(), detail::flat_params(groups_).size(),
                            {{"momentum_buffer", &momentum_}}, nullptr);
}

void SGD::restore_state(const std::map<std::string, Tensor>& state, bool adopt, Site site) {
  std::vector<Tensor> params = detail::flat_params(groups_);
  detail::load_state(state, name(), params, {{"momentum_buffer", &momentum_, options_.momentum != 0}},
                     nullptr, adopt, site);
  momentum_.resize(params.size());
}

}  // namespace tl::optim
