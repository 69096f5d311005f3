// tlc and the executables it emits, run as a user runs them: an MLP exported with
// tl::export_program goes through the built `tlc` binary (TLC_PATH) and the emitted executable,
// and their exit codes, messages and files are checked against the artifact and tl eager.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "tests/support/zstd_frames.h"
#include "runtime/artifact/artifact.h"
#include "runtime/base/sha256.h"
#include "runtime/base/zstd_frame.h"
#include "runtime/cuda/kernel_cache.h"
#include "runtime/cuda/launch.h"
#include "runtime/cuda/nvrtc.h"
#include "runtime/program/cuda_code.h"
#include "tests/runtime/cuda_emulation.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tests/support/scratch_dir.h"
#include "tl/tl.h"
#include "tools/tlc/byte_size.h"
#include "tools/tlc/cuda_code.h"
#include "tests/support/small_models.h"
#include "tools/tlc/exe_format.h"

using namespace tl;
namespace fs = std::filesystem;

extern char** environ;

namespace {

using testing::Mlp;

// CUDA-targeted artifacts run here on the emulated device where there is no GPU.
[[maybe_unused]] const bool emulated = tl::test::emulate_cuda_device();

// An MLP exported to `artifact`, its example input saved as `input` (.npy) and its eager output.
struct MlpArtifact {
  testing::ScratchDir dir{"tlc_test"};
  std::string artifact = dir.file("mlp.tlart");
  std::string input = dir.file("x.npy");
  Tensor x, eager;

  MlpArtifact() {
    manual_seed(7);
    Mlp model;
    model.eval();
    x = randn({8, 784});
    eager = testing::eager_forward(model, x);
    export_program([&](const Tensor& in) { return model.forward(in); }, x, artifact);
    save_npy(input, x);
  }
};

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved as written
};

// Runs `program` with `args`, its stdout and stderr captured together.
Result run(const std::string& program, const std::vector<std::string>& args, const testing::ScratchDir& dir) {
  const std::string log = dir.file("log.txt");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> all = {program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(log, std::ios::binary);
  r.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  INFO(program << " exited " << r.exit_code << ":\n" << r.output);
  return r;
}

Result run_tlc(const std::vector<std::string>& args, const testing::ScratchDir& dir) { return run(TLC_PATH, args, dir); }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {digits[c >> 4], digits[c & 15]};
  return out;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("tlc --inspect prints the signature, every section's sha256 and the peak memory", "[tools][tlc]") {
  MlpArtifact mlp;
  Result r = run_tlc({"--inspect", mlp.artifact}, mlp.dir);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("input  input_0: [8, 784] float32"));
  CHECK_THAT(r.output, Catch::Contains("output output_0: [8, 10] float32"));
  rt::Artifact a = rt::Artifact::open(mlp.artifact);
  REQUIRE(a.manifest().sections_size() == 2);
  for (const artifact::Section& s : a.manifest().sections())
    CHECK_THAT(r.output, Catch::Contains(s.name() + ": bytes [" + std::to_string(s.offset()) + ", " +
                                         std::to_string(s.offset() + s.size()) + ") sha256 " + hex(s.sha256())));
  // The figures describe lacks: each constant, and the peak (weights + arena + outputs).
  uint64_t weights = 0;
  for (const artifact::Constant& c : a.program().constants()) weights += c.size();
  const uint64_t peak = weights + a.program().plan().arena_bytes() + 8 * 10 * 4;
  CHECK_THAT(r.output, Catch::Contains("peak     " + tlc::format_bytes(peak) + "  = weights + arena + outputs"));
  CHECK_THAT(r.output, Catch::Contains("[64, 784] float32  200,704"));
  CHECK_THAT(r.output, Catch::Contains("verified: tl::load_program accepts it"));
}

TEST_CASE("tlc --inspect of a bad file prints the reader's error and exits 2", "[tools][tlc]") {
  MlpArtifact mlp;
  const std::string bytes = read_bytes(mlp.artifact);

  const std::string garbage = mlp.dir.file("garbage.tlart");
  write_bytes(garbage, "not an artifact at all, just text, long enough to fill a whole header");
  Result r = run_tlc({"--inspect", garbage}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("tlc: not a valid tl artifact: '" + garbage + "'"));
  CHECK_THAT(r.output, Catch::Contains("magic"));

  const std::string truncated = mlp.dir.file("truncated.tlart");
  write_bytes(truncated, bytes.substr(0, bytes.size() / 2));
  r = run_tlc({"--inspect", truncated}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("truncated?"));

  const std::string flipped = mlp.dir.file("flipped.tlart");
  std::string corrupt = bytes;
  corrupt[corrupt.size() - 100] ^= 0x01;  // inside the weights, the last section
  write_bytes(flipped, corrupt);
  r = run_tlc({"--inspect", flipped}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("section 'weights' fails its SHA-256 check"));

  r = run_tlc({"--inspect", mlp.dir.file("missing.tlart")}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("missing.tlart"));
  // The compiling path reads the same way and exits the same way.
  r = run_tlc({flipped, "-o", mlp.dir.file("model")}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("fails its SHA-256 check"));
  CHECK_FALSE(fs::exists(mlp.dir.file("model")));
}

TEST_CASE("tlc refuses a plan over --max-memory with exit 3 and names the largest buffers", "[tools][tlc]") {
  MlpArtifact mlp;
  const std::string out = mlp.dir.file("model");
  Result r = run_tlc({mlp.artifact, "-o", out, "--max-memory", "1KB"}, mlp.dir);
  INFO(r.output);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output, Catch::Contains("over the --max-memory budget of 1KB = 1,000 bytes; nothing was written"));
  // l1's weight (64 x 784 float32) is the largest buffer, and is named first.
  const size_t listed = r.output.find("The largest buffers:\n");
  REQUIRE(listed != std::string::npos);
  const std::string first = r.output.substr(listed + 21, r.output.find('\n', listed + 21) - listed - 21);
  CHECK_THAT(first, Catch::StartsWith("  weight") && Catch::Contains("[64, 784] float32  200,704 bytes (196.0 KiB)"));
  CHECK_THAT(first, Catch::Contains("read by matmul"));  // through the transposing view
  CHECK(std::count(r.output.begin() + listed, r.output.end(), '\n') == 6);  // the header and 5 buffers
  CHECK_FALSE(fs::exists(out));

  r = run_tlc({mlp.artifact, "-o", out, "--max-memory", "1MiB"}, mlp.dir);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(out));
}

