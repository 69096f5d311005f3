// The one file layer of tl: every file write goes through the counted POSIX wrappers below, so
// a test can make the k-th call fail and check that a save survives every fault (SQLite's VFS
// pattern; RELIABILITY.md 3.3). On top of them: AtomicFile, the one way tl replaces a file
// (checkpoints, .npy, run files, compile-cache entries), and FileReader, the verified reader.
// Plain C++ and POSIX only, so the standalone runtime can use it; not a public header.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "tl/error.h"

namespace tl::detail {

// "No space left on device (errno 28)".
std::string errno_text(int err);

// ---------------------------------------------------------------- counted POSIX calls
// Each behaves like its POSIX namesake: it returns -1 (or a negative count) and sets errno on
// failure. Each call counts once for the fault-injection hook (file_io_fail_at).

int file_open(const std::string& path, int flags, mode_t mode = 0);
// Writes all `n` bytes (retrying short writes and EINTR); returns 0, or -1 with errno set and
// `*written` (when given) holding the bytes that did reach the file.
int file_write_all(int fd, const void* data, uint64_t n, uint64_t* written = nullptr);
// Writes all `n` bytes at `offset` (as file_write_all, without moving the file offset).
int file_pwrite_all(int fd, const void* data, uint64_t n, uint64_t offset, uint64_t* written = nullptr);
int file_fsync(int fd);
int file_close(int fd);
int file_rename(const std::string& from, const std::string& to);
int file_unlink(const std::string& path);
// Reads `n` bytes at `offset` (retrying short reads and EINTR); returns 0, or -1 with errno
// set on a read error. `*got` holds the bytes read: fewer than `n` with a 0 return means the
// file ended first. Reads are not counted by the fault-injection hook.
int file_pread_all(int fd, void* data, uint64_t n, uint64_t offset, uint64_t* got);

// ---------------------------------------------------------------- reading

// What a file that is not regular is, for messages: "a FIFO (named pipe)", "a directory",
// "a character device", "a block device", "a socket".
const char* file_kind(mode_t mode);

// Opens `path`, a file tl did not create, for reading, without throwing. open(2) runs with
// O_NONBLOCK (so a FIFO cannot block it forever waiting for a writer), O_CLOEXEC, O_NOCTTY and
// `extra_flags` (O_NOFOLLOW, say); the file is then fstat'ed and refused unless it is a regular
// file, and O_NONBLOCK is cleared. Returns the descriptor and sets `*size`, or -1 with errno
// kept from the failed call (ENOENT for a missing file) and `*why` saying what went wrong
// ("cannot open: ...", "it is a FIFO (named pipe), not a regular file"). Not counted.
int open_regular_file(const std::string& path, int extra_flags, uint64_t* size, std::string* why);
// As open_regular_file, throwing IoError "<what>: '<path>': <why> (at <site>)".
int open_regular_file_for_read(const std::string& path, const std::string& what, Site site,
                               uint64_t* size = nullptr);
// Reads bytes [offset, offset + n) of `fd`. Returns an empty string, or why it could not:
// "truncated: needs bytes [a, b), the file ends at byte c" or "read at byte x failed: ...".
std::string pread_exact(int fd, void* data, uint64_t n, uint64_t offset);

// A regular file opened for verified reading (open_regular_file_for_read); closed on
// destruction. Errors are IoError "<what>: '<path>': <why> (at <site>)"; a Site with line 0
// (an internal file with no user call behind it) leaves out " (at <site>)", here and below.
class FileReader {
 public:
  FileReader(std::string path, std::string what, Site site);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // The size fstat reported at open.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Reads bytes [offset, offset + n) into `data`, or throws (pread_exact's reason, with a
  // note that the file may have changed while being read when it is shorter than at open).
  void read_at(uint64_t offset, void* data, uint64_t n) const;
  // Reads at most `n` bytes at `offset`; returns how many there were (fewer when the file
  // ends first). Throws on a read error.
  uint64_t read_up_to(uint64_t offset, void* data, uint64_t n) const;
  [[noreturn]] void fail(const std::string& why) const;

