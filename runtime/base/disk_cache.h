// The on-disk cache of compiled code: one file per entry, named by the SHA-256 of its key and
// holding the whole key, so a process started later skips compilation. Plain C++ types only;
// its users decide what the key and the payload are: the CPU code generator's object code
// (codegen/cpu/elementwise.cpp) and NVRTC's cubins (runtime/cuda/kernel_cache.h).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace tl::rt {

// The cache folder tl uses: $TL_CACHE_DIR when set, else $XDG_CACHE_HOME/tracelight, else
// $HOME/.cache/tracelight. Empty (no cache) when TL_CACHE_DIR is "off" or set but empty, or
// when neither XDG_CACHE_HOME nor HOME is set.
std::string cache_root_from_env();

// A folder of entries. An entry file is
//
//   magic "TLCACHE\0" | u32 format version | u32 header bytes (64) | u64 key bytes |
//   u64 payload bytes | SHA-256 of key and payload (32 bytes) | key | payload
//
// (integers little-endian). load() checks every field against the file's size and the key it
// was asked for; an entry that fails any check is ignored like a missing one, and the next
// store() replaces it. store() writes a temporary file in the folder, fsyncs it and renames it
// over the entry, so readers and concurrent writers see a whole entry or none. Nothing here
// throws for a file problem; the methods are thread-safe.
class DiskCache {
 public:
  // Entries live directly in `dir`, created (with its parents) on the first store. After a
  // store, when the entries together exceed `limit_bytes`, the least recently used (by mtime;
  // a load touches its entry) are removed until they fit in 3/4 of it.
  DiskCache(std::string dir, uint64_t limit_bytes);

  // The payload stored under `key`, or nullopt when there is none or the entry is unusable
  // (truncated, corrupt, another key or format version).
  std::optional<std::string> load(std::string_view key);
  // Stores `payload` under `key`. Returns why it could not (naming the path and the failed
  // call), or an empty string.
  std::string store(std::string_view key, std::string_view payload);

  // The file holding `key`'s entry.
  std::string path_for(std::string_view key) const;
  const std::string& dir() const { return dir_; }

  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;    // no entry file
    int64_t rejected = 0;  // an entry file that failed a check
    int64_t stores = 0;
    int64_t store_failures = 0;
    int64_t evicted = 0;
  };
  Stats stats() const;
  // Why the last load rejected its entry (for logs and tests).
  std::string last_rejection() const;

  static constexpr uint32_t kFormatVersion = 1;
  static constexpr uint32_t kHeaderBytes = 64;
  static constexpr uint64_t kDefaultLimitBytes = uint64_t{256} << 20;

 private:
  void evict();

  std::string dir_;
  uint64_t limit_bytes_;
  mutable std::mutex mutex_;  // guards the members below
  Stats stats_;
  std::string last_rejection_;
  bool warned_store_failure_ = false;
};

// The cache of compiled kernels, cache_root_from_env()/kernels with the default limit; null
// when the cache is off or its folder cannot be created (logged once per folder). Re-reads
// the environment on each call, so a changed TL_CACHE_DIR takes effect at the next compile.
std::shared_ptr<DiskCache> kernel_disk_cache();
// The same for cache_root_from_env()/<folder> ("cuda": NVRTC's cubins).
std::shared_ptr<DiskCache> disk_cache_in(const std::string& folder);

}  // namespace tl::rt
