// Helpers shared by the PyTorch interop tests: whether the peer can run, and scratch folders.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tl/tl.h"

namespace tl::test {

// max |got - want| / max(|want|, floor): relative, and absolute near zero. NaN on both sides
// agrees; NaN on one side is an infinite error.
inline double max_relative_error(const Tensor& got, const Tensor& want, double floor = 1e-3) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> g = got.to(kFloat64).contiguous().to_vector<double>();
  const std::vector<double> w = want.to(kFloat64).contiguous().to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) && std::isnan(w[i])) continue;
    const double e = std::abs(g[i] - w[i]) / std::max(floor, std::abs(w[i]));
    worst = std::isnan(e) ? INFINITY : std::max(worst, e);
  }
  return worst;
}

// The files a reference script wrote for case `name` in `dir`: <name>.<what>.npy tensors and
// <name>.keys.txt, the model's state-dict keys in PyTorch's order.
struct Reference {
  std::filesystem::path dir;
  std::string name;
  Tensor load(const std::string& what) const { return load_npy((dir / (name + "." + what + ".npy")).string()); }
  bool has(const std::string& what) const { return std::filesystem::exists(dir / (name + "." + what + ".npy")); }
  Tensor maybe(const std::string& what) const { return has(what) ? load(what) : Tensor(); }
  std::vector<std::string> keys() const {
    std::ifstream in(dir / (name + ".keys.txt"));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  // Checks that `model` names its parameters as PyTorch, in its order, and loads PyTorch's
  // values (param.<key>.npy) by name.
  void load_parameters_into(nn::Module& model) const {
    std::vector<std::string> torch_keys = keys(), named;
    for (const auto& [key, t] : model.named_parameters()) named.push_back(key);
    CHECK(named == torch_keys);
    nn::StateDict state;
    for (const std::string& key : torch_keys) state[key] = load("param." + key);
    model.load_state_dict(state);
  }
  // Checks every parameter's gradient against PyTorch's (grad.<key>.npy) to `tolerance`.
  void check_parameter_grads(const nn::Module& model, double tolerance) const {
    for (const auto& [key, p] : model.named_parameters()) {
      INFO("d loss / d " << key);
      REQUIRE(p.grad().defined());
      CHECK(max_relative_error(p.grad(), load("grad." + key)) < tolerance);
    }
  }
};

// True when TL_TORCH_PYTHON (the interpreter with torch) can import torch; else `why` says why.
inline bool torch_available(std::string& why) {
  std::string command = std::string(TL_TORCH_PYTHON) + " -c 'import torch' > /dev/null 2>&1";
  if (std::system(command.c_str()) != 0) {
    why = std::string(TL_TORCH_PYTHON) + " cannot import torch";
    return false;
  }
  return true;
}


// A fresh directory under the system temp dir, removed when the test ends.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix) {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / (prefix + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace tl::test