TEST_CASE("tlc --emit exe writes an executable whose output is tl eager's, bit for bit", "[tools][tlc]") {
  MlpArtifact mlp;
  const std::string model = mlp.dir.file("model");
  Result r = run_tlc({mlp.artifact, "-o", model}, mlp.dir);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("wrote " + model + ": a standalone executable"));
  CHECK((fs::status(model).permissions() & fs::perms::all) == static_cast<fs::perms>(0755));
  // The trailer points at the artifact's exact bytes.
  const std::string exe = read_bytes(model);
  REQUIRE(tlc::has_exe_trailer(exe));
  tlc::EmbeddedModel embedded = tlc::read_embedded_model(model);
  CHECK(embedded.offset % tlc::kExeArtifactAlignment == 0);
  CHECK(embedded.artifact == read_bytes(mlp.artifact));

  const std::string out = mlp.dir.file("out");
  r = run(model, {mlp.input, "-o", out}, mlp.dir);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("output_0: [8, 10] float32 -> " + out + "/output_0.npy"));
  CHECK(same_bits(load_npy(out + "/output_0.npy"), mlp.eager));
}

TEST_CASE("tlc's executables benchmark with --bench and print the signature with --info", "[tools][tlc]") {
  MlpArtifact mlp;
  const std::string model = mlp.dir.file("model");
  REQUIRE(run_tlc({mlp.artifact, "-o", model, "--threads", "2"}, mlp.dir).exit_code == 0);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--bench", "--iters", "20"}, std::vector<std::string>{mlp.input, "--bench", "--iters", "5"}}) {
    Result r = run(model, args, mlp.dir);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("bench: " + args.back() + " runs after 3 warm-up runs"));
    CHECK_THAT(r.output, Catch::Contains("latency: p50 ") && Catch::Contains(" ms  p90 ") && Catch::Contains(" ms  p99 ") &&
                             Catch::Contains(" ms  min "));
    CHECK_THAT(r.output, Catch::Contains("throughput: "));
    CHECK_THAT(r.output, Catch::Contains(", 2 threads"));  // the --threads tlc stored
  }
  Result r = run(model, {"--info"}, mlp.dir);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("threads: 2 (tlc --threads)"));
  CHECK_THAT(r.output, Catch::Contains("inputs:\n  input_0: [8, 784] float32\noutputs:\n  output_0: [8, 10] float32\n"));
  // The runner's own --threads wins over the stored one.
  r = run(model, {"--info", "--threads", "1"}, mlp.dir);
  CHECK_THAT(r.output, Catch::Contains("threads: 1"));
}

TEST_CASE("tlc's executables refuse inputs that do not match the signature, with clear errors", "[tools][tlc]") {
  MlpArtifact mlp;
  const std::string model = mlp.dir.file("model");
  REQUIRE(run_tlc({mlp.artifact, "-o", model}, mlp.dir).exit_code == 0);
  const std::string out = mlp.dir.file("out");

  const std::string wrong_shape = mlp.dir.file("wrong_shape.npy");
  save_npy(wrong_shape, randn({4, 784}));
  Result r = run(model, {wrong_shape, "-o", out}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("model: input 0 ('input_0') from '" + wrong_shape +
                                       "' is [4, 784] float32; the model takes [8, 784] float32"));

  const std::string wrong_dtype = mlp.dir.file("wrong_dtype.npy");
  save_npy(wrong_dtype, zeros({8, 784}, {.dtype = kFloat64}));
  r = run(model, {wrong_dtype, "-o", out}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("is [8, 784] float64; the model takes [8, 784] float32"));

  r = run(model, {mlp.input, mlp.input, "-o", out}, mlp.dir);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("the model takes 1 input (input_0 [8, 784] float32), in this order, as .npy files; got 2"));

  r = run(model, {mlp.dir.file("missing.npy"), "-o", out}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("input 0 ('input_0'): ") && Catch::Contains("missing.npy"));

  r = run(model, {mlp.input}, mlp.dir);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("-o DIR is required"));
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("tlc's bare runner and a damaged executable say what is wrong and exit 2", "[tools][tlc]") {
  MlpArtifact mlp;
  const std::string runner = (fs::path(TLC_PATH).parent_path() / "tl-model-runner").string();
  Result r = run(runner, {"--info"}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("no model is embedded in it"));

  const std::string model = mlp.dir.file("model");
  REQUIRE(run_tlc({mlp.artifact, "-o", model}, mlp.dir).exit_code == 0);
  std::string exe = read_bytes(model);
  tlc::EmbeddedModel embedded = tlc::read_embedded_model(model);
  exe[embedded.offset + embedded.artifact.size() - 100] ^= 0x01;  // a weight byte
  const std::string damaged = mlp.dir.file("damaged");
  write_bytes(damaged, exe);
  fs::permissions(damaged, static_cast<fs::perms>(0755));
  r = run(damaged, {"--info"}, mlp.dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("(the model embedded at byte " + std::to_string(embedded.offset) + ")") &&
                           Catch::Contains("fails its SHA-256 check"));
}

TEST_CASE("tlc --emit artifact writes a byte-identical copy", "[tools][tlc]") {
  MlpArtifact mlp;
  const std::string copy = mlp.dir.file("copy.tlart");
  Result r = run_tlc({mlp.artifact, "-o", copy, "--emit", "artifact"}, mlp.dir);
  CHECK(r.exit_code == 0);
  CHECK(read_bytes(copy) == read_bytes(mlp.artifact));
  // A failed write leaves the previous file and no temporary behind.
  r = run_tlc({mlp.artifact, "-o", mlp.dir.file("no_such_folder/copy.tlart"), "--emit", "artifact"}, mlp.dir);
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("no_such_folder/copy.tlart"));
  r = run_tlc({mlp.artifact, "-o", mlp.dir.file("no_such_folder/model")}, mlp.dir);
  CHECK(r.exit_code == 4);
  CHECK(mlp.dir.entries() == std::vector<std::string>{"copy.tlart", "log.txt", "mlp.tlart", "x.npy"});
}

TEST_CASE("tlc --print-plan prints each kernel call's arena range from the artifact's plan", "[tools][tlc]") {
  MlpArtifact mlp;
  Result r = run_tlc({mlp.artifact, "-o", mlp.dir.file("model"), "--print-plan"}, mlp.dir);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  rt::Artifact a = rt::Artifact::open(mlp.artifact);
  const artifact::Program& p = a.program();
  int planned = 0;
  for (int v = 0; v < p.plan().offsets_size(); ++v) {
    const int64_t off = p.plan().offsets(v);
    if (off < 0) continue;
    int64_t bytes = 4;
    for (int64_t d : p.values(v).shape()) bytes *= d;
    CHECK_THAT(r.output, Catch::Contains("%" + std::to_string(v) + " ") &&
                             Catch::Contains("arena [" + std::to_string(off) + ", " + std::to_string(off + bytes) + ")"));
    ++planned;
  }
  CHECK(planned > 0);
  CHECK_THAT(r.output, Catch::Contains("own buffer, returned as output 'output_0'"));
  // The transposed weights are views of the constants, not buffers.
  CHECK_THAT(r.output, Catch::Contains("permute") && Catch::Contains("view of %"));
  CHECK_THAT(r.output, Catch::Contains("kernels  " + std::to_string(p.nodes_size()) + " calls"));
}

