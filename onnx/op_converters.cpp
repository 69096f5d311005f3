#include "onnx/op_converters.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "frontend/ops/registry.h"
#include "frontend/trace/tracer.h"
#include "onnx/proto_tensor.h"
#include "tl/nn/functional.h"
#include "tl/ops.h"

namespace tl::onnx_import {
namespace {

using Outputs = std::vector<Tensor>;

// ---------------------------------------------------------------- the converter table

struct Ctx {
  const Node& node;
  int opset;
  const NodeInputs& in;
  Site site;

  [[noreturn]] void fail(const std::string& why) const { throw ValueError("tl::onnx: " + node.label() + ": " + why); }

  const Tensor& input(size_t i) const {
    if (!in.has(i)) fail("input " + std::to_string(i) + " is required");
    return in.values[i];
  }
  bool has(size_t i) const { return in.has(i); }

  int64_t i(const char* key, int64_t fallback) const {
    const Attribute* a = node.attr(key);
    if (!a) return fallback;
    if (a->kind != Attribute::kInt) fail(std::string("attribute '") + key + "' must be an int");
    return a->i;
  }
  double f(const char* key, double fallback) const {
    const Attribute* a = node.attr(key);
    if (!a) return fallback;
    if (a->kind == Attribute::kInt) return static_cast<double>(a->i);
    if (a->kind != Attribute::kFloat) fail(std::string("attribute '") + key + "' must be a float");
    return a->f;
  }
  std::string s(const char* key, const std::string& fallback) const {
    const Attribute* a = node.attr(key);
    if (!a) return fallback;
    if (a->kind != Attribute::kString) fail(std::string("attribute '") + key + "' must be a string");
    return a->s;
  }
  std::vector<int64_t> ints(const char* key, std::vector<int64_t> fallback = {}) const {
    const Attribute* a = node.attr(key);
    if (!a) return fallback;
    if (a->kind != Attribute::kInts) fail(std::string("attribute '") + key + "' must be a list of ints");
    return a->ints;
  }
  bool has_attr(const char* key) const { return node.attr(key) != nullptr; }

