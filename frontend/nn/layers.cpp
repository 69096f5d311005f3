// The standard layers of tl/nn/layers.h. Forwards validate their input against the layer's
// configuration, naming the layer and the user's call site, and pass that site to the ops
// they run so that op errors point at the user's line too.
#include <cmath>
#include <sstream>

#include "tl/nn/init.h"
#include "tl/nn/layers.h"

#include "tl/nn/functional.h"

namespace tl::nn {

namespace {

std::string describe(const Tensor& t) { return t.shape().str() + " " + dtype_name(t.dtype()); }

std::string format_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string format_pair(Size2 s) {
  std::ostringstream os;
  os << "(" << s.h << ", " << s.w << ")";
  return os.str();
}

const char* format_bool(bool b) { return b ? "true" : "false"; }

void require_positive(int64_t value, const char* layer, const char* what, Site site) {
  if (value <= 0) {
    throw ValueError(std::string("tl::nn::") + layer + ": " + what + " must be positive, got " +
                     std::to_string(value) + " at " + site.str());
  }
}

// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for a layer's bias, as PyTorch's reset_parameters.
void init_bias(const Tensor& bias, int64_t fan_in) {
  double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  init::uniform_(bias, -bound, bound);
}

}  // namespace

// ---------------- Linear ----------------

Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias, Site site)
    : in_features(in_features), out_features(out_features) {
  require_positive(in_features, "Linear", "in_features", site);
  require_positive(out_features, "Linear", "out_features", site);
  weight = register_parameter("weight", empty({out_features, in_features}), true, site);
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::kFanIn, init::Nonlinearity::kLeakyReLU, site);
  if (has_bias) {
    bias = register_parameter("bias", empty({out_features}), true, site);
    init_bias(bias, in_features);
  }
}

Tensor Linear::forward(const Tensor& x) {
  Site site = call_site();
  if (x.dim() < 1 || x.size(-1) != in_features) {
    throw ShapeError("tl::nn::Linear: input is " + describe(x) + " but in_features is " +
                     std::to_string(in_features) + " (the last dim must equal in_features) at " + site.str());
  }
  Tensor y = matmul(x, weight.t(site), site);
  return bias.defined() ? add(y, bias, site) : y;
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + format_bool(bias.defined());
}

// ---------------- Conv2d ----------------

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions options, Site site)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size), options(options) {
  require_positive(in_channels, "Conv2d", "in_channels", site);
  require_positive(out_channels, "Conv2d", "out_channels", site);
  require_positive(options.groups, "Conv2d", "groups", site);
  require_positive(kernel_size.h, "Conv2d", "kernel height", site);
  require_positive(kernel_size.w, "Conv2d", "kernel width", site);
  if (in_channels % options.groups != 0 || out_channels % options.groups != 0) {
    throw ValueError("tl::nn::Conv2d: in_channels (" + std::to_string(in_channels) + ") and out_channels (" +
                     std::to_string(out_channels) + ") must both be divisible by groups (" +
                     std::to_string(options.groups) + ") at " + site.str());
  }
  weight = register_parameter(
      "weight", empty({out_channels, in_channels / options.groups, kernel_size.h, kernel_size.w}), true, site);
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::kFanIn, init::Nonlinearity::kLeakyReLU, site);
  if (options.bias) {
    bias = register_parameter("bias", empty({out_channels}), true, site);
    init_bias(bias, init::calculate_fan_in_and_fan_out(weight, site).first);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  Site site = call_site();
  if (x.dim() != 4 || x.size(1) != in_channels) {
    throw ShapeError("tl::nn::Conv2d: input is " + describe(x) + " but the layer expects [N, " +
                     std::to_string(in_channels) + ", H, W] at " + site.str());
  }
  return conv2d(x, weight, bias, options.stride.shape(), options.padding.shape(), options.dilation.shape(),
                options.groups, site);
}

std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + format_pair(kernel_size) + ", stride=" + format_pair(options.stride);
  if (options.padding.h != 0 || options.padding.w != 0) s += ", padding=" + format_pair(options.padding);
  if (options.dilation.h != 1 || options.dilation.w != 1) s += ", dilation=" + format_pair(options.dilation);
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=false";
  return s;
}

// ---------------- pooling ----------------

namespace {
Shape pool_stride(Size2 kernel, Pool2dOptions options) {
  return options.stride.h == 0 && options.stride.w == 0 ? kernel.shape() : options.stride.shape();
}

void check_pool_input(const Tensor& x, const char* layer, Site site) {
  if (x.dim() != 4) {
    throw ShapeError(std::string("tl::nn::") + layer + ": input is " + describe(x) +
                     " but the layer expects [N, C, H, W] at " + site.str());
  }
}

std::string pool_repr(Size2 kernel, Pool2dOptions options) {
  Shape stride = pool_stride(kernel, options);
  return "kernel_size=" + format_pair(kernel) + ", stride=" + format_pair(Size2(stride[0], stride[1])) +
         ", padding=" + format_pair(options.padding);
}
}  // namespace

MaxPool2d::MaxPool2d(Size2 kernel_size, Pool2dOptions options) : kernel_size(kernel_size), options(options) {}

Tensor MaxPool2d::forward(const Tensor& x) {
  Site site = call_site();
  check_pool_input(x, "MaxPool2d", site);
  return max_pool2d(x, kernel_size.shape(), pool_stride(kernel_size, options), options.padding.shape(), site);
}

std::string MaxPool2d::extra_repr() const { return pool_repr(kernel_size, options); }

AvgPool2d::AvgPool2d(Size2 kernel_size, Pool2dOptions options) : kernel_size(kernel_size), options(options) {}

