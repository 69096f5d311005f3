// Loss functions (tl/nn/loss.h), composed from differentiable ops so that eager autograd
// and the IR autodiff pass share their derivatives.
#include "tl/nn/loss.h"
#include "tl/ops.h"

namespace tl::nn {

namespace {

std::string describe(const Tensor& t) { return t.shape().str() + " " + dtype_name(t.dtype()); }

bool is_index_dtype(DType d) { return d == kInt64 || d == kInt32; }

void require_defined(const Tensor& t, const char* fn, const char* what, Site site) {
  if (!t.defined()) throw ValueError(std::string("tl::nn::") + fn + ": " + what + " is undefined at " + site.str());
}

void require_floating(const Tensor& t, const char* fn, const char* what, Site site) {
  require_defined(t, fn, what, site);
  if (!t.is_floating_point()) {
    throw DTypeError(std::string("tl::nn::") + fn + ": " + what + " must be floating point, got " + describe(t) +
                     " (convert with .to(tl::kFloat32)) at " + site.str());
  }
}

void require_same_shape(const Tensor& input, const Tensor& target, const char* fn, const char* input_name,
                        Site site) {
  if (input.shape() != target.shape()) {
    throw ShapeError(std::string("tl::nn::") + fn + ": " + input_name + " and target shapes differ: " + input_name +
                     " is " + describe(input) + ", target is " + describe(target) + " at " + site.str());
  }
}

// The checks every elementwise loss of (input, target) makes: both floating, one shape.
void require_pair(const Tensor& input, const Tensor& target, const char* fn, Site site) {
  require_floating(input, fn, "input", site);
  require_floating(target, fn, "target", site);
  require_same_shape(input, target, fn, "input", site);
}

Tensor reduce(const Tensor& loss, Reduction reduction, const char* fn, Site site) {
  switch (reduction) {
    case Reduction::kNone: return loss;
    case Reduction::kSum: return sum(loss, {}, false, site);
    case Reduction::kMean: return mean(loss, {}, false, site);
    case Reduction::kBatchMean:
      throw ValueError(std::string("tl::nn::") + fn + ": Reduction::kBatchMean is only for kl_div; use kMean, " +
                       "kSum or kNone, at " + site.str());
  }
  TL_ASSERT(false, "unknown Reduction");
}

Tensor scalar(double value, const Tensor& like) {
  return scalar_tensor(value, {.dtype = like.dtype(), .device = like.device()});
}

// A weight-like operand (pos_weight, weight) must be floating and broadcast to `x`'s shape.
void require_broadcasts_to(const Tensor& w, const Tensor& x, const char* fn, const char* what, Site site) {
  require_floating(w, fn, what, site);
  Shape out;
  if (!broadcast_shapes(w.shape(), x.shape(), out) || out != x.shape()) {
    throw ShapeError(std::string("tl::nn::") + fn + ": " + what + " " + describe(w) + " does not broadcast to the logits " +
                     describe(x) + " at " + site.str());
  }
}

// [N, C, d1, ...] scores with [N, d1, ...] class-index targets: checks shapes, dtypes and
// (on the host) that every index is in [0, C) or ignore_index.
void check_index_target(const Tensor& scores, const Tensor& target, int64_t ignore_index, const char* fn,
                        const char* scores_name, Site site) {
  Shape expected = scores.shape();
  expected.erase(1);
  if (target.shape() != expected) {
    throw ShapeError(std::string("tl::nn::") + fn + ": class-index target must be " + expected.str() + " for " +
                     scores_name + " " + describe(scores) + " (classes in dim 1), got target " + describe(target) +
                     " at " + site.str());
  }
  // TODO: a traced (tl::compile) call should check this on the device instead of reading the
  // targets here; the host read synchronizes.
  int64_t C = scores.size(1);
  std::vector<int64_t> values = target.to_vector<int64_t>(site);
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t v = values[i];
    if (v != ignore_index && (v < 0 || v >= C)) {
      throw ValueError(std::string("tl::nn::") + fn + ": target " + std::to_string(v) + " at flat position " +
                       std::to_string(i) + " is not a class index in [0, " + std::to_string(C) +
                       ") (nor ignore_index " + std::to_string(ignore_index) + ") at " + site.str());
    }
  }
}

// An optional per-class weight must be a floating [C] tensor on the scores' device.
void check_class_weight(const Tensor& weight, const Tensor& scores, const char* fn, const char* scores_name,
                        Site site) {
  if (!weight.defined()) return;
  require_floating(weight, fn, "weight", site);
  if (weight.shape() != Shape{scores.size(1)}) {
    throw ShapeError(std::string("tl::nn::") + fn + ": weight must be one value per class, [" +
                     std::to_string(scores.size(1)) + "] for " + scores_name + " " + describe(scores) +
                     " (classes in dim 1), got weight " + describe(weight) + " at " + site.str());
  }
}

// `weight` [C] viewed as [1, C, 1, ...] to broadcast against `scores` [N, C, d1, ...].
Tensor class_weight_view(const Tensor& weight, const Tensor& scores, Site site) {
  Shape class_shape;
  for (int64_t d = 0; d < scores.dim(); ++d) class_shape.push_back(d == 1 ? scores.size(1) : 1);
  return weight.to(scores.dtype(), site).view(class_shape, site);
}

// Negative log likelihood of `log_probs` [N, C, ...] at index targets, optionally weighted
// per class and mixed with the uniform distribution (label smoothing). Follows PyTorch
// 1.13's nll_loss and cross_entropy: kMean divides by the total weight w[t] of the
// non-ignored targets, for the smoothing term too.
Tensor index_nll(const Tensor& log_probs, const Tensor& target, Reduction reduction, int64_t ignore_index,
                 double smoothing, const Tensor& weight, const char* fn, Site site) {
  int64_t C = log_probs.size(1);
  Shape class_shape;
  for (int64_t d = 0; d < log_probs.dim(); ++d) class_shape.push_back(d == 1 ? C : 1);
  Tensor classes = arange(static_cast<double>(C), {.dtype = target.dtype(), .device = target.device()}, site)
                       .view(class_shape, site);
  // Picks log_probs[n, target[n]] with a one-hot mask; where() rather than a product keeps a
  // -inf log-probability of another class from turning the sum into NaN.
  Tensor is_valid = ne(target, full_like(target, static_cast<double>(ignore_index), site), site);
  Tensor is_target = logical_and(eq(target.unsqueeze(1, site), classes, site), is_valid.unsqueeze(1, site), site);
  Tensor weighted = log_probs;
  Tensor target_weight;  // [N, d1, ...]: w[target], 0 where ignored
  if (weight.defined()) {
    Tensor w = class_weight_view(weight, log_probs, site);
    weighted = mul(log_probs, w, site);
    target_weight = sum(where(is_target, w, scalar(0.0, log_probs), site), {1}, false, site);
  } else {
    target_weight = cast(is_valid, log_probs.dtype(), site);
  }
  Tensor picked = where(is_target, weighted, scalar(0.0, log_probs), site);
  Tensor loss = neg(sum(picked, {1}, false, site), site);  // [N, d1, ...]; 0 where ignored
  if (smoothing > 0.0) {
    Tensor valid = cast(is_valid, log_probs.dtype(), site);
    Tensor uniform_nll = mul(neg(sum(weighted, {1}, false, site), site), valid, site);
    loss = add(mul(loss, scalar(1.0 - smoothing, loss), site),
               mul(uniform_nll, scalar(smoothing / static_cast<double>(C), loss), site), site);
  }
  if (reduction == Reduction::kMean) return div(sum(loss, {}, false, site), sum(target_weight, {}, false, site), site);
  return reduce(loss, reduction, fn, site);
}

void check_class_scores(const Tensor& scores, const char* fn, const char* what, Site site) {
  require_floating(scores, fn, what, site);
  if (scores.dim() < 2) {
    throw ShapeError(std::string("tl::nn::") + fn + ": " + what + " must be [N, C] or [N, C, d1, ...], got " +
                     describe(scores) + " at " + site.str());
  }
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, LossOptions options, Site site) {
  require_pair(input, target, "mse_loss", site);
  Tensor diff = sub(input, target, site);
  return reduce(mul(diff, diff, site), options.reduction, "mse_loss", site);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, LossOptions options, Site site) {
  require_pair(input, target, "l1_loss", site);
  return reduce(abs(sub(input, target, site), site), options.reduction, "l1_loss", site);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions options, Site site) {
  const char* fn = "cross_entropy";
  check_class_scores(logits, fn, "logits", site);
  require_defined(target, fn, "target", site);
  double eps = options.label_smoothing;
  if (!(eps >= 0.0 && eps <= 1.0)) {
    throw ValueError("tl::nn::cross_entropy: label_smoothing must be in [0, 1], got " + std::to_string(eps) +
                     " at " + site.str());
  }
  check_class_weight(options.weight, logits, fn, "logits", site);
  int64_t C = logits.size(1);
  Tensor log_probs = log_softmax(logits, 1, site);
  if (target.is_floating_point()) {
    if (target.shape() != logits.shape()) {
      throw ShapeError("tl::nn::cross_entropy: probability targets must have the logits' shape: logits are " +
                       describe(logits) + ", target is " + describe(target) +
                       " (class-index targets must be int64 or int32) at " + site.str());
    }
    Tensor probs = target;
    if (eps > 0.0) {
      probs = add(mul(target, scalar(1.0 - eps, target), site), scalar(eps / static_cast<double>(C), target), site);
    }
    Tensor terms = mul(log_probs, probs, site);
    if (options.weight.defined()) terms = mul(terms, class_weight_view(options.weight, logits, site), site);
    Tensor loss = neg(sum(terms, {1}, false, site), site);  // [N, d1, ...]
    return reduce(loss, options.reduction, fn, site);
  }
  if (!is_index_dtype(target.dtype())) {
    throw DTypeError("tl::nn::cross_entropy: target must be class indices (int64 or int32) or probabilities "
                     "(floating, the logits' shape); got " + describe(target) + " for logits " + describe(logits) +
                     " at " + site.str());
  }
  check_index_target(logits, target, options.ignore_index, fn, "logits", site);
  return index_nll(log_probs, target, options.reduction, options.ignore_index, eps, options.weight, fn, site);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllLossOptions options, Site site) {
  const char* fn = "nll_loss";
  check_class_scores(log_probs, fn, "log_probs", site);
  require_defined(target, fn, "target", site);
  if (!is_index_dtype(target.dtype())) {
    throw DTypeError("tl::nn::nll_loss: target must be class indices (int64 or int32), got " + describe(target) +
                     " for log_probs " + describe(log_probs) + " at " + site.str());
  }
  check_class_weight(options.weight, log_probs, fn, "log_probs", site);
  check_index_target(log_probs, target, options.ignore_index, fn, "log_probs", site);
  return index_nll(log_probs, target, options.reduction, options.ignore_index, 0.0, options.weight, fn, site);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, BCEWithLogitsOptions options,
                                        Site site) {
  const char* fn = "binary_cross_entropy_with_logits";
  require_floating(logits, fn, "logits", site);
  require_floating(target, fn, "target", site);
  require_same_shape(logits, target, fn, "logits", site);
  const Tensor& x = logits;
  const Tensor& y = target;
  // Evaluated as (1 - y)*x + w*(m + log(exp(-m) + exp(-x - m))) with m = max(-x, 0), which
  // equals max(x, 0) - x*y + log(1 + exp(-|x|)) (for w = 1) and never overflows; unlike the
  // |x| form its derivative is exact at x = 0 (sigmoid(0) - y), where zero-initialized
  // classifiers start.
  Tensor m = relu(neg(x, site), site);
  Tensor log_term = add(m, log(add(exp(neg(m, site), site), exp(sub(neg(x, site), m, site), site), site), site), site);
  Tensor one = scalar(1.0, x);
  Tensor loss;
  if (options.pos_weight.defined()) {
    const Tensor& pw = options.pos_weight;
    require_broadcasts_to(pw, x, fn, "pos_weight", site);
    Tensor weight = add(mul(sub(pw, one, site), y, site), one, site);  // 1 + (p - 1) * y
    loss = add(mul(sub(one, y, site), x, site), mul(weight, log_term, site), site);
  } else {
    loss = add(mul(sub(one, y, site), x, site), log_term, site);
  }
  if (options.weight.defined()) {
    require_broadcasts_to(options.weight, x, fn, "weight", site);
    loss = mul(loss, options.weight, site);
  }
  return reduce(loss, options.reduction, fn, site);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, HuberLossOptions options, Site site) {
  const char* fn = "huber_loss";
  require_pair(input, target, fn, site);
  double delta = options.delta;
  if (!(delta > 0.0)) {
    throw ValueError("tl::nn::huber_loss: delta must be > 0, got " + std::to_string(delta) + " at " + site.str());
  }
  Tensor diff = sub(input, target, site);
  Tensor z = abs(diff, site);
  Tensor quadratic = mul(mul(diff, diff, site), scalar(0.5, diff), site);
  Tensor linear = mul(sub(z, scalar(0.5 * delta, z), site), scalar(delta, z), site);
  return reduce(where(lt(z, scalar(delta, z), site), quadratic, linear, site), options.reduction, fn, site);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, SmoothL1LossOptions options, Site site) {
  const char* fn = "smooth_l1_loss";
  require_pair(input, target, fn, site);
  double beta = options.beta;
  if (!(beta >= 0.0)) {
    throw ValueError("tl::nn::smooth_l1_loss: beta must be >= 0, got " + std::to_string(beta) + " at " + site.str());
  }
  Tensor diff = sub(input, target, site);
  Tensor z = abs(diff, site);
  // beta = 0 is l1_loss; the quadratic branch would divide by zero.
  if (beta == 0.0) return reduce(z, options.reduction, fn, site);
  Tensor quadratic = mul(mul(diff, diff, site), scalar(0.5 / beta, diff), site);
  Tensor linear = sub(z, scalar(0.5 * beta, z), site);
  return reduce(where(lt(z, scalar(beta, z), site), quadratic, linear, site), options.reduction, fn, site);
}

Tensor kl_div(const Tensor& input, const Tensor& target, KLDivOptions options, Site site) {
  const char* fn = "kl_div";
  require_pair(input, target, fn, site);
  Tensor loss;
  if (options.log_target) {
    loss = mul(exp(target, site), sub(target, input, site), site);
  } else {
    // xlogy(t, t) - t * input: t * log(t) is 0 at t = 0. log() sees 1 there, so that neither
    // the value nor the gradient w.r.t. the target becomes 0 * -inf.
    Tensor zero = scalar(0.0, target);
    Tensor is_positive = gt(target, zero, site);
    Tensor safe = where(is_positive, target, scalar(1.0, target), site);
    Tensor entropy_term = where(is_positive, mul(target, log(safe, site), site), zero, site);
    loss = sub(entropy_term, mul(target, input, site), site);
  }
  if (options.reduction == Reduction::kBatchMean) {
    // PyTorch: the sum, divided by the batch size unless the input is a scalar.
    Tensor total = sum(loss, {}, false, site);
    if (input.dim() == 0) return total;
    return div(total, scalar(static_cast<double>(input.size(0)), total), site);
  }
  return reduce(loss, options.reduction, fn, site);
}

}  // namespace tl::nn
