// A temporary held by a save in another process: a forked child creates `path` as tl's saves
// do (O_EXCL, then an exclusive flock through detail::lock_temporary) and holds the lock until
// release(). Tests use it to check that orphan cleanup never removes a live save's temporary,
// whatever process id its name carries.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "runtime/base/file_io.h"

namespace tl::testing {

class TemporaryHeldByChild {
 public:
  explicit TemporaryHeldByChild(const std::string& path) {
    REQUIRE(::pipe(ready_) == 0);
    REQUIRE(::pipe(release_) == 0);
    child_ = ::fork();
    REQUIRE(child_ >= 0);
    if (child_ == 0) {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      char ok = fd >= 0 && detail::lock_temporary(fd, path) && ::write(fd, "partial", 7) == 7;
      if (::write(ready_[1], &ok, 1) != 1) ::_exit(2);
      char c;
      if (::read(release_[0], &c, 1) != 1) ::_exit(3);  // hold the lock until told
      ::_exit(ok ? 0 : 1);
    }
    char ok = 0;
    REQUIRE(::read(ready_[0], &ok, 1) == 1);
    REQUIRE(ok == 1);
  }
  // Lets the child exit (dropping its lock) and waits for it; true when it exited cleanly.
  bool release() {
    if (child_ <= 0) return false;
    bool written = ::write(release_[1], "x", 1) == 1;
    int status = 0;
    bool waited = ::waitpid(child_, &status, 0) == child_;
    child_ = 0;
    return written && waited && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  ~TemporaryHeldByChild() {
    if (child_ > 0) release();
    for (int fd : {ready_[0], ready_[1], release_[0], release_[1]}) ::close(fd);
  }
  TemporaryHeldByChild(const TemporaryHeldByChild&) = delete;
  TemporaryHeldByChild& operator=(const TemporaryHeldByChild&) = delete;

 private:
  int ready_[2] = {-1, -1};
  int release_[2] = {-1, -1};
  pid_t child_ = 0;
};

}  // namespace tl::testing
