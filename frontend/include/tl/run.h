// Experiment tracking: a Run owns one run folder (config, environment, metrics, log,
// checkpoints), and the functions below read run folders back (listing, comparing).
// Layout and file formats: docs/runs.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "tl/checkpoint.h"
#include "tl/progress.h"
#include "tl/tensor.h"

namespace tl {
namespace track {
class EventWriter;
}  // namespace track

// One configuration value: a bool, an integer, a floating-point number or a string.
class ConfigValue {
 public:
  using Value = std::variant<bool, int64_t, double, std::string>;
  ConfigValue(bool v) : value_(v) {}
  ConfigValue(int v) : value_(int64_t{v}) {}
  ConfigValue(long v) : value_(int64_t{v}) {}
  ConfigValue(long long v) : value_(int64_t{v}) {}
  ConfigValue(unsigned v) : value_(int64_t{v}) {}
  ConfigValue(float v) : value_(double{v}) {}
  ConfigValue(double v) : value_(v) {}
  ConfigValue(const char* v) : value_(std::string(v)) {}
  ConfigValue(std::string v) : value_(std::move(v)) {}
  const Value& value() const { return value_; }
  // "0.01", "16", "true", "adam": how tables print the value.
  std::string str() const;
  bool operator==(const ConfigValue&) const = default;

 private:
  Value value_;
};

// A run's configuration, in the order given: {{"lr", 1e-2}, {"width", 16}}.
using Config = std::vector<std::pair<std::string, ConfigValue>>;

struct RunOptions {
  std::filesystem::path root = "runs";  // runs go to <root>/<name>/<id>/
  // Buffered records are written by a background thread when this many are pending, every
  // `flush_interval_s` seconds, on flush() and on close().
  int64_t flush_every = 4096;
  double flush_interval_s = 2.0;
  // At close: plot.svg of every metric, and a terminal chart of `chart_metric` on stdout
  // (when `print_summary` and the metric was logged).
  std::string chart_metric = "loss";
  bool print_summary = true;
  // Run::save keeps the checkpoints of the `keep_last` highest steps (and the one it just
  // wrote) and deletes older ones after the new one is durably in place; 0 keeps all.
  int64_t keep_last = 0;
  // Also write TensorBoard event files in the run folder (every metric as a scalar, every
  // log_histogram as a histogram), so `tensorboard --logdir runs` shows tl runs beside others.
  bool tensorboard = false;
};

// One metric record as stored in metrics.jsonl.
struct MetricRecord {
  int64_t step = 0;
  std::string name;
  double value = 0;  // NaN and infinities are stored as null and read back as NaN
  double time = 0;   // seconds since the Unix epoch
};

// A tracked experiment. The constructor creates <root>/<name>/<id>/ with a fresh id
// ("20261125-140931-3fa9c2": UTC time and a random suffix, created exclusively, so runs
// started at once by many processes get distinct ids) and writes config.json, env.json and
// meta.json (through a temporary file and a rename), an empty metrics.jsonl, run.log and
// checkpoints/. Throws IoError naming the path when the folder cannot be created, and
// ValueError naming the key, before anything is created, when the name, a config key or a
// string value is not valid UTF-8. A Run holds an advisory lock on <run>/run.lock until it
// is closed: one writer per run folder. Not thread-safe: log from one thread at a time.
class Run {
 public:
  Run(std::string name, Config config = {}, RunOptions options = {});
  // Reopens an existing run folder with the same id. A torn last metrics record (a crash
  // mid-write) is cut off; steps continue after the last step recorded for each metric.
  // Throws IoError naming the folder and the holder (pid, host) when another Run, in this
  // process or another, has it open, and IoError naming the file when config.json,
  // meta.json, metrics.jsonl or run.log is not a regular file or not readable JSON.
  static Run resume(const std::filesystem::path& path, RunOptions options = {});
  Run(Run&&) noexcept;
  Run& operator=(Run&&) noexcept;
  ~Run();  // close()

