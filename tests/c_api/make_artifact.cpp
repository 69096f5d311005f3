// Writes what tests/c_api/c_api_test.c runs through the C API into the folder given as argv[1]:
// mlp.tlart (a 16 -> 32 -> 3 MLP, input "x" [4, 16] float32, output "logits" [4, 3] float32,
// from tl::export_program), input.f32 and expected.f32 (raw little-endian float32, row-major:
// a fixed input and the eager model's output on it).
#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "tl/tl.h"

namespace {

struct Mlp : tl::nn::Module {
  tl::nn::Linear l1{16, 32}, l2{32, 3};
  Mlp() {
    register_module("l1", l1);
    register_module("l2", l2);
  }
  tl::Tensor forward(const tl::Tensor& x) { return l2.forward(tl::relu(l1.forward(x))); }
};

void write_raw(const std::filesystem::path& path, const tl::Tensor& t) {
  tl::Tensor c = t.contiguous();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
  if (!f) throw tl::IoError("c_api_make_artifact: cannot write '" + path.string() + "'");
}

}  // namespace

int main(int argc, char** argv) {
  static_assert(std::endian::native == std::endian::little, "the .f32 files are the host's bytes");
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_FOLDER\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    tl::manual_seed(7);
    Mlp model;
    model.eval();
    tl::Tensor x = tl::randn({4, 16});
    tl::Tensor expected;
    {
      tl::NoGradGuard no_grad;
      expected = model.forward(x);
    }
    const std::string artifact = (dir / "mlp.tlart").string();
    tl::export_program([&](const tl::Tensor& in) { return model.forward(in); }, x, artifact,
                       tl::ExportOptions{.input_names = {"x"}, .output_names = {"logits"}});
    // The C test compares the C API with the eager model; fail here, not there, if the C++
    // loader already disagrees with it.
    tl::Tensor loaded = tl::load_program(artifact)({x})[0];
    if (std::memcmp(loaded.contiguous().data_ptr(), expected.contiguous().data_ptr(), expected.nbytes()) != 0) {
      std::fprintf(stderr, "c_api_make_artifact: tl::load_program's output differs from the eager model's\n");
      return 1;
    }
    write_raw(dir / "input.f32", x);
    write_raw(dir / "expected.f32", expected);
    std::printf("wrote %s, input.f32 and expected.f32\n", artifact.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "c_api_make_artifact: %s\n", e.what());
    return 1;
  }
}
