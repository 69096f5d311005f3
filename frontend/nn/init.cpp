// Parameter initializers (torch.nn.init). Values are drawn in float32 (float64 for float64
// tensors) on the tensor's device and copied in without recording autograd.
#include <cmath>

#include "tl/nn/init.h"
#include "tl/ops.h"

namespace tl::nn::init {

namespace {

DType draw_dtype(const Tensor& t) { return t.dtype() == kFloat64 ? kFloat64 : kFloat32; }

Tensor fill_from(const Tensor& tensor, const Tensor& values, Site site) {
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.copy_(values, site);
  return t;
}

void require_floating(const Tensor& t, const char* fn, Site site) {
  if (!t.defined()) throw ValueError(std::string("tl::nn::init::") + fn + ": the tensor is undefined at " + site.str());
  if (!t.is_floating_point()) {
    throw DTypeError(std::string("tl::nn::init::") + fn + ": needs a floating-point tensor, got " + t.shape().str() +
                     " " + dtype_name(t.dtype()) + " at " + site.str());
  }
}

int64_t fan_for(const Tensor& t, FanMode mode, Site site) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t, site);
  return mode == FanMode::kFanIn ? fan_in : fan_out;
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::kLinear:
    case Nonlinearity::kConv1d:
    case Nonlinearity::kConv2d:
    case Nonlinearity::kSigmoid:
      return 1.0;
    case Nonlinearity::kTanh:
      return 5.0 / 3.0;
    case Nonlinearity::kReLU:
      return std::sqrt(2.0);
    case Nonlinearity::kLeakyReLU:
      return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::kSELU:
      return 3.0 / 4.0;  // as PyTorch: keeps the input variance of a self-normalizing net
  }
  TL_ASSERT(false, "unknown Nonlinearity");
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor, Site site) {
  if (tensor.dim() < 2) {
    throw ShapeError("tl::nn::init: fan in and fan out need a tensor of at least 2 dims, got " +
                     tensor.shape().str() + " at " + site.str());
  }
  int64_t receptive = 1;
  for (int64_t d = 2; d < tensor.dim(); ++d) receptive *= tensor.size(d);
  return {tensor.size(1) * receptive, tensor.size(0) * receptive};
}

Tensor uniform_(const Tensor& tensor, double low, double high, Site site) {
  require_floating(tensor, "uniform_", site);
  return fill_from(tensor, uniform(tensor.shape(), low, high, {.dtype = draw_dtype(tensor), .device = tensor.device()}, site),
                   site);
}

Tensor normal_(const Tensor& tensor, double mean, double stddev, Site site) {
  require_floating(tensor, "normal_", site);
  return fill_from(tensor, normal(tensor.shape(), mean, stddev, {.dtype = draw_dtype(tensor), .device = tensor.device()}, site),
                   site);
}

Tensor constant_(const Tensor& tensor, double value, Site site) {
  require_floating(tensor, "constant_", site);
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.fill_(value, site);
  return t;
}

Tensor zeros_(const Tensor& tensor, Site site) { return constant_(tensor, 0.0, site); }
Tensor ones_(const Tensor& tensor, Site site) { return constant_(tensor, 1.0, site); }

Tensor xavier_uniform_(const Tensor& tensor, double gain, Site site) {
  require_floating(tensor, "xavier_uniform_", site);
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor, site);
  double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(tensor, -bound, bound, site);
}

Tensor xavier_normal_(const Tensor& tensor, double gain, Site site) {
  require_floating(tensor, "xavier_normal_", site);
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor, site);
  return normal_(tensor, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), site);
}

Tensor kaiming_uniform_(const Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Site site) {
  require_floating(tensor, "kaiming_uniform_", site);
  int64_t fan = fan_for(tensor, mode, site);
  double bound = fan > 0 ? calculate_gain(nonlinearity, a) * std::sqrt(3.0 / static_cast<double>(fan)) : 0.0;
  return uniform_(tensor, -bound, bound, site);
}

Tensor kaiming_normal_(const Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Site site) {
  require_floating(tensor, "kaiming_normal_", site);
  int64_t fan = fan_for(tensor, mode, site);
  double stddev = fan > 0 ? calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan)) : 0.0;
  return normal_(tensor, 0.0, stddev, site);
}

}  // namespace tl::nn::init