  // An input whose values the importer must know on the host (a shape, axes, pads...). A
  // constant, or a value computed from constants and shapes, is read directly. A value
  // computed from the model's inputs is read element by element with item(): eagerly that is
  // a plain read; under tl::compile each read becomes a guard (the program is re-traced when
  // the value changes), and tl::export_program refuses it, naming the node.
  std::vector<int64_t> host_ints(size_t idx, const char* what) const {
    (void)what;
    const Tensor& t = input(idx);
    if (in.known[idx]) {
      trace::PauseScope pause;
      Tensor c = t.to(kInt64).contiguous();
      const int64_t* p = c.data<int64_t>();
      return std::vector<int64_t>(p, p + c.numel());
    }
    Tensor flat = t.reshape(Shape{t.numel()}, site);
    std::vector<int64_t> out;
    for (int64_t k = 0; k < t.numel(); ++k) out.push_back(flat.narrow(0, k, 1, site).item<int64_t>(site));
    return out;
  }
  double host_scalar(size_t idx, const char* what) const {
    const Tensor& t = input(idx);
    if (t.numel() != 1) fail(std::string("input ") + std::to_string(idx) + " (" + what + ") must hold one value");
    if (!in.known[idx]) return t.item<double>(site);
    trace::PauseScope pause;
    return t.to(kFloat64).contiguous().data<double>()[0];
  }
};

using Run = std::function<Outputs(const Ctx&)>;
// Checks attribute values at load time; returns what is unsupported ("" when all is).
using Check = std::function<std::string(const Node&, int opset)>;

struct Converter {
  std::vector<std::string> attrs;  // every attribute the converter reads
  Run run;
  Check check = nullptr;
};

int64_t norm_axis(int64_t axis, int64_t rank, const Ctx& c) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) {
    c.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> dims_of(const Tensor& t) { return std::vector<int64_t>(t.shape().begin(), t.shape().end()); }

Tensor like(double v, const Tensor& t) { return scalar_tensor(v, {.dtype = t.dtype()}); }

// ---------------------------------------------------------------- padding helpers

// Pads dim `d` of x with `before`/`after` elements (negative: crops). mode: constant, edge, reflect.
Tensor pad_dim(const Tensor& x, int64_t d, int64_t before, int64_t after, const std::string& mode, double value,
               const Ctx& c) {
  if (before == 0 && after == 0) return x;
  const int64_t n = x.shape()[d];
  Tensor y = x;
  if (before < 0 || after < 0) {  // crop first
    const int64_t b = std::max<int64_t>(-before, 0), e = std::max<int64_t>(-after, 0);
    if (b + e > n) c.fail("negative pads remove more than the whole dim " + std::to_string(d));
    y = y.slice(d, b, n - e);
    before = std::max<int64_t>(before, 0);
    after = std::max<int64_t>(after, 0);
    if (before == 0 && after == 0) return y;
  }
  const int64_t m = y.shape()[d];
  if (mode == "constant") {
    std::vector<Tensor> parts;
    Shape s = y.shape();
    if (before > 0) {
      s[d] = before;
      parts.push_back(full(s, value, {.dtype = y.dtype()}));
    }
    parts.push_back(y);
    if (after > 0) {
      s[d] = after;
      parts.push_back(full(s, value, {.dtype = y.dtype()}));
    }
    return cat(parts, d);
  }
  if (m == 0) c.fail("cannot " + mode + "-pad an empty dim");
  if (mode == "reflect" && (before >= m || after >= m)) {
    c.fail("reflect padding of " + std::to_string(std::max(before, after)) + " needs a dim larger than it (dim " +
           std::to_string(d) + " has " + std::to_string(m) + ")");
  }
  std::vector<int64_t> idx;
  for (int64_t i = -before; i < m + after; ++i) {
    int64_t j = i;
    if (mode == "edge") j = std::clamp<int64_t>(i, 0, m - 1);
    else if (i < 0) j = -i;
    else if (i >= m) j = 2 * (m - 1) - i;
    idx.push_back(j);
  }
  return index_select(y, d, from_vector<int64_t>(idx));
}

// ---------------------------------------------------------------- convolution and pooling

struct Window {
  std::vector<int64_t> kernel, stride, dilation, pad_begin, pad_end;
};

// Pads of a SAME_UPPER / SAME_LOWER / VALID / NOTSET window over `spatial` sizes.
Window window(const Ctx& c, const std::vector<int64_t>& spatial, std::vector<int64_t> kernel, bool ceil_mode = false) {
  const size_t r = spatial.size();
  Window w;
  w.kernel = std::move(kernel);
  w.stride = c.ints("strides", std::vector<int64_t>(r, 1));
  w.dilation = c.ints("dilations", std::vector<int64_t>(r, 1));
  std::vector<int64_t> pads = c.ints("pads", std::vector<int64_t>(2 * r, 0));
  if (w.kernel.size() != r || w.stride.size() != r || w.dilation.size() != r || pads.size() != 2 * r) {
    c.fail("kernel_shape/strides/dilations/pads do not match the input's " + std::to_string(r) + " spatial dims");
  }
  for (size_t i = 0; i < r; ++i) {
    if (w.kernel[i] <= 0 || w.stride[i] <= 0 || w.dilation[i] <= 0) c.fail("kernel, strides and dilations must be positive");
    if (pads[i] < 0 || pads[r + i] < 0) c.fail("pads must not be negative");
  }
  w.pad_begin.assign(pads.begin(), pads.begin() + static_cast<long>(r));
  w.pad_end.assign(pads.begin() + static_cast<long>(r), pads.end());
  const std::string auto_pad = c.s("auto_pad", "NOTSET");
  for (size_t i = 0; i < r; ++i) {
    const int64_t eff = (w.kernel[i] - 1) * w.dilation[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (spatial[i] + w.stride[i] - 1) / w.stride[i];
      const int64_t total = std::max<int64_t>((out - 1) * w.stride[i] + eff - spatial[i], 0);
      const int64_t small = total / 2, large = total - small;
      w.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : large;
      w.pad_end[i] = auto_pad == "SAME_UPPER" ? large : small;
    } else if (auto_pad == "VALID") {
      w.pad_begin[i] = w.pad_end[i] = 0;
    }
    if (ceil_mode) {  // extra end padding so the last partial window counts (PyTorch's rule)
      const int64_t span = spatial[i] + w.pad_begin[i] + w.pad_end[i] - eff;
      if (span >= 0) {
        int64_t out = (span + w.stride[i] - 1) / w.stride[i] + 1;
        if ((out - 1) * w.stride[i] >= spatial[i] + w.pad_begin[i]) --out;
        const int64_t need = (out - 1) * w.stride[i] + eff - (spatial[i] + w.pad_begin[i] + w.pad_end[i]);
        if (need > 0) w.pad_end[i] += need;
      }
    }
  }
  return w;
}

std::vector<int64_t> spatial_of(const Tensor& x, const Ctx& c) {
  if (x.dim() < 3) c.fail("the input must be (N, C, spatial...), rank 3 or more; it has rank " + std::to_string(x.dim()));
  std::vector<int64_t> s(x.shape().begin() + 2, x.shape().end());
  if (s.size() > 2) c.fail(std::to_string(s.size()) + "-D spatial data is not supported (tl has 1-D and 2-D windows)");
  return s;
}

// 1-D windows run as 2-D ones with a height of 1.
Tensor to_2d(const Tensor& x) { return x.dim() == 3 ? x.unsqueeze(2) : x; }
Tensor from_2d(const Tensor& y, int64_t rank) { return rank == 3 ? y.squeeze(2) : y; }
std::vector<int64_t> as_2d(std::vector<int64_t> v, int64_t fill) {
  if (v.size() == 1) v.insert(v.begin(), fill);
  return v;
}

Outputs conv(const Ctx& c) {
  Tensor x = c.input(0), w = c.input(1);
  std::vector<int64_t> spatial = spatial_of(x, c);
  if (w.dim() != x.dim()) {
    c.fail("the weight " + w.shape().str() + " must have the input's rank " + std::to_string(x.dim()) +
           " (O, C/group, kernel...)");
  }
  std::vector<int64_t> kernel = c.ints("kernel_shape", std::vector<int64_t>(w.shape().begin() + 2, w.shape().end()));
  Window win = window(c, spatial, kernel);
  const int64_t rank = x.dim();
  x = to_2d(x);
  if (w.dim() == 3) w = w.unsqueeze(2);
  auto pb = as_2d(win.pad_begin, 0), pe = as_2d(win.pad_end, 0);
  auto st = as_2d(win.stride, 1), dl = as_2d(win.dilation, 1);
  Shape padding{0, 0};
  for (int i = 0; i < 2; ++i) {
    if (pb[i] == pe[i]) {
      padding[i] = pb[i];
    } else {  // asymmetric: pad explicitly
      x = pad_dim(x, 2 + i, pb[i], pe[i], "constant", 0.0, c);
    }
  }
  Tensor bias = c.has(2) ? c.input(2) : Tensor();
  Tensor y = conv2d(x, w, bias, Shape{st[0], st[1]}, padding, Shape{dl[0], dl[1]}, c.i("group", 1), c.site);
  return {from_2d(y, rank)};
}

// floor(v / 2), also for negative v (an output_shape smaller than the full result).
int64_t floor_half(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

Outputs conv_transpose(const Ctx& c) {
  Tensor x = c.input(0), w = c.input(1);
  std::vector<int64_t> spatial = spatial_of(x, c);
  const size_t r = spatial.size();
  std::vector<int64_t> kernel = c.ints("kernel_shape", std::vector<int64_t>(w.shape().begin() + 2, w.shape().end()));
  std::vector<int64_t> stride = c.ints("strides", std::vector<int64_t>(r, 1));
  std::vector<int64_t> dilation = c.ints("dilations", std::vector<int64_t>(r, 1));
  std::vector<int64_t> pads = c.ints("pads", std::vector<int64_t>(2 * r, 0));
  std::vector<int64_t> out_pad = c.ints("output_padding", std::vector<int64_t>(r, 0));
  std::vector<int64_t> out_shape = c.ints("output_shape");
  const std::string auto_pad = c.s("auto_pad", "NOTSET");
  const int64_t groups = c.i("group", 1);
  if (kernel.size() != r || stride.size() != r || dilation.size() != r || pads.size() != 2 * r ||
      out_pad.size() != r) {
    c.fail("kernel_shape/strides/dilations/pads/output_padding do not match the input's spatial dims");
  }
  if (w.dim() != x.dim()) {
    c.fail("the weight " + w.shape().str() + " must have the input's rank " + std::to_string(x.dim()) +
           " (C, O/group, kernel...)");
  }
  std::vector<int64_t> full_size(r), begin(r), out(r);
  for (size_t i = 0; i < r; ++i) {
    full_size[i] = stride[i] * (spatial[i] - 1) + (kernel[i] - 1) * dilation[i] + 1;
    if (!out_shape.empty()) {
      const int64_t target = out_shape[out_shape.size() - r + i];
      const int64_t total = full_size[i] + out_pad[i] - target;
      begin[i] = auto_pad == "SAME_UPPER" ? floor_half(total) : total - floor_half(total);
      out[i] = target;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t target = spatial[i] * stride[i];
      const int64_t total = full_size[i] + out_pad[i] - target;
      begin[i] = auto_pad == "SAME_UPPER" ? floor_half(total) : total - floor_half(total);
      out[i] = target;
    } else {
      begin[i] = pads[i];
      out[i] = full_size[i] + out_pad[i] - pads[i] - pads[r + i];
    }
    if (out[i] <= 0) c.fail("the output would be empty");
  }
  const int64_t rank = x.dim();
  Tensor x2 = to_2d(x), w2 = w.dim() == 3 ? w.unsqueeze(2) : w;
  auto st = as_2d(stride, 1), dl = as_2d(dilation, 1), fs = as_2d(full_size, 1);
  const int64_t c_out = w2.shape()[1] * groups;
  // The full transposed convolution (no padding) is conv2d's input gradient.
  ops::Attrs a;
  a.stride = Shape{st[0], st[1]};
  a.padding = Shape{0, 0};
  a.dilation = Shape{dl[0], dl[1]};
  a.count = groups;
  a.dims = Shape{x2.shape()[0], c_out, fs[0], fs[1]};
  static const ops::OpDef* transposed = ops::find_op("conv2d_backward_input");
  Tensor y = ops::call(*transposed, {x2, w2}, a, c.site);
  // Then the window [begin, begin + out) of it, zeros outside.
  auto b2 = as_2d(begin, 0), o2 = as_2d(out, 1);
  for (int i = 0; i < 2; ++i) {
    const int64_t d = 2 + i;
    y = pad_dim(y, d, -b2[i], o2[i] - (fs[i] - b2[i]), "constant", 0.0, c);
  }
  if (c.has(2)) y = add(y, c.input(2).reshape(Shape{1, c_out, 1, 1}), c.site);
  return {from_2d(y, rank)};
}

Outputs max_pool(const Ctx& c) {
  const Tensor& x0 = c.input(0);
  std::vector<int64_t> spatial = spatial_of(x0, c);
  Window win = window(c, spatial, c.ints("kernel_shape"), c.i("ceil_mode", 0) != 0);
  const int64_t rank = x0.dim();
  Tensor x = to_2d(x0);
  auto pb = as_2d(win.pad_begin, 0), pe = as_2d(win.pad_end, 0), k = as_2d(win.kernel, 1), st = as_2d(win.stride, 1);
  Shape padding{0, 0};
  for (int i = 0; i < 2; ++i) {
    if (pb[i] == pe[i] && pb[i] * 2 <= k[i]) {
      padding[i] = pb[i];
    } else {
      x = pad_dim(x, 2 + i, pb[i], pe[i], "constant", -std::numeric_limits<double>::infinity(), c);
    }
  }
  Tensor y = max_pool2d(x, Shape{k[0], k[1]}, Shape{st[0], st[1]}, padding, c.site);
  return {from_2d(y, rank)};
}

Outputs avg_pool(const Ctx& c) {
  const Tensor& x0 = c.input(0);
  std::vector<int64_t> spatial = spatial_of(x0, c);
  Window win = window(c, spatial, c.ints("kernel_shape"), c.i("ceil_mode", 0) != 0);
  const bool count_pad = c.i("count_include_pad", 0) != 0;
  const int64_t rank = x0.dim();
  Tensor x = to_2d(x0);
  auto pb = as_2d(win.pad_begin, 0), pe = as_2d(win.pad_end, 0), k = as_2d(win.kernel, 1), st = as_2d(win.stride, 1);
  const Shape kernel{k[0], k[1]}, stride{st[0], st[1]};
  bool plain = true;  // tl's avg_pool2d: symmetric zero padding, counted
  for (int i = 0; i < 2; ++i) plain = plain && pb[i] == pe[i] && pb[i] * 2 <= k[i];
  if (plain && (count_pad || (pb[0] == 0 && pb[1] == 0))) {
    return {from_2d(avg_pool2d(x, kernel, stride, Shape{pb[0], pb[1]}, c.site), rank)};
  }
  // General case: a window sum over the explicitly padded input, divided by the number of
  // elements each window counts (a pooled mask of what counts): the input, plus the declared
  // pads with count_include_pad, never ceil_mode's extension.
  Window declared = window(c, spatial, c.ints("kernel_shape"), false);
  auto dpb = as_2d(declared.pad_begin, 0), dpe = as_2d(declared.pad_end, 0);
  Tensor xp = x, mask = ones(Shape{1, 1, x.shape()[2], x.shape()[3]}, {.dtype = x.dtype()});
  for (int i = 0; i < 2; ++i) {
    xp = pad_dim(xp, 2 + i, pb[i], pe[i], "constant", 0.0, c);
    const int64_t counted_begin = count_pad ? dpb[i] : 0, counted_end = count_pad ? dpe[i] : 0;
    mask = pad_dim(mask, 2 + i, counted_begin, counted_end, "constant", 1.0, c);
    mask = pad_dim(mask, 2 + i, pb[i] - counted_begin, pe[i] - counted_end, "constant", 0.0, c);
  }
  Tensor sums = avg_pool2d(xp, kernel, stride, Shape{0, 0}, c.site);
  Tensor counts = avg_pool2d(mask, kernel, stride, Shape{0, 0}, c.site);
  return {from_2d(div(sums, counts, c.site), rank)};
}

Outputs global_pool(const Ctx& c, bool max) {
  const Tensor& x = c.input(0);
  if (x.dim() < 3) c.fail("the input must be (N, C, spatial...)");
  std::vector<int64_t> dims;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return {max ? amax(x, Dims(dims), true, c.site) : mean(x, Dims(dims), true, c.site)};
}

// ---------------------------------------------------------------- normalization

Outputs batch_norm(const Ctx& c) {
  const Tensor& x = c.input(0);
  if (x.dim() < 2) c.fail("the input must be (N, C, ...)");
  const double eps = c.f("epsilon", 1e-5);
  Shape param_shape;
  param_shape.push_back(x.shape()[1]);
  for (int64_t d = 2; d < x.dim(); ++d) param_shape.push_back(1);
  Tensor scale = c.input(1), bias = c.input(2), mean_ = c.input(3), var_ = c.input(4);
  if (c.i("training_mode", 0) != 0) {
    // Normalize with the batch's statistics (biased variance); also return the running
    // statistics moved toward them: running = running * momentum + batch * (1 - momentum).
    std::vector<int64_t> dims{0};
    for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
    const double momentum = c.f("momentum", 0.9);
    Tensor bm = mean(x, Dims(dims), true), centered = sub(x, bm);
    Tensor bv = mean(mul(centered, centered), Dims(dims), true);
    Tensor y = add(mul(mul(centered, rsqrt(add(bv, like(eps, bv)))), scale.reshape(param_shape)),
                   bias.reshape(param_shape), c.site);
    auto blend = [&](const Tensor& running, const Tensor& batch) {
      return add(mul(running, like(momentum, running)), mul(batch.reshape(running.shape()), like(1 - momentum, running)));
    };
    return {y, blend(mean_, bm), blend(var_, bv)};
  }
  // y = x * a + b with a = scale / sqrt(var + eps), b = bias - mean * a; computed on the host
  // once when the statistics are constants.
  const bool all_known = c.in.known[1] && c.in.known[2] && c.in.known[3] && c.in.known[4];
  Tensor a, b;
  {
    std::optional<trace::PauseScope> pause;
    if (all_known) pause.emplace();
    a = mul(scale, rsqrt(add(var_, like(eps, var_))));
    b = sub(bias, mul(mean_, a));
    a = a.reshape(param_shape).to(x.dtype());
    b = b.reshape(param_shape).to(x.dtype());
    if (all_known) a = a.contiguous(), b = b.contiguous();
  }
  return {add(mul(x, a, c.site), b, c.site)};
}

Outputs layer_norm(const Ctx& c) {
  const Tensor& x = c.input(0);
  const int64_t axis = norm_axis(c.i("axis", -1), x.dim(), c);
  const double eps = c.f("epsilon", 1e-5);
  Shape normalized(x.shape().begin() + axis, x.shape().end());
  const Tensor& scale = c.input(1);
  Tensor bias = c.has(2) ? c.input(2) : Tensor();
  const bool wants_stats = (c.node.outputs.size() > 1 && !c.node.outputs[1].empty()) ||
                           (c.node.outputs.size() > 2 && !c.node.outputs[2].empty());
  if (!wants_stats && scale.shape() == normalized && (!bias.defined() || bias.shape() == normalized) &&
      is_floating(x.dtype())) {
    return {nn::functional::layer_norm(x, normalized, scale, bias, eps, c.site)};
  }
  std::vector<int64_t> dims;
  for (int64_t d = axis; d < x.dim(); ++d) dims.push_back(d);
  Tensor m = mean(x, Dims(dims), true, c.site);
  Tensor centered = sub(x, m, c.site);
  Tensor var_ = mean(mul(centered, centered), Dims(dims), true, c.site);
  Tensor inv = rsqrt(add(var_, like(eps, var_)), c.site);
  Tensor y = mul(mul(centered, inv), scale, c.site);
  if (bias.defined()) y = add(y, bias, c.site);
  return {y, m, inv};
}

Outputs softmax_like(const Ctx& c, bool log) {
  const Tensor& x = c.input(0);
  if (c.opset >= 13) {
    const int64_t axis = norm_axis(c.i("axis", -1), x.dim(), c);
    return {log ? log_softmax(x, axis, c.site) : softmax(x, axis, c.site)};
  }
  // Before opset 13: the input is seen as 2-D, [prod(dims < axis), prod(dims >= axis)].
  const int64_t axis = norm_axis(c.i("axis", 1), x.dim(), c);
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.shape()[d];
  Tensor flat = x.reshape(Shape{rows, rows == 0 ? 0 : x.numel() / std::max<int64_t>(rows, 1)});
  Tensor y = log ? log_softmax(flat, 1, c.site) : softmax(flat, 1, c.site);
  return {y.reshape(x.shape())};
}

// ---------------------------------------------------------------- reductions

std::vector<int64_t> reduce_axes(const Ctx& c, bool axes_input) {
  std::vector<int64_t> axes;
  if (axes_input) {
    if (c.has(1)) axes = c.host_ints(1, "axes");
  } else {
    axes = c.ints("axes");
  }
  const Tensor& x = c.input(0);
  for (int64_t& a : axes) a = norm_axis(a, x.dim(), c);
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

Outputs reduce(const Ctx& c, const std::string& kind) {
  const Tensor& x = c.input(0);
  const bool axes_input = kind == "sum" ? c.opset >= 13 : false;
  std::vector<int64_t> axes = reduce_axes(c, axes_input);
  const bool keep = c.i("keepdims", 1) != 0;
  if (axes.empty()) {
    if (c.i("noop_with_empty_axes", 0) != 0) return {x};
    for (int64_t d = 0; d < x.dim(); ++d) axes.push_back(d);
  }
  if (x.dim() == 0) return {x};
  Dims dims(axes);
  if (kind == "sum") return {sum(x, dims, keep, c.site).to(x.dtype())};
  if (kind == "mean") return {mean(x, dims, keep, c.site)};
  if (kind == "max") return {amax(x, dims, keep, c.site)};
  if (kind == "min") return {amin(x, dims, keep, c.site)};
  if (kind == "sumsquare") return {sum(mul(x, x), dims, keep, c.site)};
  if (kind == "l2") return {sqrt(sum(mul(x, x), dims, keep), c.site)};
  if (kind == "l1") return {sum(abs(x), dims, keep, c.site)};
  if (kind == "logsumexp") return {logsumexp(x, dims, keep, c.site)};
  if (kind == "logsum") return {log(sum(x, dims, keep), c.site)};
  c.fail("unknown reduction");
}

Outputs arg_reduce(const Ctx& c, bool max) {
  const Tensor& x = c.input(0);
  const int64_t axis = norm_axis(c.i("axis", 0), x.dim(), c);
  const bool keep = c.i("keepdims", 1) != 0;
  return {max ? argmax(x, axis, keep, c.site) : argmin(x, axis, keep, c.site)};
}

// ---------------------------------------------------------------- shapes and data movement

Outputs reshape(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> shape = c.opset >= 5 ? c.host_ints(1, "shape") : c.ints("shape");
  const bool allowzero = c.i("allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allowzero) {
      if (static_cast<int64_t>(i) >= x.dim()) c.fail("shape copies dim " + std::to_string(i) + " that the input lacks");
      shape[i] = x.shape()[static_cast<int64_t>(i)];
    }
    if (shape[i] == -1) {
      if (infer >= 0) c.fail("shape has more than one -1");
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      c.fail("shape has a negative size " + std::to_string(shape[i]));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0) c.fail("cannot infer the -1 of the shape for " + x.shape().str());
    shape[static_cast<size_t>(infer)] = x.numel() / known;
  }
  return {x.reshape(Shape(shape), c.site)};
}

Outputs flatten(const Ctx& c) {
  const Tensor& x = c.input(0);
  int64_t axis = c.i("axis", 1);
  if (axis < 0) axis += x.dim();
  if (axis < 0 || axis > x.dim()) c.fail("axis out of range");
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.shape()[d];
  int64_t cols = 1;
  for (int64_t d = axis; d < x.dim(); ++d) cols *= x.shape()[d];
  return {x.reshape(Shape{rows, cols}, c.site)};
}

Outputs transpose(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> perm = c.ints("perm");
  if (perm.empty()) {
    for (int64_t d = x.dim() - 1; d >= 0; --d) perm.push_back(d);
  }
  return {x.permute(Shape(perm), c.site)};
}

Outputs squeeze(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> axes = c.opset >= 13 ? (c.has(1) ? c.host_ints(1, "axes") : std::vector<int64_t>{})
                                            : c.ints("axes");
  if (axes.empty()) {
    Shape s;
    for (int64_t d : x.shape()) {
      if (d != 1) s.push_back(d);
    }
    return {x.reshape(s)};
  }
  std::set<int64_t> drop;
  for (int64_t a : axes) {
    a = norm_axis(a, x.dim(), c);
    if (x.shape()[a] != 1) c.fail("cannot squeeze dim " + std::to_string(a) + " of size " + std::to_string(x.shape()[a]));
    drop.insert(a);
  }
  Shape s;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!drop.count(d)) s.push_back(x.shape()[d]);
  }
  return {x.reshape(s)};
}

Outputs unsqueeze(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> axes = c.opset >= 13 ? c.host_ints(1, "axes") : c.ints("axes");
  const int64_t out_rank = x.dim() + static_cast<int64_t>(axes.size());
  std::set<int64_t> at;
  for (int64_t a : axes) {
    if (!at.insert(norm_axis(a, out_rank, c)).second) c.fail("axes repeat a dim");
  }
  std::vector<int64_t> s;
  int64_t src = 0;
  for (int64_t d = 0; d < out_rank; ++d) s.push_back(at.count(d) ? 1 : x.shape()[src++]);
  return {x.reshape(Shape(s))};
}

Outputs concat(const Ctx& c) {
  std::vector<Tensor> parts;
  for (size_t i = 0; i < c.in.values.size(); ++i) parts.push_back(c.input(i));
  if (parts.empty()) c.fail("needs at least one input");
  const int64_t axis = norm_axis(c.i("axis", 0), parts[0].dim(), c);
  if (parts.size() == 1) return {parts[0]};
  return {cat(parts, axis, c.site)};
}

Outputs split(const Ctx& c) {
  const Tensor& x = c.input(0);
  const int64_t axis = norm_axis(c.i("axis", 0), x.dim(), c);
  std::vector<int64_t> sizes = c.opset >= 13 ? (c.has(1) ? c.host_ints(1, "split") : std::vector<int64_t>{})
                                             : c.ints("split");
  const int64_t n = x.shape()[axis];
  const int64_t parts = static_cast<int64_t>(c.node.outputs.size());
  if (sizes.empty()) {
    if (n % parts != 0) c.fail("dim " + std::to_string(axis) + " (" + std::to_string(n) + ") does not split into " +
                                std::to_string(parts) + " equal parts");
    sizes.assign(static_cast<size_t>(parts), n / parts);
  }
  if (static_cast<int64_t>(sizes.size()) != parts) c.fail("split sizes do not match the number of outputs");
  return tl::split(x, sizes, axis, c.site);
}

Outputs slice(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset >= 10) {
    starts = c.host_ints(1, "starts");
    ends = c.host_ints(2, "ends");
    if (c.has(3)) axes = c.host_ints(3, "axes");
    if (c.has(4)) steps = c.host_ints(4, "steps");
  } else {
    starts = c.ints("starts");
    ends = c.ints("ends");
    axes = c.ints("axes");
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    c.fail("starts, ends, axes and steps differ in length");
  }
  Tensor y = x;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t d = norm_axis(axes[i], x.dim(), c);
    const int64_t n = x.shape()[d], step = steps[i];
    if (step == 0) c.fail("a step of 0");
    auto clampi = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v += n;
      return std::clamp(v, lo, hi);
    };
    if (step > 0) {
      const int64_t s = clampi(starts[i], 0, n), e = clampi(ends[i], 0, n);
      y = y.slice(d, s, std::max(s, e), step, c.site);
    } else {
      const int64_t s = clampi(starts[i], -1, n - 1);
      const int64_t e = ends[i] < -n ? -1 : clampi(ends[i], -1, n - 1);
      std::vector<int64_t> idx;
      for (int64_t j = s; j > e; j += step) idx.push_back(j);
      y = index_select(y, d, from_vector<int64_t>(idx, {static_cast<int64_t>(idx.size())}), c.site);
    }
  }
  return {y};
}