  // Records `value` for metric `name` at `step`. Without a step, the step is one past the
  // last one recorded for `name` (0 for a new metric). A step not greater than the last one
  // for `name` is dropped with a warning, so a metric's steps are strictly increasing.
  // Cheap (a buffer append; no I/O, no device synchronization): a Tensor value is kept,
  // detached, and read when the buffer is written. A Tensor `value` must hold one element
  // (ShapeError otherwise). A `name` that is not valid UTF-8 throws ValueError naming it.
  void log(std::string_view name, double value);
  void log(std::string_view name, double value, int64_t step);
  void log(std::string_view name, const Tensor& value, Site site = Site::here());
  void log(std::string_view name, const Tensor& value, int64_t step, Site site = Site::here());

  // Logs the global L2 norms of `model`'s gradients ("grad_norm") and parameters
  // ("param_norm") at their next steps; with `per_parameter`, also "grad_norm/<name>" and
  // "param_norm/<name>" for each parameter. One call per training step, after backward.
  // Parameters without a gradient count as zero in grad_norm. No device sync (the norms are
  // tensors read when the buffer is written).
  void log_norms(const nn::Module& model, bool per_parameter = false, Site site = Site::here());

  // Appends a histogram of `values` (`bins` equal-width bins between their min and max;
  // NaN/Inf are counted apart) as one JSON line to <run>/histograms.jsonl:
  // {"step", "name", "min", "max", "counts": [...], "non_finite"}. Reads the values now
  // (synchronizes), so call it every few steps rather than every step.
  void log_histogram(std::string_view name, const Tensor& values, int64_t step, int bins = 30,
                     Site site = Site::here());

  // Writes a line to run.log (and to the "tl.run" logger at info level).
  void note(std::string_view message);
  // Writes every buffered record to metrics.jsonl now (blocks until written).
  void flush();
  // Flushes, marks the run finished, writes plot.svg and prints the summary. Idempotent.
  void close();

  const std::string& name() const;
  const std::string& id() const;
  const std::filesystem::path& path() const;
  const Config& config() const;
  // <run>/checkpoints/step_00000042.tlckpt: where a checkpoint for `step` belongs.
  std::filesystem::path checkpoint_path(int64_t step) const;
  // The run's progress: one past the highest step logged for any metric (0 before any log),
  // i.e. the number of steps done when "loss" is logged once per step.
  int64_t step() const;

  // Saves a resumable checkpoint (tl::save: model, optimizer, RNG state and `extra`'s epoch,
  // metadata and Stateful objects) to checkpoint_path(step) and returns that path. The step is
  // `extra.step` when it is nonzero, else step(). The write is atomic (temporary, fsync,
  // rename, fsync of the folder); only then, with RunOptions::keep_last = k > 0, are the
  // checkpoints beyond the k highest steps deleted, oldest first, never the one just written.
  // Temporaries of crashed saves into the folder are removed first. A failed save throws
  // IoError (as tl::save) and deletes nothing; a failed deletion is a warning in run.log.
  std::filesystem::path save(const nn::Module& model, const optim::Optimizer& optimizer, Site site = Site::here());
  std::filesystem::path save(const nn::Module& model, const optim::Optimizer* optimizer = nullptr,
                             const CheckpointExtra& extra = {}, Site site = Site::here());
  // The checkpoints in <run>/checkpoints/ (files named like checkpoint_path's), lowest step first.
  std::vector<std::filesystem::path> checkpoints() const;
  // Loads the checkpoint with the highest step into `model`, `optimizer` and `extra` (tl::load
  // with `options`) and returns its path; returns an empty path, changing nothing, when there
  // is none (a fresh run). A newest file that cannot be read (IoError: damaged or truncated)
  // is skipped with a warning in run.log for the next older one; if none can be read, the
  // newest one's error is thrown. A checkpoint that does not fit (ValueError) is thrown at once.
  std::filesystem::path load_latest(nn::Module& model, optim::Optimizer* optimizer = nullptr,
                                    CheckpointExtra* extra = nullptr, const LoadOptions& options = {},
                                    Site site = Site::here());
  // The step the next auto-stepped log of `name` gets.
  int64_t next_step(std::string_view name) const;
  // The most recent value logged for `name` (reads a Tensor value), if any.
  std::optional<double> last_value(std::string_view name) const;

