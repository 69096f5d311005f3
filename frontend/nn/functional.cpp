// tl::nn::functional (tl/nn/functional.h): normalizations, dropout and similarities built from
// op-table ops.
#include "tl/nn/functional.h"

#include <cmath>

#include "tl/ops.h"
#include "tl/random.h"

namespace tl::nn::functional {
namespace {

std::string describe(const Tensor& t) { return t.shape().str() + " " + dtype_name(t.dtype()); }

// (x - mean) / sqrt(var + eps) over `dims`, with the biased variance; also returns the mean
// and variance (keepdim) for callers that track them.
Tensor standardize(const Tensor& x, const Shape& dims, double eps, Tensor* mean_out, Tensor* var_out, Site site) {
  Tensor mean = tl::mean(x, dims, true, site);
  Tensor centered = sub(x, mean, site);
  Tensor var = tl::mean(mul(centered, centered, site), dims, true, site);
  if (mean_out) *mean_out = mean;
  if (var_out) *var_out = var;
  // eps as a scalar: a constant of var's shape would change with the batch size, and a program
  // exported with max_batch must hold the same constants at every batch size.
  return mul(centered, rsqrt(add(var, scalar_tensor(eps, {.dtype = var.dtype()}, site), site), site), site);
}

void require_floating_input(const Tensor& x, const char* op, Site site) {
  if (!x.defined()) throw ValueError(std::string("tl::nn::functional::") + op + ": x is an undefined tensor at " + site.str());
  if (!x.is_floating_point())
    throw DTypeError(std::string("tl::nn::functional::") + op + ": x must be floating point, got " + describe(x) +
                     " at " + site.str());
}

// [1, C, 1, ...] for broadcasting a per-channel vector over x [N, C, ...].
Shape channel_shape(const Tensor& x) {
  Shape s;
  for (int64_t d = 0; d < x.dim(); ++d) s.push_back(d == 1 ? x.shape()[1] : 1);
  return s;
}

Tensor affine(Tensor y, const Tensor& weight, const Tensor& bias, const Shape& shape, Site site) {
  if (weight.defined()) y = mul(y, weight.reshape(shape, site), site);
  if (bias.defined()) y = add(y, bias.reshape(shape, site), site);
  return y;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps,
                  Site site) {
  require_floating_input(x, "layer_norm", site);
  const int64_t k = normalized_shape.size();
  bool fits = k >= 1 && x.dim() >= k;
  for (int64_t i = 0; fits && i < k; ++i) fits = x.shape()[x.dim() - k + i] == normalized_shape[i];
  if (!fits)
    throw ShapeError("tl::nn::functional::layer_norm: x is " + describe(x) + " but its last dims must be " +
                     normalized_shape.str() + " at " + site.str());
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && t->shape() != normalized_shape)
      throw ShapeError("tl::nn::functional::layer_norm: " + std::string(t == &weight ? "weight" : "bias") + " is " +
                       describe(*t) + " but must be " + normalized_shape.str() + " at " + site.str());
  Shape dims;
  for (int64_t i = 0; i < k; ++i) dims.push_back(x.dim() - k + i);
  Tensor y = standardize(x, dims, eps, nullptr, nullptr, site);
  if (weight.defined()) y = mul(y, weight, site);
  if (bias.defined()) y = add(y, bias, site);
  return y;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, Site site) {
  require_floating_input(x, "batch_norm", site);
  if (x.dim() < 2)
    throw ShapeError("tl::nn::functional::batch_norm: x is " + describe(x) + " but must be [N, C, ...] at " + site.str());
  const int64_t channels = x.shape()[1];
  for (const Tensor* t : {&running_mean, &running_var, &weight, &bias})
    if (t->defined() && t->shape() != Shape{channels})
      throw ShapeError("tl::nn::functional::batch_norm: a per-channel tensor is " + describe(*t) + " but x has " +
                       std::to_string(channels) + " channels (" + describe(x) + ") at " + site.str());
  if (running_mean.defined() != running_var.defined())
    throw ValueError("tl::nn::functional::batch_norm: give both running_mean and running_var, or neither, at " +
                     site.str());
  const Shape shape = channel_shape(x);
  Shape dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != 1) dims.push_back(d);
  Tensor y;
  if (training || !running_mean.defined()) {
    const int64_t count = x.numel() / std::max<int64_t>(channels, 1);
    if (count <= 1)
      throw ValueError("tl::nn::functional::batch_norm: expected more than 1 value per channel when training, got x " +
                       describe(x) + " at " + site.str());
    Tensor mean, var;
    y = standardize(x, dims, eps, &mean, &var, site);
    if (training && running_mean.defined()) {
      NoGradGuard no_grad;
      const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
      Tensor rm = running_mean, rv = running_var;
      rm.mul_(1.0 - momentum, site).add_(mean.reshape({channels}, site).to(rm.dtype(), site), momentum, site);
      rv.mul_(1.0 - momentum, site).add_(var.reshape({channels}, site).to(rv.dtype(), site), momentum * unbias, site);
    }
  } else {
    Tensor mean = running_mean.reshape(shape, site), var = running_var.reshape(shape, site);
    y = mul(sub(x, mean, site), rsqrt(add(var, full_like(var, eps, site), site), site), site);
  }
  return affine(y, weight, bias, shape, site);
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps, Site site) {
  require_floating_input(x, "group_norm", site);
  if (x.dim() < 2 || num_groups < 1 || x.shape()[1] % num_groups != 0)
    throw ShapeError("tl::nn::functional::group_norm: x is " + describe(x) + " and num_groups " +
                     std::to_string(num_groups) + "; x must be [N, C, ...] with C divisible by num_groups, at " +
                     site.str());
  const int64_t channels = x.shape()[1];
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && t->shape() != Shape{channels})
      throw ShapeError("tl::nn::functional::group_norm: " + std::string(t == &weight ? "weight" : "bias") + " is " +
                       describe(*t) + " but must be [" + std::to_string(channels) + "] at " + site.str());
  // [N, G, C/G * rest] standardized over its last dim.
  const Tensor grouped = x.reshape({x.shape()[0], num_groups, -1}, site);
  Tensor y = standardize(grouped, {2}, eps, nullptr, nullptr, site).reshape(x.shape(), site);
  return affine(y, weight, bias, channel_shape(x), site);
}

