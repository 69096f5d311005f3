// tl's activations against torch.nn.functional (PyTorch 1.13 from python3-torch): values and
// gradients in float64 on inputs that cover both sides of every kink and the saturated
// regions, and the compiled (generated code) forward against the same values in float32.
// The reference is computed at test time by activation_reference.py.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <string>

#include "interop_util.h"
#include "tl/tl.h"

using namespace tl;

namespace {

struct Case {
  std::string name;  // as in activation_reference.py's CASES
  std::function<Tensor(const Tensor&)> fn;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"elu", [](const Tensor& x) { return elu(x); }},
      {"elu_0.5", [](const Tensor& x) { return elu(x, 0.5); }},
      {"selu", [](const Tensor& x) { return selu(x); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x); }},
      {"leaky_relu_0.2", [](const Tensor& x) { return leaky_relu(x, 0.2); }},
      {"softplus", [](const Tensor& x) { return softplus(x); }},
      {"softplus_2_3", [](const Tensor& x) { return softplus(x, 2.0, 3.0); }},
      {"hardtanh", [](const Tensor& x) { return hardtanh(x); }},
      {"hardtanh_-0.5_2", [](const Tensor& x) { return hardtanh(x, -0.5, 2.0); }},
      {"hardswish", [](const Tensor& x) { return hardswish(x); }},
      {"mish", [](const Tensor& x) { return mish(x); }},
      {"logsigmoid", [](const Tensor& x) { return logsigmoid(x); }},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::kTanh); }},
  };
  return all;
}


}  // namespace

TEST_CASE("activations and their gradients match torch.nn.functional and compile to the same values", "[interop][ops]") {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  test::TempDir dir("tl_interop_activation_");
  manual_seed(11);
  // Wide values (saturation, softplus's threshold at 20), the ones near every kink, and zero.
  // Not exactly +-3: at hardswish's kinks PyTorch's own scalar and vector kernels disagree.
  Tensor x = cat({randn({400}, {.dtype = kFloat64}) * 4.0,
                  from_vector<double>({-30, -21, -6, -3.5, -3.001, -2.999, -2.5, -1, -0.5, -1e-3, 0, 1e-3, 0.5, 1,
                                       1.5, 2.5, 2.999, 3.001, 3.5, 6, 19, 21, 30})},
                 0);
  Tensor w = randn(x.shape(), {.dtype = kFloat64});
  save_npy((dir.path / "x.npy").string(), x);
  save_npy((dir.path / "w.npy").string(), w);
  const std::string command =
      std::string(TL_TORCH_PYTHON) + " " + TL_ACTIVATION_REFERENCE_SCRIPT + " " + dir.path.string();
  REQUIRE(std::system(command.c_str()) == 0);
  for (const Case& c : cases()) {
    INFO(c.name);
    const Tensor want_y = load_npy((dir.path / (c.name + ".y.npy")).string());
    const Tensor want_g = load_npy((dir.path / (c.name + ".g.npy")).string());
    Tensor xg = x.detach().requires_grad_();
    Tensor y = c.fn(xg);
    (y * w).sum().backward();
    CHECK(test::max_relative_error(y, want_y) < 1e-10);
    CHECK(test::max_relative_error(xg.grad(), want_g) < 1e-9);
    // float32, eager and compiled (the same math through generated code): float32 rounding,
    // relative, or 1e-6 absolute near zero (e^x - 1 loses digits there in float32).
    const Tensor x32 = x.to(kFloat32);
    CHECK(test::max_relative_error(c.fn(x32), want_y, 0.1) < 1e-5);
    auto compiled = compile([&c](const Tensor& in) { return c.fn(in * 1.0); });
    (void)compiled(x32);  // the first call runs eagerly; the second runs the compiled program
    CHECK(test::max_relative_error(compiled(x32), want_y, 0.1) < 1e-5);
  }
}

TEST_CASE("functional normalizations, similarities, cumsum, sort and topk match PyTorch with gradients", "[interop][ops]") {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  namespace F = nn::functional;
  test::TempDir dir("tl_interop_functional_");
  manual_seed(12);
  const TensorOptions f64{.dtype = kFloat64};
  Tensor x = randn({4, 6, 5}, f64), x2 = randn({4, 6, 5}, f64);
  Tensor w = randn({6}, f64), b = randn({6}, f64), lw = randn({5}, f64), lb = randn({5}, f64);
  Tensor rm = randn({6}, f64), rv = rand({6}, f64) + 0.5;
  for (auto [name, t] : std::vector<std::pair<std::string, Tensor>>{
           {"x", x}, {"x2", x2}, {"w", w}, {"b", b}, {"lw", lw}, {"lb", lb}, {"rm", rm}, {"rv", rv}})
    save_npy((dir.path / (name + ".npy")).string(), t);
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> cases = {
      {"layer_norm", [&](const Tensor& in) { return F::layer_norm(in, {5}, lw, lb); }},
      {"layer_norm_2d", [&](const Tensor& in) { return F::layer_norm(in, {6, 5}); }},
      {"batch_norm_train", [&](const Tensor& in) { return F::batch_norm(in, rm.clone(), rv.clone(), w, b, true); }},
      {"batch_norm_eval", [&](const Tensor& in) { return F::batch_norm(in, rm, rv, w, b, false); }},
      {"group_norm", [&](const Tensor& in) { return F::group_norm(in, 3, w, b); }},
      {"normalize", [&](const Tensor& in) { return F::normalize(in); }},
      {"normalize_p1", [&](const Tensor& in) { return F::normalize(in, 1.0, -1); }},
      {"cosine_similarity", [&](const Tensor& in) { return F::cosine_similarity(in, x2, 1); }},
      {"cumsum", [&](const Tensor& in) { return cumsum(in, 1); }},
      {"sort", [&](const Tensor& in) { return sort(in, -1, true).values; }},
      {"topk", [&](const Tensor& in) { return topk(in, 2, 1).values; }},
  };
  std::vector<Tensor> ys, rs;
  for (const auto& [name, fn] : cases) {
    Tensor r = randn(fn(x).shape(), f64);
    rs.push_back(r);
    save_npy((dir.path / (name + ".r.npy")).string(), r);
  }
  const std::string command =
      std::string(TL_TORCH_PYTHON) + " " + TL_FUNCTIONAL_REFERENCE_SCRIPT + " " + dir.path.string();
  REQUIRE(std::system(command.c_str()) == 0);
  for (size_t k = 0; k < cases.size(); ++k) {
    const auto& [name, fn] = cases[k];
    INFO(name);
    Tensor xg = x.detach().requires_grad_();
    Tensor y = fn(xg);
    (y * rs[k]).sum().backward();
    CHECK(test::max_relative_error(y, load_npy((dir.path / (name + ".y.npy")).string())) < 1e-10);
    CHECK(test::max_relative_error(xg.grad(), load_npy((dir.path / (name + ".g.npy")).string())) < 1e-9);
  }
}