Outputs gather(const Ctx& c) {
  const Tensor& x = c.input(0);
  Tensor idx = c.input(1);
  const int64_t axis = norm_axis(c.i("axis", 0), x.dim(), c);
  const int64_t n = x.shape()[axis];
  if (c.in.known[1]) {  // fix negative indices on the host
    std::vector<int64_t> v = c.host_ints(1, "indices");
    for (int64_t& i : v) {
      if (i < -n || i >= n) c.fail("index " + std::to_string(i) + " is out of range for a dim of " + std::to_string(n));
      if (i < 0) i += n;
    }
    trace::PauseScope pause;
    idx = from_vector<int64_t>(v, idx.dim() == 0 ? Shape{1} : idx.shape()).reshape(idx.shape());
  } else {
    idx = idx.to(kInt64);
    idx = where(lt(idx, like(0, idx)), add(idx, like(static_cast<double>(n), idx)), idx, c.site);
  }
  Tensor picked = index_select(x, axis, idx.reshape(Shape{idx.numel()}), c.site);
  std::vector<int64_t> shape(x.shape().begin(), x.shape().begin() + axis);
  for (int64_t d : idx.shape()) shape.push_back(d);
  for (int64_t d = axis + 1; d < x.dim(); ++d) shape.push_back(x.shape()[d]);
  return {picked.reshape(Shape(shape))};
}

