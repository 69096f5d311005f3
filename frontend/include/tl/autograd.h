// Autograd utilities beyond Tensor::backward: functional gradients and gradient checking.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tl/tensor.h"

namespace tl {

// Gradients of `output` (a scalar, or with `grad_output`) with respect to `inputs`,
// without touching their .grad. An input the output does not depend on gets an undefined
// tensor, or an error unless `allow_unused`.
std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs,
                         const Tensor& grad_output = Tensor(), bool retain_graph = false,
                         bool allow_unused = false, Site site = Site::here());

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // which input and element disagreed, with both values
};

// Compares analytic gradients of sum(fn(inputs) * r) (r a fixed random weighting) with
// central finite differences. Inputs should be float64 and require grad.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace tl

namespace tl {

// A user-defined differentiable op. `forward` runs without recording a graph; `backward`
// receives the saved inputs, the output and the output's gradient and returns one gradient
// per input (undefined where there is none). Lets users wrap a custom CPU/CUDA kernel.
Tensor custom_op(const std::string& name, const std::vector<Tensor>& inputs,
                 const std::function<Tensor(const std::vector<Tensor>&)>& forward,
                 const std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs,
                                                         const Tensor& output,
                                                         const Tensor& dout)>& backward,
                 Site site = Site::here());

}  // namespace tl
