// tlc: checks a compiled artifact (written by tl::export_program), reports its memory plan, and
// emits a verified copy, a standalone executable that runs it, or a shared library with a C
// header of typed entry points (docs/tlc.md).
//   tlc --inspect FILE
//   tlc IN -o OUT [--emit exe|lib|artifact] [--name NAME] [--batch N] [--max-memory SIZE] [--print-plan]
//       [--threads N] [--target cpu|cuda] [--cuda-arch sm_80,sm_90]
// The input is read once; every check and every byte written concerns those same bytes.
#include <CLI/CLI.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <iostream>
#include <optional>

#include "runtime/artifact/artifact.h"
#include "runtime/base/file_io.h"
#include "runtime/cuda/nvrtc.h"
#include "tl/program.h"
#include "tl/version.h"
#include "tools/tlc/byte_size.h"
#include "tools/tlc/cuda_code.h"
#include "tools/tlc/emit_lib.h"
#include "tools/tlc/exe_format.h"
#include "tools/tlc/memory_report.h"

namespace fs = std::filesystem;
using namespace tl;

namespace {

// The exit codes docs/tlc.md lists.
enum ExitCode { kOk = 0, kUsage = 1, kBadInput = 2, kOverBudget = 3, kWriteFailed = 4 };

constexpr size_t kLargestBuffersShown = 5;

struct Options {
  std::string inspect;
  std::string input;
  std::string output;
  std::string emit = "exe";
  std::string name;  // --emit lib: the model's name in its header
  std::string max_memory;
  bool print_plan = false;
  int threads = 0;
  int64_t batch = 0;
  std::string target = "cpu";
  std::string cuda_arch = tlc::kDefaultCudaArchs;
};

int fail(int code, const std::string& message) {
  std::cerr << "tlc: " << message << "\n";
  return code;
}

std::string count(size_t n, const char* one) { return std::to_string(n) + " " + one + (n == 1 ? "" : "s"); }

// The runner copied into each executable: tl-model-runner, built beside tlc.
fs::path runner_path() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return (ec ? fs::path(".") : self.parent_path()) / "tl-model-runner";
}

int inspect(const std::string& path) {
  std::optional<rt::Artifact> a;
  try {
    a = rt::Artifact::open(path);
  } catch (const Error& e) {
    return fail(kBadInput, e.what());
  }
  std::cout << rt::describe(*a) << "constants:\n"
            << tlc::format_constants(a->program()) << "memory plan:\n"
            << tlc::format_summary(tlc::summarize_memory(a->program()));
  // The structural checks above are the runtime's; the op table's run only in the loader (on the
  // CPU, which every artifact runs on; a CUDA target's steps are checked by tlc --target cuda).
  try {
    load_program(path, ProgramLoadOptions{.device = kCPU});
  } catch (const Error& e) {
    return fail(kBadInput, e.what());
  }
  std::cout << "verified: tl::load_program accepts it (every kernel call checked against this build's op table)\n";
  return kOk;
}

// An ONNX model (IN ends in .onnx): tl-onnx-import, beside tlc, imports it into a temporary
// artifact that the rest of tlc reads like any other. tlc itself links only the runtime.
struct TemporaryFile {
  std::string path;
  ~TemporaryFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

bool is_onnx(const std::string& path) { return fs::path(path).extension() == ".onnx"; }

// Runs tl-onnx-import with `extra` arguments; returns its exit code (127: could not start).
int run_importer(const std::string& importer, const Options& o, const std::string& out, std::vector<std::string> extra) {
  std::vector<std::string> args{importer, o.input, "-o", out};
  args.insert(args.end(), extra.begin(), extra.end());
  if (o.print_plan) args.push_back("--print-plan");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout.flush();
  pid_t pid = ::fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    ::execv(importer.c_str(), argv.data());
    std::_Exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : kBadInput;
}

int import_onnx(const Options& o, TemporaryFile& artifact) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const std::string importer = ((ec ? fs::path(".") : self.parent_path()) / "tl-onnx-import").string();
  if (::access(importer.c_str(), X_OK) != 0) {
    return fail(kUsage, o.input + " is an ONNX model, but '" + importer + "' (which imports ONNX models) is missing");
  }
  artifact.path = (fs::temp_directory_path() / ("tlc-onnx-" + std::to_string(::getpid()) + ".tlart")).string();
  int code = kOk;
  if (o.batch > 0) {
    // Batches 1 to N when the program's shapes scale with the batch; else exactly N.
    code = run_importer(importer, o, artifact.path, {"--max-batch", std::to_string(o.batch)});
    if (code == kBadInput) {
      std::cerr << "tlc: the model cannot run at every batch size up to " << o.batch << " (see above); compiling it "
                << "for batch " << o.batch << " exactly\n";
      code = run_importer(importer, o, artifact.path, {"--batch", std::to_string(o.batch)});
      if (code == kOk) return kOk;  // the artifact has fixed shapes: --batch no longer applies
    }
  } else {
    code = run_importer(importer, o, artifact.path, {});
  }
  if (code == 127) return fail(kUsage, "cannot start " + importer);
  if (code != kOk) return fail(code, "importing the ONNX model " + o.input + " failed (see above)");
  return kOk;
}

