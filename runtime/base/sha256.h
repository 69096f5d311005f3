// SHA-256 (FIPS 180-4), for the section digests of compiled artifacts. Plain C++ only, so
// the standalone runtime can verify an artifact without OpenSSL or LLVM; not a public header.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tl::rt {

using Sha256Digest = std::array<uint8_t, 32>;

// Which compression function a hasher runs. kAuto uses the x86 SHA extensions when this CPU
// has them and the portable code otherwise; kPortable always runs the portable code, the
// reference the tests hold the other against.
enum class Sha256Impl { kAuto, kPortable };

// An incremental hasher: the digest depends only on the concatenation of the bytes passed to
// update(), never on how they were split. Does not allocate.
class Sha256 {
 public:
  explicit Sha256(Sha256Impl impl = Sha256Impl::kAuto);

  // Appends `n` bytes at `data` to the message (`data` may be null when `n` is 0).
  void update(const void* data, size_t n);
  // Returns the digest of the message so far and resets the hasher to the empty message.
  Sha256Digest finish();

 private:
  void (*compress_)(uint32_t* state, const uint8_t* blocks, size_t count);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> pending_;  // the partial block not yet compressed
  size_t pending_bytes_ = 0;
  uint64_t total_bytes_ = 0;
};

// The digest of the `n` bytes at `data`.
Sha256Digest sha256(const void* data, size_t n);

// 64 lowercase hex digits.
std::string to_hex(const Sha256Digest& digest);

}  // namespace tl::rt
