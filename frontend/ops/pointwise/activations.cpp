// The activation functions of runtime/ops/pointwise/activations.cpp as the frontend adds them:
// their derivatives (with Tensor ops), the samples the generic tests sweep, and the public
// functions (PyTorch's torch.nn.functional names and defaults).
#include <cmath>

#include "frontend/ops/pointwise/pointwise.h"

namespace tl {
namespace ops {
namespace {

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

Tensor c(double value, const Tensor& like) { return scalar_like(value, like); }

// Samples at the default attributes and, for ops with attributes, at others.
std::vector<Sample> samples(std::function<Tensor(const Tensor&)> fn, double low = -3, double high = 3) {
  auto call = [fn](const std::vector<Tensor>& in) { return fn(in[0]); };
  return {Sample{{Shape{}}, call, low, high}, Sample{{Shape{7}}, call, low, high},
          Sample{{Shape{2, 3, 4}}, call, low, high}};
}

// ELU's derivative for x <= 0 is alpha e^x.
const OpDef& op_elu = extend_op("elu", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    const double alpha = g.attrs.scalar;
    return std::vector<Tensor>{where(gt(x, c(0, x)), g.dout, mul(g.dout, mul(c(alpha, x), exp(x))))};
  };
  op.samples = samples([](const Tensor& x) { return elu(x); });
  auto other = samples([](const Tensor& x) { return elu(x, 0.5); });
  op.samples.push_back(other.back());
});
const OpDef& op_selu = extend_op("selu", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    return std::vector<Tensor>{
        mul(g.dout, where(gt(x, c(0, x)), c(kSeluScale, x), mul(c(kSeluScale * kSeluAlpha, x), exp(x))))};
  };
  op.samples = samples([](const Tensor& x) { return selu(x); });
});
const OpDef& op_leaky_relu = extend_op("leaky_relu", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    return std::vector<Tensor>{where(gt(x, c(0, x)), g.dout, mul(g.dout, c(g.attrs.scalar, x)))};
  };
  op.samples = samples([](const Tensor& x) { return leaky_relu(x); });
  auto other = samples([](const Tensor& x) { return leaky_relu(x, 0.2); });
  op.samples.push_back(other.back());
});
// d/dx log(1 + e^(beta x)) / beta = sigmoid(beta x); 1 above the threshold.
const OpDef& op_softplus = extend_op("softplus", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    Tensor z = mul(x, c(g.attrs.scalar, x));
    return std::vector<Tensor>{where(gt(z, c(g.attrs.scalar2, z)), g.dout, mul(g.dout, sigmoid(z)))};
  };
  op.samples = samples([](const Tensor& x) { return softplus(x); });
  auto other = samples([](const Tensor& x) { return softplus(x, 2.0, 3.0); }, -2, 2);
  op.samples.push_back(other.back());
});
// The gradient passes strictly inside (min_val, max_val), as in PyTorch.
const OpDef& op_hardtanh = extend_op("hardtanh", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    Tensor inside = logical_and(gt(x, c(g.attrs.scalar, x)), lt(x, c(g.attrs.scalar2, x)));
    return std::vector<Tensor>{where(inside, g.dout, zeros_like(g.dout))};
  };
  op.samples = samples([](const Tensor& x) { return hardtanh(x); });
  auto other = samples([](const Tensor& x) { return hardtanh(x, -0.5, 2.0); });
  op.samples.push_back(other.back());
});
// 0 below -3, 1 above 3, x / 3 + 1/2 between (PyTorch's hardswish_backward).
const OpDef& op_hardswish = extend_op("hardswish", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    Tensor middle = add(div(x, c(3, x)), c(0.5, x));
    Tensor d = where(lt(x, c(-3, x)), zeros_like(x), where(le(x, c(3, x)), middle, ones_like(x)));
    return std::vector<Tensor>{mul(g.dout, d)};
  };
  op.samples = samples([](const Tensor& x) { return hardswish(x); }, -5, 5);
});
// tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2), sp = softplus(x).
const OpDef& op_mish = extend_op("mish", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    Tensor t = tanh(softplus(x));
    Tensor d = add(t, mul(mul(x, sigmoid(x)), sub(c(1, t), mul(t, t))));
    return std::vector<Tensor>{mul(g.dout, d)};
  };
  op.samples = samples([](const Tensor& x) { return mish(x); });
});
// d/dx log(sigmoid(x)) = sigmoid(-x).
const OpDef& op_logsigmoid = extend_op("logsigmoid", [](OpDef& op) {
  op.grad = [](const GradContext& g) { return std::vector<Tensor>{mul(g.dout, sigmoid(neg(g.input(0))))}; };
  op.samples = samples([](const Tensor& x) { return logsigmoid(x); }, -6, 6);
});
// 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 * 0.044715 x^2), t = tanh(k (x + 0.044715 x^3)).
const OpDef& op_gelu_tanh = extend_op("gelu_tanh", [](OpDef& op) {
  op.grad = [](const GradContext& g) {
    const Tensor& x = g.input(0);
    constexpr double k = 0.79788456080286535588;
    Tensor x2 = mul(x, x);
    Tensor t = tanh(mul(c(k, x), add(x, mul(c(0.044715, x), mul(x2, x)))));
    Tensor d = add(mul(c(0.5, x), add(c(1, t), t)),
                   mul(mul(mul(c(0.5 * k, x), x), sub(c(1, t), mul(t, t))), add(c(1, x), mul(c(3 * 0.044715, x), x2))));
    return std::vector<Tensor>{mul(g.dout, d)};
  };
  op.samples = samples([](const Tensor& x) { return gelu(x, GeluApproximation::kTanh); });
});

}  // namespace
}  // namespace ops