Outputs gather_elements(const Ctx& c) {
  const Tensor& x = c.input(0);
  Tensor idx = c.input(1).to(kInt64);
  const int64_t axis = norm_axis(c.i("axis", 0), x.dim(), c);
  const double n = static_cast<double>(x.shape()[axis]);
  idx = where(lt(idx, like(0, idx)), add(idx, like(n, idx)), idx);
  return {tl::gather(x, axis, idx, c.site)};
}

Shape broadcast_shapes(const Shape& a, const std::vector<int64_t>& b, const Ctx& c) {
  const size_t r = std::max<size_t>(static_cast<size_t>(a.size()), b.size());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - static_cast<size_t>(a.size()) ? 1 : a[static_cast<int64_t>(i - (r - a.size()))];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) c.fail("cannot broadcast " + a.str() + " to the requested shape");
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

Outputs expand(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> shape = c.host_ints(1, "shape");
  Shape out = broadcast_shapes(x.shape(), shape, c);
  return {x.expand(out, c.site)};
}

Outputs tile(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> reps = c.host_ints(1, "repeats");
  if (static_cast<int64_t>(reps.size()) != x.dim()) c.fail("repeats must have one entry per dim");
  if (2 * x.dim() > kMaxRank) {  // tile dim by dim
    Tensor y = x;
    for (int64_t d = 0; d < x.dim(); ++d) {
      std::vector<Tensor> copies(static_cast<size_t>(reps[static_cast<size_t>(d)]), y);
      y = copies.empty() ? y.slice(d, 0, 0) : cat(copies, d);
    }
    return {y};
  }
  std::vector<int64_t> inter, expanded, final_shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (reps[static_cast<size_t>(d)] < 0) c.fail("negative repeats");
    inter.push_back(1);
    inter.push_back(x.shape()[d]);
    expanded.push_back(reps[static_cast<size_t>(d)]);
    expanded.push_back(x.shape()[d]);
    final_shape.push_back(reps[static_cast<size_t>(d)] * x.shape()[d]);
  }
  return {x.reshape(Shape(inter)).expand(Shape(expanded)).contiguous().reshape(Shape(final_shape))};
}