TEST_CASE("tlc rejects bad options and a bad SIZE with exit 1 and says why", "[tools][tlc]") {
  MlpArtifact mlp;
  const std::string out = mlp.dir.file("model");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{}, "no input artifact"},
      {{mlp.artifact}, "-o OUT is required"},
      {{mlp.artifact, "-o", out, "--max-memory", "10XB"}, "'10XB' has an unknown unit 'XB'"},
      {{mlp.artifact, "-o", out, "--max-memory", "-5MB"}, "'-5MB' is not a size"},
      {{mlp.artifact, "-o", out, "--emit", "elf"}, "--emit"},
      {{mlp.artifact, "-o", out, "--target", "tpu"}, "--target"},
      {{mlp.artifact, "-o", out, "--threads", "0"}, "--threads"},
      {{mlp.artifact, "-o", out, "--emit", "artifact", "--threads", "4"}, "--threads 4 applies to --emit exe"},
      {{"--inspect", mlp.artifact, "-o", out}, "tlc: --inspect FILE takes no other option, got --output"},
      {{mlp.artifact, "-o", out, "--no-such-flag"}, "--no-such-flag"},
  };
  for (const Case& c : cases) {
    Result r = run_tlc(c.args, mlp.dir);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains(c.message));
  }
  CHECK_FALSE(fs::exists(out));
  Result help = run_tlc({"--help"}, mlp.dir);
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.output, Catch::Contains("--max-memory SIZE") &&
                              Catch::Contains("Exit codes: 0 ok, 1 usage, 2 bad input file, 3 over the --max-memory budget, 4 write failure"));
}

TEST_CASE("a batched model's executable runs any batch size and sweeps them with --batch-sweep", "[tools][tlc]") {
  testing::ScratchDir dir{"tlc_batch_test"};
  manual_seed(8);
  Mlp model;
  model.eval();
  const std::string artifact = dir.file("mlp16.tlart");
  export_program([&](const Tensor& in) { return model.forward(in); }, randn({2, 784}), artifact,
                 ExportOptions{.max_batch = 16});
  const std::string exe = dir.file("model");
  REQUIRE(run_tlc({artifact, "-o", exe}, dir).exit_code == 0);
  // A batch of 5 (below the maximum) gives tl eager's output.
  Tensor x = randn({5, 784});
  Tensor eager = testing::eager_forward(model, x);
  save_npy(dir.file("x5.npy"), x);
  Result r = run(exe, {dir.file("x5.npy"), "-o", dir.file("out")}, dir);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(same_bits(load_npy(dir.file("out") + "/output_0.npy"), eager));
  // Past the maximum: a clear error.
  save_npy(dir.file("x17.npy"), randn({17, 784}));
  r = run(exe, {dir.file("x17.npy"), "-o", dir.file("out")}, dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("any batch size up to the maximum"));
  // The sweep: batch 1, 2, 4, 8, 16 with latency, throughput and planned memory.
  r = run(exe, {"--bench", "--batch-sweep", "--iters", "5"}, dir);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("p50 ms") && Catch::Contains("items/s") && Catch::Contains("arena bytes"));
  for (const char* b : {"\n       1 ", "\n       2 ", "\n       4 ", "\n       8 ", "\n      16 "})
    CHECK_THAT(r.output, Catch::Contains(b));
  r = run(exe, {"--info"}, dir);
  CHECK_THAT(r.output, Catch::Contains("batch sizes: 1 to 16"));
}

TEST_CASE("tlc --batch caps the batch an executable accepts and refuses what the artifact cannot run", "[tools][tlc]") {
  testing::ScratchDir dir{"tlc_batch_cap_test"};
  manual_seed(10);
  Mlp model;
  model.eval();
  const std::string artifact = dir.file("mlp16.tlart"), fixed = dir.file("mlp_fixed.tlart");
  export_program([&](const Tensor& in) { return model.forward(in); }, randn({2, 784}), artifact,
                 ExportOptions{.max_batch = 16});
  export_program([&](const Tensor& in) { return model.forward(in); }, randn({2, 784}), fixed);
  const std::string exe = dir.file("model8");
  Result r = run_tlc({artifact, "-o", exe, "--batch", "8"}, dir);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("for batches up to 8"));
  save_npy(dir.file("x9.npy"), randn({9, 784}));
  r = run(exe, {dir.file("x9.npy"), "-o", dir.file("out")}, dir);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("with batches of 1 to 8"));
  r = run(exe, {"--bench", "--batch-sweep", "--iters", "3"}, dir);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("\n       8 "));
  CHECK_THAT(r.output, !Catch::Contains("\n      16 "));
  r = run(exe, {"--info"}, dir);
  CHECK_THAT(r.output, Catch::Contains("batch sizes accepted: 1 to 8 (tlc --batch)"));
  // What the artifact cannot run: past its maximum, or any batch for fixed shapes.
  r = run_tlc({artifact, "-o", dir.file("model32"), "--batch", "32"}, dir);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("--batch 32: " + artifact + " runs batches up to 16"));
  r = run_tlc({fixed, "-o", dir.file("model_fixed"), "--batch", "4"}, dir);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("has fixed shapes (export it with ExportOptions::max_batch)"));
  CHECK_FALSE(fs::exists(dir.file("model32")));
}

