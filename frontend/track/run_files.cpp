// Run-folder files: atomic writes and capped reads (through runtime/base/file_io.h), config
// JSON, metrics.jsonl records and their reader, and the listing of run folders.
#include "frontend/track/run_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "frontend/io/json_limits.h"
#include "runtime/base/file_io.h"
#include "runtime/logging.h"
#include "tl/error.h"

namespace tl {

std::string ConfigValue::str() const {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, int64_t>) return std::to_string(v);
        else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%g", v);
          return buf;
        } else return v;
      },
      value_);
}

namespace track {
namespace fs = std::filesystem;

// Run files have no user call site to name: Site{} leaves it out of messages.
void write_file_atomic(const fs::path& path, const std::string& text) {
  detail::write_file_atomically(path.string(), text, "tl::Run", Site{});
}

int open_for_append(const fs::path& file) {
  int fd = detail::file_open(file.string(), O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK, 0644);
  if (fd < 0 && errno == ENXIO) throw IoError("tl::Run: " + file.string() + " is a FIFO, expected a regular file");
  if (fd < 0) throw IoError("tl::Run: cannot open " + file.string() + ": " + detail::errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("tl::Run: " + file.string() + " is not a regular file (a FIFO, device or folder?)");
  }
  return fd;
}

void append_line(const fs::path& file, const std::string& line, std::string_view who, Site site) {
  int fd = open_for_append(file);
  uint64_t written = 0;
  int rc = detail::file_write_all(fd, line.data(), line.size(), &written);
  int error = errno;
  detail::file_close(fd);
  if (rc != 0) {
    throw IoError(std::string(who) + ": cannot append to " + file.string() + ": " + detail::errno_text(error) + " (" +
                  std::to_string(written) + " of " + std::to_string(line.size()) + " bytes written)" +
                  (site.line != 0 ? " at " + site.str() : std::string()));
  }
}

std::string read_run_file(const fs::path& path, uint64_t max_bytes) {
  return detail::read_file_capped(path.string(), max_bytes, "tl::Run", Site{});
}

nlohmann::json read_json(const fs::path& path) {
  std::string text = read_run_file(path, kMaxJsonFileBytes);
  detail::check_json_nesting(text, "tl::Run: " + path.string());
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw IoError("tl::Run: " + path.string() + " is not valid JSON: " + e.what());
  }
}

void check_config_utf8(const Config& config, std::string_view who) {
  for (const auto& [key, value] : config) {
    if (auto bad = detail::first_invalid_utf8(key))
      throw ValueError(fmt::format("{}: config key '{}' is not valid UTF-8 (byte {}); config.json holds UTF-8 "
                                   "text only",
                                   who, detail::printable(key), *bad));
    if (auto* text = std::get_if<std::string>(&value.value()))
      if (auto bad = detail::first_invalid_utf8(*text))
        throw ValueError(fmt::format("{}: the value of config key '{}' ('{}') is not valid UTF-8 (byte {}); "
                                     "config.json holds UTF-8 text only",
                                     who, detail::printable(key), detail::printable(*text), *bad));
  }
}

void check_name_utf8(std::string_view name, std::string_view what, std::string_view who) {
  if (auto bad = detail::first_invalid_utf8(name))
    throw ValueError(fmt::format("{}: {} name '{}' is not valid UTF-8 (byte {}); run files hold UTF-8 text only",
                                 who, what, detail::printable(name), *bad));
}

RunLock RunLock::acquire(const fs::path& run, std::string_view who) {
  const fs::path file = run / "run.lock";
  RunLock lock;
  lock.fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (lock.fd_ < 0) throw IoError(fmt::format("{}: cannot open {}: {}", who, file.string(), std::strerror(errno)));
  struct stat st {};
  if (::fstat(lock.fd_, &st) != 0 || !S_ISREG(st.st_mode))
    throw IoError(fmt::format("{}: {} is {}, expected a regular file", who, file.string(), detail::file_kind(st.st_mode)));
  // A listing probes the lock with a brief shared lock; a few retries ride over that.
  for (int attempt = 0;; ++attempt) {
    if (::flock(lock.fd_, LOCK_EX | LOCK_NB) == 0) break;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK)
      throw IoError(fmt::format("{}: cannot lock {}: {}", who, file.string(), std::strerror(errno)));
    if (attempt < 20) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    char holder[256] = {};
    ssize_t n = ::pread(lock.fd_, holder, sizeof holder - 1, 0);
    std::string text(holder, size_t(std::max<ssize_t>(n, 0)));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
    throw IoError(fmt::format("{}: the run folder {} is in use by another Run ({}); two writers would "
                              "duplicate its steps, so close that run (or let it finish) first",
                              who, run.string(),
                              text.empty() ? std::string("holder unknown") : "held by " + detail::printable(text)));
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string holder = fmt::format("pid {} host {}\n", ::getpid(), host);
  // Only informative: a failure to record the holder does not affect the lock.
  if (::ftruncate(lock.fd_, 0) == 0) (void)!::pwrite(lock.fd_, holder.data(), holder.size(), 0);
  return lock;
}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void RunLock::release() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
  fd_ = -1;
}

RunLockState probe_run_lock(const fs::path& run) {
  int fd = ::open((run / "run.lock").c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return RunLockState::kAbsent;
  struct stat st {};
  RunLockState state = RunLockState::kAbsent;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    int rc;
    while ((rc = ::flock(fd, LOCK_SH | LOCK_NB)) != 0 && errno == EINTR) {}
    state = rc == 0 ? RunLockState::kFree : errno == EWOULDBLOCK ? RunLockState::kHeld : RunLockState::kAbsent;
  }
  ::close(fd);  // also drops the shared lock
  return state;
}

