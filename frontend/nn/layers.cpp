// The standard layers of tl/nn/layers.h. Forwards validate their input against the layer's
// configuration, naming the layer and the user's call site, and pass that site to the ops
// they run so that op errors point at the user's line too.
#include <algorithm>
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

// The checks every convolution layer makes of its channel counts: positive, and divisible by
// the groups.
void check_conv_channels(int64_t in_channels, int64_t out_channels, int64_t groups, const char* layer, Site site) {
  require_positive(in_channels, layer, "in_channels", site);
  require_positive(out_channels, layer, "out_channels", site);
  require_positive(groups, layer, "groups", site);
  if (in_channels % groups != 0 || out_channels % groups != 0) {
    throw ValueError(std::string("tl::nn::") + layer + ": in_channels (" + std::to_string(in_channels) +
                     ") and out_channels (" + std::to_string(out_channels) + ") must both be divisible by groups (" +
                     std::to_string(groups) + ") at " + site.str());
  }
}

// A convolution's parameters as PyTorch initializes them: the weight kaiming-uniform with
// a = sqrt(5), the bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void init_conv_parameters(Module& layer, Tensor& weight, Tensor& bias, const Shape& weight_shape, int64_t out_channels,
                          bool has_bias, Site site) {
  weight = layer.register_parameter("weight", empty(weight_shape), true, site);
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::kFanIn, init::Nonlinearity::kLeakyReLU, site);
  if (has_bias) {
    bias = layer.register_parameter("bias", empty({out_channels}), true, site);
    init_bias(bias, init::calculate_fan_in_and_fan_out(weight, site).first);
  }
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

// ---------------- convolution padding ----------------

namespace {

// The padding before and after one spatial dim.
struct SidePadding {
  int64_t before = 0, after = 0;
  bool empty() const { return before == 0 && after == 0; }
};

// `padding` on both sides, or PyTorch's padding="same": dilation * (kernel - 1) in all, the
// odd one after (torch.nn.modules.conv's _reversed_padding_repeated_twice).
SidePadding side_padding(bool same, int64_t padding, int64_t dilation, int64_t kernel) {
  if (!same) return {padding, padding};
  const int64_t total = dilation * (kernel - 1);
  return {total / 2, total - total / 2};
}

const char* padding_mode_name(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::kZeros: return "zeros";
    case PaddingMode::kReflect: return "reflect";
    case PaddingMode::kReplicate: return "replicate";
    case PaddingMode::kCircular: return "circular";
  }
  return "?";
}

// The source index of each position of a dim of `size` padded by `p` under `mode` (not zeros),
// e.g. reflect of size 4 padded (2, 1): 2 1 | 0 1 2 3 | 2.
std::vector<int64_t> padding_sources(int64_t size, SidePadding p, PaddingMode mode) {
  std::vector<int64_t> sources;
  sources.reserve(size + p.before + p.after);
  for (int64_t i = -p.before; i < size + p.after; ++i) {
    if (mode == PaddingMode::kReflect) {
      sources.push_back(i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i);
    } else if (mode == PaddingMode::kReplicate) {
      sources.push_back(std::clamp<int64_t>(i, 0, size - 1));
    } else {
      sources.push_back(((i % size) + size) % size);
    }
  }
  return sources;
}

