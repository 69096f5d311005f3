// The files of a run folder: atomic metadata writes, config <-> JSON, and the metrics.jsonl
// record format. Shared by Run (writing, resuming) and the readers in run_files.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "tl/run.h"

namespace tl::track {

// Writes `text` to `path` through `<path>.tmp.<pid>`, fsync and rename, so a reader (or a
// crash) sees the old file or the new one, never a partial one. Throws IoError.
void write_file_atomic(const std::filesystem::path& path, const std::string& text);
// Parses a JSON file; throws IoError naming the file.
nlohmann::json read_json(const std::filesystem::path& path);

nlohmann::ordered_json config_to_json(const Config& config);
Config config_from_json(const nlohmann::json& json);

// The metric name as a JSON string literal, quotes included.
std::string json_string(std::string_view text);
// Appends one metrics.jsonl line (ending in '\n') for the record to `out`; `json_name` is
// the name already quoted by json_string.
void append_record(std::string& out, int64_t step, std::string_view json_name, double value, double time);

}  // namespace tl::track
