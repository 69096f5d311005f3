// The on-disk cache of compiled code (see disk_cache.h): entry files verified before use,
// replaced through tl's file layer (detail::AtomicFile in runtime/base/file_io.h).
#include "runtime/base/disk_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <vector>


#include "runtime/base/file_io.h"
#include "runtime/base/sha256.h"
#include "runtime/logging.h"
#include "runtime/base/env.h"

namespace tl::rt {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'T', 'L', 'C', 'A', 'C', 'H', 'E', '\0'};
constexpr const char* kEntrySuffix = ".tlc";
// Entries larger than this are refused before anything is allocated for them.
constexpr uint64_t kMaxEntryBytes = uint64_t{1} << 30;
// An unlocked temporary (".<entry>.tmp.*") this old belongs to a writer that died before its
// rename.
constexpr int64_t kOrphanAgeSeconds = 3600;

std::array<uint8_t, 32> checksum(std::string_view key, std::string_view payload) {
  Sha256 sha;
  sha.update(key.data(), key.size());
  sha.update(payload.data(), payload.size());
  return sha.finish();
}

void put_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void put_u64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

// Closes a file opened for reading when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string cache_root_from_env() {
  if (const char* dir = rt::env_raw(rt::EnvSwitch::kCacheDir)) {
    std::string value = dir;
    return value == "off" ? std::string() : value;
  }
  // The XDG base directory spec ignores relative paths.
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && xdg[0] == '/') return std::string(xdg) + "/tracelight";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/tracelight";
  return {};
}

DiskCache::DiskCache(std::string dir, uint64_t limit_bytes) : dir_(std::move(dir)), limit_bytes_(limit_bytes) {}

std::string DiskCache::path_for(std::string_view key) const {
  return dir_ + "/" + to_hex(sha256(key.data(), key.size())) + kEntrySuffix;
}

DiskCache::Stats DiskCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::string DiskCache::last_rejection() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_rejection_;
}

std::optional<std::string> DiskCache::load(std::string_view key) {
  const std::string path = path_for(key);
  auto reject = [&](const std::string& why) -> std::optional<std::string> {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.rejected;
    last_rejection_ = path + ": " + why;
    rt::logger("tl.compile")->debug("ignoring the compile cache entry {}", last_rejection_);
    return std::nullopt;
  };
  // Opened without blocking (a FIFO planted under an entry's name would wait forever for a
  // writer) and without following a symlink; anything but a regular file is rejected.
  Fd file;
  uint64_t size = 0;
  std::string why;
  file.fd = detail::open_regular_file(path, O_NOFOLLOW, &size, &why);
  if (file.fd < 0) {
    if (errno == ENOENT) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.misses;
      return std::nullopt;
    }
    return reject(why + "; ignored");
  }
  if (size < kHeaderBytes) {
    return reject("truncated: " + std::to_string(size) + " bytes, the header alone is " + std::to_string(kHeaderBytes));
  }
  char header[kHeaderBytes];
  if (std::string why = detail::pread_exact(file.fd, header, kHeaderBytes, 0); !why.empty()) return reject(why);
  if (std::memcmp(header, kMagic, sizeof kMagic) != 0) return reject("not a tl cache entry (bad magic)");
  const uint32_t version = get_u32(header + 8);
  if (version != kFormatVersion) {
    return reject("format version " + std::to_string(version) + ", this tl reads " + std::to_string(kFormatVersion));
  }
  if (get_u32(header + 12) != kHeaderBytes) return reject("header size " + std::to_string(get_u32(header + 12)));
  const uint64_t key_bytes = get_u64(header + 16), payload_bytes = get_u64(header + 24);
  if (key_bytes != key.size()) {
    return reject("another key: " + std::to_string(key_bytes) + " key bytes, expected " + std::to_string(key.size()));
  }
  // Both sizes are bounded before they are added, so the sum cannot wrap.
  if (payload_bytes > kMaxEntryBytes || key_bytes > kMaxEntryBytes) {
    return reject("payload of " + std::to_string(payload_bytes) + " bytes exceeds the limit of " +
                  std::to_string(kMaxEntryBytes));
  }
  const uint64_t expected = kHeaderBytes + key_bytes + payload_bytes;
  if (size != expected) {
    return reject((size < expected ? "truncated: " : "trailing bytes: ") + std::string("the header describes ") +
                  std::to_string(expected) + " bytes, the file has " + std::to_string(size));
  }
  std::string stored_key(key_bytes, '\0');
  std::string payload(payload_bytes, '\0');
  if (std::string why = detail::pread_exact(file.fd, stored_key.data(), key_bytes, kHeaderBytes); !why.empty()) {
    return reject(why);
  }
  if (std::string why = detail::pread_exact(file.fd, payload.data(), payload_bytes, kHeaderBytes + key_bytes);
      !why.empty()) {
    return reject(why);
  }
  if (stored_key != key) return reject("another key (a hash collision or a renamed file)");
  const auto sum = checksum(stored_key, payload);
  if (std::memcmp(sum.data(), header + 32, sum.size()) != 0) return reject("checksum mismatch (corrupt)");
  // Recently used entries survive eviction longest; a read-only folder just keeps the old time.
  ::futimens(file.fd, nullptr);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.hits;
  return payload;
}

