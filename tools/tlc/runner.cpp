// tl-model-runner: the program tlc copies into every executable it emits (docs/tlc.md). At start
// it reads the artifact embedded at the end of its own file (/proc/self/exe; exe_format.h),
// verifies and loads it with tl::load_program, then runs it:
//   model IN0.npy [IN1.npy ...] -o DIR         writes DIR/output_0.npy, ... in the signature's order
//   model [IN0.npy ...] --bench [--iters N]    latency percentiles and throughput (zeros without inputs)
//   model --bench --batch-sweep                for batch 1, 2, 4, ... up to the maximum: latency,
//                                              throughput and planned memory (a batched model)
//   model --info                               the signature and the settings tlc stored
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "tl/io.h"
#include "runtime/ops/registry.h"
#include "tl/program.h"
#include "tl/threading.h"
#include "tools/tlc/byte_size.h"
#include "tools/tlc/exe_format.h"
#include "tools/tlc/machine_peak.h"

namespace fs = std::filesystem;
using namespace tl;

namespace {

// The exit codes docs/tlc.md lists for emitted executables.
enum ExitCode { kOk = 0, kUsage = 1, kBadInput = 2, kWriteFailed = 4, kRunFailed = 5 };

std::string program_name = "model";

int fail(int code, const std::string& message) {
  std::cerr << program_name << ": " << message << "\n";
  return code;
}

std::string spec_str(const TensorSignature& s) {
  std::string out = s.shape.str() + " " + dtype_name(s.dtype);
  if (s.batch_axis >= 0) out += " (dim " + std::to_string(s.batch_axis) + ": any batch size up to the maximum)";
  return out;
}

// Whether `t` fits `want`: its dtype, and its shape with any batch size 1..max_batch in the
// batch dim.
bool fits(const Tensor& t, const TensorSignature& want, int64_t max_batch) {
  if (t.dtype() != want.dtype || t.shape().size() != want.shape.size()) return false;
  for (int64_t d = 0; d < t.shape().size(); ++d) {
    const bool batch = d == want.batch_axis;
    if (batch ? (t.shape()[d] < 1 || t.shape()[d] > max_batch) : t.shape()[d] != want.shape[d]) return false;
  }
  return true;
}

// Zeros of `want`'s shape at batch size `batch` (ignored for unbatched inputs).
Tensor zeros_at(const TensorSignature& want, int64_t batch) {
  Tensor t = ops::empty_tensor(want.shape_at(batch), want.dtype, kCPU);
  std::memset(t.data_ptr(), 0, t.nbytes());
  return t;
}

std::string signature_str(const std::vector<TensorSignature>& specs) {
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i) out += (i ? ", " : "") + specs[i].name + " " + spec_str(specs[i]);
  return out;
}

// The value below which `p` percent of the sorted `samples` lie (nearest rank).
double percentile(const std::vector<double>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

struct Options {
  std::vector<std::string> inputs;
  std::string output_dir;
  bool bench = false;
  int iters = 100;
  int warmup = 3;
  bool info = false;
  int threads = 0;
  bool batch_sweep = false;
  bool profile = false;
  int64_t batch = 0;  // --batch: the batch size of the zeros --bench runs on
};

int print_info(const Program& program, const tlc::EmbeddedModel& model, uint64_t artifact_bytes, const std::string& exe) {
  std::cout << "model: a tl artifact of " << tlc::format_bytes(artifact_bytes) << " embedded at byte "
            << model.offset << " of " << exe << "\n"
            << "device: " << program.device().str()
            << (program.device() == kCPU ? "" : " (CPU inputs are copied there)") << "\n"
            << "threads: " << get_num_threads()
            << (model.settings.threads > 0 ? " (tlc --threads)" : " (tl's default; OMP_NUM_THREADS sets it)") << "\n"
            << "inputs:\n";
  for (const TensorSignature& s : program.inputs()) std::cout << "  " << s.name << ": " << spec_str(s) << "\n";
  std::cout << "outputs:\n";
  for (const TensorSignature& s : program.outputs()) std::cout << "  " << s.name << ": " << spec_str(s) << "\n";
  if (program.max_batch() > 0) std::cout << "batch sizes: 1 to " << program.max_batch() << "\n";
  return kOk;
}

// Reads the inputs named on the command line, each checked against the signature; returns an
// exit code other than kOk when one is missing or does not match.
int read_inputs(const Program& program, int64_t max_batch, const std::vector<std::string>& files,
                std::vector<Tensor>* inputs) {
  const std::vector<TensorSignature>& want = program.inputs();
  if (files.size() != want.size())
    return fail(kUsage, "the model takes " + std::to_string(want.size()) + " input" + (want.size() == 1 ? "" : "s") +
                            " (" + signature_str(want) + "), in this order, as .npy files; got " +
                            std::to_string(files.size()));
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string which = "input " + std::to_string(i) + " ('" + want[i].name + "')";
    Tensor t;
    try {
      t = load_npy(files[i]);
    } catch (const Error& e) {
      return fail(kBadInput, which + ": " + e.what());
    }
    if (!fits(t, want[i], max_batch))
      return fail(kBadInput, which + " from '" + files[i] + "' is " + t.shape().str() + " " + dtype_name(t.dtype()) +
                                 "; the model takes " + spec_str(want[i]) +
                                 (want[i].batch_axis >= 0 ? " with batches of 1 to " + std::to_string(max_batch) : ""));
    inputs->push_back(std::move(t));
  }
  return kOk;
}

