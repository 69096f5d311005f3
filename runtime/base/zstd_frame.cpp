#include "runtime/base/zstd_frame.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <memory>

#include "tl/error.h"

namespace tl::rt {

namespace {

// Device code is compressed once, by tlc, and decompressed at each load: a slow level costs
// milliseconds per kernel. The --ultra levels above it gain nothing on cubins of ~20 KB.
constexpr int kLevel = 19;

}  // namespace

std::string zstd_compress(std::string_view bytes) {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> context(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (context == nullptr) throw Error("tl: zstd cannot allocate a compression context");
  // The frame records the decompressed size (the one-shot call knows it) and a checksum of the
  // content, which decompression checks: 4 bytes that catch a damaged frame zstd would otherwise
  // decode into other bytes of the right size.
  ZSTD_CCtx_setParameter(context.get(), ZSTD_c_compressionLevel, kLevel);
  ZSTD_CCtx_setParameter(context.get(), ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const size_t n = ZSTD_compress2(context.get(), out.data(), out.size(), bytes.data(), bytes.size());
  if (ZSTD_isError(n))
    throw Error("tl: zstd cannot compress " + std::to_string(bytes.size()) + " bytes: " + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::string zstd_frame_mismatch(std::string_view frame, uint64_t size) {
  // Exactly one frame: ZSTD_decompress would go on to decode a second one after it.
  const size_t framed = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(framed))
    return "is not one whole zstd frame (" + std::string(ZSTD_getErrorName(framed)) + ")";
  if (framed != frame.size())
    return "has " + std::to_string(frame.size() - framed) + " bytes after its zstd frame";
  // A skippable frame records 0.
  const unsigned long long recorded = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (recorded == ZSTD_CONTENTSIZE_ERROR) return "has an invalid zstd frame header";
  if (recorded != ZSTD_CONTENTSIZE_UNKNOWN && recorded != size)
    return "is a zstd frame of " + std::to_string(recorded) + " bytes, not the " + std::to_string(size) +
           " it declares";
  return {};
}

std::optional<std::string> zstd_decompress(std::string_view frame, uint64_t size, std::string* why) {
  if (std::string mismatch = zstd_frame_mismatch(frame, size); !mismatch.empty()) {
    *why = std::move(mismatch);
    return std::nullopt;
  }
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (context == nullptr) throw Error("tl: zstd cannot allocate a decompression context");
  // Decoding into a buffer of exactly `size` bytes: a frame that holds more fails in zstd
  // (dstSize_tooSmall) without writing past it, whatever its header records.
  std::string out(size, '\0');
  const size_t n = ZSTD_decompressDCtx(context.get(), out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) {
    *why = ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall
               ? "decompresses to more than the " + std::to_string(size) + " bytes it declares"
               : "does not decompress (" + std::string(ZSTD_getErrorName(n)) + ")";
    return std::nullopt;
  }
  if (n != size) {
    *why = "decompresses to " + std::to_string(n) + " bytes, not the " + std::to_string(size) + " it declares";
    return std::nullopt;
  }
  return out;
}

}  // namespace tl::rt
