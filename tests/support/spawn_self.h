// Tests that need a fresh process (a cold in-process cache, several processes at once) run
// their own binary again on one hidden test case.
#pragma once

#include <catch2/catch.hpp>

#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <string>
#include <vector>

extern char** environ;

namespace tl::testing {

// Starts this test binary on the test case `test_name` with `env` ("NAME=value") added to
// the environment (taking precedence over inherited entries); returns the child's pid.
inline pid_t spawn_self(const std::string& test_name, const std::vector<std::string>& env) {
  std::vector<std::string> args = {"/proc/self/exe", test_name};
  std::vector<std::string> vars = env;
  for (char** e = environ; *e; ++e) vars.emplace_back(*e);  // the earlier entries win
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()) == 0);
  return pid;
}

// Waits for `pid`; returns its exit status, or 128 + the signal that ended it.
inline int wait_for_child(pid_t pid) {
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace tl::testing