// --target cuda: checks that every fused group of `a` has its CUDA steps, compiles them for
// `archs` (tlc::compile_cuda_code), and replaces `bytes` with the artifact that carries that
// code and whose default device is CUDA, once the loader accepts it.
int retarget_cuda(const rt::Artifact& a, const std::string& shown, const std::vector<std::string>& archs,
                  std::string& bytes) {
  std::string missing;
  for (int k = 0; k < a.program().nodes_size(); ++k) {
    const artifact::Node& n = a.program().nodes(k);
    if (n.has_fused() && n.fused().cuda().steps_size() == 0)
      missing += (missing.empty() ? "" : ", ") + std::to_string(k) + " (" + n.fused().description().substr(0, 64) + ")";
  }
  if (!missing.empty())
    return fail(kBadInput, shown + " cannot target cuda: its fused groups " + missing +
                               " have no CUDA form (an older tl exported them); "
                               "re-export it with this tl");
  tlc::CudaCode code;
  try {
    code = tlc::compile_cuda_code(a, archs);
  } catch (const DeviceError& e) {
    return fail(kUsage, std::string(e.what()) + "; tlc --target cuda compiles each fused group with NVRTC (the CUDA "
                                                "toolkit's libnvrtc); --cuda-arch none writes no device code");
  } catch (const Error& e) {
    return fail(kBadInput, e.what());
  }
  if (!archs.empty() && code.groups > 0) {
    std::string list;
    for (const std::string& arch : archs) list += (list.empty() ? "" : ", ") + arch;
    std::cout << "cuda: compiled " << count(code.sources, "kernel source") << " of " << count(code.groups, "fused group")
              << " for " << list << ": " << tlc::format_bytes(code.section.size()) << " of device code\n";
  }
  artifact::Manifest manifest = a.manifest();
  manifest.set_default_device("cuda");
  std::vector<rt::SectionBytes> sections;
  for (const artifact::Section& s : a.manifest().sections()) {
    if (s.name() == "cuda") continue;  // replaced by the code just compiled
    std::span<const uint8_t> b = a.section(s.name());
    sections.push_back({s.name(), s.name() == "program" ? code.program
                                                        : std::string(reinterpret_cast<const char*>(b.data()), b.size())});
  }
  if (!code.section.empty()) sections.push_back({"cuda", std::move(code.section)});
  // write_artifact lays the file out; its bytes are what the rest of tlc writes or embeds.
  TemporaryFile retargeted;
  retargeted.path = (fs::temp_directory_path() / ("tlc-cuda-" + std::to_string(::getpid()) + ".tlart")).string();
  try {
    uint64_t size = rt::kArtifactHeaderBytes + (1u << 20);
    for (const rt::SectionBytes& s : sections) size += s.bytes.size() + rt::kSectionAlignment;
    rt::write_artifact(retargeted.path, manifest, sections);
    bytes = detail::read_file_capped(retargeted.path, size, "tl artifact", Site{});
  } catch (const Error& e) {
    return fail(kWriteFailed, e.what());
  }
  try {
    load_program_bytes(bytes, shown, ProgramLoadOptions{.device = kCUDA});
  } catch (const rt::ArtifactError& e) {
    return fail(kBadInput, e.what());
  } catch (const DeviceError& e) {
    // Without a GPU here, the steps and the device code were checked before the device was needed.
    if (cuda_device::is_available()) return fail(kBadInput, e.what());
    std::cout << "note: no CUDA device here; the CUDA steps and device code were verified but not run\n";
  } catch (const Error& e) {
    return fail(kBadInput, e.what());
  }
  return kOk;
}