Outputs pad(const Ctx& c) {
  const Tensor& x = c.input(0);
  const std::string mode = c.s("mode", "constant");
  std::vector<int64_t> pads;
  double value = 0;
  if (c.opset >= 11) {
    pads = c.host_ints(1, "pads");
    if (c.has(2)) value = c.host_scalar(2, "constant_value");
  } else {
    pads = c.ints(c.opset >= 2 ? "pads" : "paddings");
    value = c.f("value", 0.0);
  }
  const int64_t r = x.dim();
  if (static_cast<int64_t>(pads.size()) != 2 * r) c.fail("pads must have 2 * rank entries");
  Tensor y = x;
  for (int64_t d = 0; d < r; ++d) y = pad_dim(y, d, pads[static_cast<size_t>(d)], pads[static_cast<size_t>(r + d)], mode, value, c);
  return {y};
}

Outputs shape_op(const Ctx& c) {
  const Tensor& x = c.input(0);
  const int64_t r = x.dim();
  int64_t start = c.i("start", 0), end = c.i("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  std::vector<int64_t> dims(x.shape().begin() + start, x.shape().begin() + end);
  return {from_vector<int64_t>(dims, {static_cast<int64_t>(dims.size())})};
}

Tensor attr_tensor(const Ctx& c, const char* key) {
  const Attribute* a = c.node.attr(key);
  if (!a || a->kind != Attribute::kTensor) c.fail(std::string("attribute '") + key + "' must be a tensor");
  return a->t;
}

Outputs constant(const Ctx& c) {
  if (c.has_attr("value")) return {attr_tensor(c, "value")};
  if (const Attribute* a = c.node.attr("value_float")) return {scalar_tensor(a->f, {.dtype = kFloat32})};
  if (const Attribute* a = c.node.attr("value_int")) return {scalar_tensor(static_cast<double>(a->i), {.dtype = kInt64})};
  if (const Attribute* a = c.node.attr("value_floats")) {
    std::vector<float> v(a->floats.begin(), a->floats.end());
    return {from_vector<float>(v, {static_cast<int64_t>(v.size())})};
  }
  if (const Attribute* a = c.node.attr("value_ints")) {
    return {from_vector<int64_t>(a->ints, {static_cast<int64_t>(a->ints.size())})};
  }
  c.fail("has no value attribute tl supports (value, value_float(s), value_int(s))");
}

Outputs constant_of_shape(const Ctx& c) {
  std::vector<int64_t> shape = c.host_ints(0, "shape");
  for (int64_t d : shape) {
    if (d < 0) c.fail("negative dim " + std::to_string(d));
  }
  double v = 0;
  DType dtype = kFloat32;
  if (c.has_attr("value")) {
    Tensor t = attr_tensor(c, "value");
    if (t.numel() != 1) c.fail("value must hold one element");
    dtype = t.dtype();
    v = t.to(kFloat64).contiguous().data<double>()[0];
  }
  return {full(Shape(shape), v, {.dtype = dtype})};
}

Outputs range(const Ctx& c) {
  const Tensor& s = c.input(0);
  const double start = c.host_scalar(0, "start"), limit = c.host_scalar(1, "limit"), delta = c.host_scalar(2, "delta");
  if (delta == 0) c.fail("delta is 0");
  if (!std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta)) c.fail("start, limit and delta must be finite");
  const double n = std::max(std::ceil((limit - start) / delta), 0.0);
  constexpr double kMaxElements = double{1 << 30};
  if (n > kMaxElements) c.fail("the range would hold " + std::to_string(n) + " elements, more than tl builds on the host");
  std::vector<double> v;
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) v.push_back(start + static_cast<double>(i) * delta);
  return {from_vector<double>(v, {static_cast<int64_t>(v.size())}).to(s.dtype())};
}

