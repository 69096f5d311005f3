// The file layer (see file_io.h): counted POSIX wrappers, the verified reader, AtomicFile and
// the cleanup of temporaries left by crashed writers.
#include "runtime/base/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <new>
#include <random>
#include <vector>

namespace tl::detail {

std::string errno_text(int err) { return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")"; }

namespace {

// " (at train.cpp:41)", or nothing for an internal write that has no user site (line 0).
std::string at(Site site) { return site.line == 0 ? std::string() : " (at " + site.str() + ")"; }

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

const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

int open_regular_file(const std::string& path, int extra_flags, uint64_t* size, std::string* why) {
  auto refuse = [&](int fd, int err, const std::string& reason) {
    if (fd >= 0) ::close(fd);
    *why = reason;
    errno = err;
    return -1;
  };
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | extra_flags);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return refuse(-1, errno, "cannot open: " + errno_text(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) return refuse(fd, errno, "cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) {
    return refuse(fd, EINVAL, std::string("it is ") + file_kind(st.st_mode) + ", not a regular file");
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return refuse(fd, errno, "cannot clear O_NONBLOCK: " + errno_text(errno));
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

int open_regular_file_for_read(const std::string& path, const std::string& what, Site site, uint64_t* size) {
  uint64_t bytes = 0;
  std::string why;
  int fd = open_regular_file(path, 0, &bytes, &why);
  if (fd < 0) throw IoError(what + ": '" + path + "': " + why + at(site));
  if (size) *size = bytes;
  return fd;
}

std::string pread_exact(int fd, void* data, uint64_t n, uint64_t offset) {
  uint64_t got = 0;
  if (file_pread_all(fd, data, n, offset, &got) != 0) {
    return "read at byte " + std::to_string(offset + got) + " failed: " + errno_text(errno);
  }
  if (got < n) {
    return "truncated: needs bytes [" + std::to_string(offset) + ", " + std::to_string(offset + n) +
           "), the file ends at byte " + std::to_string(offset + got);
  }
  return {};
}

FileReader::FileReader(std::string path, std::string what, Site site)
    : path_(std::move(path)), what_(std::move(what)), site_(site) {
  fd_ = open_regular_file_for_read(path_, what_, site_, &size_);
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

void FileReader::fail(const std::string& why) const {
  throw IoError(what_ + ": '" + path_ + "': " + why + at(site_));
}

void FileReader::read_at(uint64_t offset, void* data, uint64_t n) const {
  std::string why = pread_exact(fd_, data, n, offset);
  if (why.empty()) return;
  // Callers check ranges against size() first, so a short read means the file shrank.
  if (offset + n <= size_ && why.rfind("truncated", 0) == 0) {
    why += " (it had " + std::to_string(size_) + " bytes when opened; was it changed while being read?)";
  }
  fail(why);
}

uint64_t FileReader::read_up_to(uint64_t offset, void* data, uint64_t n) const {
  uint64_t got = 0;
  if (file_pread_all(fd_, data, n, offset, &got) != 0) {
    fail("read at byte " + std::to_string(offset + got) + " failed: " + errno_text(errno));
  }
  return got;
}

std::string read_file_capped(const std::string& path, uint64_t max_bytes, const std::string& what, Site site) {
  FileReader file(path, what, site);
  if (file.size() > max_bytes) {
    file.fail("it holds " + std::to_string(file.size()) + " bytes, more than the " + std::to_string(max_bytes) +
              " such a file may hold");
  }
  std::string text;
  try {
    text.resize(file.size());
  } catch (const std::bad_alloc&) {
    file.fail("cannot allocate " + std::to_string(file.size()) + " bytes to read it");
  }
  // A file that shrank since it was opened yields what is there.
  uint64_t got = file.read_up_to(0, text.data(), text.size());
  text.resize(got);
  return text;
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

std::string AtomicFile::temporary_prefix(const std::string& target) {
  return "." + std::filesystem::path(target).filename().string() + ".tmp.";
}

AtomicFile::AtomicFile(std::string target, std::string what, uint64_t expected_bytes, Site site, mode_t mode)
    : target_(std::move(target)), what_(std::move(what)), expected_(expected_bytes), site_(site) {
  std::filesystem::path p(target_);
  dir_ = p.parent_path().empty() ? std::string(".") : p.parent_path().string();
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    // The pid and counter only make names unlikely to collide; O_EXCL makes them unique.
    char suffix[64];
    std::snprintf(suffix, sizeof suffix, "%d.%llu.%08x", static_cast<int>(::getpid()),
                  static_cast<unsigned long long>(counter++), rd());
    path_ = (std::filesystem::path(dir_) / (temporary_prefix(target_) + suffix)).string();
    fd_ = file_open(path_, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    if (fd_ < 0 && errno == EEXIST) continue;
    if (fd_ < 0) {
      int err = errno;
      path_.clear();
      fail("cannot create a temporary file in '" + dir_ + "': open failed: " + errno_text(err));
    }
    if (lock_temporary(fd_, path_)) {
      // The lock belongs to the open file description: this duplicate keeps it held after
      // fd_ is closed, until the rename is done.
      lock_fd_ = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
      if (lock_fd_ >= 0) return;
      // A throwing constructor runs no destructor: clean up here.
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      file_unlink(path_);
      path_.clear();
      fail("cannot duplicate the temporary's descriptor: " + errno_text(err));
    }
    // Another writer's cleanup removed it before the lock was taken: make another.
    ::close(fd_);
    fd_ = -1;
  }
  path_.clear();
  fail("cannot create a unique temporary file in '" + dir_ + "' after 100 attempts");
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!renamed_ && !path_.empty()) file_unlink(path_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void AtomicFile::fail(const std::string& why) const {
  throw IoError(what_ + ": cannot write '" + target_ + "': " + why + "; the previous file is unchanged" + at(site_));
}

void AtomicFile::write(const void* data, uint64_t n) {
  uint64_t put = 0;
  if (file_write_all(fd_, data, n, &put) != 0) {
    int err = errno;
    fail("write failed after " + std::to_string(written_ + put) + " of " + std::to_string(expected_) +
         " bytes needed: " + errno_text(err));
  }
  written_ += n;
}

void AtomicFile::pwrite(uint64_t offset, const void* data, uint64_t n) {
  uint64_t put = 0;
  if (file_pwrite_all(fd_, data, n, offset, &put) != 0) {
    int err = errno;
    fail("rewriting bytes [" + std::to_string(offset) + ", " + std::to_string(offset + n) + ") failed after " +
         std::to_string(put) + " of them, " + std::to_string(expected_) + " bytes needed in all: " + errno_text(err));
  }
}

void AtomicFile::commit() {
  if (file_fsync(fd_) != 0) {
    int err = errno;
    fail("fsync of the temporary file (" + std::to_string(written_) + " bytes) failed: " + errno_text(err));
  }
  int fd = fd_;
  fd_ = -1;
  if (file_close(fd) != 0) {
    int err = errno;
    fail("close of the temporary file failed: " + errno_text(err));
  }
  if (file_rename(path_, target_) != 0) {
    int err = errno;
    fail("renaming the temporary file into place failed: " + errno_text(err));
  }
  renamed_ = true;
  ::close(lock_fd_);
  lock_fd_ = -1;
  // The rename is durable only once the folder is synced.
  int dir_fd = file_open(dir_, O_RDONLY | O_DIRECTORY);
  int err = dir_fd < 0 ? errno : 0;
  if (dir_fd >= 0 && file_fsync(dir_fd) != 0) err = errno;
  if (dir_fd >= 0) ::close(dir_fd);
  if (err != 0) {
    throw IoError(what_ + ": '" + target_ + "' was written completely (" + std::to_string(written_) +
                  " bytes), but syncing its folder '" + dir_ + "' failed, so it may not survive a power loss: " +
                  errno_text(err) + at(site_));
  }
}

void write_file_atomically(const std::string& target, std::string_view bytes, const std::string& what, Site site) {
  AtomicFile file(target, what, bytes.size(), site);
  file.write(bytes);
  file.commit();
}

void file_io_fail_at(uint64_t call, int error) {
  calls = 0;
  fail_error = error;
  fail_call = call;
}

uint64_t file_io_calls() { return calls.load(); }

}  // namespace tl::detail