using namespace ops;

namespace {
// Activations compute in floating point: integer inputs become float32, like PyTorch.
Tensor activation(const OpDef& op, const Tensor& x, double scalar, double scalar2, Site site) {
  require_defined(x, op.name.c_str(), "the input", site);
  Attrs a;
  a.scalar = scalar;
  a.scalar2 = scalar2;
  return call(op, {as_floating(x, site)}, a, site);
}
}  // namespace

Tensor gelu(const Tensor& x, GeluApproximation approximate, Site site) {
  if (approximate == GeluApproximation::kNone) return gelu(x, site);
  return activation(op_gelu_tanh, x, 0, 0, site);
}
Tensor elu(const Tensor& x, double alpha, Site site) { return activation(op_elu, x, alpha, 0, site); }
Tensor selu(const Tensor& x, Site site) { return activation(op_selu, x, 0, 0, site); }
Tensor leaky_relu(const Tensor& x, double negative_slope, Site site) {
  return activation(op_leaky_relu, x, negative_slope, 0, site);
}
Tensor softplus(const Tensor& x, double beta, double threshold, Site site) {
  if (!(beta > 0) || !std::isfinite(beta))
    throw ValueError("tl::softplus: beta must be a positive finite number, got " + std::to_string(beta) + " at " +
                     site.str());
  return activation(op_softplus, x, beta, threshold, site);
}
Tensor hardtanh(const Tensor& x, double min_val, double max_val, Site site) {
  if (!(min_val <= max_val))
    throw ValueError("tl::hardtanh: min_val " + std::to_string(min_val) + " is greater than max_val " +
                     std::to_string(max_val) + " at " + site.str());
  return activation(op_hardtanh, x, min_val, max_val, site);
}
Tensor hardswish(const Tensor& x, Site site) { return activation(op_hardswish, x, 0, 0, site); }
Tensor mish(const Tensor& x, Site site) { return activation(op_mish, x, 0, 0, site); }
Tensor logsigmoid(const Tensor& x, Site site) { return activation(op_logsigmoid, x, 0, 0, site); }

}  // namespace tl