int compile(const Options& options, uint64_t budget) {
  Options o = options;
  TemporaryFile imported;
  std::string shown = o.input;  // what messages call the input (the .onnx, not its temporary artifact)
  if (is_onnx(o.input)) {
    if (int code = import_onnx(o, imported); code != kOk) return code;
    o.input = imported.path;
    std::optional<rt::Artifact> check;
    try {
      check = rt::Artifact::open(o.input);
    } catch (const Error& e) {
      return fail(kBadInput, e.what());
    }
    if (check->manifest().max_batch() == 0) o.batch = 0;  // compiled for one batch size
  }
  std::string bytes;
  std::optional<rt::Artifact> a;
  try {
    const rt::ArtifactLimits limits;
    bytes = detail::read_file_capped(o.input, limits.max_manifest_bytes + limits.max_program_bytes + limits.max_arena_bytes,
                                     "tl artifact", Site{});
    a = rt::Artifact::from_bytes(bytes, o.input);
    load_program_bytes(bytes, o.input, ProgramLoadOptions{.device = kCPU});
  } catch (const Error& e) {
    return fail(kBadInput, e.what());
  }
  if (o.target == "cuda") {
    std::vector<std::string> archs;
    if (o.cuda_arch != "none") {
      // The names are checked against what this NVRTC compiles for (without one, against nothing:
      // compiling fails next, saying so).
      std::vector<int> supported;
      if (const rt::cuda::Nvrtc* nvrtc = rt::cuda::Nvrtc::get()) supported = nvrtc->supported_archs();
      std::string why;
      std::optional<std::vector<std::string>> parsed = tlc::parse_cuda_archs(o.cuda_arch, supported, &why);
      if (!parsed) return fail(kUsage, "--cuda-arch " + o.cuda_arch + ": " + why);
      archs = std::move(*parsed);
    }
    if (int code = retarget_cuda(*a, shown, archs, bytes); code != kOk) return code;
    a = rt::Artifact::from_bytes(bytes, o.input);
  }
  const artifact::Manifest& m = a->manifest();
  const artifact::Program& p = a->program();
  if (o.batch > 0 && (m.max_batch() == 0 || o.batch > m.max_batch()))
    return fail(kUsage, "--batch " + std::to_string(o.batch) + ": " + shown +
                            (m.max_batch() == 0 ? " has fixed shapes (export it with ExportOptions::max_batch)"
                                                : " runs batches up to " + std::to_string(m.max_batch())));
  std::cout << "verified " << shown << (shown != o.input ? " (imported as a tl artifact)" : "") << ": " << tlc::format_bytes(bytes.size()) << ", tl " << m.tl_version() << ", "
            << count(m.inputs_size(), "input") << ", " << count(m.outputs_size(), "output") << "\n";
  const tlc::MemorySummary memory = tlc::summarize_memory(p);
  std::cout << "memory plan:\n" << tlc::format_summary(memory);
  if (o.print_plan) std::cout << "plan (arena " << memory.arena_bytes << " bytes):\n" << tlc::format_plan(p, m);
  std::cout.flush();
  if (!o.max_memory.empty() && memory.peak_bytes > budget) {
    std::string largest = tlc::format_largest_buffers(p, m, kLargestBuffersShown);
    largest.pop_back();  // fail() ends the line
    return fail(kOverBudget, shown + ": the plan needs " + tlc::format_bytes(memory.peak_bytes) +
                                 " at peak, over the --max-memory budget of " + o.max_memory + " = " +
                                 tlc::format_bytes(budget) + "; nothing was written. The largest buffers:\n" + largest);
  }

  if (o.emit == "artifact") {
    try {
      detail::write_file_atomically(o.output, bytes, "tl artifact", Site{});
    } catch (const Error& e) {
      return fail(kWriteFailed, e.what());
    }
    std::cout << "wrote " << o.output << ": a verified copy of the artifact" << (o.target == "cuda" ? " targeting cuda" : "")
              << ", " << tlc::format_bytes(bytes.size()) << "\n";
    return kOk;
  }
  if (o.emit == "lib") {
    const std::string symbol = tlc::model_symbol_name(o.output, o.name);
    try {
      const tlc::EmittedLibrary lib = tlc::emit_library(o.output, bytes, m, symbol, shown);
      std::cout << "wrote " << o.output << ": a shared library, " << tlc::format_bytes(lib.library_bytes)
                << ", and its header " << lib.header_path << ": " << symbol << "_run(...), " << symbol
                << "_load(), " << symbol << "_last_error()\n";
    } catch (const Error& e) {
      return fail(kWriteFailed, e.what());
    }
    return kOk;
  }
  const fs::path runner_file = runner_path();
  try {
    std::string runner = detail::read_file_capped(runner_file.string(), 1ull << 30, "tl-model-runner", Site{});
    if (tlc::has_exe_trailer(runner))
      return fail(kWriteFailed, "'" + runner_file.string() + "' already carries a model (it ends in a TLEXE trailer); "
                                "it must be the bare tl-model-runner built with tlc");
    tlc::ExeSettings settings;
    settings.threads = o.threads;
    settings.batch = o.batch;
    uint64_t total = tlc::write_exe(o.output, runner, bytes, settings);
    // What to type to run it: a bare name would be looked up in PATH.
    const std::string command = o.output.find('/') == std::string::npos ? "./" + o.output : o.output;
    std::cout << "wrote " << o.output << ": a standalone executable, " << tlc::format_bytes(total) << ": the runner, "
              << tlc::format_bytes(runner.size()) << ", then the artifact"
              << (o.threads > 0 ? ", to run with " + count(o.threads, "thread") : "")
              << (o.batch > 0 ? ", for batches up to " + std::to_string(o.batch) : "") << ". Try " << command << " --info\n";
  } catch (const Error& e) {
    return fail(kWriteFailed, e.what());
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Checks a compiled tl artifact (tl::export_program), reports its memory plan, and emits a "
               "verified copy, a standalone executable that runs it, or a shared library with a C header",
               "tlc"};
  app.set_version_flag("--version", std::string("tlc (Tracelight) ") + tl::version());
  app.footer(
      "Exit codes: 0 ok, 1 usage, 2 bad input file, 3 over the --max-memory budget, 4 write failure.\n"
      "SIZE: a number and an optional unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).\n"
      "See docs/tlc.md.");
  Options o;
  app.add_option("--inspect", o.inspect, "Print everything in the artifact FILE and exit (takes no other option)")
      ->type_name("FILE");
  auto* input = app.add_option("input", o.input, "The artifact to compile (written by tl::export_program), or an ONNX model (.onnx)")
                    ->type_name("IN");
  auto* output = app.add_option("-o,--output", o.output, "Where to write the result")->type_name("OUT");
  auto* emit = app.add_option("--emit", o.emit,
                              "exe: a standalone executable (default); lib: a shared library and a C header "
                              "(needs a C compiler: $CC, else cc); artifact: a verified copy")
                   ->check(CLI::IsMember({"exe", "lib", "artifact"}));
  auto* name = app.add_option("--name", o.name,
                              "--emit lib: the model's name in its header and functions (default: from OUT, "
                              "libmlp.so -> mlp)")
                   ->type_name("NAME");
  auto* max_memory = app.add_option("--max-memory", o.max_memory,
                                    "Refuse (exit 3) a plan whose peak memory is over SIZE, e.g. 10MB")
                         ->type_name("SIZE");
  auto* print_plan = app.add_flag("--print-plan", o.print_plan, "Print each kernel call's result and arena offset");
  auto* threads = app.add_option("--threads", o.threads, "Threads the executable runs with (default: tl's default)")
                      ->type_name("N")
                      ->check(CLI::Range(1, 4096));
  auto* batch = app.add_option("--batch", o.batch,
                               "The largest batch the executable accepts (a model exported with max_batch; "
                               "default: its maximum)")
                    ->type_name("N")
                    ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  auto* target = app.add_option("--target", o.target,
                                "The device the program runs on by default: cpu, or cuda (every fused group must "
                                "have its CUDA steps; a CPU load still works)")
                     ->check(CLI::IsMember({"cpu", "cuda"}));
  auto* cuda_arch = app.add_option("--cuda-arch", o.cuda_arch,
                                   "--target cuda: the GPUs to compile device code for, e.g. sm_80,sm_90 (default): a "
                                   "cubin per sm_NN, and PTX (compute_NN; default: for the lowest sm_NN) that the "
                                   "driver compiles for newer GPUs; none: the GPU compiles each group with NVRTC at "
                                   "load")
                       ->type_name("LIST");
  app.failure_message([](const CLI::App* a, const CLI::Error& e) { return "tlc: " + CLI::FailureMessage::simple(a, e); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  if (!o.inspect.empty()) {
    for (const CLI::Option* opt : {input, output, emit, name, max_memory, print_plan, threads, batch, target, cuda_arch})
      if (opt->count() > 0)
        return fail(kUsage, "--inspect FILE takes no other option, got " +
                                (opt == input ? "a second file, '" + o.input + "'" : opt->get_name()));
    return inspect(o.inspect);
  }
  if (o.input.empty()) return fail(kUsage, "no input artifact: tlc IN -o OUT, or tlc --inspect FILE (see tlc --help)");
  if (o.output.empty()) return fail(kUsage, "-o OUT is required: where to write the result of compiling " + o.input);
  if (o.threads > 0 && o.emit != "exe")
    return fail(kUsage, "--threads " + std::to_string(o.threads) + " applies to --emit exe; an artifact does not hold it");
  if (o.batch > 0 && o.emit != "exe")
    return fail(kUsage, "--batch " + std::to_string(o.batch) + " applies to --emit exe; an artifact does not hold it");
  if (!o.name.empty() && o.emit != "lib")
    return fail(kUsage, "--name applies to --emit lib");
  if (cuda_arch->count() > 0 && o.target != "cuda") return fail(kUsage, "--cuda-arch applies to --target cuda");
  uint64_t budget = 0;
  if (!o.max_memory.empty()) {
    std::string why;
    std::optional<uint64_t> size = tlc::parse_byte_size(o.max_memory, &why);
    if (!size) return fail(kUsage, "--max-memory: " + why);
    budget = *size;
  }
  return compile(o, budget);
}
