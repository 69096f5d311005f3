// Finite-difference gradient checking: the analytic gradient of sum(fn(inputs) * r) from the
// autograd engine against central differences of the same scalar, all in float64.
#include <cmath>
#include <cstdio>

#include "tl/autograd.h"
#include "tl/ops.h"

namespace tl {

namespace {

// Deterministic weights in [0.5, 1.5) with random sign (splitmix64). A fixed sequence keeps
// gradcheck reproducible and leaves the user's default generator untouched; weights away
// from zero keep every output element visible in the checked scalar.
std::vector<double> weights(int64_t n) {
  std::vector<double> r(static_cast<size_t>(n));
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (double& w : r) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double u = static_cast<double>(z >> 11) * 0x1.0p-53;
    w = (z & 1 ? -1.0 : 1.0) * (0.5 + u);
  }
  return r;
}

std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// "[1, 0, 2]": the multi-index of row-major element `flat` in `shape`.
std::string multi_index(const Shape& shape, int64_t flat) {
  Shape index;
  index.resize(shape.size());
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    index[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return index.str();
}

// sum(out * r) in float64, with `out` read on the CPU.
double weighted_sum(const Tensor& out, const std::vector<double>& r) {
  std::vector<double> values = out.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < values.size(); ++i) s += values[i] * r[i];
  return s;
}

void check_output(const Tensor& out, const char* when) {
  if (!out.defined()) throw ValueError(std::string("tl::gradcheck: fn returned an undefined tensor ") + when);
  if (!is_floating(out.dtype())) {
    throw DTypeError(std::string("tl::gradcheck: fn returned a ") + dtype_name(out.dtype()) + " tensor " +
                     out.shape().str() + " " + when + "; only floating outputs have gradients");
  }
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions options) {
  std::vector<size_t> checked;  // indices of the inputs that require grad
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    if (inputs[i].dtype() != kFloat64) {
      throw DTypeError("tl::gradcheck: input " + std::to_string(i) + " is " + dtype_name(inputs[i].dtype()) +
                       " " + inputs[i].shape().str() + "; finite differences need float64 inputs "
                       "(use x.to(tl::kFloat64))");
    }
    checked.push_back(i);
  }
  if (checked.empty()) throw ValueError("tl::gradcheck: no input requires grad, so there is nothing to check");

  // Analytic gradients.
  std::vector<Tensor> analytic;
  std::vector<double> r;
  {
    EnableGradGuard grad_mode;
    Tensor out = fn(inputs);
    check_output(out, "on the first call");
    r = weights(out.numel());
    std::vector<Tensor> wrt;
    for (size_t i : checked) wrt.push_back(inputs[i]);
    if (out.requires_grad()) {
      Tensor w = from_vector<double>(r, out.shape(), {.dtype = kFloat64}).to(out.device()).to(out.dtype());
      Tensor loss = sum(mul(out, w));
      analytic = grad(loss, wrt, Tensor(), false, /*allow_unused=*/true);
    } else {
      analytic.resize(wrt.size());  // output does not depend on any input: all gradients are zero
    }
  }

  // Numeric gradients: each checked input is replaced by a detached float64 copy on the CPU
  // whose elements are nudged one at a time. No graph is recorded.
  NoGradGuard no_grad;
  std::vector<Tensor> probe;
  std::vector<Tensor> host(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) probe.push_back(inputs[i].defined() ? inputs[i].detach() : Tensor());
  for (size_t i : checked) host[i] = inputs[i].detach().to(kCPU).clone();

  auto evaluate = [&](size_t i) {
    probe[i] = host[i].device() == inputs[i].device() ? host[i].clone() : host[i].to(inputs[i].device());
    Tensor out = fn(probe);
    check_output(out, "while probing");
    if (out.numel() != static_cast<int64_t>(r.size())) {
      throw ShapeError("tl::gradcheck: fn returned " + out.shape().str() + " while probing input " +
                       std::to_string(i) + ", but " + std::to_string(r.size()) +
                       " elements on the first call; fn must not change its output shape");
    }
    return weighted_sum(out, r);
  };

