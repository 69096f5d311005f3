// Helpers shared by the run-folder tests: scratch folders, small file readers, quiet run
// options and running the command-line tool.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/scratch_dir.h"
#include "tl/run.h"

namespace tl::test {

// A scratch folder named for these tests.
struct ScratchDir : tl::testing::ScratchDir {
  ScratchDir() : tl::testing::ScratchDir("tl_track_test") {}
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

inline size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

// The run folders below `experiment` (one level).
inline std::vector<std::filesystem::path> run_dirs(const std::filesystem::path& experiment) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(experiment, ec))
    if (e.is_directory()) out.push_back(e.path());
  return out;
}

// Options for a run under `root` that prints no summary (and keeps the last `keep_last`
// checkpoints when nonzero).
inline RunOptions quiet(const std::filesystem::path& root, int64_t keep_last = 0) {
  RunOptions options;
  options.root = root;
  options.print_summary = false;
  options.keep_last = keep_last;
  return options;
}

// Runs a shell command; returns its standard output and stores its wait status.
inline std::string run_command(const std::string& command, int* status) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  *status = ::pclose(pipe);
  return out;
}

// Waits up to `seconds` for the child `pid`; returns its exit status (128 + signal when a
// signal ended it), or -1 after killing it when it was still running (it hung).
inline int wait_or_kill(pid_t pid, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    REQUIRE(done >= 0);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A document nested `depth` levels deep, as an object member: {"a":[[[...]]]}.
inline std::string nested_json(size_t depth) {
  return "{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + "}\n";
}

}  // namespace tl::test