nlohmann::ordered_json config_to_json(const Config& config) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& entry : config) std::visit([&](const auto& v) { j[entry.first] = v; }, entry.second.value());
  return j;
}

Config config_from_json(const nlohmann::json& json) {
  Config config;
  if (!json.is_object()) return config;
  for (auto& [key, v] : json.items()) {
    if (v.is_boolean()) config.emplace_back(key, v.get<bool>());
    else if (v.is_number_integer()) config.emplace_back(key, v.get<int64_t>());
    else if (v.is_number()) config.emplace_back(key, v.get<double>());
    else if (v.is_string()) config.emplace_back(key, v.get<std::string>());
    else config.emplace_back(key, v.dump());
  }
  return config;
}

std::string json_string(std::string_view text) { return nlohmann::json(text).dump(); }

void append_record(std::string& out, int64_t step, std::string_view json_name, double value, double time) {
  // Written by hand: this runs once per logged value. "{}" prints the shortest text that
  // reads back as the same double; JSON has no NaN or infinity, so those become null.
  auto it = std::back_inserter(out);
  if (std::isfinite(value))
    fmt::format_to(it, "{{\"step\":{},\"name\":{},\"value\":{},\"time\":{:.6f}}}\n", step, json_name, value, time);
  else
    fmt::format_to(it, "{{\"step\":{},\"name\":{},\"value\":null,\"time\":{:.6f}}}\n", step, json_name, time);
}

bool record_nested_too_deep(std::string_view line) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if ((c == '[' || c == '{') && ++depth > 4) {
      return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

namespace {

bool parse_record(std::string_view line, MetricRecord& r) {
  if (record_nested_too_deep(line)) return false;
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  auto step = j.find("step"), name = j.find("name"), value = j.find("value"), time = j.find("time");
  if (step == j.end() || !step->is_number_integer() || name == j.end() || !name->is_string() ||
      value == j.end() || !(value->is_number() || value->is_null()) || time == j.end() ||
      !time->is_number())
    return false;
  r.step = step->get<int64_t>();
  r.name = name->get<std::string>();
  r.value = value->is_null() ? std::nan("") : value->get<double>();
  r.time = time->get<double>();
  return true;
}

}  // namespace
}  // namespace track

MetricsFile read_metrics(const std::filesystem::path& file) {
  std::string text = track::read_run_file(file, track::kMaxRecordFileBytes);
  MetricsFile out;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    size_t end = text.find('\n', pos);
    MetricRecord r;
    if (end == std::string::npos) {
      // No newline: the writer died inside this record.
      out.torn_tail = true;
      rt::logger("tl.run")->warn("{}: skipping a torn last record at line {} ({} bytes)",
                                 file.string(), line_no, text.size() - pos);
      break;
    }
    std::string_view line(text.data() + pos, end - pos);
    bool ok = track::parse_record(line, r);
    if (ok) {
      out.records.push_back(std::move(r));
    } else if (end + 1 == text.size() && line.find('\0') != std::string_view::npos) {
      // A last line with a newline but zero-filled: a crash after the size was extended.
      out.torn_tail = true;
      rt::logger("tl.run")->warn("{}: skipping a torn last record at line {}", file.string(), line_no);
      break;
    } else {
      ++out.corrupt;
      rt::logger("tl.run")->warn("{}: skipping unreadable record at line {}", file.string(), line_no);
    }
    pos = end + 1;
    out.complete_bytes = int64_t(pos);
  }
  return out;
}

std::vector<RunInfo> list_runs(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  std::vector<RunInfo> runs;
  auto add = [&](const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_regular_file(dir / "config.json", ec)) return false;
    RunInfo info;
    info.path = dir;
    info.id = dir.filename().string();
    info.name = dir.parent_path().filename().string();
    info.status = "unknown";
    try {
      info.config = track::config_from_json(track::read_json(dir / "config.json"));
      if (fs::exists(dir / "meta.json", ec)) {
        auto meta = track::read_json(dir / "meta.json");
        auto text = [&](const char* key, const std::string& fallback) {
          auto it = meta.find(key);
          return meta.is_object() && it != meta.end() && it->is_string() ? it->get<std::string>() : fallback;
        };
        info.name = text("name", info.name);
        info.id = text("id", info.id);
        info.status = text("status", info.status);
      }
    } catch (const IoError& e) {
      rt::logger("tl.run")->warn("skipping {}: {}", dir.string(), e.what());
      return true;
    }
    // A Run holds run.lock while it lives and the kernel drops the lock when its process
    // dies, so "running" without a holder is a run killed before it could say otherwise.
    if (info.status == "running" && track::probe_run_lock(dir) == track::RunLockState::kFree)
      info.status = "crashed";
    runs.push_back(std::move(info));
    return true;
  };
  std::error_code ec;
  if (!add(root)) {
    for (auto& a : fs::directory_iterator(root, ec)) {
      if (!a.is_directory(ec) || add(a.path())) continue;
      for (auto& b : fs::directory_iterator(a.path(), ec))
        if (b.is_directory(ec)) add(b.path());
    }
  }
  std::sort(runs.begin(), runs.end(), [](auto& a, auto& b) { return a.path < b.path; });
  return runs;
}

}  // namespace tl