// conv2d of x [N, C, H, W] with (ph, pw) padding of kind `mode`. `layer` and `first_dim` (the
// user's number for dim 2: 1 when Conv1d added the height) name things in messages.
Tensor padded_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Shape stride, SidePadding ph,
                     SidePadding pw, Shape dilation, int64_t groups, PaddingMode mode, const char* layer,
                     int64_t first_dim, const Tensor& user_input, Site site) {
  const SidePadding pads[2] = {ph, pw};
  if (mode == PaddingMode::kZeros) {
    // Uneven padding comes only from "same", which has stride 1: pad `after` on both sides,
    // then drop the extra outputs at the start.
    Tensor y = conv2d(x, weight, bias, stride, {ph.after, pw.after}, dilation, groups, site);
    for (int i = 0; i < 2; ++i) {
      const int64_t extra = pads[i].after - pads[i].before;
      if (extra > 0) y = y.slice(2 + i, extra, y.size(2 + i), 1, site);
    }
    return y;
  }
  Tensor padded = x;
  for (int i = 0; i < 2; ++i) {
    const SidePadding p = pads[i];
    if (p.empty()) continue;
    const int64_t size = x.size(2 + i), most = std::max(p.before, p.after);
    const bool fits = mode == PaddingMode::kReflect ? most < size : mode == PaddingMode::kCircular ? most <= size : size > 0;
    if (!fits) {
      throw ShapeError(std::string("tl::nn::") + layer + ": padding_mode '" + padding_mode_name(mode) + "' needs padding " +
                       std::to_string(most) + (mode == PaddingMode::kReflect ? " smaller than" : " at most") +
                       " the input's size " + std::to_string(size) + " in dim " + std::to_string(first_dim + i) +
                       ": input is " + describe(user_input) + " at " + site.str());
    }
    const std::vector<int64_t> sources = padding_sources(size, p, mode);
    const Tensor index = from_vector<int64_t>(sources, {static_cast<int64_t>(sources.size())},
                                              {.dtype = kInt64, .device = x.device()}, site);
    padded = index_select(padded, 2 + i, index, site);
  }
  return conv2d(padded, weight, bias, stride, {0, 0}, dilation, groups, site);
}

void check_padding_same(bool same, bool strided, const char* layer, Site site) {
  if (same && strided) {
    throw ValueError(std::string("tl::nn::") + layer +
                     ": padding_same (padding=\"same\") needs stride 1, as in PyTorch; pad explicitly for a "
                     "strided convolution at " + site.str());
  }
}

std::string padding_repr(PaddingMode mode, bool same) {
  std::string s = same ? ", padding=same" : "";
  if (mode != PaddingMode::kZeros) s += std::string(", padding_mode=") + padding_mode_name(mode);
  return s;
}

}  // namespace

// ---------------- Conv2d ----------------

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions options, Site site)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size), options(options) {
  check_conv_channels(in_channels, out_channels, options.groups, "Conv2d", site);
  require_positive(kernel_size.h, "Conv2d", "kernel height", site);
  require_positive(kernel_size.w, "Conv2d", "kernel width", site);
  check_padding_same(options.padding_same, options.stride.h != 1 || options.stride.w != 1, "Conv2d", site);
  init_conv_parameters(*this, weight, bias, {out_channels, in_channels / options.groups, kernel_size.h, kernel_size.w},
                       out_channels, options.bias, site);
}

Tensor Conv2d::forward(const Tensor& x) {
  Site site = call_site();
  if (x.dim() != 4 || x.size(1) != in_channels) {
    throw ShapeError("tl::nn::Conv2d: input is " + describe(x) + " but the layer expects [N, " +
                     std::to_string(in_channels) + ", H, W] at " + site.str());
  }
  return padded_conv2d(x, weight, bias, options.stride.shape(),
                       side_padding(options.padding_same, options.padding.h, options.dilation.h, kernel_size.h),
                       side_padding(options.padding_same, options.padding.w, options.dilation.w, kernel_size.w),
                       options.dilation.shape(), options.groups, options.padding_mode, "Conv2d", 2, x, site);
}

std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + format_pair(kernel_size) + ", stride=" + format_pair(options.stride);
  if (!options.padding_same && (options.padding.h != 0 || options.padding.w != 0))
    s += ", padding=" + format_pair(options.padding);
  if (options.dilation.h != 1 || options.dilation.w != 1) s += ", dilation=" + format_pair(options.dilation);
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=false";
  return s + padding_repr(options.padding_mode, options.padding_same);
}

// ---------------- Conv1d ----------------

Conv1d::Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Conv1dOptions options, Site site)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size), options(options) {
  check_conv_channels(in_channels, out_channels, options.groups, "Conv1d", site);
  require_positive(kernel_size, "Conv1d", "kernel_size", site);
  require_positive(options.stride, "Conv1d", "stride", site);
  require_positive(options.dilation, "Conv1d", "dilation", site);
  check_padding_same(options.padding_same, options.stride != 1, "Conv1d", site);
  init_conv_parameters(*this, weight, bias, {out_channels, in_channels / options.groups, kernel_size}, out_channels,
                       options.bias, site);
}

