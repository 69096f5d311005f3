// The files of a run folder: atomic metadata writes, config <-> JSON, and the metrics.jsonl
// record format. Shared by Run (writing, resuming) and the readers in run_files.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "tl/run.h"

namespace tl::track {

// Replaces `path` with `text` through detail::AtomicFile (temporary, fsync, rename, fsync of
// the folder), so a reader (or a crash) sees the old file or the new one, never a partial one.
// Throws IoError naming the path, the failed call and the bytes written and needed.
void write_file_atomic(const std::filesystem::path& path, const std::string& text);
// Opens a run file for appending (creating it) through the file layer's counted open. Does
// not block on a FIFO planted under the name; anything but a regular file is refused with an
// IoError naming the path.
int open_for_append(const std::filesystem::path& file);
// Appends `line` (a whole record ending in '\n') to `file` in one counted write with
// O_APPEND, so a crash leaves at most a torn last line, which readers skip. Throws IoError
// naming `who`, the path, the error and the bytes written.
void append_line(const std::filesystem::path& file, const std::string& line, std::string_view who, Site site);
// Reads a whole file of a run folder. The open does not block (a FIFO planted under the
// name would otherwise wait forever for a writer) and anything but a regular file is
// refused. Throws IoError naming `path` when it cannot be opened, is not a regular file or
// holds more than `max_bytes` bytes.
std::string read_run_file(const std::filesystem::path& path, uint64_t max_bytes);
// config.json, meta.json and env.json are a few kilobytes; anything far larger is not ours.
inline constexpr uint64_t kMaxJsonFileBytes = uint64_t{64} << 20;
// metrics.jsonl and histograms.jsonl are read whole; past this they are refused by name
// instead of exhausting memory.
inline constexpr uint64_t kMaxRecordFileBytes = uint64_t{16} << 30;

// Parses a JSON file (read_run_file, then a nesting-depth check so that a deeply nested
// document cannot overflow the stack); throws IoError naming the file.
nlohmann::json read_json(const std::filesystem::path& path);

// Throws ValueError naming the key when a config key or string value is not valid UTF-8
// (JSON holds UTF-8 only), before anything is written.
void check_config_utf8(const Config& config, std::string_view who);
// Throws ValueError when `name` (a metric or histogram name) is not valid UTF-8.
void check_name_utf8(std::string_view name, std::string_view what, std::string_view who);

// The advisory lock (flock) a Run holds on <run>/run.lock for its lifetime. The kernel
// releases it when the process exits, however it exits, so a second writer is refused while
// the first lives, and a listing tells a run that crashed (status "running", lock free) from
// one still running, without trusting PIDs (which PID namespaces make ambiguous).
class RunLock {
 public:
  RunLock() = default;
  // Takes the lock on `run`'s folder, writing "pid <pid> host <host>" into the lock file.
  // Throws IoError naming the folder, and the holder when it can be read, when another Run
  // (in this process or another) holds it.
  static RunLock acquire(const std::filesystem::path& run, std::string_view who);
  RunLock(RunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RunLock& operator=(RunLock&& other) noexcept;
  ~RunLock() { release(); }
  void release();

 private:
  int fd_ = -1;
};
enum class RunLockState { kHeld, kFree, kAbsent };
// Whether some Run holds `run`'s lock now (kAbsent: no lock file, as in folders written
// before run.lock existed).
RunLockState probe_run_lock(const std::filesystem::path& run);

nlohmann::ordered_json config_to_json(const Config& config);
Config config_from_json(const nlohmann::json& json);

// The metric name as a JSON string literal, quotes included.
std::string json_string(std::string_view text);
// Appends one metrics.jsonl line (ending in '\n') for the record to `out`; `json_name` is
// the name already quoted by json_string.
void append_record(std::string& out, int64_t step, std::string_view json_name, double value, double time);
// True when a metrics or histograms record line nests arrays/objects deeper than 4 levels
// (records are flat): such a line is unreadable, and is refused before the JSON library
// recurses into it.
bool record_nested_too_deep(std::string_view line);

}  // namespace tl::track