Tensor dropout(const Tensor& x, double p, bool training, Site site) {
  if (!(p >= 0.0 && p <= 1.0))
    throw ValueError("tl::nn::functional::dropout: p must be in [0, 1], got " + std::to_string(p) + " at " + site.str());
  if (!training || p == 0.0) return x;
  require_floating_input(x, "dropout", site);
  if (p == 1.0) return mul(x, zeros_like(x, site), site);
  Tensor keep = bernoulli(x.shape(), 1.0 - p, {.dtype = x.dtype(), .device = x.device()}, site);
  return mul(x, mul(keep, full_like(keep, 1.0 / (1.0 - p), site), site), site);
}

Tensor normalize(const Tensor& x, double p, int64_t dim, double eps, Site site) {
  require_floating_input(x, "normalize", site);
  if (!(p > 0))
    throw ValueError("tl::nn::functional::normalize: p must be positive, got " + std::to_string(p) + " at " + site.str());
  Tensor norm = p == 2.0 ? sqrt(sum(mul(x, x, site), {dim}, true, site), site)
                         : pow(sum(pow(abs(x, site), p, site), {dim}, true, site), 1.0 / p, site);
  return div(x, maximum(norm, scalar_tensor(eps, {.dtype = norm.dtype()}, site), site), site);
}

Tensor cosine_similarity(const Tensor& a, const Tensor& b, int64_t dim, double eps, Site site) {
  require_floating_input(a, "cosine_similarity", site);
  require_floating_input(b, "cosine_similarity", site);
  Tensor dot = sum(mul(a, b, site), {dim}, false, site);
  Tensor aa = sum(mul(a, a, site), {dim}, false, site);
  Tensor bb = sum(mul(b, b, site), {dim}, false, site);
  Tensor denom = mul(aa, bb, site);
  return div(dot, sqrt(maximum(denom, scalar_tensor(eps * eps, {.dtype = denom.dtype()}, site), site), site), site);
}

}  // namespace tl::nn::functional
