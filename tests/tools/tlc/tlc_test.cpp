// tlc and the executables it emits, run as a user runs them: an MLP exported with
// tl::export_program goes through the built `tlc` binary (TLC_PATH) and the emitted executable,
// and their exit codes, messages and files are checked against the artifact and tl eager.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/artifact/artifact.h"
#include "tests/support/scratch_dir.h"
#include "tl/tl.h"
#include "tools/tlc/byte_size.h"
#include "tests/support/small_models.h"
#include "tools/tlc/exe_format.h"

using namespace tl;
namespace fs = std::filesystem;

extern char** environ;

namespace {

using testing::Mlp;

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