TEST_CASE("tlc --emit lib writes a library and a typed C header that a C program links and runs", "[tools][tlc]") {
  testing::ScratchDir dir{"tlc_lib_test"};
  manual_seed(9);
  Mlp model;
  model.eval();
  const std::string artifact = dir.file("mlp.tlart");
  export_program([&](const Tensor& in) { return model.forward(in); }, randn({2, 784}), artifact,
                 ExportOptions{.input_names = {"pixels"}, .output_names = {"logits"}, .max_batch = 16});
  const std::string library = dir.file("libdigits.so");
  ::setenv("CC", TL_TEST_C_COMPILER, 1);
  Result r = run_tlc({artifact, "-o", library, "--emit", "lib"}, dir);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("digits_run(...)"));
  const std::string header = read_bytes(dir.file("digits.h"));
  CHECK_THAT(header, Catch::Contains("int digits_run(int64_t batch, const float* pixels, float* logits);"));
  CHECK_THAT(header, Catch::Contains("#define DIGITS_MAX_BATCH 16"));
  CHECK_THAT(header, Catch::Contains("input  pixels: float32 [B, 784]"));

  // A C program: reads a batch from x.bin, runs the model, writes y.bin; then tries a batch
  // past the maximum and prints the library's message.
  write_bytes(dir.file("main.c"), R"(#include <stdio.h>
#include <stdlib.h>
#include "digits.h"
int main(int argc, char** argv) {
  int64_t batch = atoll(argv[1]);
  float* x = malloc(sizeof(float) * 784 * 17);
  float* y = malloc(sizeof(float) * 10 * 17);
  FILE* in = fopen(argv[2], "rb");
  if (fread(x, sizeof(float), (size_t)(784 * batch), in) != (size_t)(784 * batch)) return 10;
  fclose(in);
  if (digits_run(batch, x, y) != 0) { fprintf(stderr, "run: %s\n", digits_last_error()); return 11; }
  FILE* out = fopen(argv[3], "wb");
  fwrite(y, sizeof(float), (size_t)(10 * batch), out);
  fclose(out);
  int status = digits_run(17, x, y);
  printf("batch 17: status %d: %s\n", status, digits_last_error());
  return 0;
}
)");
  const std::string exe = dir.file("main");
  Result cc = run(TL_TEST_C_COMPILER, {"-std=c11", "-I" + dir.path.string(), "-o", exe, dir.file("main.c"), library,
                                       "-Wl,-rpath," + dir.path.string()}, dir);
  REQUIRE(cc.exit_code == 0);
  Tensor x = randn({5, 784});
  write_bytes(dir.file("x.bin"), std::string(static_cast<const char*>(x.data_ptr()), x.nbytes()));
  r = run(exe, {"5", dir.file("x.bin"), dir.file("y.bin")}, dir);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("batch 17: status 4:") && Catch::Contains("batches of 1 to 16"));
  const std::string y = read_bytes(dir.file("y.bin"));
  Tensor eager = testing::eager_forward(model, x);
  REQUIRE(y.size() == eager.nbytes());
  CHECK(std::memcmp(y.data(), eager.contiguous().data_ptr(), y.size()) == 0);  // the same kernels: bit for bit

  // Without a C compiler, tlc says what it needs and writes nothing.
  ::setenv("CC", "/nonexistent/cc", 1);
  r = run_tlc({artifact, "-o", dir.file("libother.so"), "--emit", "lib"}, dir);
  ::setenv("CC", TL_TEST_C_COMPILER, 1);
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("needs a C compiler"));
  CHECK_FALSE(fs::exists(dir.file("libother.so")));
  CHECK_FALSE(fs::exists(dir.file("other.h")));
}

TEST_CASE("tlc --target cuda writes an artifact that defaults to CUDA and still loads on the CPU", "[tools][tlc][cuda]") {
  testing::ScratchDir dir{"tlc_cuda_test"};
  const std::string in = dir.file("chain.tlart"), out = dir.file("chain_cuda.tlart");
  manual_seed(3);
  Tensor x = randn({4, 16}), w = randn({16}), b = randn({16});
  // An elementwise chain the compiler fuses into one group, which has a CUDA form.
  auto chain = [&](const Tensor& t) { return gelu(t * w + b) * 0.5; };
  export_program(chain, x, in);
  Result r = run_tlc({in, "-o", out, "--emit", "artifact", "--target", "cuda"}, dir);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("targeting cuda"));
  rt::Artifact a = rt::Artifact::open(out);
  CHECK(a.manifest().default_device() == "cuda");
  Result shown = run_tlc({"--inspect", out}, dir);
  INFO(shown.output);
  REQUIRE(shown.exit_code == 0);
  CHECK_THAT(shown.output, Catch::Contains("target: cuda") && Catch::Contains("cuda steps") &&
                               Catch::Contains("fused groups have CUDA steps (the program can run on CUDA)"));
  // The plain copy still targets the CPU.
  Result plain = run_tlc({"--inspect", in}, dir);
  CHECK_THAT(plain.output, Catch::Contains("target: cpu"));
  // A CPU load of the CUDA-targeted artifact computes what eager does.
  Program p = load_program(out, ProgramLoadOptions{.device = kCPU});
  CHECK(p.device() == kCPU);
  CHECK(allclose(p({x})[0], chain(x), 1e-5, 1e-5));
}

namespace {

// The artifact rewritten into `to` by `edit`, given its program and its "cuda" section's bytes
// (the section digests are computed again; the other sections as they are).
void rewrite_artifact(const std::string& from, const std::string& to,
                      const std::function<void(artifact::Program&, std::string& cuda)>& edit) {
  rt::Artifact a = rt::Artifact::open(from);
  artifact::Program p = a.program();
  std::span<const uint8_t> c = a.section("cuda");
  std::string cuda(reinterpret_cast<const char*>(c.data()), c.size());
  edit(p, cuda);
  std::vector<rt::SectionBytes> sections;
  for (const artifact::Section& s : a.manifest().sections()) {
    std::span<const uint8_t> b = a.section(s.name());
    sections.push_back({s.name(), s.name() == "program" ? p.SerializeAsString()
                                  : s.name() == "cuda"  ? cuda
                                                        : std::string(reinterpret_cast<const char*>(b.data()), b.size())});
  }
  rt::write_artifact(to, a.manifest(), sections);
}

// The artifact's program rewritten into `to` by `edit` (the other sections as they are).
void rewrite_program(const std::string& from, const std::string& to, const std::function<void(artifact::Program&)>& edit) {
  rewrite_artifact(from, to, [&](artifact::Program& p, std::string&) { edit(p); });
}

// The image `image` of a "cuda" section holds, decompressed when stored so.
std::string image_bytes(const artifact::CudaImage& image, std::string_view section) {
  REQUIRE(image.offset() + image.size() <= section.size());
  const std::string_view stored = section.substr(image.offset(), image.size());
  if (image.encoding() == artifact::CudaImage::RAW) return std::string(stored);
  REQUIRE(image.encoding() == artifact::CudaImage::ZSTD);
  std::string why;
  std::optional<std::string> bytes = rt::zstd_decompress(stored, image.raw_size(), &why);
  INFO(why);
  REQUIRE(bytes);
  return *bytes;
}


// An elementwise chain and a column mean the compiler fuses into two groups, x [6, 16].
struct CudaChain {
  testing::ScratchDir dir{"tlc_cuda_code_test"};
  std::string in = dir.file("chain.tlart");
  Tensor x, w, b;
  CudaChain() {
    manual_seed(5);
    x = randn({6, 16});
    w = randn({16});
    b = randn({16});
    export_program([this](const Tensor& t) { return forward(t); }, x, in);
  }
  std::vector<Tensor> forward(const Tensor& t) const {
    NoGradGuard no_grad;
    return {gelu(t * w + b) * 0.5, mean(tanh(t * b), {0})};
  }
  // The chain through `tlc --target cuda` with the default architectures: the artifact's path.
  std::string compile_for_cuda() const {
    const std::string out = dir.file("chain_cuda.tlart");
    Result r = run_tlc({in, "-o", out, "--emit", "artifact", "--target", "cuda"}, dir);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return out;
  }
};

bool has_nvrtc() { return rt::cuda::Nvrtc::get() != nullptr; }

}  // namespace

