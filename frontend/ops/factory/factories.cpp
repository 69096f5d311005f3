// Tensor factories: constants, ranges, wrapping user memory, and random draws from the
// default generator. A draw reserves counters from the generator and fills through the
// runtime's random_from_key (runtime/ops/factory/random.h), which the compiled-graph executor
// shares; element i of a draw uses counter offset + i.
#include <cmath>
#include <cstring>
#include <mutex>

#include "frontend/autograd/graph.h"
#include "frontend/ops/pointwise/pointwise.h"
#include "frontend/trace/tracer.h"
#include "runtime/cpu/philox.h"
#include "runtime/ops/factory/random.h"
#include "tl/random.h"

namespace tl {

using namespace ops;

namespace {
Tensor finish(Tensor t, const TensorOptions& options, Site site) {
  if (options.device != kCPU) t = t.to(options.device, site);
  if (options.requires_grad) t.requires_grad_(true, site);
  return t;
}
void check_shape(const Shape& shape, const char* op, Site site) {
  for (int64_t d : shape)
    if (d < 0) throw ShapeError(std::string("tl::") + op + ": negative dimension in shape " + shape.str() + " at " + site.str());
  try {
    (void)shape.numel();
  } catch (const ShapeError& e) {
    throw ShapeError(std::string("tl::") + op + ": " + e.what() + " at " + site.str());
  }
}
}  // namespace

Tensor empty(Shape shape, TensorOptions options, Site site) {
  check_shape(shape, "empty", site);
  Tensor t = empty_tensor(shape, options.dtype, options.device, "empty", site);
  if (options.requires_grad) t.requires_grad_(true, site);
  return t;
}

Tensor full(Shape shape, double value, TensorOptions options, Site site) {
  check_shape(shape, "full", site);
  Tensor t = empty_tensor(shape, options.dtype, kCPU, "full", site);
  int64_t n = t.numel();
  TL_DISPATCH_ALL(options.dtype, "full", {
    T v = static_cast<T>(value);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
  return finish(t, options, site);
}

Tensor zeros(Shape shape, TensorOptions options, Site site) {
  check_shape(shape, "zeros", site);
  Tensor t = empty_tensor(shape, options.dtype, kCPU, "zeros", site);
  std::memset(t.data_ptr(), 0, t.nbytes());
  return finish(t, options, site);
}
Tensor ones(Shape shape, TensorOptions options, Site site) { return full(shape, 1.0, options, site); }
Tensor zeros_like(const Tensor& t, Site site) { return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()}, site); }
Tensor ones_like(const Tensor& t, Site site) { return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()}, site); }
Tensor full_like(const Tensor& t, double value, Site site) {
  return full(t.shape(), value, {.dtype = t.dtype(), .device = t.device()}, site);
}
Tensor scalar_tensor(double value, TensorOptions options, Site site) { return full({}, value, options, site); }

Tensor arange(double end, TensorOptions options, Site site) { return arange(0, end, 1, options, site); }

Tensor arange(double start, double end, double step, TensorOptions options, Site site) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step)) {
    throw ValueError("tl::arange: need finite start/end and a nonzero step, got start " + std::to_string(start) +
                     ", end " + std::to_string(end) + ", step " + std::to_string(step) + " at " + site.str());
  }
  double count = std::ceil((end - start) / step);
  // Converting a count past int64's range is undefined behaviour: refuse it first.
  if (!(count < 0x1p62)) {
    throw ShapeError("tl::arange: [" + std::to_string(start) + ", " + std::to_string(end) + ") in steps of " +
                     std::to_string(step) + " has " + std::to_string(count) +
                     " elements, more than a tensor can hold, at " + site.str());
  }
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = empty_tensor({n}, options.dtype, kCPU, "arange", site);
  TL_DISPATCH_NUMERIC(options.dtype, "arange", {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return finish(t, options, site);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions options, Site site) {
  if (steps < 0) throw ValueError("tl::linspace: steps must be >= 0, got " + std::to_string(steps) + " at " + site.str());
  Tensor t = empty_tensor({steps}, options.dtype, kCPU, "linspace", site);
  double delta = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0;
  TL_DISPATCH_NUMERIC(options.dtype, "linspace", {
    T* p = t.data<T>();
    // Fill from both ends so the last value is exactly `end`, as in PyTorch.
    for (int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(i < steps / 2 ? start + delta * static_cast<double>(i)
                                          : end - delta * static_cast<double>(steps - 1 - i));
  });
  return finish(t, options, site);
}

Tensor eye(int64_t n, TensorOptions options, Site site) {
  if (n < 0) throw ValueError("tl::eye: n must be >= 0, got " + std::to_string(n) + " at " + site.str());
  Tensor t = zeros({n, n}, {.dtype = options.dtype}, site);
  TL_DISPATCH_ALL(options.dtype, "eye", {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = static_cast<T>(1);
  });
  return finish(t, options, site);
}

template <class T>
Tensor from_vector(const std::vector<T>& values, Shape shape, TensorOptions options, Site site) {
  if (shape.empty() && values.size() != 1) shape = Shape{static_cast<int64_t>(values.size())};
  check_shape(shape, "from_vector", site);
  if (shape.numel() != static_cast<int64_t>(values.size())) {
    throw ShapeError("tl::from_vector: " + std::to_string(values.size()) + " values do not fill shape " +
                     shape.str() + " (" + std::to_string(shape.numel()) + " elements) at " + site.str());
  }
  Tensor t = empty_tensor(shape, dtype_of<T>(), kCPU, "from_vector", site);
  if constexpr (std::is_same_v<T, bool>) {
    bool* p = t.data<bool>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  } else {
    std::memcpy(t.data_ptr(), values.data(), t.nbytes());
  }
  if (options.dtype != dtype_of<T>()) t = cast(t, options.dtype, site);
  return finish(t, options, site);
}
template Tensor from_vector<float>(const std::vector<float>&, Shape, TensorOptions, Site);
template Tensor from_vector<double>(const std::vector<double>&, Shape, TensorOptions, Site);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, Shape, TensorOptions, Site);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, Shape, TensorOptions, Site);
template Tensor from_vector<bool>(const std::vector<bool>&, Shape, TensorOptions, Site);