int write_outputs(const Program& program, const std::vector<Tensor>& outputs, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(kWriteFailed, "cannot create the output folder '" + dir + "': " + ec.message());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string path = (fs::path(dir) / ("output_" + std::to_string(i) + ".npy")).string();
    try {
      save_npy(path, outputs[i]);
    } catch (const Error& e) {
      return fail(kWriteFailed, e.what());
    }
    std::cout << program.outputs()[i].name << ": " << outputs[i].shape().str() << " " << dtype_name(outputs[i].dtype())
              << " -> " << path << "\n";
  }
  return kOk;
}

// Median-based timing of `iters` runs into preallocated outputs (no allocation per run).
struct Timing {
  std::vector<double> ms;  // sorted
  double total_s = 0;
};
Timing time_runs(const Program& program, const std::vector<Tensor>& inputs, int warmup, int iters) {
  using Clock = std::chrono::steady_clock;
  std::vector<Tensor> outputs = program(inputs);
  for (int i = 0; i < warmup; ++i) program.run(inputs, outputs);
  Timing t;
  t.ms.reserve(static_cast<size_t>(iters));
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < iters; ++i) {
    Clock::time_point t0 = Clock::now();
    program.run(inputs, outputs);
    t.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  t.total_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(t.ms.begin(), t.ms.end());
  return t;
}

int bench(const Program& program, const std::vector<Tensor>& inputs, const Options& o) {
  Timing t = time_runs(program, inputs, o.warmup, o.iters);
  const std::vector<double>& ms = t.ms;
  double mean = 0;
  for (double x : ms) mean += x / static_cast<double>(ms.size());
  std::printf("bench: %d runs after %d warm-up runs, on %s, %d threads\n", o.iters, o.warmup,
              o.inputs.empty() ? "zeros" : "the given inputs", get_num_threads());
  std::printf("latency: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  min %.3f ms  max %.3f ms  mean %.3f ms\n",
              percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), ms.front(), ms.back(), mean);
  std::printf("throughput: %.1f runs/s\n", static_cast<double>(o.iters) / t.total_s);
  return kOk;
}

