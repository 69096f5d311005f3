// Parameter initializers, as in torch.nn.init. Each fills `tensor` in place (without
// recording autograd, so parameters can be passed directly), draws from tl's default
// generator, and returns the same tensor handle.
#pragma once

#include <cstdint>
#include <utility>

#include "tl/tensor.h"

namespace tl::nn::init {

enum class Nonlinearity { kLinear, kConv1d, kConv2d, kSigmoid, kTanh, kReLU, kLeakyReLU, kSELU };
enum class FanMode { kFanIn, kFanOut };

// The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain: 1 for linear,
// conv and sigmoid; 5/3 for tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for leaky relu
// with negative slope `param`; 3/4 for selu.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);
// {fan_in, fan_out} of a weight of at least 2 dims: [out, in, k...] gives
// {in * prod(k), out * prod(k)}. Throws ShapeError for fewer dims.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor, Site site = Site::here());

Tensor uniform_(const Tensor& tensor, double low = 0.0, double high = 1.0, Site site = Site::here());
Tensor normal_(const Tensor& tensor, double mean = 0.0, double std = 1.0, Site site = Site::here());
Tensor constant_(const Tensor& tensor, double value, Site site = Site::here());
Tensor zeros_(const Tensor& tensor, Site site = Site::here());
Tensor ones_(const Tensor& tensor, Site site = Site::here());
// U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1.0, Site site = Site::here());
// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& tensor, double gain = 1.0, Site site = Site::here());
// U(-b, b), b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a) and fan from
// `mode`. With a = sqrt(5) (Linear and Conv2d defaults) this is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::kFanIn,
                        Nonlinearity nonlinearity = Nonlinearity::kLeakyReLU, Site site = Site::here());
// N(0, std^2), std = gain / sqrt(fan).
Tensor kaiming_normal_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::kFanIn,
                       Nonlinearity nonlinearity = Nonlinearity::kLeakyReLU, Site site = Site::here());

}  // namespace tl::nn::init