TEST_CASE("tlc --target cuda stores cubins for the named architectures and PTX, bound to the steps' sources",
          "[tools][tlc][cuda]") {
  CudaChain c;
  const std::string out = c.dir.file("chain_cuda.tlart");
  Result r = run_tlc({c.in, "-o", out, "--emit", "artifact", "--target", "cuda"}, c.dir);
  INFO(r.output);
  if (!has_nvrtc()) {
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains("--cuda-arch none writes no device code"));
    WARN("skipped: no NVRTC here to compile device code with");
    return;
  }
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("cuda: compiled 3 kernel sources of 2 fused groups for sm_80, sm_90, compute_80"));
  rt::Artifact a = rt::Artifact::open(out);
  CHECK(a.manifest().default_device() == "cuda");
  const std::span<const uint8_t> section = a.section("cuda");
  REQUIRE(section.size() > 0);
  const std::string_view code(reinterpret_cast<const char*>(section.data()), section.size());
  // Each group's kernel sources as a CUDA load regenerates them: the code is bound to them.
  const std::vector<rt::CudaGroupSources> groups = rt::cuda_group_sources(a);
  REQUIRE(groups.size() == 2);
  int sums = 0;
  for (const rt::CudaGroupSources& g : groups) {
    const artifact::FusedSteps& steps = a.program().nodes(g.node).fused().cuda();
    INFO("node " << g.node << " (" << g.description << ")");
    sums += steps.reduce_dims_size() > 0;
    // A group ending in a sum has two forms, each compiled.
    REQUIRE(steps.code_size() == static_cast<int>(g.kernels.size()));
    CHECK(g.kernels.size() == (steps.reduce_dims_size() > 0 ? 2u : 1u));
    for (int k = 0; k < steps.code_size(); ++k) {
      const artifact::CudaKernelCode& kc = steps.code(k);
      const rt::Sha256Digest d = rt::sha256(g.kernels[k].source.data(), g.kernels[k].source.size());
      CHECK(kc.source_sha256() == std::string(reinterpret_cast<const char*>(d.data()), d.size()));
      REQUIRE(kc.images_size() == 3);
      for (const artifact::CudaImage& image : kc.images()) {
        INFO(image.arch());
        // Stored as one zstd frame of the image NVRTC made, which records its size.
        CHECK(image.encoding() == artifact::CudaImage::ZSTD);
        CHECK(image.size() < image.raw_size() / 2);
        const std::string decompressed = image_bytes(image, code);
        CHECK(decompressed == *rt::cuda::compile_cached(g.kernels[k].source, "", image.arch()).binary);
        const std::string_view bytes = decompressed;
        if (image.arch() == "compute_80") {
          // PTX text, for that virtual architecture, with the kernel's entry.
          CHECK_THAT(std::string(bytes), Catch::Contains(".version") && Catch::Contains(".target sm_80") &&
                                             Catch::Contains(".entry " + g.kernels[k].entry));
          continue;
        }
        // A real cubin: an ELF image for NVIDIA's CUDA machine (e_machine 190, EM_CUDA).
        REQUIRE(bytes.size() > 64);
        CHECK(bytes.substr(0, 4) == std::string_view("\x7f" "ELF", 4));
        CHECK(static_cast<uint8_t>(bytes[18]) + 256 * static_cast<uint8_t>(bytes[19]) == 190);
        CHECK(bytes.find(g.kernels[k].entry) != std::string_view::npos);
        CHECK((image.arch() == "sm_80" || image.arch() == "sm_90"));
      }
    }
  }
  CHECK(sums == 1);
  std::map<std::string, uint64_t> per_arch, per_arch_raw;
  for (const rt::CudaGroupSources& g : groups)
    for (const artifact::CudaKernelCode& kc : a.program().nodes(g.node).fused().cuda().code())
      for (const artifact::CudaImage& image : kc.images()) {
        per_arch[image.arch()] += image.size();
        per_arch_raw[image.arch()] += image.raw_size();
      }
  WARN("artifact sizes: " << fs::file_size(c.in) << " bytes for the CPU, " << fs::file_size(out)
                          << " bytes with device code for 3 kernel sources (" << section.size()
                          << " bytes, zstd-compressed: sm_80 " << per_arch["sm_80"] << " of " << per_arch_raw["sm_80"]
                          << ", sm_90 " << per_arch["sm_90"] << " of " << per_arch_raw["sm_90"] << ", compute_80 "
                          << per_arch["compute_80"] << " of " << per_arch_raw["compute_80"] << ")");
  Result shown = run_tlc({"--inspect", out}, c.dir);
  CHECK_THAT(shown.output, Catch::Contains("cuda device code: sm_80 sm_90 compute_80"));

  // Other architecture lists; none drops the code (the GPU compiles the steps at load).
  struct ArchCase {
    const char* flag;
    std::vector<std::string> archs;
  };
  for (const ArchCase& ac : {ArchCase{"sm_90", {"sm_90", "compute_90"}}, ArchCase{"compute_80", {"compute_80"}},
                             ArchCase{"sm_90,sm_80,compute_75", {"sm_90", "sm_80", "compute_75"}}, ArchCase{"none", {}}}) {
    INFO("--cuda-arch " << ac.flag);
    const std::string other = c.dir.file("chain_other.tlart");
    // From the artifact that already holds code: its code is replaced, not added to.
    Result o = run_tlc({out, "-o", other, "--emit", "artifact", "--target", "cuda", "--cuda-arch", ac.flag}, c.dir);
    INFO(o.output);
    REQUIRE(o.exit_code == 0);
    rt::Artifact oa = rt::Artifact::open(other);
    CHECK(oa.section("cuda").empty() == ac.archs.empty());
    for (const artifact::Node& n : oa.program().nodes()) {
      if (!n.has_fused()) continue;
      CHECK(n.fused().cuda().code_size() == (ac.archs.empty() ? 0 : n.fused().cuda().reduce_dims_size() > 0 ? 2 : 1));
      for (const artifact::CudaKernelCode& kc : n.fused().cuda().code()) {
        std::vector<std::string> archs;
        for (const artifact::CudaImage& image : kc.images()) archs.push_back(image.arch());
        CHECK(archs == ac.archs);
      }
    }
  }
}