 private:
  std::string path_, what_;
  Site site_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Reads all of `path`, a regular file of at most `max_bytes` bytes (refused by size before
// anything is allocated). Throws IoError "<what>: '<path>': <why> (at <site>)". A file that
// shrinks while being read yields what was there.
std::string read_file_capped(const std::string& path, uint64_t max_bytes, const std::string& what, Site site);

// ---------------------------------------------------------------- atomic replacement

// Replaces the file at `target` all at once: a reader, a crash or a failed write sees the
// previous file or the new one, never a mix. The bytes go to a temporary in the target's folder,
// ".<name>.tmp.<pid>.<n>.<random>", created with O_EXCL|O_NOFOLLOW and held under an exclusive
// flock (lock_temporary) until it is renamed, so a concurrent cleanup never removes it.
// commit() is fsync(file) -> close -> rename over the target -> fsync(folder). Destroying an
// AtomicFile that was not renamed removes its temporary.
//
// Every file call goes through the counted wrappers above. Errors are IoError
// "<what>: cannot write '<target>': <why>; the previous file is unchanged (at <site>)", where
// <why> names the failing call, the errno text and, for writes, the bytes written and needed
// (`expected_bytes`, the size the caller means to write).
class AtomicFile {
 public:
  // Creates and locks the temporary. `target`'s folder must exist. `mode` is passed to open(2)
  // (the umask applies).
  AtomicFile(std::string target, std::string what, uint64_t expected_bytes, Site site, mode_t mode = 0644);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends `n` bytes.
  void write(const void* data, uint64_t n);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // Overwrites bytes [offset, offset + n), already written.
  void pwrite(uint64_t offset, const void* data, uint64_t n);
  // Makes the new file the target, durably. When only the folder's fsync after the rename
  // fails, the target already holds the new file: the IoError says "was written completely"
  // and is_renamed() is true.
  void commit();
  bool is_renamed() const { return renamed_; }
  // Throws the IoError above with `why`; the destructor then removes the temporary.
  [[noreturn]] void fail(const std::string& why) const;

  // The name prefix of `target`'s temporaries (".<name>.tmp."), for remove_orphan_temporaries.
  static std::string temporary_prefix(const std::string& target);

 private:
  std::string target_, what_, dir_, path_;
  uint64_t expected_ = 0, written_ = 0;
  Site site_;
  int fd_ = -1;
  int lock_fd_ = -1;  // keeps the flock after fd_ is closed, until the rename
  bool renamed_ = false;
};

// Replaces `target` with `bytes` through an AtomicFile.
void write_file_atomically(const std::string& target, std::string_view bytes, const std::string& what, Site site);

// ---------------------------------------------------------------- temporaries

// Temporaries written before a rename into place are protected by an exclusive flock(2) held
// from creation until the rename (lock_temporary); cleanup removes only those it can lock.
// Process ids are not used: they mean nothing across PID namespaces (two containers saving
// into one shared folder).
//
// Takes an exclusive flock on `fd`, the temporary just created at `path`, waiting for a
// cleanup that may hold it for an instant; returns false when `path` no longer names that
// file (a cleanup removed it between creation and the lock: create another). Filesystems
// without flock support leave the temporary unlocked, and cleanup then never removes it.
bool lock_temporary(int fd, const std::string& path);
// Removes the files in `dir` whose names start with `prefix` that no writer holds locked and
// that were last modified over `min_age_seconds` ago (a safety margin for writers that do
// not lock). Best effort: a file that cannot be removed is left for the next call. Returns
// the number removed.
size_t remove_orphan_temporaries(const std::string& dir, const std::string& prefix, int64_t min_age_seconds);

// ---------------------------------------------------------------- fault injection

// Test hook: the `call`-th counted call from now (1-based, counting every counted function
// above, one count per write_all) fails with `error` instead of running. 0 disables injection.
// Not thread-safe against concurrent saves; meant for single-threaded tests.
void file_io_fail_at(uint64_t call, int error);
// Calls made since the last file_io_fail_at (or process start); lets a test learn how many
// calls one save makes before looping over each of them.
uint64_t file_io_calls();

}  // namespace tl::detail
