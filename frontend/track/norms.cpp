// Run::log_norms: gradient and parameter norms of a model, logged as lazily read tensors.
#include "tl/nn/module.h"
#include "tl/ops.h"
#include "tl/run.h"

namespace tl {

void Run::log_norms(const nn::Module& model, bool per_parameter, Site site) {
  NoGradGuard no_grad;
  Tensor grad_sq, param_sq;
  auto accumulate = [&](Tensor& total, const Tensor& sq) { total = total.defined() ? add(total, sq, site) : sq; };
  for (const auto& [name, p] : model.named_parameters()) {
    Tensor p64 = cast(p, kFloat64, site);
    Tensor p_sq = sum(mul(p64, p64, site), {}, false, site);
    accumulate(param_sq, p_sq);
    if (per_parameter) log("param_norm/" + name, sqrt(p_sq, site), site);
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor g64 = cast(g, kFloat64, site);
    Tensor g_sq = sum(mul(g64, g64, site), {}, false, site);
    accumulate(grad_sq, g_sq);
    if (per_parameter) log("grad_norm/" + name, sqrt(g_sq, site), site);
  }
  log("param_norm", param_sq.defined() ? sqrt(param_sq, site) : scalar_tensor(0.0, {.dtype = kFloat64}), site);
  log("grad_norm", grad_sq.defined() ? sqrt(grad_sq, site) : scalar_tensor(0.0, {.dtype = kFloat64}), site);
}

}  // namespace tl