// Where the time goes: per op (summed over its calls), the time per run, its share, and the
// rate it ran at against what this machine can do, measured now: FLOP/s against the FMA
// peak for convolutions and matrix products, bytes/s against the copy bandwidth for the
// rest. An op whose FLOPs per byte are above the machine's balance (peak / bandwidth) is
// compute-bound, else memory-bound.
int profile(const Program& program, const std::vector<Tensor>& inputs, const Options& o) {
  const int threads = get_num_threads();
  const double peak = tlc::fma_peak_gflops(threads), bandwidth = tlc::copy_bandwidth_gbs(threads);
  ProgramProfile p = program.profile(inputs, o.iters);
  struct Row {
    int calls = 0;
    double seconds = 0, flops = 0, bytes = 0;
  };
  std::map<std::string, Row> rows;
  double total = 0;
  for (const NodeProfile& n : p.nodes) {
    Row& r = rows[n.op];
    ++r.calls;
    r.seconds += n.seconds / p.runs;
    r.flops += n.flops;
    r.bytes += n.bytes;
    total += n.seconds / p.runs;
  }
  std::vector<std::pair<std::string, Row>> sorted(rows.begin(), rows.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  std::printf("profile: %d runs, %d threads; this machine now: %.1f GFLOP/s fp32 FMA peak, %.1f GB/s copy bandwidth\n",
              p.runs, threads, peak, bandwidth);
  std::printf("%-24s %6s %10s %7s %10s %7s %9s %7s  %s\n", "op", "calls", "ms/run", "share", "GFLOP/s", "%peak", "GB/s",
              "%bw", "bound by");
  double conv_seconds = 0, conv_flops = 0;
  for (const auto& [op, r] : sorted) {
    const double gflops = r.flops / r.seconds / 1e9, gbs = r.bytes / r.seconds / 1e9;
    const bool compute = r.flops > 0 && r.flops / r.bytes > peak / bandwidth;
    if (op.rfind("conv2d", 0) == 0) conv_seconds += r.seconds, conv_flops += r.flops;
    if (r.bytes == 0) {  // views: no data moved
      std::printf("%-24s %6d %10.3f %6.1f%% %10s %7s %9s %7s  %s\n", op.c_str(), r.calls, r.seconds * 1e3,
                  100 * r.seconds / total, "-", "-", "-", "-", "(view)");
    } else if (r.flops > 0) {
      std::printf("%-24s %6d %10.3f %6.1f%% %10.1f %6.1f%% %9.1f %6.1f%%  %s\n", op.c_str(), r.calls, r.seconds * 1e3,
                  100 * r.seconds / total, gflops, 100 * gflops / peak, gbs, 100 * gbs / bandwidth,
                  compute ? "compute" : "memory");
    } else {
      std::printf("%-24s %6d %10.3f %6.1f%% %10s %7s %9.1f %6.1f%%  %s\n", op.c_str(), r.calls, r.seconds * 1e3,
                  100 * r.seconds / total, "-", "-", gbs, 100 * gbs / bandwidth, "memory");
    }
  }
  std::printf("total: %.3f ms/run in kernels (%.3f ms/run wall)\n", total * 1e3, p.seconds / p.runs * 1e3);
  if (conv_seconds > 0) {
    const double gflops = conv_flops / conv_seconds / 1e9;
    std::printf("convolutions: %.3f ms/run, %.1f GFLOP/s = %.1f%% of the FMA peak\n", conv_seconds * 1e3, gflops,
                100 * gflops / peak);
  }
  return kOk;
}

// Batch 1, 2, 4, ... up to the maximum (and the maximum itself): latency, items per second
// and the arena the plan for that batch size uses.
int batch_sweep(const Program& program, int64_t max_batch, const Options& o) {
  if (max_batch == 0)
    return fail(kUsage, "--batch-sweep needs a model exported with a maximum batch size (ExportOptions::max_batch)");
  std::vector<int64_t> sizes;
  for (int64_t b = 1; b < max_batch; b *= 2) sizes.push_back(b);
  sizes.push_back(max_batch);
  std::printf("batch sweep: %d runs each after %d warm-up runs, on zeros, %d threads\n", o.iters, o.warmup,
              get_num_threads());
  std::printf("%8s %12s %14s %14s\n", "batch", "p50 ms", "items/s", "arena bytes");
  for (int64_t b : sizes) {
    std::vector<Tensor> inputs;
    for (const TensorSignature& s : program.inputs()) inputs.push_back(zeros_at(s, b));
    Timing t = time_runs(program, inputs, o.warmup, o.iters);
    const double p50 = percentile(t.ms, 50);
    std::printf("%8lld %12.4f %14.1f %14lld\n", static_cast<long long>(b), p50, static_cast<double>(b) / (p50 / 1e3),
                static_cast<long long>(program.planned_bytes(b)));
  }
  return kOk;
}

int run(const Options& o) {
  // The model: the bytes at the end of this very file, verified as any artifact is.
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const std::string exe = ec ? "/proc/self/exe" : self.string();
  tlc::EmbeddedModel model;
  uint64_t artifact_bytes = 0;
  std::optional<Program> program;
  try {
    model = tlc::read_embedded_model("/proc/self/exe");
    if (o.threads > 0) {
      set_num_threads(o.threads);
    } else if (model.settings.threads > 0) {
      set_num_threads(model.settings.threads);
    }
    program = load_program_bytes(model.artifact, exe + " (the model embedded at byte " + std::to_string(model.offset) + ")");
    // The program holds its own copy of the weights: the file's bytes are not needed any more.
    artifact_bytes = model.artifact.size();
    std::string().swap(model.artifact);
  } catch (const Error& e) {
    // Name this file by its path, not by the /proc link it was read through.
    std::string message = e.what();
    const std::string link = "'/proc/self/exe'";
    if (size_t at = message.find(link); at != std::string::npos) message.replace(at, link.size(), "'" + exe + "'");
    return fail(kBadInput, message);
  }
  // The largest batch this executable takes: the model's maximum, or less when tlc --batch set it.
  const int64_t max_batch = model.settings.batch > 0 ? std::min(model.settings.batch, program->max_batch())
                                                      : program->max_batch();
  if (o.info) {
    print_info(*program, model, artifact_bytes, exe);
    if (model.settings.batch > 0) std::cout << "batch sizes accepted: 1 to " << max_batch << " (tlc --batch)\n";
    return kOk;
  }

  if (o.batch_sweep) {
    try {
      return batch_sweep(*program, max_batch, o);
    } catch (const Error& e) {
      return fail(kRunFailed, std::string("the model failed while running: ") + e.what());
    }
  }
  if (!o.bench && o.inputs.empty())
    return fail(kUsage, "no inputs: give the model's inputs (" + signature_str(program->inputs()) +
                            ") as .npy files and -o DIR, or use --bench or --info (see --help)");
  if (!o.bench && o.output_dir.empty())
    return fail(kUsage, "-o DIR is required: the folder that receives output_0.npy, ... (see --help)");
  std::vector<Tensor> inputs;
  if (!o.inputs.empty()) {
    if (int rc = read_inputs(*program, max_batch, o.inputs, &inputs); rc != kOk) return rc;
  } else {
    if (o.batch > max_batch || (o.batch > 0 && max_batch == 0))
      return fail(kUsage, "--batch " + std::to_string(o.batch) + ": the model runs batch sizes up to " +
                              std::to_string(max_batch) + (max_batch == 0 ? " (fixed shapes)" : ""));
    for (const TensorSignature& s : program->inputs()) inputs.push_back(zeros_at(s, o.batch > 0 ? o.batch : max_batch));
  }
  try {
    if (o.bench) bench(*program, inputs, o);
    if (o.profile) profile(*program, inputs, o);
    if (o.output_dir.empty()) return kOk;
    std::vector<Tensor> outputs = (*program)(inputs);
    return write_outputs(*program, outputs, o.output_dir);
  } catch (const Error& e) {
    return fail(kRunFailed, std::string("the model failed while running: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 0) program_name = fs::path(argv[0]).filename().string();
  CLI::App app{"Runs the tl model compiled into this executable (made by tlc; docs/tlc.md)", program_name};
  app.footer(
      "Inputs are .npy files in the signature's order (see --info); outputs are written as DIR/output_0.npy, ...\n"
      "Exit codes: 0 ok, 1 usage (including a wrong number of inputs), 2 bad input file or embedded model,\n"
      "4 write failure, 5 the model failed while running.");
  Options o;
  app.add_option("inputs", o.inputs, "Input .npy files, in the signature's order")->type_name("IN.npy");
  app.add_option("-o,--output", o.output_dir, "Folder for output_0.npy, ... (created when missing)")->type_name("DIR");
  auto* bench_flag = app.add_flag("--bench", o.bench, "Time repeated runs: latency percentiles and throughput");
  app.add_option("--iters", o.iters, "Timed runs for --bench (default 100)")
      ->type_name("N")
      ->check(CLI::Range(1, 100'000'000))
      ->needs(bench_flag);
  app.add_option("--warmup", o.warmup, "Untimed runs before them (default 3)")
      ->type_name("N")
      ->check(CLI::Range(0, 1'000'000))
      ->needs(bench_flag);
  app.add_flag("--batch-sweep", o.batch_sweep, "With --bench: time batch sizes 1, 2, 4, ... up to the maximum")
      ->needs(bench_flag);
  app.add_option("--batch", o.batch, "With --bench and no inputs: the batch size of the zeros (default: the maximum)")
      ->type_name("N")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->needs(bench_flag);
  app.add_flag("--profile", o.profile,
               "With --bench: time every kernel call (--iters runs) and compare each op's rate with this "
               "machine's FMA peak and memory bandwidth, measured at start")
      ->needs(bench_flag);
  app.add_flag("--info", o.info, "Print the signature and the stored settings, and exit");
  app.add_option("--threads", o.threads, "Threads to run with (default: what tlc --threads stored, else tl's)")
      ->type_name("N")
      ->check(CLI::Range(1, 4096));
  app.failure_message([](const CLI::App* a, const CLI::Error& e) { return program_name + ": " + CLI::FailureMessage::simple(a, e); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  return run(o);
}