Tensor flip(const Tensor& x, int64_t d) {
  std::vector<int64_t> idx;
  for (int64_t i = x.shape()[d] - 1; i >= 0; --i) idx.push_back(i);
  return index_select(x, d, from_vector<int64_t>(idx, {static_cast<int64_t>(idx.size())}));
}

Outputs cumsum_op(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> axis = c.host_ints(1, "axis");
  if (axis.size() != 1) c.fail("axis must hold one value");
  const int64_t d = norm_axis(axis[0], x.dim(), c);
  const bool reverse = c.i("reverse", 0) != 0, exclusive = c.i("exclusive", 0) != 0;
  Tensor in = reverse ? flip(x, d) : x;
  Tensor y = cumsum(in, d, c.site).to(x.dtype());
  if (exclusive) y = sub(y, in, c.site);
  return {reverse ? flip(y, d) : y};
}

Outputs topk_op(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> k = c.host_ints(1, "K");
  if (k.size() != 1 || k[0] < 0) c.fail("K must hold one non-negative value");
  const int64_t d = norm_axis(c.i("axis", -1), x.dim(), c);
  ValuesIndices r = topk(x, k[0], d, c.i("largest", 1) != 0, c.site);
  return {r.values, r.indices};
}

Outputs one_hot_op(const Ctx& c) {
  Tensor idx = c.input(0).to(kInt64);
  const double depth = c.host_scalar(1, "depth");
  const int64_t n = static_cast<int64_t>(depth);
  if (n <= 0) c.fail("depth must be positive");
  const Tensor& values = c.input(2);
  if (values.numel() != 2) c.fail("values must hold [off_value, on_value]");
  // Negative indices count from the end; others outside [0, depth) give all-off rows.
  idx = where(lt(idx, like(0, idx)), add(idx, like(static_cast<double>(n), idx)), idx);
  Tensor valid = logical_and(ge(idx, like(0, idx)), lt(idx, like(static_cast<double>(n), idx)));
  Tensor hot = one_hot(where(valid, idx, like(0, idx)), n, c.site);
  hot = mul(hot, valid.to(hot.dtype()).unsqueeze(-1));
  Tensor v = values.reshape(Shape{2});
  Tensor off = v.narrow(0, 0, 1), on = v.narrow(0, 1, 1);
  Tensor y = add(mul(hot.to(values.dtype()), sub(on, off)), off, c.site);
  const int64_t out_rank = idx.dim() + 1;
  const int64_t axis = norm_axis(c.i("axis", -1), out_rank, c);
  if (axis != out_rank - 1) {
    std::vector<int64_t> perm;
    for (int64_t d = 0; d < out_rank - 1; ++d) perm.push_back(d);
    perm.insert(perm.begin() + axis, out_rank - 1);
    y = y.permute(Shape(perm));
  }
  return {y};
}

// ScatterElements with reduction "add": data plus updates summed at their indices.
Outputs scatter_elements(const Ctx& c) {
  const Tensor& data = c.input(0);
  Tensor idx = c.input(1).to(kInt64);
  const Tensor& updates = c.input(2);
  const int64_t axis = norm_axis(c.i("axis", 0), data.dim(), c);
  idx = where(lt(idx, like(0, idx)), add(idx, like(static_cast<double>(data.shape()[axis]), idx)), idx);
  ops::Attrs a;
  a.axis = axis;
  a.dims = data.shape();
  static const ops::OpDef* scatter = ops::find_op("scatter_add");
  return {add(data, ops::call(*scatter, {updates, idx}, a, c.site), c.site)};
}

// ---------------------------------------------------------------- elementwise

// ONNX's arithmetic keeps the operands' type; tl's promotes (integer division gives float).
Outputs div_op(const Ctx& c) {
  const Tensor &a = c.input(0), &b = c.input(1);
  Tensor y = div(a, b, c.site);
  if (!is_floating(a.dtype())) y = y.to(a.dtype());  // truncates toward zero
  return {y};
}

Outputs pow_op(const Ctx& c) {
  const Tensor &a = c.input(0), &b = c.input(1);
  if (c.in.known[1] && b.numel() == 1 && is_floating(a.dtype())) {
    const double e = c.host_scalar(1, "exponent");
    return {pow(a, e, c.site)};
  }
  Tensor y = pow(is_floating(a.dtype()) ? a : a.to(kFloat64), b.to(is_floating(a.dtype()) ? a.dtype() : kFloat64), c.site);
  return {y.to(a.dtype())};
}

Outputs variadic(const Ctx& c, Tensor (*fn)(const Tensor&, const Tensor&, Site)) {
  Tensor acc = c.input(0);
  for (size_t i = 1; i < c.in.values.size(); ++i) acc = fn(acc, c.input(i), c.site);
  return {acc};
}

Outputs clip(const Ctx& c) {
  const Tensor& x = c.input(0);
  std::optional<double> lo, hi;
  if (c.opset < 11) {
    lo = c.f("min", -std::numeric_limits<double>::infinity());
    hi = c.f("max", std::numeric_limits<double>::infinity());
    return {clamp(x, lo, hi, c.site)};
  }
  if ((c.has(1) && !c.in.known[1]) || (c.has(2) && !c.in.known[2])) {
    Tensor y = x;
    if (c.has(1)) y = maximum(y, c.input(1), c.site);
    if (c.has(2)) y = minimum(y, c.input(2), c.site);
    return {y};
  }
  if (c.has(1)) lo = c.host_scalar(1, "min");
  if (c.has(2)) hi = c.host_scalar(2, "max");
  if (!lo && !hi) return {x};
  return {clamp(x, lo, hi, c.site)};
}

Outputs cast_to(const Ctx& c, DType dtype) { return {c.input(0).to(dtype, c.site)}; }

Outputs cast(const Ctx& c) {
  const int64_t to = c.i("to", 0);
  std::optional<DType> d = dtype_from_onnx(static_cast<int32_t>(to));
  if (!d) c.fail(std::string("cannot cast to ") + onnx_type_name(static_cast<int32_t>(to)) + ": tl has no such type");
  return cast_to(c, *d);
}

Outputs matmul_op(const Ctx& c) { return {matmul(c.input(0), c.input(1), c.site)}; }