Tensor Conv1d::forward(const Tensor& x) {
  Site site = call_site();
  if (x.dim() != 3 || x.size(1) != in_channels) {
    throw ShapeError("tl::nn::Conv1d: input is " + describe(x) + " but the layer expects [N, " +
                     std::to_string(in_channels) + ", L] at " + site.str());
  }
  return padded_conv2d(x.unsqueeze(2, site), weight.unsqueeze(2, site), bias, {1, options.stride}, {0, 0},
                       side_padding(options.padding_same, options.padding, options.dilation, kernel_size),
                       {1, options.dilation}, options.groups, options.padding_mode, "Conv1d", 1, x, site)
      .squeeze(2, site);
}

std::string Conv1d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=(" + std::to_string(kernel_size) + ",), stride=(" + std::to_string(options.stride) + ",)";
  if (!options.padding_same && options.padding != 0) s += ", padding=(" + std::to_string(options.padding) + ",)";
  if (options.dilation != 1) s += ", dilation=(" + std::to_string(options.dilation) + ",)";
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=false";
  return s + padding_repr(options.padding_mode, options.padding_same);
}

// ---------------- Conv3d ----------------

namespace {

std::string format_triple(Size3 s) {
  return "(" + std::to_string(s.d) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
}

void require_positive(Size3 s, const char* layer, const char* what, Site site) {
  if (s.d <= 0 || s.h <= 0 || s.w <= 0) {
    throw ValueError(std::string("tl::nn::") + layer + ": " + what + " must be positive, got " + format_triple(s) +
                     " at " + site.str());
  }
}

void check_rank5_input(const Tensor& x, const char* layer, int64_t channels, Site site) {
  if (x.dim() != 5 || (channels > 0 && x.size(1) != channels)) {
    const std::string c = channels > 0 ? std::to_string(channels) : std::string("C");
    throw ShapeError(std::string("tl::nn::") + layer + ": input is " + describe(x) + " but the layer expects [N, " +
                     c + ", D, H, W] at " + site.str());
  }
}

}  // namespace

Conv3d::Conv3d(int64_t in_channels, int64_t out_channels, Size3 kernel_size, Conv3dOptions options, Site site)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size), options(options) {
  check_conv_channels(in_channels, out_channels, options.groups, "Conv3d", site);
  require_positive(kernel_size, "Conv3d", "kernel_size", site);
  require_positive(options.stride, "Conv3d", "stride", site);
  require_positive(options.dilation, "Conv3d", "dilation", site);
  init_conv_parameters(*this, weight, bias,
                       {out_channels, in_channels / options.groups, kernel_size.d, kernel_size.h, kernel_size.w},
                       out_channels, options.bias, site);
}

Tensor Conv3d::forward(const Tensor& x) {
  Site site = call_site();
  check_rank5_input(x, "Conv3d", in_channels, site);
  return conv3d(x, weight, bias, options.stride.shape(), options.padding.shape(), options.dilation.shape(),
                options.groups, site);
}

std::string Conv3d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + format_triple(kernel_size) + ", stride=" + format_triple(options.stride);
  if (options.padding.d != 0 || options.padding.h != 0 || options.padding.w != 0)
    s += ", padding=" + format_triple(options.padding);
  if (options.dilation.d != 1 || options.dilation.h != 1 || options.dilation.w != 1)
    s += ", dilation=" + format_triple(options.dilation);
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=false";
  return s;
}

// ---------------- MaxPool3d, AvgPool3d ----------------

namespace {

Shape pool3d_stride(Size3 kernel, const Pool3dOptions& options) {
  const Size3 s = options.stride;
  return s.d == 0 && s.h == 0 && s.w == 0 ? kernel.shape() : s.shape();
}

std::string pool3d_repr(Size3 kernel, const Pool3dOptions& options) {
  const Shape stride = pool3d_stride(kernel, options);
  return "kernel_size=" + format_triple(kernel) + ", stride=" + format_triple(Size3(stride[0], stride[1], stride[2])) +
         ", padding=" + format_triple(options.padding);
}

}  // namespace

