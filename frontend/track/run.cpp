// tl::Run: creates and resumes run folders, buffers metric records and writes them from a
// background thread, and writes the closing plot and summary.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.h>
#include <spdlog/sinks/basic_file_sink.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "frontend/track/plot.h"
#include "frontend/track/run_files.h"
#include "frontend/track/tensorboard.h"
#include "runtime/base/file_io.h"
#include "runtime/logging.h"
#include "tl/checkpoint.h"
#include "tl/error.h"
#include "tl/random.h"
#include "tl/threading.h"

extern char** environ;

namespace tl {
namespace fs = std::filesystem;
using track::write_file_atomic;

namespace {

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso_time(double t) {
  std::time_t s = std::time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Runs `git rev-parse HEAD` in the working directory without a shell, with no stdin and
// stderr discarded. Empty when git is missing or this is not a repository.
std::string git_commit() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  char* argv[] = {const_cast<char*>("git"), const_cast<char*>("rev-parse"),
                  const_cast<char*>("HEAD"), nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "git", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string out;
  if (rc == 0) {
    char buf[256];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0) out.append(buf, size_t(n));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out.clear();
  }
  ::close(fds[0]);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.size() != 40 || out.find_first_not_of("0123456789abcdef") != std::string::npos) return "";
  return out;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown";
}

std::string command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : text)
    if (c == '\0') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

nlohmann::json environment() {
  nlohmann::json env;
  env["tl_version"] = TL_VERSION_STRING;
  std::string commit = git_commit();
  env["git_commit"] = commit.empty() ? nlohmann::json(nullptr) : nlohmann::json(commit);
  std::error_code ec;
  env["cwd"] = fs::current_path(ec).string();
  env["command"] = command_line();
#if defined(__clang__)
  env["compiler"] = "clang " __clang_version__;
#elif defined(__GNUC__)
  env["compiler"] = "gcc " __VERSION__;
#endif
  env["cpu_model"] = cpu_model();
  env["threads"] = get_num_threads();
  env["hardware_threads"] = std::thread::hardware_concurrency();
  env["seed"] = default_generator().state().seed;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  env["hostname"] = host;
  env["pid"] = ::getpid();
  const dnnl_version_t* dnnl = dnnl_version();
  env["libraries"] = {
      {"onednn", fmt::format("{}.{}.{}", dnnl->major, dnnl->minor, dnnl->patch)},
      {"spdlog", fmt::format("{}.{}.{}", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH)},
      {"fmt", std::to_string(FMT_VERSION)},
      {"nlohmann_json", fmt::format("{}.{}.{}", NLOHMANN_JSON_VERSION_MAJOR,
                                    NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH)},
#ifdef _OPENMP
      {"openmp", std::to_string(_OPENMP)},
#endif
  };
  return env;
}

// A new run folder under `experiment`: UTC time plus a random suffix, created with mkdir,
// which fails when the name exists, so concurrent starts retry instead of sharing a folder.
std::pair<std::string, fs::path> create_run_folder(const fs::path& experiment) {
  std::error_code ec;
  fs::create_directories(experiment, ec);
  if (!fs::is_directory(experiment))
    throw IoError("tl::Run: cannot create " + experiment.string() + ": " + ec.message());
  std::random_device device;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    std::string id = fmt::format("{}-{:06x}", stamp, device() & 0xffffff);
    fs::path dir = experiment / id;
    if (::mkdir(dir.c_str(), 0755) == 0) return {id, dir};
    if (errno != EEXIST)
      throw IoError("tl::Run: cannot create " + dir.string() + ": " + std::strerror(errno));
  }
  throw IoError("tl::Run: no free run id under " + experiment.string() + " after 100 attempts");
}

// A temporary (of a checkpoint save, a metadata write) that no live writer holds locked and
// that is over a minute old was left by a crash mid-write. A writer in another process,
// container or PID namespace holds its lock until the rename, so its temporary survives
// whatever its process id means here.
constexpr int64_t kOrphanMinAgeSeconds = 60;

struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct Run::State {
  std::string name, id;
  fs::path path;
  Config config;
  RunOptions options;
  double created = 0;
  int metrics_fd = -1;
  track::RunLock lock;  // held from creation (or resume) to close
  std::shared_ptr<spdlog::logger> file_log;
  std::unique_ptr<track::EventWriter> tensorboard;  // RunOptions::tensorboard
  bool closed = false;

  // Per metric: the step the next auto-stepped record gets, and the latest value. Only the
  // logging thread touches this map; the writer reads the keys through stable pointers
  // (unordered_map nodes never move).
  struct Metric {
    std::string json_name;  // set once, read by the writer
    int64_t next_step = 0;
    double last = std::nan("");
    Tensor last_tensor;
    bool warned = false;
  };
  using MetricMap = std::unordered_map<std::string, Metric, TransparentHash, std::equal_to<>>;
  MetricMap metrics;

  struct Pending {
    const MetricMap::value_type* metric;
    int64_t step;
    double value;
    double time;
    int32_t tensor;  // index into `tensors`, or -1
  };
  std::mutex mutex;
  std::condition_variable wake, written;
  std::vector<Pending> buffer, spare;
  std::vector<Tensor> tensors;
  uint64_t batches_taken = 0, batches_written = 0;
  bool flush_requested = false, stopping = false;
  std::string write_error;
  std::string tensorboard_error;  // the writer thread's
  std::thread writer;

  void warn(const std::string& message) {
    rt::logger("tl.run")->warn("{}", message);
    if (file_log) file_log->warn("{}", message);
  }

  void start() {
    metrics_fd = track::open_for_append(path / "metrics.jsonl");
    // spdlog opens run.log by name; checking it first keeps a FIFO there from blocking.
    ::close(track::open_for_append(path / "run.log"));
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>((path / "run.log").string(), false);
    file_log = std::make_shared<spdlog::logger>("tl.run", sink);
    file_log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l: %v");
    file_log->set_level(spdlog::level::info);
    file_log->flush_on(spdlog::level::info);
    if (options.tensorboard && !tensorboard) tensorboard = std::make_unique<track::EventWriter>(path);
    buffer.reserve(size_t(std::max<int64_t>(options.flush_every, 1)));
    spare.reserve(buffer.capacity());
    writer = std::thread([this] { write_loop(); });
  }

  void write_meta(const std::string& status) {
    nlohmann::ordered_json meta;
    meta["name"] = name;
    meta["id"] = id;
    meta["status"] = status;
    meta["created"] = iso_time(created);
    meta["updated"] = iso_time(unix_seconds());
    // The name and id were checked (or read from JSON); replacing keeps an odd folder name
    // from making the status unwritable.
    write_file_atomic(path / "meta.json", meta.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }

  void write_loop() {
    std::unique_lock<std::mutex> lock(mutex);
    auto interval = std::chrono::duration<double>(options.flush_interval_s);
    for (;;) {
      wake.wait_for(lock, interval, [&] {
        return stopping || flush_requested || int64_t(buffer.size()) >= options.flush_every;
      });
      flush_requested = false;
      if (!buffer.empty()) {
        // Two buffers take turns, so the logging thread never waits for an allocation.
        std::vector<Pending> batch = std::move(spare);
        std::vector<Tensor> batch_tensors;
        batch.clear();
        batch.swap(buffer);
        batch_tensors.swap(tensors);
        uint64_t ticket = ++batches_taken;
        lock.unlock();
        std::string error = write_batch(batch, batch_tensors);
        batch_tensors.clear();  // release device memory outside the lock
        lock.lock();
        spare = std::move(batch);
        if (!error.empty() && write_error.empty()) write_error = error;
        batches_written = ticket;
        written.notify_all();
      }
      if (stopping && buffer.empty()) return;
    }
  }

  // Formats the records (reading Tensor values now) and appends them with one counted
  // write_all; with O_APPEND each write(2) puts its bytes at the end even if another writer
  // shares the file. A write cut short leaves a torn last record, which readers skip.
  std::string write_batch(const std::vector<Pending>& batch, const std::vector<Tensor>& batch_tensors) {
    std::string text;
    text.reserve(batch.size() * 72);
    for (auto& p : batch) {
      double value = p.value;
      if (p.tensor >= 0) {
        try {
          value = batch_tensors[size_t(p.tensor)].item<double>();
        } catch (const std::exception& e) {
          value = std::nan("");
          warn(fmt::format("cannot read the tensor logged as {} at step {}: {}", p.metric->first, p.step, e.what()));
        }
      }
      track::append_record(text, p.step, p.metric->second.json_name, value, p.time);
      if (tensorboard) {
        std::string error = tensorboard->add_scalar(p.metric->first, p.step, value, p.time);
        if (!error.empty() && tensorboard_error.empty()) tensorboard_error = error;
      }
    }
    if (!tensorboard_error.empty()) {
      std::string error = std::move(tensorboard_error);
      tensorboard_error.clear();
      return error;
    }
    uint64_t written = 0;
    if (detail::file_write_all(metrics_fd, text.data(), text.size(), &written) != 0) {
      const int err = errno;
      return fmt::format("cannot write {}: write failed after {} of {} bytes: {}", (path / "metrics.jsonl").string(),
                         written, text.size(), detail::errno_text(err));
    }
    return "";
  }

  void flush() {
    std::unique_lock<std::mutex> lock(mutex);
    uint64_t target = batches_taken + (buffer.empty() ? 0 : 1);
    flush_requested = true;
    wake.notify_one();
    written.wait(lock, [&] { return batches_written >= target; });
    if (!write_error.empty()) {
      std::string error = std::move(write_error);
      write_error.clear();
      throw IoError("tl::Run: " + error);
    }
  }

  Metric* admit(std::string_view metric, std::optional<int64_t> step, int64_t& out_step) {
    auto it = metrics.find(metric);
    if (it == metrics.end()) {
      track::check_name_utf8(metric, "metric", "tl::Run::log");
      it = metrics.emplace(std::string(metric), Metric{}).first;
      it->second.json_name = track::json_string(metric);
    }
    Metric& m = it->second;
    int64_t s = step ? *step : m.next_step;
    if (s < m.next_step) {
      if (!m.warned)
        warn(fmt::format("run {}: dropping {} at step {}: steps must increase (next is {}); "
                         "further drops of this metric are not reported",
                         id, metric, s, m.next_step));
      m.warned = true;
      return nullptr;
    }
    m.next_step = s + 1;
    out_step = s;
    pending = &*it;
    return &m;
  }
  const MetricMap::value_type* pending = nullptr;

  void push(const Pending& p) {
    std::lock_guard<std::mutex> lock(mutex);
    buffer.push_back(p);
    if (int64_t(buffer.size()) >= options.flush_every) wake.notify_one();
  }

  void log_value(std::string_view metric, double value, std::optional<int64_t> step) {
    int64_t s;
    Metric* m = admit(metric, step, s);
    if (!m) return;
    m->last = value;
    m->last_tensor = Tensor();
    push({pending, s, value, unix_seconds(), -1});
  }

  void log_tensor(std::string_view metric, const Tensor& value, std::optional<int64_t> step, Site site) {
    if (!value.defined() || value.numel() != 1)
      throw ShapeError(fmt::format("tl::Run::log: {} must be a one-element tensor, got {} at {}", metric,
                                   value.defined() ? value.shape().str() : std::string("an undefined tensor"),
                                   site.str()));
    int64_t s;
    Metric* m = admit(metric, step, s);
    if (!m) return;
    // Detached so the buffer does not keep the autograd graph alive until the next write.
    Tensor kept = value.requires_grad() ? value.detach() : value;
    m->last_tensor = kept;
    std::lock_guard<std::mutex> lock(mutex);
    buffer.push_back({pending, s, 0.0, unix_seconds(), int32_t(tensors.size())});
    tensors.push_back(std::move(kept));
    if (int64_t(buffer.size()) >= options.flush_every) wake.notify_one();
  }

  void stop_writer() {
    if (!writer.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      wake.notify_one();
    }
    writer.join();
  }

  ~State() {
    stop_writer();
    if (metrics_fd >= 0) ::close(metrics_fd);
  }
};

Run::Run(std::unique_ptr<State> state) : state_(std::move(state)) {}
Run::Run(Run&&) noexcept = default;
Run& Run::operator=(Run&& other) noexcept {
  if (this != &other) {
    try {
      close();
    } catch (...) {
    }
    state_ = std::move(other.state_);
  }
  return *this;
}

Run::Run(std::string name, Config config, RunOptions options) : state_(std::make_unique<State>()) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw ValueError("tl::Run: the run name must be a non-empty folder name without '/', got \"" + name + "\"");
  State& s = *state_;
  s.name = std::move(name);
  s.config = std::move(config);
  s.options = std::move(options);
  s.created = unix_seconds();
  // Checked before the folder exists, so a bad config leaves nothing behind.
  track::check_name_utf8(s.name, "run", "tl::Run");
  track::check_config_utf8(s.config, "tl::Run");
  std::tie(s.id, s.path) = create_run_folder(s.options.root / s.name);
  s.lock = track::RunLock::acquire(s.path, "tl::Run");
  fs::create_directory(s.path / "checkpoints");
  write_file_atomic(s.path / "config.json", track::config_to_json(s.config).dump(2) + "\n");
  // The command line, folder and host name are not ours to refuse: invalid UTF-8 in them
  // becomes U+FFFD.
  write_file_atomic(s.path / "env.json",
                    environment().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  s.write_meta("running");
  s.start();
  s.file_log->info("run {}/{} started in {}", s.name, s.id, s.path.string());
}

Run Run::resume(const fs::path& path, RunOptions options) {
  auto s = std::make_unique<State>();
  // Locked before anything is read or changed: a second writer would duplicate steps.
  s->lock = track::RunLock::acquire(path, "tl::Run::resume");
  // Temporaries of metadata writes a crash left behind (unlocked, over a minute old).
  for (const char* file : {".meta.json.tmp.", ".config.json.tmp.", ".env.json.tmp.", ".plot.svg.tmp."})
    detail::remove_orphan_temporaries(path.string(), file, kOrphanMinAgeSeconds);
  nlohmann::json meta = track::read_json(path / "meta.json");
  s->path = path;
  auto text = [&](const char* key, std::string fallback) {
    auto it = meta.find(key);
    return meta.is_object() && it != meta.end() && it->is_string() ? it->get<std::string>() : fallback;
  };
  s->name = text("name", path.parent_path().filename().string());
  s->id = text("id", path.filename().string());
  s->config = track::config_from_json(track::read_json(path / "config.json"));
  s->options = std::move(options);
  s->created = unix_seconds();
  fs::path metrics = path / "metrics.jsonl";
  std::error_code ec;
  if (fs::exists(metrics, ec)) {
    MetricsFile file = read_metrics(metrics);
    // Cut a torn record off so that new records start on a line of their own.
    if (int64_t(fs::file_size(metrics)) > file.complete_bytes) {
      if (::truncate(metrics.c_str(), file.complete_bytes) != 0)
        throw IoError("tl::Run::resume: cannot truncate the torn record at the end of " + metrics.string() +
                      ": " + std::strerror(errno));
    }
    for (auto& r : file.records) {
      auto& m = s->metrics[r.name];
      if (m.json_name.empty()) m.json_name = track::json_string(r.name);
      m.next_step = std::max(m.next_step, r.step + 1);
      m.last = r.value;
    }
  }
  // Files opened first: a run.log or metrics.jsonl that cannot be opened leaves meta.json as it was.
  s->start();
  s->write_meta("running");
  s->file_log->info("run {}/{} resumed", s->name, s->id);
  return Run(std::move(s));
}

Run::~Run() {
  try {
    close();
  } catch (const std::exception& e) {
    rt::logger("tl.run")->error("closing run {}: {}", state_ ? state_->id : "", e.what());
  }
}

track::EventWriter* Run::tensorboard() const { return state_->tensorboard.get(); }

void Run::log(std::string_view name, double value) { state_->log_value(name, value, std::nullopt); }
void Run::log(std::string_view name, double value, int64_t step) { state_->log_value(name, value, step); }
void Run::log(std::string_view name, const Tensor& value, Site site) {
  state_->log_tensor(name, value, std::nullopt, site);
}
void Run::log(std::string_view name, const Tensor& value, int64_t step, Site site) {
  state_->log_tensor(name, value, step, site);
}

void Run::note(std::string_view message) {
  state_->file_log->info("{}", message);
  rt::logger("tl.run")->info("{}", message);
}

void Run::flush() {
  if (state_ && !state_->closed) state_->flush();
}

void Run::close() {
  if (!state_ || state_->closed) return;
  State& s = *state_;
  s.closed = true;
  s.flush();
  s.stop_writer();
  // Not "finished" unless the records are on disk: a failed fsync may have lost some.
  if (detail::file_fsync(s.metrics_fd) != 0) {
    const int err = errno;
    throw IoError("tl::Run::close: fsync of " + (s.path / "metrics.jsonl").string() + " failed: " +
                  detail::errno_text(err) + "; its last records may not survive a crash, so meta.json still says "
                  "\"running\"");
  }
  s.write_meta("finished");

  // plot.svg: every metric of the whole run (earlier sessions of a resumed run included).
  MetricsFile file = read_metrics(s.path / "metrics.jsonl");
  std::map<std::string, track::Series> by_name;
  for (auto& r : file.records) {
    auto& series = by_name[r.name];
    series.label = r.name;
    series.higher_is_better = track::higher_is_better(r.name);
    series.points.emplace_back(double(r.step), r.value);
  }
  std::vector<track::Series> series;
  for (auto& [n, ser] : by_name) series.push_back(std::move(ser));
  write_file_atomic(s.path / "plot.svg", track::svg_plot(series, s.name + "/" + s.id, "step", "value"));
  std::error_code ec;
  if (fs::exists(s.path / "histograms.jsonl", ec)) write_histogram_plots(s.path);
  s.file_log->info("run {}/{} finished: {} records", s.name, s.id, file.records.size());
  s.file_log->flush();

  s.lock.release();

  if (s.options.print_summary) {
    auto it = by_name.find(s.options.chart_metric);
    std::string text = fmt::format("run {}/{}: {}\n", s.name, s.id, s.path.string());
    if (it != by_name.end()) text += track::text_chart(it->second);
    std::cout << text << std::flush;
  }
}

const std::string& Run::name() const { return state_->name; }
const std::string& Run::id() const { return state_->id; }
const fs::path& Run::path() const { return state_->path; }
const Config& Run::config() const { return state_->config; }

fs::path Run::checkpoint_path(int64_t step) const {
  return state_->path / "checkpoints" / fmt::format("step_{:08d}.tlckpt", step);
}

int64_t Run::step() const {
  int64_t step = 0;
  for (const auto& [name, m] : state_->metrics) step = std::max(step, m.next_step);
  return step;
}

namespace {

// The step of a checkpoint file name written by Run::save ("step_00000042.tlckpt" -> 42;
// wider numbers past 8 digits too), or -1 for any other name.
int64_t checkpoint_step(const std::string& name) {
  constexpr std::string_view prefix = "step_", suffix = ".tlckpt";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

// (step, path) of every checkpoint in `dir`, lowest step first.
std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    int64_t step = checkpoint_step(e.path().filename().string());
    if (step >= 0 && e.is_regular_file(ec)) out.emplace_back(step, e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}


}  // namespace

fs::path Run::save(const nn::Module& model, const optim::Optimizer& optimizer, Site site) {
  return save(model, &optimizer, CheckpointExtra{}, site);
}

fs::path Run::save(const nn::Module& model, const optim::Optimizer* optimizer, const CheckpointExtra& extra, Site site) {
  State& s = *state_;
  fs::path dir = s.path / "checkpoints";
  std::error_code ec;
  fs::create_directories(dir, ec);
  detail::remove_orphan_temporaries(dir.string(), ".step_", kOrphanMinAgeSeconds);
  CheckpointExtra stored = extra;
  if (stored.step == 0) stored.step = step();
  fs::path target = checkpoint_path(stored.step);
  tl::save(target.string(), model, optimizer, stored, site);  // durable when it returns

  if (s.options.keep_last > 0) {
    auto all = list_checkpoints(dir);
    // Keep the keep_last highest steps and the file just written; delete the rest oldest
    // first, so a crash part-way leaves extra old checkpoints, never missing new ones.
    size_t keep_from = all.size() > size_t(s.options.keep_last) ? all.size() - size_t(s.options.keep_last) : 0;
    bool deleted = false;
    for (size_t i = 0; i < keep_from; ++i) {
      if (all[i].second == target) continue;
      if (detail::file_unlink(all[i].second.string()) == 0 || errno == ENOENT) {
        deleted = true;
      } else {
        s.warn(fmt::format("run {}: keep_last={}: cannot delete the old checkpoint {}: {}; it is retried at the "
                           "next save",
                           s.id, s.options.keep_last, all[i].second.string(), std::strerror(errno)));
      }
    }
    if (deleted) {
      // Make the deletions durable too; a failure here only means an old file may reappear.
      int fd = detail::file_open(dir.string(), O_RDONLY | O_DIRECTORY);
      if (fd >= 0) {
        detail::file_fsync(fd);
        ::close(fd);
      }
    }
  }
  s.file_log->info("checkpoint step {} saved to {}", stored.step, target.string());
  return target;
}

std::vector<fs::path> Run::checkpoints() const {
  std::vector<fs::path> out;
  for (auto& [step, path] : list_checkpoints(state_->path / "checkpoints")) out.push_back(path);
  return out;
}

fs::path Run::load_latest(nn::Module& model, optim::Optimizer* optimizer, CheckpointExtra* extra,
                          const LoadOptions& options, Site site) {
  auto all = list_checkpoints(state_->path / "checkpoints");
  std::optional<IoError> newest_error;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      tl::load(it->second.string(), model, optimizer, extra, options, site);
      state_->file_log->info("resumed from checkpoint {}", it->second.string());
      return it->second;
    } catch (const IoError& e) {
      state_->warn(fmt::format("run {}: skipping the unreadable checkpoint {}: {}", state_->id, it->second.string(),
                               e.what()));
      if (!newest_error) newest_error = e;
    }
  }
  if (newest_error) throw *newest_error;
  return {};
}

int64_t Run::next_step(std::string_view name) const {
  auto it = state_->metrics.find(name);
  return it == state_->metrics.end() ? 0 : it->second.next_step;
}

std::optional<double> Run::last_value(std::string_view name) const {
  auto it = state_->metrics.find(name);
  if (it == state_->metrics.end()) return std::nullopt;
  if (it->second.last_tensor.defined()) return it->second.last_tensor.item<double>();
  return it->second.last;
}

ProgressBar Run::progress(int64_t total, std::string metric) {
  ProgressOptions options;
  options.label = state_->name;
  options.metric = metric;
  State* s = state_.get();
  return ProgressBar(total, options, [s, metric]() -> std::optional<double> {
    auto it = s->metrics.find(metric);
    if (it == s->metrics.end()) return std::nullopt;
    if (it->second.last_tensor.defined()) return it->second.last_tensor.item<double>();
    return it->second.last;
  });
}

}  // namespace tl