std::string DiskCache::store(std::string_view key, std::string_view payload) {
  const std::string path = path_for(key);
  auto fail = [&](const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.store_failures;
    if (!warned_store_failure_) {
      rt::logger("tl.compile")
          ->warn("{}; compiled code is not cached (set TL_CACHE_DIR to a writable folder, or TL_CACHE_DIR=off)",
                 message);
      warned_store_failure_ = true;
    }
    return message;
  };
  const std::string refused = "cannot write the compile cache entry " + path + ": ";
  if (payload.size() > kMaxEntryBytes || key.size() > kMaxEntryBytes) {
    return fail(refused + "the entry exceeds " + std::to_string(kMaxEntryBytes) + " bytes");
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return fail(refused + "cannot create the folder: " + ec.message());

  char header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, sizeof kMagic);
  put_u32(header + 8, kFormatVersion);
  put_u32(header + 12, kHeaderBytes);
  put_u64(header + 16, key.size());
  put_u64(header + 24, payload.size());
  const auto sum = checksum(key, payload);
  std::memcpy(header + 32, sum.data(), sum.size());
  // The rename replaces the entry atomically: a reader sees the old file or the new one, and
  // of two writers of one entry the last rename wins with a whole file.
  try {
    detail::AtomicFile file(path, "compile cache", kHeaderBytes + key.size() + payload.size(), Site{});
    file.write(header, kHeaderBytes);
    file.write(key);
    file.write(payload);
    try {
      file.commit();
    } catch (const IoError& e) {
      // Only the folder's fsync after the rename failed: the entry is in place, and one lost
      // to a power failure is only recompiled.
      if (!file.is_renamed()) throw;
      rt::logger("tl.compile")->debug("{}", e.what());
    }
  } catch (const IoError& e) {
    return fail(e.what());
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.stores;
  }
  evict();
  return {};
}

void DiskCache::evict() {
  detail::remove_orphan_temporaries(dir_, ".", kOrphanAgeSeconds);
  struct Entry {
    fs::file_time_type mtime;
    uint64_t bytes;
    fs::path path;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec)) continue;
    const std::string name = it->path().filename().string();
    const auto mtime = it->last_write_time(entry_ec);
    if (entry_ec) continue;
    if (name.size() < 4 || name.compare(name.size() - 4, 4, kEntrySuffix) != 0) continue;
    const uint64_t bytes = it->file_size(entry_ec);
    if (entry_ec) continue;
    entries.push_back({mtime, bytes, it->path()});
    total += bytes;
  }
  if (total <= limit_bytes_) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.mtime < b.mtime; });
  int64_t removed = 0;
  uint64_t removed_bytes = 0;
  for (const Entry& e : entries) {
    if (total <= limit_bytes_ / 4 * 3) break;
    std::error_code remove_ec;
    if (fs::remove(e.path, remove_ec)) {
      total -= e.bytes;
      removed_bytes += e.bytes;
      ++removed;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.evicted += removed;
  }
  rt::logger("tl.compile")
      ->info("compile cache {}: evicted the {} least recently used entries ({} bytes) to stay under {} bytes", dir_,
             removed, removed_bytes, limit_bytes_);
}

std::shared_ptr<DiskCache> disk_cache_in(const std::string& folder) {
  struct State {
    std::string configured_root;
    bool configured = false;
    std::shared_ptr<DiskCache> cache;
  };
  static std::mutex mutex;
  static std::map<std::string, State> states;
  static std::set<std::string> logged;
  const std::string root = cache_root_from_env();
  std::lock_guard<std::mutex> lock(mutex);
  State& state = states[folder];
  if (state.configured && root == state.configured_root) return state.cache;
  state.configured = true;
  state.configured_root = root;
  state.cache.reset();
  auto log = rt::logger("tl.compile");
  if (root.empty()) {
    if (logged.insert(root).second) {
      log->info("the compile cache is off (TL_CACHE_DIR={}); compiled code is not kept between processes",
                rt::env_raw(rt::EnvSwitch::kCacheDir) ? rt::env_raw(rt::EnvSwitch::kCacheDir) : "unset, and no HOME");
    }
    return state.cache;
  }
  const std::string dir = root + "/" + folder;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    if (logged.insert(dir).second) {
      log->warn("the compile cache is off: cannot create {}: {} (set TL_CACHE_DIR to a writable folder, or "
                "TL_CACHE_DIR=off)",
                dir, ec.message());
    }
    return state.cache;
  }
  state.cache = std::make_shared<DiskCache>(dir, DiskCache::kDefaultLimitBytes);
  return state.cache;
}

std::shared_ptr<DiskCache> kernel_disk_cache() { return disk_cache_in("kernels"); }

}  // namespace tl::rt