TEST_CASE("tlc --cuda-arch refuses names that are not CUDA architectures", "[tools][tlc][cuda]") {
  CudaChain c;
  const std::string out = c.dir.file("refused.tlart");
  struct Bad {
    const char* flag;
    const char* message;
  };
  std::vector<Bad> cases{{"sm_9x", "'sm_9x' is not a CUDA architecture"},
                         {"sm_90a", "'sm_90a' is not a CUDA architecture"},
                         {"sm_80,,sm_90", "'' is not a CUDA architecture"},
                         {"sm_80,sm_80", "sm_80 is listed twice"},
                         {"gfx90a", "'gfx90a' is not a CUDA architecture"}};
  if (has_nvrtc()) cases.push_back({"sm_12", "sm_12 is not an architecture this NVRTC compiles for"});
  for (const Bad& bad : cases) {
    INFO(bad.flag);
    Result r = run_tlc({c.in, "-o", out, "--emit", "artifact", "--target", "cuda", "--cuda-arch", bad.flag}, c.dir);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains("--cuda-arch ") && Catch::Contains(bad.message));
    CHECK_FALSE(fs::exists(out));
  }
  Result r = run_tlc({c.in, "-o", out, "--emit", "artifact", "--cuda-arch", "sm_90"}, c.dir);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("--cuda-arch applies to --target cuda"));
  // The parser alone, against a given list of what NVRTC compiles for.
  std::string why;
  CHECK(tlc::parse_cuda_archs("sm_80,sm_90", {75, 80, 90}, &why) ==
        std::optional<std::vector<std::string>>({"sm_80", "sm_90", "compute_80"}));
  CHECK_FALSE(tlc::parse_cuda_archs("sm_100", {75, 80, 90}, &why));
  CHECK_THAT(why, Catch::Contains("it takes 75, 80, 90"));
}

TEST_CASE("an artifact with device code loads and runs on the emulated CUDA device; altered code is refused",
          "[tools][tlc][cuda]") {
  if (!has_nvrtc()) {
    WARN("skipped: no NVRTC here to compile device code with");
    return;
  }
  CudaChain c;
  const std::string out = c.compile_for_cuda();
  if (cuda_device::is_available()) {
    // Its default device is CUDA. (The emulated device's runner compiles the sources for the
    // host; a GPU loads the cubin of its architecture.)
    Program p = load_program(out);
    CHECK(p.device() == kCUDA);
    const std::vector<Tensor> want = c.forward(c.x), got = p({c.x});
    REQUIRE(got.size() == 2);
    for (size_t i = 0; i < got.size(); ++i) CHECK(allclose(got[i].to(kCPU), want[i], 1e-5, 1e-6));
  } else {
    WARN("skipped running it: no CUDA device, real or emulated");
  }

  // Altered code: refused on CUDA naming the node, before the device is needed; the CPU does not read it.
  struct Case {
    const char* name;
    std::function<void(artifact::FusedSteps&)> edit;
    const char* message;
  };
  const Case cases[] = {
      {"a source hash that is not the steps'",
       [](artifact::FusedSteps& s) { (*s.mutable_code(0)->mutable_source_sha256())[0] ^= 1; },
       "its device code 0 was compiled from a source with SHA-256"},
      {"no source hash", [](artifact::FusedSteps& s) { s.mutable_code(0)->clear_source_sha256(); },
       "compiled from a source with SHA-256 (none)"},
      {"two sets of code for one source", [](artifact::FusedSteps& s) { *s.add_code() = s.code(0); },
       "repeats a kernel source's"},
      {"an unknown architecture", [](artifact::FusedSteps& s) { s.mutable_code(0)->mutable_images(0)->set_arch("sm_90a"); },
       "unknown architecture 'sm_90a'"},
      {"an architecture twice",
       [](artifact::FusedSteps& s) { s.mutable_code(0)->mutable_images(1)->set_arch(s.code(0).images(0).arch()); },
       "has two sm_80 images"},
      {"an image past the section",
       [](artifact::FusedSteps& s) { s.mutable_code(0)->mutable_images(0)->set_offset(uint64_t{1} << 40); },
       "outside the cuda section"},
      {"an image whose end wraps",
       [](artifact::FusedSteps& s) { s.mutable_code(0)->mutable_images(0)->set_size(~uint64_t{0}); },
       "outside the cuda section"},
      {"a cubin that is PTX",
       [](artifact::FusedSteps& s) {
         const artifact::CudaImage ptx = s.code(0).images(2);
         s.mutable_code(0)->mutable_images(0)->set_offset(ptx.offset());
         s.mutable_code(0)->mutable_images(0)->set_size(ptx.size());
       },
       "its sm_80 code is a zstd frame of"},
      // How an image is stored, checked for every image (the frame's headers, not its content).
      {"an unknown encoding",
       [](artifact::FusedSteps& s) {
         s.mutable_code(0)->mutable_images(0)->set_encoding(static_cast<artifact::CudaImage::Encoding>(7));
       },
       "its sm_80 code is stored in an unknown encoding 7 (raw or zstd)"},
      {"an absurd decompressed size",
       [](artifact::FusedSteps& s) { s.mutable_code(0)->mutable_images(0)->set_raw_size(uint64_t{1} << 40); },
       "its sm_80 code declares a decompressed size of 1099511627776 bytes (1 to 67108864)"},
      {"a decompressed size just over the cap",
       [](artifact::FusedSteps& s) { s.mutable_code(0)->mutable_images(0)->set_raw_size((uint64_t{64} << 20) + 1); },
       "its sm_80 code declares a decompressed size of 67108865 bytes"},
      {"no decompressed size", [](artifact::FusedSteps& s) { s.mutable_code(0)->mutable_images(0)->set_raw_size(0); },
       "its sm_80 code declares a decompressed size of 0 bytes"},
      {"a decompressed size its frame contradicts",
       [](artifact::FusedSteps& s) {
         artifact::CudaImage& image = *s.mutable_code(0)->mutable_images(0);
         image.set_raw_size(image.raw_size() - 1);
       },
       "its sm_80 code is a zstd frame of"},
      {"a truncated frame",
       [](artifact::FusedSteps& s) {
         artifact::CudaImage& image = *s.mutable_code(0)->mutable_images(0);
         image.set_size(image.size() - 8);
       },
       "its sm_80 code is not one whole zstd frame"},
      {"bytes after the frame",
       [](artifact::FusedSteps& s) {
         artifact::CudaImage& image = *s.mutable_code(0)->mutable_images(0);
         image.set_size(image.size() + 1);
       },
       "its sm_80 code has 1 bytes after its zstd frame"},
      {"a raw image that declares a decompressed size",
       [](artifact::FusedSteps& s) { s.mutable_code(0)->mutable_images(0)->set_encoding(artifact::CudaImage::RAW); },
       "its sm_80 code is stored raw but declares a decompressed size"},
      {"a compressed cubin marked raw",
       [](artifact::FusedSteps& s) {
         s.mutable_code(0)->mutable_images(0)->set_encoding(artifact::CudaImage::RAW);
         s.mutable_code(0)->mutable_images(0)->set_raw_size(0);
       },
       "its sm_80 code is not a cubin (an ELF image)"},
  };
  for (const Case& k : cases) {
    INFO(k.name);
    const std::string altered = c.dir.file("altered.tlart");
    int node = -1;
    rewrite_program(out, altered, [&](artifact::Program& p) {
      for (int i = 0; i < p.nodes_size() && node < 0; ++i)
        if (p.nodes(i).has_fused() && p.nodes(i).fused().cuda().code_size() > 0) node = i;
      REQUIRE(node >= 0);
      k.edit(*p.mutable_nodes(node)->mutable_fused()->mutable_cuda());
    });
    CHECK_THROWS_AS(load_program(altered, ProgramLoadOptions{.device = kCUDA}), rt::ArtifactError);
    CHECK_THROWS_WITH(load_program(altered, ProgramLoadOptions{.device = kCUDA}),
                      Catch::Contains("node " + std::to_string(node) + " (fused): its") && Catch::Contains(k.message));
    CHECK_NOTHROW(load_program(altered, ProgramLoadOptions{.device = kCPU}));
  }
  // tlc --target cuda compiles the code again from the steps, replacing what was there.
  const std::string recompiled = c.dir.file("recompiled.tlart");
  const Result r = run_tlc({c.dir.file("altered.tlart"), "-o", recompiled, "--emit", "artifact", "--target", "cuda"},
                           c.dir);
  CHECK(r.exit_code == 0);
  if (cuda_device::is_available()) CHECK(allclose(load_program(recompiled)({c.x})[0].to(kCPU), c.forward(c.x)[0], 1e-5, 1e-6));
}

