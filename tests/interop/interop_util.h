// Helpers shared by the PyTorch interop tests: whether the peer can run, and scratch folders.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace tl::test {

// True when TL_TORCH_PYTHON (the interpreter with torch) can import torch; else `why` says why.
inline bool torch_available(std::string& why) {
  std::string command = std::string(TL_TORCH_PYTHON) + " -c 'import torch' > /dev/null 2>&1";
  if (std::system(command.c_str()) != 0) {
    why = std::string(TL_TORCH_PYTHON) + " cannot import torch";
    return false;
  }
  return true;
}

// A fresh directory under the system temp dir, removed when the test ends.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix) {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / (prefix + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace tl::test
