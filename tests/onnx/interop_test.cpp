// Models exported from PyTorch 1.13 (tests/onnx/torch_models.py: torchvision's resnet18 and
// mobilenet_v2, a batch-first nn.TransformerEncoderLayer with d_model 256, an MLP and a small
// CNN with batch norm) run through tl in-process, eagerly and compiled, and as a tlc
// executable, matching PyTorch's float32 outputs to 1e-4 relative. Skips visibly when the
// system Python cannot import torch.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "tl/io.h"
#include "tl/onnx.h"
#include "tl/tl.h"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("tl-onnx-interop-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// max |got - want| <= 1e-4 * max |want| (relative to the output's scale), and the same shape.
void check_close(const tl::Tensor& got, const tl::Tensor& want, const std::string& what) {
  INFO(what);
  REQUIRE(got.shape() == want.shape());
  const double scale = tl::amax(tl::abs(want)).item<double>();
  const double err = tl::amax(tl::abs(tl::sub(got.to(tl::kFloat32), want))).item<double>();
  INFO("max abs error " << err << ", max abs value " << scale);
  CHECK(err <= 1e-4 * scale);
}

bool torch_available() {
  return std::system("/usr/bin/python3 -c 'import torch, torchvision' > /dev/null 2>&1") == 0;
}

void run_model(const std::string& name) {
  if (!torch_available()) {
    WARN("SKIPPED: /usr/bin/python3 cannot import torch and torchvision (python3-torch, python3-torchvision)");
    return;
  }
  TempDir dir;
  const std::string cmd = "/usr/bin/python3 " TL_ONNX_TEST_DIR "/torch_models.py " + dir.path.string() + " " + name +
                          " > " + (dir.path / "export.log").string() + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string model_path = (dir.path / (name + ".onnx")).string();
  tl::Tensor x = tl::load_npy((dir.path / (name + ".input.npy")).string());
  tl::Tensor want = tl::load_npy((dir.path / (name + ".output.npy")).string());

  tl::onnx::Model eager = tl::onnx::load(model_path, {.compile = 0});
  check_close(eager(x), want, name + " eager");

  tl::onnx::Model compiled = tl::onnx::load(model_path, {.compile = 1});
  check_close(compiled(x), want, name + " compiled, tracing call");
  check_close(compiled(x), want, name + " compiled program");

  // The same model as a standalone executable.
  const fs::path exe = dir.path / name;
  // dim 0 is symbolic ("batch"): the executable takes batches up to x's.
  const std::string tlc = std::string(TL_TLC_PATH) + " " + model_path + " -o " + exe.string() + " --batch " +
                          std::to_string(x.shape()[0]) + " > " +
                          (dir.path / "tlc.log").string() + " 2>&1";
  INFO("tlc log in " << (dir.path / "tlc.log").string());
  REQUIRE(std::system(tlc.c_str()) == 0);
  const fs::path out = dir.path / "out";
  const std::string run = exe.string() + " " + (dir.path / (name + ".input.npy")).string() + " -o " + out.string() +
                          " > " + (dir.path / "run.log").string() + " 2>&1";
  REQUIRE(std::system(run.c_str()) == 0);
  check_close(tl::load_npy((out / "output_0.npy").string()), want, name + " tlc executable");
}

}  // namespace

TEST_CASE("pytorch mlp through onnx") { run_model("mlp"); }
TEST_CASE("pytorch cnn with batch norm through onnx") { run_model("cnn"); }
TEST_CASE("torchvision resnet18 through onnx") { run_model("resnet18"); }
TEST_CASE("torchvision mobilenet_v2 through onnx") { run_model("mobilenet_v2"); }
TEST_CASE("pytorch transformer encoder layer through onnx") { run_model("transformer_layer"); }