MaxPool3d::MaxPool3d(Size3 kernel_size, Pool3dOptions options) : kernel_size(kernel_size), options(options) {}

Tensor MaxPool3d::forward(const Tensor& x) {
  Site site = call_site();
  check_rank5_input(x, "MaxPool3d", 0, site);
  return max_pool3d(x, kernel_size.shape(), pool3d_stride(kernel_size, options), options.padding.shape(), site);
}

std::string MaxPool3d::extra_repr() const { return pool3d_repr(kernel_size, options); }

AvgPool3d::AvgPool3d(Size3 kernel_size, Pool3dOptions options) : kernel_size(kernel_size), options(options) {}

Tensor AvgPool3d::forward(const Tensor& x) {
  Site site = call_site();
  check_rank5_input(x, "AvgPool3d", 0, site);
  return avg_pool3d(x, kernel_size.shape(), pool3d_stride(kernel_size, options), options.padding.shape(), site);
}

std::string AvgPool3d::extra_repr() const { return pool3d_repr(kernel_size, options); }

// ---------------- ConvTranspose2d ----------------

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size,
                                 ConvTranspose2dOptions options, Site site)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size), options(options) {
  check_conv_channels(in_channels, out_channels, options.groups, "ConvTranspose2d", site);
  require_positive(kernel_size.h, "ConvTranspose2d", "kernel height", site);
  require_positive(kernel_size.w, "ConvTranspose2d", "kernel width", site);
  const Size2 s = options.stride, d = options.dilation, op = options.output_padding;
  if ((op.h >= s.h && op.h >= d.h) || (op.w >= s.w && op.w >= d.w)) {
    throw ValueError("tl::nn::ConvTranspose2d: output_padding " + format_pair(op) + " must be smaller than the stride " +
                     format_pair(s) + " or the dilation " + format_pair(d) + " in each dim at " + site.str());
  }
  init_conv_parameters(*this, weight, bias, {in_channels, out_channels / options.groups, kernel_size.h, kernel_size.w},
                       out_channels, options.bias, site);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  Site site = call_site();
  if (x.dim() != 4 || x.size(1) != in_channels) {
    throw ShapeError("tl::nn::ConvTranspose2d: input is " + describe(x) + " but the layer expects [N, " +
                     std::to_string(in_channels) + ", H, W] at " + site.str());
  }
  return conv_transpose2d(x, weight, bias, options.stride.shape(), options.padding.shape(),
                          options.output_padding.shape(), options.groups, options.dilation.shape(), site);
}

std::string ConvTranspose2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + format_pair(kernel_size) + ", stride=" + format_pair(options.stride);
  if (options.padding.h != 0 || options.padding.w != 0) s += ", padding=" + format_pair(options.padding);
  if (options.output_padding.h != 0 || options.output_padding.w != 0)
    s += ", output_padding=" + format_pair(options.output_padding);
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

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output_size, Site site) : output_size(output_size) {
  require_positive(output_size.h, "AdaptiveAvgPool2d", "output height", site);
  require_positive(output_size.w, "AdaptiveAvgPool2d", "output width", site);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  Site site = call_site();
  if (x.dim() != 3 && x.dim() != 4) {
    throw ShapeError("tl::nn::AdaptiveAvgPool2d: input is " + describe(x) +
                     " but the layer expects [N, C, H, W] or [C, H, W] at " + site.str());
  }
  return adaptive_avg_pool2d(x, output_size.shape(), site);
}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + format_pair(output_size); }

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
    std::string expected = min_rank_ == 5 ? "[N, C, D, H, W]" : min_rank_ == 4 ? "[N, C, H, W]" : "[N, C] or [N, C, L]";
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

