// Run-folder files: atomic writes, config JSON, metrics.jsonl records and their reader,
// and the listing of run folders.
#include "frontend/track/run_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

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

void write_file_atomic(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw IoError("tl::Run: cannot create " + tmp.string() + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IoError("tl::Run: cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    done += size_t(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw IoError("tl::Run: cannot rename " + tmp.string() + " to " + path.string() + ": " +
                  std::strerror(err));
  }
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw IoError("tl::Run: cannot open " + path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw IoError("tl::Run: " + path.string() + " is not valid JSON: " + e.what());
  }
}

nlohmann::ordered_json config_to_json(const Config& config) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (auto& [key, value] : config) std::visit([&](const auto& v) { j[key] = v; }, value.value());
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

namespace {

bool parse_record(std::string_view line, MetricRecord& r) {
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
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError("tl::read_metrics: cannot open " + file.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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
        info.name = meta.value("name", info.name);
        info.id = meta.value("id", info.id);
        info.status = meta.value("status", info.status);
      }
    } catch (const IoError& e) {
      rt::logger("tl.run")->warn("skipping {}: {}", dir.string(), e.what());
      return true;
    }
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
