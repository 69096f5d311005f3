// zstd frames for bytes stored compressed in artifacts (the device code of `tlc --target cuda`):
// one frame per blob, written with its size, read back only into a buffer of the size the
// caller declared and capped. Not a public header; zstd itself stays in the .cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tl::rt {

// `bytes` as one zstd frame that records its decompressed size. Throws Error when zstd fails
// (out of memory).
std::string zstd_compress(std::string_view bytes);

// Why `frame` cannot hold `size` bytes, judged from its headers alone (no decompression): it is
// not exactly one zstd frame (truncated, trailing bytes, not zstd), or its header records
// another decompressed size. Empty when it may; a frame that records no size may still fail
// zstd_decompress.
std::string zstd_frame_mismatch(std::string_view frame, uint64_t size);

// The `size` bytes `frame` decompresses to, into a buffer of exactly `size` bytes (the caller
// bounds it): nullopt with the reason in `*why` when the frame is corrupt or truncated, or
// decompresses to more or fewer bytes than `size`.
std::optional<std::string> zstd_decompress(std::string_view frame, uint64_t size, std::string* why);

}  // namespace tl::rt