  // A progress bar over `total` steps that shows this run's latest `metric`.
  ProgressBar progress(int64_t total, std::string metric = "loss");

 private:
  struct State;
  explicit Run(std::unique_ptr<State> state);
  // The TensorBoard writer when RunOptions::tensorboard, else null.
  track::EventWriter* tensorboard() const;
  std::unique_ptr<State> state_;
};

// ---- Reading run folders (shared by Run::resume, tl-runs and the examples) ----

// The records of a metrics.jsonl file. A last line without its newline (or that does not
// parse) is a torn record from a crash: it is skipped with a warning and counted in
// `torn_tail`. Other unreadable lines are skipped with a warning and counted in `corrupt`.
// Throws IoError when the file cannot be opened.
struct MetricsFile {
  std::vector<MetricRecord> records;
  int64_t complete_bytes = 0;  // length of the prefix that holds only complete records
  bool torn_tail = false;
  int64_t corrupt = 0;
};
MetricsFile read_metrics(const std::filesystem::path& file);

struct RunInfo {
  std::filesystem::path path;
  // status: "running", "finished", or "crashed" (meta.json says running but no process
  // holds the run's lock: it was killed before it could close).
  std::string name, id, status;
  Config config;
};
// Every run folder (holding config.json) at `root`, one or two levels below it, sorted by
// path. `root` may also be a single run folder. A folder whose config.json or meta.json
// cannot be read (not a regular file, not JSON, nested too deep) is skipped with a warning.
std::vector<RunInfo> list_runs(const std::filesystem::path& root);

// One record of histograms.jsonl, as Run::log_histogram writes it.
struct HistogramRecord {
  int64_t step = 0;
  std::string name;
  double min = 0, max = 0;      // the finite values' range; bins split it equally
  std::vector<int64_t> counts;  // one per bin
  int64_t non_finite = 0;       // NaN and infinities, not in any bin
};
// The records of a histograms.jsonl file, in file order. A torn last line (a crash mid-write)
// is skipped with a warning and flagged in `torn_tail`; other unreadable lines are skipped
// with a warning and counted in `corrupt`. Throws IoError when the file cannot be opened.
struct HistogramsFile {
  std::vector<HistogramRecord> records;
  bool torn_tail = false;
  int64_t corrupt = 0;
};
HistogramsFile read_histograms(const std::filesystem::path& file);

struct HistogramViewOptions {
  std::string name = {};   // only this histogram name; empty: every name
  bool last_only = false;  // false: one compact line per logged step; true: the last step's bins as bars
  int max_steps = 0;       // with !last_only, at most this many latest steps per name (0: all)
  int width = 40;          // characters of the longest bar (last_only)
};
// The histograms of the run folder `run` as text, per name in name order: one line per
// logged step with its range, a one-character-per-bin sparkline and the value count, or
// (last_only) one bar per bin of the last step. Throws IoError when the run has no
// histograms.jsonl and ValueError naming the logged names when `options.name` is not one.
std::string show_histograms(const std::filesystem::path& run, const HistogramViewOptions& options = {});
// Writes <run>/histograms/<name>.svg, a bar outline of the last histogram of each name
// (names made file-safe: characters other than letters, digits, '.', '-' and '_' become
// '_'), through a temporary file and a rename. Returns the paths written, in name order.
// Run::close calls it when the run logged histograms.
std::vector<std::filesystem::path> write_histogram_plots(const std::filesystem::path& run);

struct CompareOptions {
  std::string metric = "loss";
  std::string sort = "final";  // "final" or "best": the column rows are sorted by
  bool maximize = false;       // best = largest instead of smallest
  std::filesystem::path plot = {};  // when set, an SVG of `metric` across runs
};
// A table with one row per run under `root`: the config keys whose values differ across
// runs, then the final and best value of `metric` and its step count, sorted ascending
// (descending with `maximize`). Runs without the metric sort last.
std::string compare_runs(const std::filesystem::path& root, const CompareOptions& options = {});

}  // namespace tl
