// The one layer every file write in tl goes through (open/write/fsync/close/rename/unlink), so
// tests can make the k-th call fail and check that a save survives every fault (SQLite's VFS
// pattern; RELIABILITY.md 3.3). Each function behaves like its POSIX namesake: it returns -1
// (or a negative count) and sets errno on failure.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "tl/error.h"

namespace tl::detail {

int file_open(const std::string& path, int flags, mode_t mode = 0);
// Writes all `n` bytes (retrying short writes and EINTR); returns 0, or -1 with errno set and
// `*written` (when given) holding the bytes that did reach the file.
int file_write_all(int fd, const void* data, uint64_t n, uint64_t* written = nullptr);
// Reads `n` bytes at `offset` (retrying short reads and EINTR); returns 0, or -1 with errno
// set on a read error. `*got` holds the bytes read: fewer than `n` with a 0 return means the
// file ended first. Reads are not counted by the fault-injection hook below.
int file_pread_all(int fd, void* data, uint64_t n, uint64_t offset, uint64_t* got);
// Writes all `n` bytes at `offset` (as file_write_all, without moving the file offset).
int file_pwrite_all(int fd, const void* data, uint64_t n, uint64_t offset, uint64_t* written = nullptr);
int file_fsync(int fd);
int file_close(int fd);
int file_rename(const std::string& from, const std::string& to);
int file_unlink(const std::string& path);

// Opens `path`, a file tl did not create, for reading. open(2) runs with O_NONBLOCK (so a
// FIFO cannot block it forever waiting for a writer), O_CLOEXEC and O_NOCTTY; the file is then
// fstat'ed and refused unless it is a regular file, and O_NONBLOCK is cleared. Returns the
// descriptor and sets `*size` (when given). Throws IoError "<what>: '<path>': <reason> (at
// <site>)", the reason naming the errno or the kind of file found (a FIFO, a directory, a
// character or block device, a socket). Not counted by the fault-injection hook.
int open_regular_file_for_read(const std::string& path, const std::string& what, Site site,
                               uint64_t* size = nullptr);

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

// Test hook: the `call`-th I/O call from now (1-based, counting every function above, one
// count per write_all) fails with `error` instead of running. 0 disables injection.
// Not thread-safe against concurrent saves; meant for single-threaded tests.
void file_io_fail_at(uint64_t call, int error);
// Calls made since the last file_io_fail_at (or process start); lets a test learn how many
// calls one save makes before looping over each of them.
uint64_t file_io_calls();

}  // namespace tl::detail