  for (size_t k = 0; k < checked.size(); ++k) {
    size_t i = checked[k];
    const Tensor& x = inputs[i];
    std::vector<double> a;
    if (analytic[k].defined()) {
      if (analytic[k].shape() != x.shape()) {
        return {false, "input " + std::to_string(i) + ": analytic gradient has shape " + analytic[k].shape().str() +
                           " but the input is " + x.shape().str()};
      }
      a = analytic[k].to_vector<double>();
    } else {
      a.assign(static_cast<size_t>(x.numel()), 0.0);
    }
    double* p = host[i].data<double>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      double saved = p[j];
      p[j] = saved + options.eps;
      double up = evaluate(i);
      p[j] = saved - options.eps;
      double down = evaluate(i);
      p[j] = saved;
      double numeric = (up - down) / (2 * options.eps);
      double diff = std::abs(a[j] - numeric);
      if (!(diff <= options.atol + options.rtol * std::abs(numeric))) {
        return {false, "input " + std::to_string(i) + " " + x.shape().str() + ", element " + std::to_string(j) +
                           " (index " + multi_index(x.shape(), j) + ", value " + format_double(saved) +
                           "): analytic gradient " + format_double(a[j]) + " vs numeric " +
                           format_double(numeric) + " (difference " + format_double(diff) + ", allowed " +
                           format_double(options.atol + options.rtol * std::abs(numeric)) + ")"};
      }
    }
    probe[i] = inputs[i].detach();
  }
  return {};
}

GradcheckResult gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                              const std::vector<Tensor>& inputs, GradcheckOptions options) {
  std::vector<size_t> wrt;  // the inputs that require grad: their gradients are the checked map's output
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) wrt.push_back(i);
  if (wrt.empty()) throw ValueError("tl::gradgradcheck: no input requires grad, so there is nothing to check");

  // The incoming gradient v is a checked input too: fixed weights away from zero, shaped like fn's output.
  Tensor first;
  {
    NoGradGuard no_grad;
    first = fn(inputs);
  }
  check_output(first, "on the first call");
  std::vector<double> r = weights(first.numel());
  for (double& x : r) x = -x;  // not the weights gradcheck itself applies to the map's output
  Tensor v = from_vector<double>(r, first.shape(), {.dtype = kFloat64}).to(first.device()).requires_grad_();

  // (inputs..., v) -> the gradients of sum(fn(inputs) * v), flattened and joined. While
  // gradcheck probes, its inputs are detached copies: they are made to require grad here
  // so that the first derivative is still taken.
  auto first_derivatives = [&](const std::vector<Tensor>& in) {
    EnableGradGuard grad_mode;
    std::vector<Tensor> args(in.begin(), in.end() - 1);
    Tensor weight = in.back();
    std::vector<Tensor> targets;
    for (size_t i : wrt) {
      if (!args[i].requires_grad()) args[i] = args[i].detach().requires_grad_();
      targets.push_back(args[i]);
    }
    Tensor out = fn(args);
    check_output(out, "while checking second derivatives");
    std::vector<Tensor> parts;
    std::vector<Tensor> grads;
    if (out.requires_grad()) {
      Tensor loss = sum(mul(out, weight.to(out.dtype())));
      grads = grad(loss, targets, GradOptions{.create_graph = true, .allow_unused = true});
    } else {
      grads.resize(targets.size());
    }
    for (size_t k = 0; k < targets.size(); ++k) {
      const Tensor& g = grads[k];
      parts.push_back(g.defined() ? g.reshape({-1}).to(kFloat64)
                                  : zeros({targets[k].numel()}, {.dtype = kFloat64}).to(targets[k].device()));
    }
    return cat(parts, 0);
  };
  std::vector<Tensor> extended(inputs.begin(), inputs.end());
  extended.push_back(v);
  GradcheckResult result = gradcheck(first_derivatives, extended, options);
  if (!result.ok) result.message = "second derivatives: " + result.message + " (input " +
                                   std::to_string(inputs.size()) + " is the incoming gradient)";
  return result;
}

}  // namespace tl