namespace {

// The first fused node of `p` that carries device code.
int node_with_code(const artifact::Program& p) {
  for (int i = 0; i < p.nodes_size(); ++i)
    if (p.nodes(i).has_fused() && p.nodes(i).fused().cuda().code_size() > 0) return i;
  FAIL("no fused node carries device code");
  return -1;
}

// Which of `code`'s images a GPU of `device_arch` runs (-1: none).
int chosen_index(const artifact::CudaKernelCode& code, const std::string& device_arch) {
  std::vector<std::string> archs;
  for (const artifact::CudaImage& image : code.images()) archs.push_back(image.arch());
  return rt::cuda::choose_image(archs, device_arch);
}

// The images the emulated device was given so far (none on a real GPU, which records none).
std::vector<test::HostKernelRunner::GivenImage> given_images() {
  return test::emulated_runner() != nullptr ? test::emulated_runner()->given_images()
                                            : std::vector<test::HostKernelRunner::GivenImage>{};
}

// Device code NVRTC makes for every kernel source of `artifact`'s fused groups, for `arch`.
std::set<std::string> compiled_for(const std::string& artifact, const std::string& arch) {
  std::set<std::string> out;
  for (const rt::CudaGroupSources& g : rt::cuda_group_sources(rt::Artifact::open(artifact)))
    for (const rt::CudaKernelSource& k : g.kernels) out.insert(*rt::cuda::compile_cached(k.source, "", arch).binary);
  return out;
}

// The emulated device claims `arch` while alive, then sm_90 again.
struct EmulatedArch {
  explicit EmulatedArch(const std::string& arch) { test::set_emulated_device_arch(arch); }
  ~EmulatedArch() { test::set_emulated_device_arch("sm_90"); }
};

}  // namespace

