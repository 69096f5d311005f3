// zstd frames tl itself never writes, for tests that must refuse them.
#pragma once

#include <catch2/catch.hpp>
#include <zstd.h>

#include <memory>
#include <string>
#include <string_view>

namespace tl::test {

// `bytes` as a zstd frame whose header does not record its size (as streaming writers make
// them): only decompressing it shows how many bytes it holds.
inline std::string frame_without_size(std::string_view bytes) {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> context(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(context.get(), ZSTD_c_contentSizeFlag, 0);
  std::string frame(ZSTD_compressBound(bytes.size()), '\0');
  const size_t n = ZSTD_compress2(context.get(), frame.data(), frame.size(), bytes.data(), bytes.size());
  REQUIRE_FALSE(ZSTD_isError(n));
  frame.resize(n);
  REQUIRE(ZSTD_getFrameContentSize(frame.data(), frame.size()) == ZSTD_CONTENTSIZE_UNKNOWN);
  return frame;
}

}  // namespace tl::test
