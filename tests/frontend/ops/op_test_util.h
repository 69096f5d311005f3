// Helpers shared by the op tests in this folder: value comparison, a float64
// finite-difference gradient check, and a sweep over one op's registered samples.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/ops/registry.h"
#include "tl/autograd.h"
#include "tl/ops.h"

namespace tl::test {

// Largest |a - b| over all elements, compared in float64; shapes must match.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

inline Tensor rand64(Shape shape, double low = -1, double high = 1) {
  return uniform(shape, low, high, {.dtype = kFloat64});
}

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Compares tl::grad of sum(fn(inputs) * r) (r a fixed random weighting) with central
// differences, element by element, for every float input. `inputs` are float64 and
// contiguous; integer inputs are left alone. Returns "" on agreement, else the first
// element that disagrees with both values.
inline std::string finite_difference_mismatch(const OpFn& fn, std::vector<Tensor> inputs, double eps = 1e-6,
                                              double atol = 1e-6, double rtol = 1e-5) {
  std::vector<Tensor> floats;
  for (Tensor& t : inputs)
    if (t.is_floating_point()) {
      t.requires_grad_();
      floats.push_back(t);
    }
  Tensor out = fn(inputs);
  Tensor r = uniform(out.shape(), 0.5, 1.5, {.dtype = kFloat64});
  std::vector<Tensor> grads = grad(sum(mul(out, r)), floats, Tensor(), false, true);
  auto loss = [&] {
    NoGradGuard no_grad;
    return sum(mul(fn(inputs), r)).item<double>();
  };
  for (size_t i = 0; i < floats.size(); ++i) {
    double* p = floats[i].data<double>();
    std::vector<double> analytic =
        grads[i].defined() ? grads[i].to_vector<double>() : std::vector<double>(floats[i].numel(), 0.0);
    for (int64_t j = 0; j < floats[i].numel(); ++j) {
      double orig = p[j];
      p[j] = orig + eps;
      double plus = loss();
      p[j] = orig - eps;
      double minus = loss();
      p[j] = orig;
      double numeric = (plus - minus) / (2 * eps);
      if (std::abs(numeric - analytic[j]) > atol + rtol * std::abs(numeric)) {
        std::ostringstream os;
        os << "float input " << i << " element " << j << ": analytic " << analytic[j] << ", numeric " << numeric;
        return os.str();
      }
    }
  }
  return "";
}

// Runs finite_difference_mismatch on every registered sample of `op_name`, with inputs
// built as the op-table sweep builds them: float64 uniform in [low, high], integer inputs
// int64 in [0, integer_high).
inline void check_op_samples(const std::string& op_name) {
  const ops::OpDef* op = ops::find_op(op_name);
  REQUIRE(op != nullptr);
  REQUIRE(op->grad != nullptr);
  REQUIRE_FALSE(op->samples.empty());
  for (size_t k = 0; k < op->samples.size(); ++k) {
    const ops::Sample& s = op->samples[k];
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < s.shapes.size(); ++i) {
      auto it = std::find(s.integer_inputs.begin(), s.integer_inputs.end(), static_cast<int>(i));
      if (it != s.integer_inputs.end()) {
        int64_t high = s.integer_high[it - s.integer_inputs.begin()];
        inputs.push_back(randint(0, high, s.shapes[i]));
      } else {
        inputs.push_back(rand64(s.shapes[i], s.low, s.high));
      }
    }
    INFO(op_name << " sample " << k);
    CHECK(finite_difference_mismatch(s.call, inputs) == "");
  }
}

}  // namespace tl::test
