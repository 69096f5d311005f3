// Run::log_norms: gradient and parameter norms of a model, logged as lazily read tensors.
#include "tl/nn/module.h"
#include "tl/ops.h"
#include "tl/run.h"

namespace tl {

void Run::log_norms(const nn::Module& model, bool per_parameter, Site site) {
  NoGradGuard no_grad;
  // Sums of squares in float64, so the norm of a large model loses no precision.
  Tensor grad_sq, param_sq;
  auto add_squares = [&](Tensor& total, const Tensor& t, const std::string& metric) {
    Tensor t64 = cast(t, kFloat64, site);
    Tensor sq = sum(mul(t64, t64, site), {}, false, site);
    total = total.defined() ? add(total, sq, site) : sq;
    if (per_parameter) log(metric, sqrt(sq, site), site);
  };
  for (const auto& [name, p] : model.named_parameters()) {
    add_squares(param_sq, p, "param_norm/" + name);
    if (Tensor g = p.grad(); g.defined()) add_squares(grad_sq, g, "grad_norm/" + name);
  }
  auto norm = [&](const Tensor& sq) { return sq.defined() ? sqrt(sq, site) : scalar_tensor(0.0, {.dtype = kFloat64}); };
  log("param_norm", norm(param_sq), site);
  log("grad_norm", norm(grad_sq), site);
}

}  // namespace tl