TEST_CASE("a load decompresses only the image its device runs, and refuses a frame that does not decompress to "
          "its declared size before loading any code", "[tools][tlc][cuda]") {
  if (!has_nvrtc()) {
    WARN("skipped: no NVRTC here to compile device code with");
    return;
  }
  CudaChain c;
  const std::string out = c.compile_for_cuda();
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device, real or emulated");
    return;
  }
  const std::string device_arch = rt::cuda::runner().device_arch();
  const rt::Artifact artifact = rt::Artifact::open(out);
  const std::span<const uint8_t> cuda_section = artifact.section("cuda");
  const std::string_view section(reinterpret_cast<const char*>(cuda_section.data()), cuda_section.size());
  const int node = node_with_code(artifact.program());
  const artifact::CudaKernelCode code = artifact.program().nodes(node).fused().cuda().code(0);
  const int chosen = chosen_index(code, device_arch);
  if (chosen < 0) {
    WARN("skipped: no stored image fits this GPU (" << device_arch << ")");
    return;
  }
  const std::string arch = code.images(chosen).arch();
  INFO("the device (" << device_arch << ") runs the " << arch << " image");

  // Every other image of the node is damaged inside its frame, its headers intact: a load that
  // decompressed one would refuse the artifact. It loads, runs, and was given the chosen images.
  const std::string damaged = c.dir.file("damaged.tlart");
  rewrite_artifact(out, damaged, [&](artifact::Program&, std::string& cuda) {
    for (int i = 0; i < code.images_size(); ++i) {
      if (i == chosen) continue;
      const artifact::CudaImage& image = code.images(i);
      cuda[image.offset() + image.size() / 2] ^= 0x55;
      std::string why;
      CHECK_FALSE(rt::zstd_decompress(std::string_view(cuda).substr(image.offset(), image.size()), image.raw_size(), &why));
    }
  });
  size_t before = given_images().size();
  {
    Program p = load_program(damaged, ProgramLoadOptions{.device = kCUDA});
    const std::vector<Tensor> want = c.forward(c.x), got = p({c.x});
    REQUIRE(got.size() == 2);
    for (size_t i = 0; i < got.size(); ++i) CHECK(allclose(got[i].to(kCPU), want[i], 1e-5, 1e-6));
  }
  if (test::emulated_runner() != nullptr) {
    // One image per kernel source (3), each the bytes NVRTC made for the chosen architecture.
    const std::vector<test::HostKernelRunner::GivenImage> images = given_images();
    REQUIRE(images.size() == before + 3);
    const std::set<std::string> compiled = compiled_for(out, arch);
    for (size_t i = before; i < images.size(); ++i) {
      CHECK(images[i].arch == arch);
      CHECK(compiled.count(images[i].bytes) == 1);
    }
  }

  // The chosen image itself: a frame that does not decompress to exactly its declared size, or
  // a cubin that is not one once decompressed, refuses the artifact naming the node and image;
  // no device code was loaded.
  const artifact::CudaImage& target = code.images(chosen);
  const std::string image = image_bytes(target, section);
  const std::string n = std::to_string(image.size());
  auto append = [](std::string& cuda, artifact::CudaImage& at, const std::string& frame) {
    cuda.resize((cuda.size() + 63) / 64 * 64, '\0');
    at.set_offset(cuda.size());
    at.set_size(frame.size());
    cuda += frame;
  };
  struct Case {
    std::string name;
    std::function<void(artifact::CudaImage&, std::string&)> edit;
    std::string message;
  };
  std::vector<Case> cases = {
      {"a damaged frame", [](artifact::CudaImage& at, std::string& cuda) { cuda[at.offset() + at.size() / 2] ^= 0x55; },
       "code does not decompress ("},
      {"a frame of more bytes than it declares",
       [&](artifact::CudaImage& at, std::string& cuda) { append(cuda, at, test::frame_without_size(image + "0123456789abcdef")); },
       "code decompresses to more than the " + n + " bytes it declares"},
      {"a frame of fewer bytes than it declares",
       [&](artifact::CudaImage& at, std::string& cuda) {
         append(cuda, at, test::frame_without_size(image.substr(0, image.size() - 16)));
       },
       "code decompresses to " + std::to_string(image.size() - 16) + " bytes, not the " + n + " it declares"},
  };
  const auto ptx = std::find_if(code.images().begin(), code.images().end(),
                                [](const artifact::CudaImage& i) { return i.arch().starts_with("compute_"); });
  if (arch.starts_with("sm_") && ptx != code.images().end())
    cases.push_back({"a cubin that decompresses to PTX",
                     [&](artifact::CudaImage& at, std::string&) {
                       at.set_offset(ptx->offset());
                       at.set_size(ptx->size());
                       at.set_raw_size(ptx->raw_size());
                     },
                     "code is not a cubin (an ELF image) once decompressed"});
  for (const Case& k : cases) {
    INFO(k.name);
    const std::string altered = c.dir.file("altered.tlart");
    rewrite_artifact(out, altered, [&](artifact::Program& p, std::string& cuda) {
      k.edit(*p.mutable_nodes(node)->mutable_fused()->mutable_cuda()->mutable_code(0)->mutable_images(chosen), cuda);
    });
    before = given_images().size();
    CHECK_THROWS_AS(load_program(altered, ProgramLoadOptions{.device = kCUDA}), rt::ArtifactError);
    CHECK_THROWS_WITH(load_program(altered, ProgramLoadOptions{.device = kCUDA}),
                      Catch::Contains("node " + std::to_string(node) + " (fused): its " + arch + " " + k.message) &&
                          Catch::Contains("nothing was run"));
    CHECK(given_images().size() == before);
    CHECK_NOTHROW(load_program(altered, ProgramLoadOptions{.device = kCPU}));
  }

  if (test::emulated_runner() == nullptr) return;
  // Other GPUs: an sm_86 runs the sm_80 cubin, a newer major version the PTX; an older GPU (and
  // a device of no architecture) gets no image and compiles the sources.
  struct Choice {
    const char* device;
    const char* image;
  };
  for (const Choice& ch : {Choice{"sm_86", "sm_80"}, Choice{"sm_120", "compute_80"}, Choice{"sm_75", ""}, Choice{"", ""}}) {
    INFO("an emulated " << ch.device);
    EmulatedArch claimed(ch.device);
    before = given_images().size();
    Program p = load_program(out, ProgramLoadOptions{.device = kCUDA});
    CHECK(allclose(p({c.x})[0].to(kCPU), c.forward(c.x)[0], 1e-5, 1e-6));
    const std::vector<test::HostKernelRunner::GivenImage> images = given_images();
    REQUIRE(images.size() == before + (*ch.image ? 3 : 0));
    if (!*ch.image) continue;
    const std::set<std::string> compiled = compiled_for(out, ch.image);
    for (size_t i = before; i < images.size(); ++i) {
      CHECK(images[i].arch == ch.image);
      CHECK(compiled.count(images[i].bytes) == 1);
    }
  }
}

TEST_CASE("an artifact whose device code is stored raw, as tl wrote it before compressing it, still loads",
          "[tools][tlc][cuda]") {
  if (!has_nvrtc()) {
    WARN("skipped: no NVRTC here to compile device code with");
    return;
  }
  CudaChain c;
  const std::string out = c.compile_for_cuda(), raw = c.dir.file("chain_raw.tlart");
  // Each image decompressed into a section of its own, stored raw; the fields that say how an
  // image is stored left unset, as the writer before them left them.
  rewrite_artifact(out, raw, [&](artifact::Program& p, std::string& cuda) {
    const std::string stored = cuda;
    cuda.clear();
    std::map<uint64_t, std::pair<uint64_t, uint64_t>> moved;  // by stored offset: raw offset and size
    for (artifact::Node& n : *p.mutable_nodes())
      for (artifact::CudaKernelCode& kc : *n.mutable_fused()->mutable_cuda()->mutable_code())
        for (artifact::CudaImage& image : *kc.mutable_images()) {
          auto at = moved.find(image.offset());
          if (at == moved.end()) {
            const std::string bytes = image_bytes(image, stored);
            cuda.resize((cuda.size() + 63) / 64 * 64, '\0');
            at = moved.emplace(image.offset(), std::make_pair(uint64_t{cuda.size()}, uint64_t{bytes.size()})).first;
            cuda += bytes;
          }
          image.set_offset(at->second.first);
          image.set_size(at->second.second);
          image.clear_encoding();
          image.clear_raw_size();
        }
  });
  const rt::Artifact a = rt::Artifact::open(raw);
  CHECK(a.section("cuda").size() > 2 * rt::Artifact::open(out).section("cuda").size());
  CHECK(allclose(load_program(raw, ProgramLoadOptions{.device = kCPU})({c.x})[0], c.forward(c.x)[0], 1e-5, 1e-6));
  if (!cuda_device::is_available()) {
    WARN("skipped running it on CUDA: no CUDA device, real or emulated");
    return;
  }
  const size_t before = given_images().size();
  Program p = load_program(raw, ProgramLoadOptions{.device = kCUDA});
  const std::vector<Tensor> want = c.forward(c.x), got = p({c.x});
  REQUIRE(got.size() == 2);
  for (size_t i = 0; i < got.size(); ++i) CHECK(allclose(got[i].to(kCPU), want[i], 1e-5, 1e-6));
  if (test::emulated_runner() != nullptr) {
    // The raw cubins themselves (sm_90: the emulated device's architecture).
    const std::vector<test::HostKernelRunner::GivenImage> images = given_images();
    REQUIRE(images.size() == before + 3);
    const std::set<std::string> compiled = compiled_for(out, "sm_90");
    for (size_t i = before; i < images.size(); ++i) {
      CHECK(images[i].arch == "sm_90");
      CHECK(compiled.count(images[i].bytes) == 1);
    }
  }
}
