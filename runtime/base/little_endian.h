// Little-endian integers of tl's file formats (artifacts, checkpoints and safetensors, .npy,
// TensorBoard records, tlc's executables), written and read byte by byte whatever the host's
// byte order. `bytes` is the field's width (at most 8).
#pragma once

#include <cstdint>
#include <string>

namespace tl::detail {

inline void store_le(void* dst, uint64_t v, int bytes) {
  auto* p = static_cast<unsigned char*>(dst);
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>((v >> (8 * i)) & 0xff);
}

inline uint64_t load_le(const void* src, int bytes) {
  const auto* p = static_cast<const unsigned char*>(src);
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

inline void append_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace tl::detail
