// Helpers shared by the data tests: CSV files written to a per-process temporary folder.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace tl::test {

// Writes `content` to <tmp>/tl_data_test_<pid>/<name> and returns the path.
inline std::string csv_file(const std::string& name, const std::string& content) {
  auto dir = std::filesystem::temp_directory_path() / ("tl_data_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return path.string();
}

}  // namespace tl::test