// ---------------- randomness ----------------

uint64_t Generator::advance(uint64_t count) {
  uint64_t start = state_.offset;
  state_.offset += count;
  return start;
}

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {
std::mutex g_rng_mutex;

// Reserves one Philox block (4 words) per element: draws never overlap between calls.
uint64_t reserve(int64_t n, uint64_t& seed) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  seed = default_generator().state().seed;
  return default_generator().advance(static_cast<uint64_t>(n));
}

// One draw from the generator, recorded when traced.
Tensor random_draw(trace::RandomKind kind, Shape shape, double a, double b, TensorOptions options, const char* op,
                   Site site) {
  check_shape(shape, op, site);
  DType dtype = kind == trace::RandomKind::kRandint ? kInt64 : options.dtype;
  if (kind != trace::RandomKind::kRandint && !is_floating(dtype)) {
    throw DTypeError(std::string("tl::") + op + ": needs a floating dtype, got " + dtype_name(dtype) + " at " + site.str());
  }
  uint64_t seed;
  uint64_t offset = reserve(shape.numel(), seed);
  // Drawn where it is used (on CUDA by the same Philox in a kernel), and traced as that tensor.
  Tensor t = random_on_device(options.device, kind, shape, dtype, a, b, seed, offset);
  if (trace::Tracer* tracer = trace::active()) tracer->record_random(t, kind, a, b, offset, site);
  if (kind == trace::RandomKind::kRandint && options.dtype != kInt64) t = cast(t, options.dtype, site);
  return finish(t, {.dtype = options.dtype, .device = t.device(), .requires_grad = options.requires_grad}, site);
}
}  // namespace

Tensor rand(Shape shape, TensorOptions options, Site site) {
  return random_draw(trace::RandomKind::kUniform, shape, 0.0, 1.0, options, "rand", site);
}

Tensor uniform(Shape shape, double low, double high, TensorOptions options, Site site) {
  if (!(low <= high)) throw ValueError("tl::uniform: low " + std::to_string(low) + " > high " + std::to_string(high) + " at " + site.str());
  return random_draw(trace::RandomKind::kUniform, shape, low, high, options, "uniform", site);
}

Tensor randn(Shape shape, TensorOptions options, Site site) {
  return random_draw(trace::RandomKind::kNormal, shape, 0.0, 1.0, options, "randn", site);
}

Tensor normal(Shape shape, double mean, double std, TensorOptions options, Site site) {
  if (!(std >= 0)) throw ValueError("tl::normal: std must be >= 0, got " + std::to_string(std) + " at " + site.str());
  return random_draw(trace::RandomKind::kNormal, shape, mean, std, options, "normal", site);
}

Tensor bernoulli(Shape shape, double p, TensorOptions options, Site site) {
  if (!(p >= 0 && p <= 1)) throw ValueError("tl::bernoulli: p must be in [0, 1], got " + std::to_string(p) + " at " + site.str());
  return random_draw(trace::RandomKind::kBernoulli, shape, p, 0.0, options, "bernoulli", site);
}

Tensor bernoulli(const Tensor& p, Site site) {
  require_floating(p, "bernoulli", "p", site);
  Tensor u = rand(p.shape(), {.dtype = p.dtype(), .device = p.device()}, site);
  NoGradGuard no_grad;
  return cast(lt(u, p.detach(), site), p.dtype(), site);
}

Tensor randint(int64_t low, int64_t high, Shape shape, TensorOptions options, Site site) {
  if (low >= high) {
    throw ValueError("tl::randint: low " + std::to_string(low) + " must be < high " + std::to_string(high) + " at " + site.str());
  }
  return random_draw(trace::RandomKind::kRandint, shape, static_cast<double>(low), static_cast<double>(high), options,
                     "randint", site);
}

Tensor randperm(int64_t n, Site site) {
  trace::refuse_if_tracing("tl::randperm inside a compiled function (a permutation is data, not a "
                           "traceable op); shuffle outside tl::compile, e.g. with a shuffling DataLoader",
                           site);
  if (n < 0) throw ValueError("tl::randperm: n must be >= 0, got " + std::to_string(n) + " at " + site.str());
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  uint64_t seed;
  uint64_t offset = reserve(n, seed);
  uint32_t w[4];
  // Fisher-Yates with one Philox block per swap.
  for (int64_t i = n - 1; i > 0; --i) {
    rt::Philox4x32::generate(seed, offset + static_cast<uint64_t>(i), w);
    uint64_t r = (static_cast<uint64_t>(w[0]) << 32) | w[1];
    std::swap(perm[i], perm[r % static_cast<uint64_t>(i + 1)]);
  }
  return from_vector(perm, {n}, {.dtype = kInt64}, site);
}

}  // namespace tl
