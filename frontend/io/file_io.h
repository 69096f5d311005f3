// The one layer every file write in tl goes through (open/write/fsync/close/rename/unlink), so
// tests can make the k-th call fail and check that a save survives every fault (SQLite's VFS
// pattern; RELIABILITY.md 3.3). Each function behaves like its POSIX namesake: it returns -1
// (or a negative count) and sets errno on failure.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace tl::detail {

int file_open(const std::string& path, int flags, mode_t mode = 0);
// Writes all `n` bytes (retrying short writes and EINTR); returns 0, or -1 with errno set and
// `*written` (when given) holding the bytes that did reach the file.
int file_write_all(int fd, const void* data, uint64_t n, uint64_t* written = nullptr);
// Reads `n` bytes at `offset` (retrying short reads and EINTR); returns 0, or -1 with errno
// set on a read error. `*got` holds the bytes read: fewer than `n` with a 0 return means the
// file ended first. Reads are not counted by the fault-injection hook below.
int file_pread_all(int fd, void* data, uint64_t n, uint64_t offset, uint64_t* got);
int file_fsync(int fd);
int file_close(int fd);
int file_rename(const std::string& from, const std::string& to);
int file_unlink(const std::string& path);

// Test hook: the `call`-th I/O call from now (1-based, counting every function above, one
// count per write_all) fails with `error` instead of running. 0 disables injection.
// Not thread-safe against concurrent saves; meant for single-threaded tests.
void file_io_fail_at(uint64_t call, int error);
// Calls made since the last file_io_fail_at (or process start); lets a test learn how many
// calls one save makes before looping over each of them.
uint64_t file_io_calls();

}  // namespace tl::detail
