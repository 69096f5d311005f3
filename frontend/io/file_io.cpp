// Thin wrappers over POSIX file calls with a fault-injection counter for tests.
#include "frontend/io/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

namespace tl::detail {
namespace {

std::atomic<uint64_t> calls{0};
std::atomic<uint64_t> fail_call{0};
std::atomic<int> fail_error{0};

// Counts this call; true (with errno set) when the test hook says it must fail.
bool injected_failure() {
  uint64_t n = ++calls;
  uint64_t k = fail_call.load();
  if (k != 0 && n == k) {
    errno = fail_error.load();
    return true;
  }
  return false;
}

}  // namespace

int file_open(const std::string& path, int flags, mode_t mode) {
  if (injected_failure()) return -1;
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

int file_write_all(int fd, const void* data, uint64_t n, uint64_t* written) {
  if (written) *written = 0;
  if (injected_failure()) return -1;
  const char* p = static_cast<const char*>(data);
  uint64_t done = 0;
  while (done < n) {
    ssize_t put = ::write(fd, p + done, std::min<uint64_t>(n - done, uint64_t{1} << 30));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) {
      if (put == 0) errno = EIO;
      if (written) *written = done;
      return -1;
    }
    done += static_cast<uint64_t>(put);
  }
  if (written) *written = done;
  return 0;
}

int file_pread_all(int fd, void* data, uint64_t n, uint64_t offset, uint64_t* got) {
  char* p = static_cast<char*>(data);
  uint64_t done = 0;
  *got = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, p + done, std::min<uint64_t>(n - done, uint64_t{1} << 30), static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      *got = done;
      return -1;
    }
    if (r == 0) break;
    done += static_cast<uint64_t>(r);
  }
  *got = done;
  return 0;
}

int file_fsync(int fd) {
  if (injected_failure()) return -1;
  return ::fsync(fd);
}

int file_close(int fd) {
  if (injected_failure()) {
    // The descriptor is released anyway (as close(2) does on EIO), so a failing close
    // cannot leak it.
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return ::close(fd);
}

int file_rename(const std::string& from, const std::string& to) {
  if (injected_failure()) return -1;
  return ::rename(from.c_str(), to.c_str());
}

int file_unlink(const std::string& path) {
  if (injected_failure()) return -1;
  return ::unlink(path.c_str());
}

void file_io_fail_at(uint64_t call, int error) {
  calls = 0;
  fail_error = error;
  fail_call = call;
}

uint64_t file_io_calls() { return calls.load(); }

}  // namespace tl::detail
