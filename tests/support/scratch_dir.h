// A fresh folder under the system temp folder for one test, removed with everything in it at
// scope exit; shared by every test that writes files.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace tl::testing {

struct ScratchDir {
  std::filesystem::path path;

  explicit ScratchDir(const std::string& prefix = "tl_test") {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path / name).string(); }
  // The names in the folder, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  // Sets the modification time of every file in the folder an hour back: a temporary left by
  // a crashed save is removed by the next save only once it is that old (and unlocked).
  void age_files() const {
    for (const auto& e : std::filesystem::directory_iterator(path))
      std::filesystem::last_write_time(e.path(), std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
  }
};

}  // namespace tl::testing