// ---------------- GroupNorm, InstanceNorm2d ----------------

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, GroupNormOptions options, Site site)
    : num_groups(num_groups), num_channels(num_channels), options(options) {
  require_positive(num_groups, "GroupNorm", "num_groups", site);
  require_positive(num_channels, "GroupNorm", "num_channels", site);
  if (num_channels % num_groups != 0) {
    throw ValueError("tl::nn::GroupNorm: num_channels (" + std::to_string(num_channels) +
                     ") must be divisible by num_groups (" + std::to_string(num_groups) + ") at " + site.str());
  }
  if (options.affine) {
    weight = register_parameter("weight", ones({num_channels}), true, site);
    bias = register_parameter("bias", zeros({num_channels}), true, site);
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  Site site = call_site();
  if (x.dim() < 2 || x.size(1) != num_channels) {
    throw ShapeError("tl::nn::GroupNorm: input is " + describe(x) + " but the layer expects [N, " +
                     std::to_string(num_channels) + ", ...] at " + site.str());
  }
  return functional::group_norm(x, num_groups, weight, bias, options.eps, site);
}

std::string GroupNorm::extra_repr() const {
  return std::to_string(num_groups) + ", " + std::to_string(num_channels) + ", eps=" + format_double(options.eps) +
         ", affine=" + format_bool(options.affine);
}

InstanceNorm2d::InstanceNorm2d(int64_t num_features, InstanceNormOptions options, Site site)
    : num_features(num_features), options(options) {
  require_positive(num_features, "InstanceNorm2d", "num_features", site);
  if (options.affine) {
    weight = register_parameter("weight", ones({num_features}), true, site);
    bias = register_parameter("bias", zeros({num_features}), true, site);
  }
}

Tensor InstanceNorm2d::forward(const Tensor& x) {
  Site site = call_site();
  if (x.dim() != 4 || x.size(1) != num_features) {
    throw ShapeError("tl::nn::InstanceNorm2d: input is " + describe(x) + " but the layer expects [N, " +
                     std::to_string(num_features) + ", H, W] at " + site.str());
  }
  return functional::group_norm(x, num_features, weight, bias, options.eps, site);
}

std::string InstanceNorm2d::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + format_double(options.eps) + ", affine=" + format_bool(options.affine) +
         ", track_running_stats=false";
}

// ---------------- interpolate, Upsample ----------------

