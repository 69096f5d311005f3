// SHA-256 against the FIPS 180-4 example digests, and the digest's independence from how the
// message is split across update() calls. Every case runs on both compression functions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "runtime/base/sha256.h"

using tl::rt::Sha256;
using tl::rt::Sha256Impl;

namespace {

std::string hex_of(Sha256Impl impl, const std::string& message) {
  Sha256 hasher(impl);
  hasher.update(message.data(), message.size());
  return tl::rt::to_hex(hasher.finish());
}

// The 200-byte message of the split tests: byte i is (7i + 3) mod 256.
std::vector<uint8_t> split_message() {
  std::vector<uint8_t> bytes(200);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(7 * i + 3);
  return bytes;
}

}  // namespace

TEST_CASE("sha256 of the FIPS 180-4 example messages is the published digest", "[runtime][sha256]") {
  auto impl = GENERATE(Sha256Impl::kAuto, Sha256Impl::kPortable);
  CHECK(hex_of(impl, "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex_of(impl, "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 448 bits: the padding no longer fits, so it takes a second block.
  CHECK(hex_of(impl, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(hex_of(impl,
               "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsm"
               "nopqrstnopqrstu") == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  CHECK(hex_of(impl, std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256 of messages around the padding boundaries is the known digest", "[runtime][sha256]") {
  auto impl = GENERATE(Sha256Impl::kAuto, Sha256Impl::kPortable);
  // Runs of 'a'; digests from Python's hashlib. 55 bytes is the longest message padded within
  // its own block, 64 the first that fills one exactly.
  CHECK(hex_of(impl, std::string(55, 'a')) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(hex_of(impl, std::string(56, 'a')) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(hex_of(impl, std::string(63, 'a')) == "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
  CHECK(hex_of(impl, std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  CHECK(hex_of(impl, std::string(65, 'a')) == "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0");
  CHECK(hex_of(impl, std::string(119, 'a')) == "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb");
  CHECK(hex_of(impl, std::string(120, 'a')) == "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c");
  CHECK(hex_of(impl, std::string(128, 'a')) == "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e");
}

TEST_CASE("sha256 is the same for every split of a 200-byte message into two updates", "[runtime][sha256]") {
  auto impl = GENERATE(Sha256Impl::kAuto, Sha256Impl::kPortable);
  const std::vector<uint8_t> message = split_message();
  const std::string expected = "2c7e18c942ef065b526a2d4e5546283749cd3ddfb51d8fc71f42717363685f46";
  for (size_t split = 0; split <= message.size(); ++split) {
    INFO("first update takes " << split << " bytes");
    Sha256 hasher(impl);
    hasher.update(message.data(), split);
    hasher.update(message.data() + split, message.size() - split);
    CHECK(tl::rt::to_hex(hasher.finish()) == expected);
  }
  // One byte per update, and an empty update with a null pointer between them.
  Sha256 hasher(impl);
  for (uint8_t byte : message) {
    hasher.update(&byte, 1);
    hasher.update(nullptr, 0);
  }
  CHECK(tl::rt::to_hex(hasher.finish()) == expected);
}

TEST_CASE("sha256 of a large buffer is the same at once and in random chunk sizes", "[runtime][sha256]") {
  std::mt19937_64 rng(20240611);
  // Not a multiple of 64, so the last block is partial.
  std::vector<uint8_t> buffer(3 * 1024 * 1024 + 17);
  for (auto& byte : buffer) byte = static_cast<uint8_t>(rng());
  const tl::rt::Sha256Digest at_once = tl::rt::sha256(buffer.data(), buffer.size());

  Sha256 portable(Sha256Impl::kPortable);
  portable.update(buffer.data(), buffer.size());
  CHECK(portable.finish() == at_once);

  auto impl = GENERATE(Sha256Impl::kAuto, Sha256Impl::kPortable);
  // Mostly short chunks that straddle block boundaries, now and then a long one that
  // compresses many whole blocks straight from the buffer.
  std::uniform_int_distribution<size_t> short_chunk(0, 130), long_chunk(0, 100000);
  std::bernoulli_distribution is_long(0.05);
  Sha256 hasher(impl);
  size_t offset = 0, updates = 0;
  while (offset < buffer.size()) {
    size_t n = std::min(is_long(rng) ? long_chunk(rng) : short_chunk(rng), buffer.size() - offset);
    hasher.update(buffer.data() + offset, n);
    offset += n;
    ++updates;
  }
  INFO(updates << " updates");
  CHECK(hasher.finish() == at_once);
}

TEST_CASE("sha256 finish() resets the hasher to the empty message", "[runtime][sha256]") {
  Sha256 hasher;
  hasher.update("abc", 3);
  CHECK(tl::rt::to_hex(hasher.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(tl::rt::to_hex(hasher.finish()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  hasher.update("abc", 3);
  CHECK(tl::rt::to_hex(hasher.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
