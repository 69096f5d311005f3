// tl::optim against torch.optim: the same initial parameters and gradient sequence, run for
// ten steps by both, must end at the same parameters (float64, 1e-6 relative). The reference
// is computed at test time by optim_reference.py with the PyTorch found at TL_TORCH_PYTHON.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "interop_util.h"
#include "tl/optim.h"
#include "tl/tl.h"

using namespace tl;
namespace fs = std::filesystem;

namespace {

constexpr int kSteps = 10;  // STEPS in optim_reference.py
const std::vector<Shape> kShapes = {{5, 4}, {7}};  // SHAPES in optim_reference.py

std::vector<double> read_doubles(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() % sizeof(double) == 0);
  std::vector<double> values(bytes.size() / sizeof(double));
  std::memcpy(values.data(), bytes.data(), bytes.size());  // the files are little-endian, as is x86-64
  return values;
}

// Cuts `flat` (laid out like init.bin) into tensors of kShapes, starting at `offset`.
std::vector<Tensor> unflatten(const std::vector<double>& flat, size_t offset) {
  std::vector<Tensor> out;
  for (const auto& shape : kShapes) {
    int64_t n = shape.numel();
    REQUIRE(offset + n <= flat.size());
    out.push_back(from_vector(std::vector<double>(flat.begin() + offset, flat.begin() + offset + n), shape));
    offset += n;
  }
  return out;
}

int64_t params_numel() {
  int64_t n = 0;
  for (const auto& s : kShapes) n += s.numel();
  return n;
}

struct Case {
  const char* name;
  std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)> make;
  double clip = 0;       // > 0: clip_grad_norm_ before each step
  int64_t cosine_t_max = 0;  // > 0: CosineAnnealingLR(t_max, eta_min = 0.001) after each step
};

template <class O, class Options>
std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)> maker(Options options) {
  return [options](std::vector<Tensor> params) { return std::make_unique<O>(std::move(params), options); };
}


}  // namespace

TEST_CASE("optimizers follow torch.optim for ten steps in float64", "[interop][optim]") {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  test::TempDir dir("tl_interop_optim_");
  std::string command = std::string(TL_TORCH_PYTHON) + " " + TL_OPTIM_REFERENCE_SCRIPT + " " + dir.path.string();
  REQUIRE(std::system(command.c_str()) == 0);

  std::vector<double> init = read_doubles(dir.path / "init.bin");
  std::vector<double> grads = read_doubles(dir.path / "grads.bin");
  REQUIRE(init.size() == static_cast<size_t>(params_numel()));
  REQUIRE(grads.size() == static_cast<size_t>(params_numel() * kSteps));

  std::vector<Case> cases = {
      {"sgd_nesterov", maker<optim::SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true})},
      {"sgd_dampening", maker<optim::SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.8, .dampening = 0.3})},
      {"sgd_cosine", maker<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.5}), 0, 10},
      {"adam", maker<optim::Adam>(optim::AdamOptions{.lr = 0.01})},
      {"adam_amsgrad_wd", maker<optim::Adam>(optim::AdamOptions{.lr = 0.01, .weight_decay = 0.05, .amsgrad = true})},
      {"adam_clipped", maker<optim::Adam>(optim::AdamOptions{.lr = 0.01}), 1.0},
      {"adamw", maker<optim::AdamW>(optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1})},
      {"adamw_amsgrad", maker<optim::AdamW>(optim::AdamOptions{.lr = 0.02, .beta1 = 0.8, .beta2 = 0.99, .weight_decay = 0.2, .amsgrad = true})},
      {"rmsprop", maker<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01, .alpha = 0.95})},
      {"rmsprop_centered_momentum", maker<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01, .alpha = 0.9, .weight_decay = 0.01, .momentum = 0.9, .centered = true})},
  };

  for (const auto& c : cases) {
    INFO("case " << c.name);
    std::vector<Tensor> params = unflatten(init, 0);
    for (auto& p : params) p.requires_grad_();
    auto opt = c.make(params);
    std::unique_ptr<optim::CosineAnnealingLR> schedule;
    if (c.cosine_t_max > 0) schedule = std::make_unique<optim::CosineAnnealingLR>(*opt, c.cosine_t_max, 0.001);
    for (int k = 0; k < kSteps; ++k) {
      std::vector<Tensor> g = unflatten(grads, k * params_numel());
      for (size_t i = 0; i < params.size(); ++i) params[i].set_grad(g[i]);
      if (c.clip > 0) optim::clip_grad_norm_(params, c.clip);
      opt->step();
      if (schedule) schedule->step();
    }
    std::vector<Tensor> expected = unflatten(read_doubles(dir.path / (std::string("final_") + c.name + ".bin")), 0);
    for (size_t i = 0; i < params.size(); ++i) {
      std::vector<double> got = params[i].to_vector<double>();
      std::vector<double> want = expected[i].to_vector<double>();
      std::vector<double> start = unflatten(init, 0)[i].to_vector<double>();
      for (size_t j = 0; j < got.size(); ++j) {
        INFO("parameter " << i << " element " << j);
        CHECK(got[j] == Approx(want[j]).epsilon(1e-6).margin(1e-12));
        CHECK(got[j] != start[j]);  // the comparison is not vacuous
      }
    }
  }
}
