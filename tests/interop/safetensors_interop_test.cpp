// Weights trained in PyTorch, saved as a plain safetensors file (written by hand with Debian's
// python3-torch: the `safetensors` package is not in Debian 12), load into a tl model through
// tl::io::load_safetensors and rename_keys and give PyTorch's outputs; tl's own save of the
// state dict reads back in PyTorch bit for bit.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

#include "interop_util.h"
#include "tl/tl.h"

using namespace tl;

TEST_CASE("a PyTorch state dict saved as safetensors loads into a tl model with PyTorch's outputs", "[interop][io]") {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  test::TempDir dir("tl_interop_safetensors_");
  const std::string script = std::string(TL_TORCH_PYTHON) + " " + TL_SAFETENSORS_REFERENCE_SCRIPT + " ";
  REQUIRE(std::system((script + "write " + dir.path.string()).c_str()) == 0);

  io::Safetensors weights = io::load_safetensors((dir.path / "torch_mlp.safetensors").string());
  CHECK(weights.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  CHECK(weights.tensors.count("net.0.weight") == 1);
  nn::Sequential model(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 3));
  model.load_state_dict(io::rename_keys(weights.tensors, {{"net.", ""}}));
  io::Safetensors data = io::load_safetensors((dir.path / "io.safetensors").string());
  Tensor y = model(data.tensors.at("x"));
  const Tensor& want = data.tensors.at("y");
  REQUIRE(y.shape() == want.shape());
  CHECK(allclose(y, want, 1e-6, 1e-6));

  // tl's file of the same weights, read by PyTorch.
  io::save_safetensors((dir.path / "tl_mlp.safetensors").string(), model.state_dict());
  REQUIRE(std::system((script + "check " + dir.path.string()).c_str()) == 0);
}

TEST_CASE("plain safetensors round trip, and damaged files name the problem", "[io]") {
  test::TempDir dir("tl_safetensors_");
  const std::string path = (dir.path / "t.safetensors").string();
  std::map<std::string, Tensor> tensors = {{"a", arange(0, 6).reshape({2, 3}).to(kFloat32)},
                                           {"b", from_vector<int64_t>({7, 8, 9})},
                                           {"t", randn({3, 4}).t()}};  // strided: saved contiguous
  io::save_safetensors(path, tensors, {{"origin", "test"}});
  io::Safetensors back = io::load_safetensors(path);
  CHECK(back.metadata.at("origin") == "test");
  REQUIRE(back.tensors.size() == 3);
  for (const auto& [name, t] : tensors) CHECK(equal(back.tensors.at(name), t));
  // Truncated: the error names the file and the tensor that runs past the end.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 4);
  CHECK_THROWS_WITH(io::load_safetensors(path),
                    Catch::Contains("tl::io::load_safetensors: '" + path + "'") && Catch::Contains("truncated"));
  CHECK_THROWS_AS(io::save_safetensors(path, {{"x", Tensor()}}), ValueError);
}
