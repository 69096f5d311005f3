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

Tensor reduce(const Tensor& loss, Reduction reduction, Site site) {
  switch (reduction) {
    case Reduction::kNone: return loss;
    case Reduction::kSum: return sum(loss, {}, false, site);
    case Reduction::kMean: return mean(loss, {}, false, site);
  }
  TL_ASSERT(false, "unknown Reduction");
}

Tensor scalar(double value, const Tensor& like) {
  return scalar_tensor(value, {.dtype = like.dtype(), .device = like.device()});
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

// Negative log likelihood of `log_probs` [N, C, ...] at index targets, optionally mixed with
// the uniform distribution (label smoothing), reduced over the non-ignored targets.
Tensor index_nll(const Tensor& log_probs, const Tensor& target, Reduction reduction, int64_t ignore_index,
                 double smoothing, Site site) {
  int64_t C = log_probs.size(1);
  Shape class_shape;
  for (int64_t d = 0; d < log_probs.dim(); ++d) class_shape.push_back(d == 1 ? C : 1);
  Tensor classes = arange(static_cast<double>(C), {.dtype = target.dtype(), .device = target.device()}, site)
                       .view(class_shape, site);
  // Picks log_probs[n, target[n]] with a one-hot mask; where() rather than a product keeps a
  // -inf log-probability of another class from turning the sum into NaN.
  Tensor is_valid = ne(target, full_like(target, static_cast<double>(ignore_index), site), site);
  Tensor is_target = logical_and(eq(target.unsqueeze(1, site), classes, site), is_valid.unsqueeze(1, site), site);
  Tensor picked = where(is_target, log_probs, scalar(0.0, log_probs), site);
  Tensor loss = neg(sum(picked, {1}, false, site), site);  // [N, d1, ...]; 0 where ignored
  Tensor valid = cast(is_valid, log_probs.dtype(), site);
  if (smoothing > 0.0) {
    Tensor uniform_nll = mul(neg(sum(log_probs, {1}, false, site), site), valid, site);
    loss = add(mul(loss, scalar(1.0 - smoothing, loss), site),
               mul(uniform_nll, scalar(smoothing / static_cast<double>(C), loss), site), site);
  }
  if (reduction == Reduction::kMean) return div(sum(loss, {}, false, site), sum(valid, {}, false, site), site);
  return reduce(loss, reduction, site);
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
  require_floating(input, "mse_loss", "input", site);
  require_floating(target, "mse_loss", "target", site);
  require_same_shape(input, target, "mse_loss", "input", site);
  Tensor diff = sub(input, target, site);
  return reduce(mul(diff, diff, site), options.reduction, site);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, LossOptions options, Site site) {
  require_floating(input, "l1_loss", "input", site);
  require_floating(target, "l1_loss", "target", site);
  require_same_shape(input, target, "l1_loss", "input", site);
  return reduce(abs(sub(input, target, site), site), options.reduction, site);
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
    Tensor loss = neg(sum(mul(log_probs, probs, site), {1}, false, site), site);  // [N, d1, ...]
    return reduce(loss, options.reduction, site);
  }
  if (!is_index_dtype(target.dtype())) {
    throw DTypeError("tl::nn::cross_entropy: target must be class indices (int64 or int32) or probabilities "
                     "(floating, the logits' shape); got " + describe(target) + " for logits " + describe(logits) +
                     " at " + site.str());
  }
  check_index_target(logits, target, options.ignore_index, fn, "logits", site);
  return index_nll(log_probs, target, options.reduction, options.ignore_index, eps, site);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllLossOptions options, Site site) {
  const char* fn = "nll_loss";
  check_class_scores(log_probs, fn, "log_probs", site);
  require_defined(target, fn, "target", site);
  if (!is_index_dtype(target.dtype())) {
    throw DTypeError("tl::nn::nll_loss: target must be class indices (int64 or int32), got " + describe(target) +
                     " for log_probs " + describe(log_probs) + " at " + site.str());
  }
  check_index_target(log_probs, target, options.ignore_index, fn, "log_probs", site);
  return index_nll(log_probs, target, options.reduction, options.ignore_index, 0.0, site);
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
    require_floating(pw, fn, "pos_weight", site);
    Shape out;
    if (!broadcast_shapes(pw.shape(), x.shape(), out) || out != x.shape()) {
      throw ShapeError("tl::nn::binary_cross_entropy_with_logits: pos_weight " + describe(pw) +
                       " does not broadcast to the logits " + describe(x) + " at " + site.str());
    }
    Tensor weight = add(mul(sub(pw, one, site), y, site), one, site);  // 1 + (p - 1) * y
    loss = add(mul(sub(one, y, site), x, site), mul(weight, log_term, site), site);
  } else {
    loss = add(mul(sub(one, y, site), x, site), log_term, site);
  }
  return reduce(loss, options.reduction, site);
}

}  // namespace tl::nn
