// SHA-256 after FIPS 180-4: the portable compression function (sections 4.1.2, 5.3.3, 6.2),
// and beside it one that uses the x86 SHA extensions, picked at run time when the CPU has them.
// The portable one is the reference: the tests run every vector through both.
#include "runtime/base/sha256.h"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define TL_SHA256_X86 1
#endif

namespace tl::rt {
namespace {

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes (4.2.2).
alignas(16) constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// The first 32 bits of the fractional parts of the square roots of the first 8 primes (5.3.3).
constexpr std::array<uint32_t, 8> kInitialState = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

uint32_t load_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

void store_be32(uint8_t* p, uint32_t x) {
  p[0] = static_cast<uint8_t>(x >> 24);
  p[1] = static_cast<uint8_t>(x >> 16);
  p[2] = static_cast<uint8_t>(x >> 8);
  p[3] = static_cast<uint8_t>(x);
}

// The functions of section 4.1.2.
uint32_t ch(uint32_t x, uint32_t y, uint32_t z) { return z ^ (x & (y ^ z)); }
uint32_t maj(uint32_t x, uint32_t y, uint32_t z) { return (x & y) | (z & (x | y)); }
uint32_t big_sigma0(uint32_t x) { return std::rotr(x, 2) ^ std::rotr(x, 13) ^ std::rotr(x, 22); }
uint32_t big_sigma1(uint32_t x) { return std::rotr(x, 6) ^ std::rotr(x, 11) ^ std::rotr(x, 25); }
uint32_t small_sigma0(uint32_t x) { return std::rotr(x, 7) ^ std::rotr(x, 18) ^ (x >> 3); }
uint32_t small_sigma1(uint32_t x) { return std::rotr(x, 17) ^ std::rotr(x, 19) ^ (x >> 10); }

// One round of 6.2.2 step 3. Instead of shifting the eight working variables down one place
// per round, the caller rotates the arguments: the new `a` is written into `h` and the new `e`
// into `d`, so eight calls in a row bring every variable back to its own name.
inline void step(uint32_t a, uint32_t b, uint32_t c, uint32_t& d, uint32_t e, uint32_t f, uint32_t g,
                  uint32_t& h, uint32_t k_plus_w) {
  uint32_t t1 = h + big_sigma1(e) + ch(e, f, g) + k_plus_w;
  uint32_t t2 = big_sigma0(a) + maj(a, b, c);
  d += t1;
  h = t1 + t2;
}

// Message schedule word t >= 16 (6.2.2 step 1), kept in a ring of the last 16 words: w[t & 15]
// holds W(t-16) until it is replaced by W(t).
inline uint32_t schedule(uint32_t* w, int t) {
  w[t & 15] += small_sigma1(w[(t - 2) & 15]) + w[(t - 7) & 15] + small_sigma0(w[(t - 15) & 15]);
  return w[t & 15];
}

void compress_portable(uint32_t* state, const uint8_t* blocks, size_t count) {
  for (; count > 0; --count, blocks += 64) {
    uint32_t w[16];
    for (int t = 0; t < 16; ++t) w[t] = load_be32(blocks + 4 * t);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 16; t += 8) {
      step(a, b, c, d, e, f, g, h, kRound[t + 0] + w[t + 0]);
      step(h, a, b, c, d, e, f, g, kRound[t + 1] + w[t + 1]);
      step(g, h, a, b, c, d, e, f, kRound[t + 2] + w[t + 2]);
      step(f, g, h, a, b, c, d, e, kRound[t + 3] + w[t + 3]);
      step(e, f, g, h, a, b, c, d, kRound[t + 4] + w[t + 4]);
      step(d, e, f, g, h, a, b, c, kRound[t + 5] + w[t + 5]);
      step(c, d, e, f, g, h, a, b, kRound[t + 6] + w[t + 6]);
      step(b, c, d, e, f, g, h, a, kRound[t + 7] + w[t + 7]);
    }
    for (int t = 16; t < 64; t += 8) {
      step(a, b, c, d, e, f, g, h, kRound[t + 0] + schedule(w, t + 0));
      step(h, a, b, c, d, e, f, g, kRound[t + 1] + schedule(w, t + 1));
      step(g, h, a, b, c, d, e, f, kRound[t + 2] + schedule(w, t + 2));
      step(f, g, h, a, b, c, d, e, kRound[t + 3] + schedule(w, t + 3));
      step(e, f, g, h, a, b, c, d, kRound[t + 4] + schedule(w, t + 4));
      step(d, e, f, g, h, a, b, c, kRound[t + 5] + schedule(w, t + 5));
      step(c, d, e, f, g, h, a, b, kRound[t + 6] + schedule(w, t + 6));
      step(b, c, d, e, f, g, h, a, kRound[t + 7] + schedule(w, t + 7));
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
  }
}

#ifdef TL_SHA256_X86
// The SHA extensions (SHA-NI): CPUID.(EAX=7,ECX=0):EBX bit 29; the code below also uses SSSE3
// (pshufb) and SSE4.1 (pblendw), CPUID.1:ECX bits 9 and 19. They work on XMM registers only,
// which every x86-64 OS saves, so no xgetbv check is needed.
bool has_sha_extensions() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  bool has_sse = (ecx >> 9 & 1) && (ecx >> 19 & 1);
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  return has_sse && (ebx >> 29 & 1);
}

// sha256rnds2 does two rounds on the state split as {A, B, E, F} and {C, D, G, H} (lane 3
// first), taking W(t) + K(t) for both rounds from the low 64 bits of its third operand.
// sha256msg1 and sha256msg2 compute four schedule words, W(t)..W(t+3), from W(t-16)..W(t-1):
// msg1 adds the sigma0 terms, the caller adds W(t-7)..W(t-4), and msg2 adds the sigma1 terms.
__attribute__((target("sha,sse4.1,ssse3"))) void compress_sha_extensions(uint32_t* state, const uint8_t* blocks,
                                                                          size_t count) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
  for (; count > 0; --count, blocks += 64) {
    const __m128i abef_in = abef, cdgh_in = cdgh;
    // msg[i % 4] holds schedule words 4i..4i+3 while group i (rounds 4i..4i+3) runs.
    __m128i msg[4];
    for (int i = 0; i < 4; ++i) {
      msg[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + 16 * i)), byte_swap);
    }
    // Unrolled, msg[] lives in registers and the branches fold away (0.65x the time with GCC 12).
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      __m128i k_plus_w = _mm_add_epi32(msg[i % 4], _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + 4 * i)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k_plus_w);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k_plus_w, 0x0E));
      // Words 4(i+1).. are due next: msg[(i+1) % 4] already holds msg1 of groups i-3 and i-2.
      if (i >= 3 && i < 15) {
        __m128i& next = msg[(i + 1) % 4];
        next = _mm_add_epi32(next, _mm_alignr_epi8(msg[i % 4], msg[(i + 3) % 4], 4));
        next = _mm_sha256msg2_epu32(next, msg[i % 4]);
      }
      // Group i-1 is no longer read as itself: start the words of group i+3 in its place.
      if (i >= 1 && i < 13) msg[(i + 3) % 4] = _mm_sha256msg1_epu32(msg[(i + 3) % 4], msg[i % 4]);
    }
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
  }
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}
#endif

