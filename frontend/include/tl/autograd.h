// Autograd utilities beyond Tensor::backward: functional gradients and gradient checking.
#pragma once

#include <functional>
#include <optional>
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

struct GradOptions {
  Tensor grad_output = {};  // the output's gradient; default ones (the output must be a scalar)
  // Record the backward pass itself, so the returned gradients are differentiable again
  // (gradient penalties, MAML-style inner loops, Hessian-vector products).
  bool create_graph = false;
  // Keep the graph's saved tensors for another backward pass; default: create_graph.
  std::optional<bool> retain_graph = std::nullopt;
  bool allow_unused = false;
};

// tl::grad(loss, {x}, {.create_graph = true}): gradients that carry their own graph, so
// tl::grad or backward() through them gives second derivatives. Every op's derivative rule is
// written with differentiable ops, so any depth works eagerly; inside tl::compile only
// loss.backward() is traced, and tl::grad is refused.
std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const GradOptions& options,
                         Site site = Site::here());

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

// Checks second derivatives: gradcheck of the map (inputs, v) -> d(sum(fn(inputs) * v))/d inputs
// built with create_graph, so both the derivative rules' dependence on the inputs and on the
// incoming gradient v are compared with finite differences. Inputs as for gradcheck.
GradcheckResult gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
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