Outputs gemm(const Ctx& c) {
  Tensor a = c.input(0), b = c.input(1);
  if (a.dim() != 2 || b.dim() != 2) c.fail("A and B must be 2-D");
  if (c.i("transA", 0)) a = a.t();
  if (c.i("transB", 0)) b = b.t();
  const double alpha = c.f("alpha", 1.0), beta = c.f("beta", 1.0);
  Tensor y = matmul(a, b, c.site);
  if (alpha != 1.0) y = mul(y, like(alpha, y), c.site);
  if (c.has(2) && beta != 0.0) {
    Tensor bias = c.input(2);
    if (beta != 1.0) bias = mul(bias, like(beta, bias));
    y = add(y, bias, c.site);
  }
  return {y};
}

Outputs dropout(const Ctx& c) {
  const Tensor& x = c.input(0);
  double ratio = c.opset >= 12 ? (c.has(1) ? c.host_scalar(1, "ratio") : 0.5) : c.f("ratio", 0.5);
  bool training = c.opset >= 12 && c.has(2) && c.host_scalar(2, "training_mode") != 0;
  if (!training || ratio == 0.0) {
    return {x, full(x.shape(), 1.0, {.dtype = kBool})};
  }
  if (ratio < 0 || ratio >= 1) c.fail("ratio must be in [0, 1)");
  Tensor keep = bernoulli(x.shape(), 1.0 - ratio, {.dtype = x.dtype()});
  Tensor y = mul(mul(x, keep), like(1.0 / (1.0 - ratio), x), c.site);
  return {y, ne(keep, like(0, keep))};
}

Outputs prelu(const Ctx& c) {
  const Tensor &x = c.input(0), &slope = c.input(1);
  return {where(lt(x, like(0, x)), mul(x, slope), x, c.site)};
}

Outputs hard_sigmoid(const Ctx& c) {
  const Tensor& x = c.input(0);
  const double alpha = c.f("alpha", 0.2), beta = c.f("beta", 0.5);
  return {clamp(add(mul(x, like(alpha, x)), like(beta, x)), 0.0, 1.0, c.site)};
}

Outputs selu(const Ctx& c) {
  const Tensor& x = c.input(0);
  const double alpha = c.f("alpha", 1.67326319217681884765625), gamma = c.f("gamma", 1.05070102214813232421875);
  return {mul(elu(x, alpha), like(gamma, x), c.site)};
}

Outputs where_op(const Ctx& c) {
  Tensor cond = c.input(0);
  if (cond.dtype() != kBool) cond = ne(cond, like(0, cond));
  return {where(cond, c.input(1), c.input(2), c.site)};
}

template <Tensor (*F)(const Tensor&, Site)>
Converter unary() {
  return {{}, [](const Ctx& c) { return Outputs{F(c.input(0), c.site)}; }};
}
template <Tensor (*F)(const Tensor&, const Tensor&, Site)>
Converter binary() {
  return {{}, [](const Ctx& c) { return Outputs{F(c.input(0), c.input(1), c.site)}; }};
}

// Attribute checks shared by several ops.
std::string require_value(const Node& n, const char* key, std::initializer_list<std::string> allowed) {
  const Attribute* a = n.attr(key);
  if (!a) return "";
  for (const std::string& v : allowed) {
    if (a->s == v) return "";
  }
  return "attribute " + std::string(key) + "='" + a->s + "' is not supported";
}
std::string require_int(const Node& n, const char* key, int64_t want) {
  const Attribute* a = n.attr(key);
  if (!a || a->i == want) return "";
  return "attribute " + std::string(key) + "=" + std::to_string(a->i) + " is not supported (only " +
         std::to_string(want) + ")";
}
std::string require_unit_ints(const Node& n, const char* key) {
  const Attribute* a = n.attr(key);
  if (!a) return "";
  for (int64_t v : a->ints) {
    if (v != 1) return "attribute " + std::string(key) + " other than 1 is not supported";
  }
  return "";
}
std::string join_problems(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    out += (out.empty() ? "" : "; ") + p;
  }
  return out;
}