namespace functional {
namespace {

// Output i of a dim resized from `in` to `out` reads input floor(i * scale) (clamped), with
// PyTorch's float32 arithmetic (aten/src/ATen/native/UpSample.h, nearest_idx), so indices agree
// where the product lands next to an integer.
Tensor resize_nearest(const Tensor& x, int64_t dim, int64_t in, int64_t out, std::optional<double> scale, Site site) {
  if (in == out) return x;
  std::vector<int64_t> sources(out);
  const float ratio = scale ? static_cast<float>(1.0 / *scale) : static_cast<float>(in) / static_cast<float>(out);
  for (int64_t i = 0; i < out; ++i) {
    sources[i] = out == 2 * in ? i >> 1
                               : std::min(static_cast<int64_t>(std::floor(static_cast<float>(i) * ratio)), in - 1);
  }
  return index_select(x, dim, from_vector<int64_t>(sources, {out}, {.dtype = kInt64, .device = x.device()}, site), site);
}

// Output i = (1 - t) x[i0] + t x[i1] along `dim`, with the source i0 + t from PyTorch's
// area_pixel_compute_source_index and compute_source_index_and_lambda (UpSample.h).
Tensor resize_linear(const Tensor& x, int64_t dim, int64_t in, int64_t out, std::optional<double> scale,
                     bool align_corners, Site site) {
  if (in == out) return x;
  const double ratio = align_corners ? (out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0)
                       : scale       ? 1.0 / *scale
                                     : static_cast<double>(in) / static_cast<double>(out);
  std::vector<int64_t> first(out), second(out);
  std::vector<double> w_first(out), w_second(out);
  for (int64_t i = 0; i < out; ++i) {
    const double source = align_corners ? ratio * static_cast<double>(i)
                                        : std::max(ratio * (static_cast<double>(i) + 0.5) - 0.5, 0.0);
    first[i] = std::min(static_cast<int64_t>(source), in - 1);
    second[i] = first[i] + (first[i] < in - 1 ? 1 : 0);
    w_second[i] = std::clamp(source - static_cast<double>(first[i]), 0.0, 1.0);
    w_first[i] = 1.0 - w_second[i];
  }
  // The weights broadcast along the dims after `dim`.
  std::vector<int64_t> broadcast(x.dim() - dim, 1);
  broadcast[0] = out;
  const Shape weight_shape(broadcast);
  const TensorOptions index_options{.dtype = kInt64, .device = x.device()};
  const TensorOptions weight_options{.dtype = x.dtype(), .device = x.device()};
  Tensor a = index_select(x, dim, from_vector<int64_t>(first, {out}, index_options, site), site);
  Tensor b = index_select(x, dim, from_vector<int64_t>(second, {out}, index_options, site), site);
  return add(mul(a, from_vector<double>(w_first, weight_shape, weight_options, site), site),
             mul(b, from_vector<double>(w_second, weight_shape, weight_options, site), site), site);
}

}  // namespace

Tensor interpolate(const Tensor& x, const InterpolateOptions& options, Site site) {
  const std::string fn = "tl::nn::functional::interpolate: ";
  if (!x.defined() || x.dim() != 4) {
    throw ShapeError(fn + "expected x as [N, C, H, W], got " + (x.defined() ? describe(x) : "undefined") + " at " +
                     site.str());
  }
  if (!x.is_floating_point()) {
    throw DTypeError(fn + "x must be floating point, got " + describe(x) + " at " + site.str());
  }
  if (options.size.empty() == options.scale_factor.empty()) {
    throw ValueError(fn + "give exactly one of size and scale_factor at " + site.str());
  }
  if (options.mode == InterpolateMode::kNearest && options.align_corners.has_value()) {
    throw ValueError(fn + "align_corners applies to bilinear only; leave it unset for nearest at " + site.str());
  }
  const size_t given = options.size.empty() ? options.scale_factor.size() : options.size.size();
  if (given != 1 && given != 2) {
    throw ValueError(fn + (options.size.empty() ? "scale_factor" : "size") +
                     " must have 1 or 2 values (height, width), got " + std::to_string(given) + " at " + site.str());
  }
  const int64_t in[2] = {x.size(2), x.size(3)};
  int64_t out[2];
  std::optional<double> scale[2];
  for (int i = 0; i < 2; ++i) {
    if (options.size.empty()) {
      const double s = options.scale_factor[given == 1 ? 0 : i];
      if (!(s > 0) || !std::isfinite(s)) {
        throw ValueError(fn + "scale_factor must be positive and finite, got " + format_double(s) + " at " + site.str());
      }
      scale[i] = s;
      out[i] = static_cast<int64_t>(std::floor(static_cast<double>(in[i]) * s));
    } else {
      out[i] = options.size[given == 1 ? 0 : i];
    }
    if (out[i] <= 0) {
      throw ShapeError(fn + "the output would be " + std::to_string(out[i]) + " in dim " + std::to_string(2 + i) +
                       " (x is " + describe(x) + "); it must be positive at " + site.str());
    }
  }
  Tensor y = x;
  for (int i = 0; i < 2; ++i) {
    y = options.mode == InterpolateMode::kNearest
            ? resize_nearest(y, 2 + i, in[i], out[i], scale[i], site)
            : resize_linear(y, 2 + i, in[i], out[i], scale[i], options.align_corners.value_or(false), site);
  }
  return y;
}

}  // namespace functional

Upsample::Upsample(functional::InterpolateOptions options, Site site) : options(std::move(options)) {
  if (this->options.size.empty() == this->options.scale_factor.empty()) {
    throw ValueError("tl::nn::Upsample: give exactly one of size and scale_factor at " + site.str());
  }
}

Tensor Upsample::forward(const Tensor& x) { return functional::interpolate(x, options, call_site()); }

std::string Upsample::extra_repr() const {
  std::ostringstream os;
  if (!options.size.empty()) os << "size=" << options.size.str();
  for (size_t i = 0; i < options.scale_factor.size(); ++i)
    os << (i ? ", " : "scale_factor=(") << options.scale_factor[i] << (i + 1 == options.scale_factor.size() ? ")" : "");
  os << ", mode=" << (options.mode == functional::InterpolateMode::kNearest ? "nearest" : "bilinear");
  if (options.align_corners) os << ", align_corners=" << format_bool(*options.align_corners);
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
