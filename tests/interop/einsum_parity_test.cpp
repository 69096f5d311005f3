// tl::einsum against torch.einsum (PyTorch 1.13 from python3-torch): for each equation of
// einsum_reference.py, the output and every operand's gradient in float64, to 1e-9 relative.
// The script picks the inputs and lists the equations, so the cases live in one place.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "interop_util.h"
#include "tl/tl.h"

using namespace tl;

namespace {


}  // namespace

TEST_CASE("einsum and its gradients match torch.einsum in float64", "[interop][ops][einsum]") {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  test::TempDir dir("tl_interop_einsum_");
  const std::string command = std::string(TL_TORCH_PYTHON) + " " + TL_EINSUM_REFERENCE_SCRIPT + " " + dir.path.string();
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream listing(dir.path / "cases.txt");
  REQUIRE(listing.good());
  std::string line;
  int cases = 0;
  for (int k = 0; std::getline(listing, line); ++k, ++cases) {
    const size_t semicolon = line.find(';');
    REQUIRE(semicolon != std::string::npos);
    const std::string equation = line.substr(0, semicolon);
    const int count = std::stoi(line.substr(semicolon + 1));
    INFO(equation);
    const std::string stem = (dir.path / std::to_string(k)).string();
    std::vector<Tensor> operands;
    for (int i = 0; i < count; ++i)
      operands.push_back(load_npy(stem + ".in" + std::to_string(i) + ".npy").requires_grad_());
    Tensor y = einsum(equation, operands);
    CHECK(y.dtype() == kFloat64);
    CHECK(test::max_relative_error(y, load_npy(stem + ".y.npy")) < 1e-9);
    (y * load_npy(stem + ".r.npy")).sum().backward();
    for (int i = 0; i < count; ++i) {
      INFO("gradient of operand " << i);
      REQUIRE(operands[i].grad().defined());
      CHECK(test::max_relative_error(operands[i].grad(), load_npy(stem + ".g" + std::to_string(i) + ".npy")) < 1e-9);
    }
  }
  CHECK(cases >= 10);
}