const std::map<std::string, Converter>& table() {
  static const std::map<std::string, Converter> t = [] {
    std::map<std::string, Converter> m;
    // Elementwise.
    m["Abs"] = unary<tl::abs>();
    m["Neg"] = unary<tl::neg>();
    m["Exp"] = unary<tl::exp>();
    m["Log"] = unary<tl::log>();
    m["Sqrt"] = unary<tl::sqrt>();
    m["Reciprocal"] = unary<tl::reciprocal>();
    m["Tanh"] = unary<tl::tanh>();
    m["Sigmoid"] = unary<tl::sigmoid>();
    m["Relu"] = unary<tl::relu>();
    m["Erf"] = unary<tl::erf>();
    m["Sin"] = unary<tl::sin>();
    m["Cos"] = unary<tl::cos>();
    m["Sign"] = unary<tl::sign>();
    m["Not"] = unary<tl::logical_not>();
    m["HardSwish"] = unary<tl::hardswish>();
    m["Softplus"] = {{}, [](const Ctx& c) { return Outputs{softplus(c.input(0), 1.0, 20.0, c.site)}; }};
    m["Softsign"] = {{}, [](const Ctx& c) {
                       const Tensor& x = c.input(0);
                       return Outputs{div(x, add(abs(x), like(1, x)), c.site)};
                     }};
    m["Identity"] = {{}, [](const Ctx& c) { return Outputs{c.input(0)}; }};
    m["Add"] = binary<tl::add>();
    m["Sub"] = binary<tl::sub>();
    m["Mul"] = binary<tl::mul>();
    m["Div"] = {{}, div_op};
    m["Pow"] = {{}, pow_op};
    m["Equal"] = binary<tl::eq>();
    m["Greater"] = binary<tl::gt>();
    m["Less"] = binary<tl::lt>();
    m["GreaterOrEqual"] = binary<tl::ge>();
    m["LessOrEqual"] = binary<tl::le>();
    m["And"] = binary<tl::logical_and>();
    m["Or"] = binary<tl::logical_or>();
    m["Xor"] = binary<tl::ne>();
    m["Max"] = {{}, [](const Ctx& c) { return variadic(c, tl::maximum); }};
    m["Min"] = {{}, [](const Ctx& c) { return variadic(c, tl::minimum); }};
    m["Sum"] = {{}, [](const Ctx& c) { return variadic(c, tl::add); }};
    m["Mean"] = {{}, [](const Ctx& c) {
                   Tensor s = variadic(c, tl::add)[0];
                   return Outputs{div(s, like(static_cast<double>(c.in.values.size()), s), c.site)};
                 }};
    m["Where"] = {{}, where_op};
    m["LeakyRelu"] = {{"alpha"}, [](const Ctx& c) { return Outputs{leaky_relu(c.input(0), c.f("alpha", 0.01), c.site)}; }};
    m["Elu"] = {{"alpha"}, [](const Ctx& c) { return Outputs{elu(c.input(0), c.f("alpha", 1.0), c.site)}; }};
    m["Selu"] = {{"alpha", "gamma"}, selu};
    m["HardSigmoid"] = {{"alpha", "beta"}, hard_sigmoid};
    m["PRelu"] = {{}, prelu};
    m["Clip"] = {{"min", "max"}, clip};
    m["Cast"] = {{"to"}, cast, [](const Node& n, int) -> std::string {
                   const Attribute* a = n.attr("to");
                   if (a && !dtype_from_onnx(static_cast<int32_t>(a->i))) {
                     return std::string("casting to ") + onnx_type_name(static_cast<int32_t>(a->i)) +
                            " is not supported (tl has no such type)";
                   }
                   return "";
                 }};
    m["CastLike"] = {{}, [](const Ctx& c) { return cast_to(c, c.input(1).dtype()); }};
    // Linear algebra, convolution, pooling.
    m["MatMul"] = {{}, matmul_op};
    m["Gemm"] = {{"alpha", "beta", "transA", "transB"}, gemm};
    m["Conv"] = {{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}, conv,
                 [](const Node& n, int) { return require_value(n, "auto_pad", {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}); }};
    m["ConvTranspose"] = {{"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads",
                           "strides"},
                          conv_transpose,
                          [](const Node& n, int) { return require_value(n, "auto_pad", {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}); }};
    m["MaxPool"] = {{"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"}, max_pool,
                    [](const Node& n, int) {
                      return join_problems({require_value(n, "auto_pad", {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}),
                                            require_unit_ints(n, "dilations"), require_int(n, "storage_order", 0),
                                            n.outputs.size() > 1 && !n.outputs[1].empty()
                                                ? "the Indices output is not supported"
                                                : ""});
                    }};
    m["AveragePool"] = {{"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"}, avg_pool,
                        [](const Node& n, int) {
                          return require_value(n, "auto_pad", {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"});
                        }};
    m["GlobalAveragePool"] = {{}, [](const Ctx& c) { return global_pool(c, false); }};
    m["GlobalMaxPool"] = {{}, [](const Ctx& c) { return global_pool(c, true); }};
    // Normalization.
    m["BatchNormalization"] = {{"epsilon", "momentum", "training_mode", "spatial"}, batch_norm,
                               [](const Node& n, int) {
                                 return require_int(n, "spatial", 1);
                               }};
    m["LayerNormalization"] = {{"axis", "epsilon", "stash_type"}, layer_norm};
    m["Softmax"] = {{"axis"}, [](const Ctx& c) { return softmax_like(c, false); }};
    m["LogSoftmax"] = {{"axis"}, [](const Ctx& c) { return softmax_like(c, true); }};
    // Reductions.
    for (auto [name, kind] : std::initializer_list<std::pair<const char*, const char*>>{
             {"ReduceSum", "sum"}, {"ReduceMean", "mean"}, {"ReduceMax", "max"}, {"ReduceMin", "min"},
             {"ReduceSumSquare", "sumsquare"}, {"ReduceL2", "l2"}, {"ReduceL1", "l1"},
             {"ReduceLogSumExp", "logsumexp"}, {"ReduceLogSum", "logsum"}}) {
      std::string k = kind;
      m[name] = {{"axes", "keepdims", "noop_with_empty_axes"}, [k](const Ctx& c) { return reduce(c, k); }};
    }
    m["ArgMax"] = {{"axis", "keepdims", "select_last_index"}, [](const Ctx& c) { return arg_reduce(c, true); },
                   [](const Node& n, int) { return require_int(n, "select_last_index", 0); }};
    m["ArgMin"] = {{"axis", "keepdims", "select_last_index"}, [](const Ctx& c) { return arg_reduce(c, false); },
                   [](const Node& n, int) { return require_int(n, "select_last_index", 0); }};
    // Shapes and data movement.
    m["Reshape"] = {{"allowzero", "shape"}, reshape};
    m["Flatten"] = {{"axis"}, flatten};
    m["Transpose"] = {{"perm"}, transpose};
    m["Squeeze"] = {{"axes"}, squeeze};
    m["Unsqueeze"] = {{"axes"}, unsqueeze};
    m["Concat"] = {{"axis"}, concat};
    m["Split"] = {{"axis", "split"}, split};
    m["Slice"] = {{"starts", "ends", "axes"}, slice};
    m["Gather"] = {{"axis"}, gather};
    m["GatherElements"] = {{"axis"}, gather_elements};
    m["Expand"] = {{}, expand};
    m["Tile"] = {{}, tile};
    m["Pad"] = {{"mode", "pads", "paddings", "value"}, pad,
                [](const Node& n, int) { return require_value(n, "mode", {"constant", "reflect", "edge"}); }};
    m["Shape"] = {{"start", "end"}, shape_op};
    m["Size"] = {{}, [](const Ctx& c) { return Outputs{scalar_tensor(static_cast<double>(c.input(0).numel()), {.dtype = kInt64})}; }};
    m["Constant"] = {{"value", "value_float", "value_floats", "value_int", "value_ints"}, constant,
                     [](const Node& n, int) -> std::string {
                       for (const char* k : {"sparse_value", "value_string", "value_strings"}) {
                         if (n.attr(k)) return std::string("attribute '") + k + "' is not supported";
                       }
                       return "";
                     }};
    m["ConstantOfShape"] = {{"value"}, constant_of_shape};
    m["Range"] = {{}, range};
    m["Dropout"] = {{"ratio", "seed", "is_test"}, dropout};
    m["CumSum"] = {{"exclusive", "reverse"}, cumsum_op};
    m["TopK"] = {{"axis", "largest", "sorted"}, topk_op,
                 [](const Node& n, int) { return require_int(n, "sorted", 1); }};
    m["OneHot"] = {{"axis"}, one_hot_op};
    m["ScatterElements"] = {{"axis", "reduction"}, scatter_elements, [](const Node& n, int) -> std::string {
                              const Attribute* r = n.attr("reduction");
                              if (!r || r->s != "add") return "only reduction='add' is supported (tl has no overwriting scatter)";
                              return "";
                            }};
    return m;
  }();
  return t;
}

}  // namespace

std::string check_node(const Node& node, int opset) {
  if (!node.domain.empty()) return "the domain '" + node.domain + "' is not supported (only the default ONNX domain)";
  auto it = table().find(node.op_type);
  if (it == table().end()) return "the operator is not supported";
  std::string problems;
  auto add = [&](const std::string& p) {
    if (!p.empty()) problems += (problems.empty() ? "" : "; ") + p;
  };
  for (const auto& [key, attr] : node.attrs) {
    if (std::find(it->second.attrs.begin(), it->second.attrs.end(), key) == it->second.attrs.end()) {
      add("attribute '" + key + "' is not supported");
    } else if (attr.kind == Attribute::kOther) {
      add("attribute '" + key + "' has a type tl does not read");
    }
  }
  if (it->second.check) add(it->second.check(node, opset));
  return problems;
}

std::vector<Tensor> run_node(const Node& node, int opset, const NodeInputs& in, Site site) {
  auto it = table().find(node.op_type);
  if (it == table().end() || !node.domain.empty()) throw ValueError("tl::onnx: " + node.label() + " is not supported");
  Ctx c{node, opset, in, site};
  try {
    return it->second.run(c);
  } catch (const ValueError&) {
    throw;
  } catch (const Error& e) {
    // Name the node: tl's own message says what went wrong with the op it ran.
    throw ValueError("tl::onnx: " + node.label() + ": " + e.what());
  }
}

bool reads_only_shapes(const Node& node) {
  return node.domain.empty() && (node.op_type == "Shape" || node.op_type == "Size");
}

std::vector<std::string> supported_ops() {
  std::vector<std::string> out;
  for (const auto& [name, conv] : table()) out.push_back(name);
  return out;
}

}  // namespace tl::onnx_import