Tensor AvgPool2d::forward(const Tensor& x) {
  Site site = call_site();
  check_pool_input(x, "AvgPool2d", site);
  return avg_pool2d(x, kernel_size.shape(), pool_stride(kernel_size, options), options.padding.shape(), site);
}

std::string AvgPool2d::extra_repr() const { return pool_repr(kernel_size, options); }

// ---------------- BatchNorm ----------------

BatchNorm::BatchNorm(int64_t num_features, BatchNormOptions options, int64_t min_rank, int64_t max_rank,
                     Site site)
    : num_features(num_features), options(options), min_rank_(min_rank), max_rank_(max_rank) {
  require_positive(num_features, "BatchNorm", "num_features", site);
  if (options.affine) {
    weight = register_parameter("weight", ones({num_features}), true, site);
    bias = register_parameter("bias", zeros({num_features}), true, site);
  }
  if (options.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}), site);
    running_var = register_buffer("running_var", ones({num_features}), site);
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = kInt64}), site);
  }
}

Tensor BatchNorm::forward(const Tensor& x) {
  Site site = call_site();
  if (x.dim() < min_rank_ || x.dim() > max_rank_ || x.size(1) != num_features) {
    std::string expected = min_rank_ == 4 ? "[N, C, H, W]" : "[N, C] or [N, C, L]";
    throw ShapeError("tl::nn::" + type_name() + ": input is " + describe(x) + " but the layer expects " + expected +
                     " with C = " + std::to_string(num_features) + " at " + site.str());
  }
  // Batch statistics when training or when there are no running ones (which then update).
  const bool batch_stats = is_training() || !options.track_running_stats;
  Tensor y = functional::batch_norm(x, options.track_running_stats ? running_mean : Tensor(),
                                    options.track_running_stats ? running_var : Tensor(), weight, bias, batch_stats,
                                    options.momentum, options.eps, site);
  if (is_training() && options.track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(ones_like(num_batches_tracked, site), 1.0, site);
  }
  return y;
}

std::string BatchNorm::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + format_double(options.eps) +
         ", momentum=" + format_double(options.momentum) + ", affine=" + format_bool(options.affine) +
         ", track_running_stats=" + format_bool(options.track_running_stats);
}

// ---------------- LayerNorm ----------------

LayerNorm::LayerNorm(Shape normalized_shape, LayerNormOptions options, Site site)
    : normalized_shape(normalized_shape), options(options) {
  if (normalized_shape.empty()) {
    throw ValueError("tl::nn::LayerNorm: normalized_shape must have at least one dim at " + site.str());
  }
  for (int64_t d : normalized_shape) require_positive(d, "LayerNorm", "each normalized dim", site);
  if (options.elementwise_affine) {
    weight = register_parameter("weight", ones(normalized_shape), true, site);
    bias = register_parameter("bias", zeros(normalized_shape), true, site);
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  Site site = call_site();
  int64_t k = normalized_shape.size();
  bool fits = x.dim() >= k;
  for (int64_t i = 0; fits && i < k; ++i) fits = x.size(x.dim() - k + i) == normalized_shape[i];
  if (!fits) {
    throw ShapeError("tl::nn::LayerNorm: input is " + describe(x) + " but its last dims must be " +
                     normalized_shape.str() + " at " + site.str());
  }
  return functional::layer_norm(x, normalized_shape, weight, bias, options.eps, site);
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream os;  // PyTorch prints the shape as a tuple: (4,) or (3, 4)
  os << "(";
  for (int64_t i = 0; i < normalized_shape.size(); ++i) os << (i ? ", " : "") << normalized_shape[i];
  os << (normalized_shape.size() == 1 ? ",)" : ")") << ", eps=" << options.eps
     << ", elementwise_affine=" << format_bool(options.elementwise_affine);
  return os.str();
}

// ---------------- Embedding ----------------

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, Site site)
    : num_embeddings(num_embeddings), embedding_dim(embedding_dim) {
  require_positive(num_embeddings, "Embedding", "num_embeddings", site);
  require_positive(embedding_dim, "Embedding", "embedding_dim", site);
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}), true, site);
  init::normal_(weight, 0.0, 1.0, site);
}

Tensor Embedding::forward(const Tensor& indices) {
  Site site = call_site();
  if (indices.dtype() != kInt64 && indices.dtype() != kInt32) {
    throw DTypeError("tl::nn::Embedding: indices must be int64 or int32, got " + describe(indices) +
                     " (convert with .to(tl::kInt64)) at " + site.str());
  }
  return embedding(weight, indices, site);
}

std::string Embedding::extra_repr() const {
  return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
}

// ---------------- Dropout ----------------

Dropout::Dropout(double p, Site site) : p(p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw ValueError("tl::nn::Dropout: p must be in [0, 1], got " + format_double(p) + " at " + site.str());
  }
}

Tensor Dropout::forward(const Tensor& x) {
  Site site = call_site();
  if (!is_training() || p == 0.0) return x;
  if (!x.is_floating_point()) {
    throw DTypeError("tl::nn::Dropout: input must be floating point, got " + describe(x) + " at " + site.str());
  }
  return functional::dropout(x, p, true, site);
}

std::string Dropout::extra_repr() const { return "p=" + format_double(p); }

// ---------------- reshaping and activations ----------------

Tensor Flatten::forward(const Tensor& x) { return x.flatten(start_dim, end_dim, call_site()); }

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
}

Tensor ReLU::forward(const Tensor& x) { return relu(x, call_site()); }
Tensor GELU::forward(const Tensor& x) { return gelu(x, call_site()); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x, call_site()); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x, call_site()); }

Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim, call_site()); }
std::string Softmax::extra_repr() const { return "dim=" + std::to_string(dim); }

Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(x, dim, call_site()); }
std::string LogSoftmax::extra_repr() const { return "dim=" + std::to_string(dim); }

}  // namespace tl::nn