using Blocks = void (*)(uint32_t*, const uint8_t*, size_t);

Blocks pick_compress(Sha256Impl impl) {
#ifdef TL_SHA256_X86
  static const bool fast = has_sha_extensions();
  if (impl == Sha256Impl::kAuto && fast) return compress_sha_extensions;
#else
  (void)impl;
#endif
  return compress_portable;
}

}  // namespace

Sha256::Sha256(Sha256Impl impl) : compress_(pick_compress(impl)), state_(kInitialState) {}

void Sha256::update(const void* data, size_t n) {
  if (n == 0) return;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  total_bytes_ += n;
  if (pending_bytes_ > 0) {
    size_t take = std::min(n, pending_.size() - pending_bytes_);
    std::memcpy(pending_.data() + pending_bytes_, p, take);
    pending_bytes_ += take;
    p += take;
    n -= take;
    if (pending_bytes_ < pending_.size()) return;
    compress_(state_.data(), pending_.data(), 1);
    pending_bytes_ = 0;
  }
  // Whole blocks are compressed straight from the caller's buffer.
  size_t whole = n / 64;
  if (whole > 0) compress_(state_.data(), p, whole);
  p += whole * 64;
  n -= whole * 64;
  if (n > 0) std::memcpy(pending_.data(), p, n);
  pending_bytes_ = n;
}

Sha256Digest Sha256::finish() {
  // Padding (5.1.1): a 1 bit, zeros up to 56 bytes mod 64, then the length in bits as a 64-bit
  // big-endian number (messages are shorter than 2^64 bits, so the byte count times 8 fits).
  uint64_t bits = total_bytes_ * 8;
  pending_[pending_bytes_++] = 0x80;
  if (pending_bytes_ > 56) {
    std::memset(pending_.data() + pending_bytes_, 0, 64 - pending_bytes_);
    compress_(state_.data(), pending_.data(), 1);
    pending_bytes_ = 0;
  }
  std::memset(pending_.data() + pending_bytes_, 0, 56 - pending_bytes_);
  store_be32(pending_.data() + 56, static_cast<uint32_t>(bits >> 32));
  store_be32(pending_.data() + 60, static_cast<uint32_t>(bits));
  compress_(state_.data(), pending_.data(), 1);
  Sha256Digest digest;
  for (int i = 0; i < 8; ++i) store_be32(digest.data() + 4 * i, state_[i]);
  state_ = kInitialState;
  pending_bytes_ = 0;
  total_bytes_ = 0;
  return digest;
}

Sha256Digest sha256(const void* data, size_t n) {
  Sha256 hasher;
  hasher.update(data, n);
  return hasher.finish();
}

std::string to_hex(const Sha256Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * digest.size(), '0');
  for (size_t i = 0; i < digest.size(); ++i) {
    hex[2 * i] = kDigits[digest[i] >> 4];
    hex[2 * i + 1] = kDigits[digest[i] & 15];
  }
  return hex;
}

}  // namespace tl::rt
