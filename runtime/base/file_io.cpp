// Thin wrappers over POSIX file calls with a fault-injection counter for tests.
#include "runtime/base/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

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

namespace {
// Calls `put(p, len, done)` (a write(2) or pwrite(2) of `len` bytes at `p`, `done` bytes in)
// until all `n` bytes are written, retrying short writes and EINTR.
template <class Put>
int write_fully(const void* data, uint64_t n, uint64_t* written, Put put) {
  const char* p = static_cast<const char*>(data);
  uint64_t done = 0;
  while (done < n) {
    ssize_t r = put(p + done, std::min<uint64_t>(n - done, uint64_t{1} << 30), done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = EIO;
      if (written) *written = done;
      return -1;
    }
    done += static_cast<uint64_t>(r);
  }
  if (written) *written = done;
  return 0;
}
}  // namespace

int file_write_all(int fd, const void* data, uint64_t n, uint64_t* written) {
  if (written) *written = 0;
  if (injected_failure()) return -1;
  return write_fully(data, n, written, [fd](const char* p, uint64_t len, uint64_t) { return ::write(fd, p, len); });
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

int file_pwrite_all(int fd, const void* data, uint64_t n, uint64_t offset, uint64_t* written) {
  if (written) *written = 0;
  if (injected_failure()) return -1;
  return write_fully(data, n, written, [fd, offset](const char* p, uint64_t len, uint64_t done) {
    return ::pwrite(fd, p, len, static_cast<off_t>(offset + done));
  });
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

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

int open_regular_file_for_read(const std::string& path, const std::string& what, Site site, uint64_t* size) {
  auto fail = [&](const std::string& reason) {
    throw IoError(what + ": '" + path + "': " + reason + " (at " + site.str() + ")");
  };
  auto errno_text = [](int err) { return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")"; };
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    fail("cannot open: " + errno_text(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail("cannot stat: " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(std::string("it is ") + file_kind(st.st_mode) + ", not a regular file");
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    int err = errno;
    ::close(fd);
    fail("cannot clear O_NONBLOCK: " + errno_text(err));
  }
  if (size) *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

bool lock_temporary(int fd, const std::string& path) {
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX);
  } while (rc != 0 && errno == EINTR);
  // Without flock support the temporary stays unlocked; cleanup cannot lock it either, so it
  // is never removed from under this writer.
  if (rc != 0) return true;
  struct stat by_fd, by_path;
  return ::fstat(fd, &by_fd) == 0 && ::lstat(path.c_str(), &by_path) == 0 && by_fd.st_dev == by_path.st_dev &&
         by_fd.st_ino == by_path.st_ino;
}

size_t remove_orphan_temporaries(const std::string& dir, const std::string& prefix, int64_t min_age_seconds) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  std::vector<std::string> candidates;
  while (dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) candidates.emplace_back(e->d_name);
  }
  ::closedir(d);
  size_t removed = 0;
  const time_t now = ::time(nullptr);
  for (const auto& name : candidates) {
    std::string path = dir + "/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) continue;
    struct stat st;
    // A writer holds the lock from creation to rename: a lock we cannot take means a live save.
    bool is_orphan = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > min_age_seconds &&
                     ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (is_orphan) {
      // Unlink while holding the lock, and only the file that was locked (the name could
      // have been reused in between).
      struct stat now_st;
      if (::lstat(path.c_str(), &now_st) == 0 && now_st.st_dev == st.st_dev && now_st.st_ino == st.st_ino &&
          file_unlink(path) == 0) {
        ++removed;
      }
    }
    ::close(fd);
  }
  return removed;
}

void file_io_fail_at(uint64_t call, int error) {
  calls = 0;
  fail_error = error;
  fail_call = call;
}

uint64_t file_io_calls() { return calls.load(); }

}  // namespace tl::detail
