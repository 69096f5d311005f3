// Host CPU feature detection and the LLVM feature names. The cpuid bits and XCR0 state bits
// are those of the Intel SDM, vol. 2A (CPUID) and vol. 1 section 13 (XSAVE-managed state).
#include "runtime/base/cpu_features.h"

#include <cstdint>
#include <cstring>
#include <iterator>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define TL_CPU_FEATURES_X86 1
#endif

namespace tl::rt {
namespace {

struct Feature {
  const char* llvm_name;
  bool CpuFeatures::*flag;
};

// In the order of the fields of CpuFeatures, which is the order every name list comes in.
constexpr Feature kFeatures[] = {
    {"sse4.2", &CpuFeatures::sse4_2},
    {"avx", &CpuFeatures::avx},
    {"avx2", &CpuFeatures::avx2},
    {"fma", &CpuFeatures::fma},
    {"f16c", &CpuFeatures::f16c},
    {"avx512f", &CpuFeatures::avx512f},
    {"avx512bw", &CpuFeatures::avx512bw},
    {"avx512vl", &CpuFeatures::avx512vl},
    {"avx512dq", &CpuFeatures::avx512dq},
    {"avx512bf16", &CpuFeatures::avx512_bf16},
    {"avx512vnni", &CpuFeatures::avx512_vnni},
    {"amx-tile", &CpuFeatures::amx_tile},
    {"amx-bf16", &CpuFeatures::amx_bf16},
};
// CpuFeatures holds only bools, so this fails when a field is added without its name.
static_assert(sizeof(CpuFeatures) == std::size(kFeatures), "one kFeatures entry per CpuFeatures field");

#ifdef TL_CPU_FEATURES_X86
struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

// Leaf `leaf`, subleaf `subleaf`; all zero when the CPU does not have that leaf.
CpuidRegs cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  CpuidRegs r;
  // GCC declares __get_cpuid_max unsigned, clang int.
  if (static_cast<uint32_t>(__get_cpuid_max(leaf & 0x80000000u, nullptr)) < leaf) return r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

bool bit(uint32_t reg, int n) { return (reg >> n & 1) != 0; }

// XCR0, the register state the OS saves on a context switch. Written as asm rather than
// _xgetbv so that this file needs no -mxsave; callers first check OSXSAVE, without which the
// instruction faults.
uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return uint64_t{hi} << 32 | lo;
}

CpuFeatures detect_host() {
  CpuFeatures f;
  const CpuidRegs leaf1 = cpuid(1);
  const CpuidRegs leaf7 = cpuid(7, 0);
  // Subleaf 1 of leaf 7 exists when subleaf 0 reports it in EAX.
  const CpuidRegs leaf7_1 = leaf7.eax >= 1 ? cpuid(7, 1) : CpuidRegs{};

  const bool has_osxsave = bit(leaf1.ecx, 27);
  const uint64_t xcr0 = has_osxsave ? read_xcr0() : 0;
  constexpr uint64_t kXmmYmm = 1u << 1 | 1u << 2;
  constexpr uint64_t kOpmaskZmm = 1u << 5 | 1u << 6 | 1u << 7;  // k0-k7, ZMM0-15 upper halves, ZMM16-31
  constexpr uint64_t kTiles = 1u << 17 | 1u << 18;               // TILECFG, TILEDATA
  const bool os_saves_ymm = (xcr0 & kXmmYmm) == kXmmYmm;
  const bool os_saves_zmm = os_saves_ymm && (xcr0 & kOpmaskZmm) == kOpmaskZmm;
  const bool os_saves_tiles = (xcr0 & kTiles) == kTiles;

  f.sse4_2 = bit(leaf1.ecx, 20);
  // Each flag below also requires the one it extends, so a host's set is always consistent
  // (avx2 implies avx, every AVX-512 subset implies avx512f) even on a hypervisor that
  // reports odd combinations. FMA and F16C are VEX-encoded and need the YMM state as well.
  f.avx = bit(leaf1.ecx, 28) && os_saves_ymm;
  f.avx2 = bit(leaf7.ebx, 5) && f.avx;
  f.fma = bit(leaf1.ecx, 12) && f.avx;
  f.f16c = bit(leaf1.ecx, 29) && f.avx;
  f.avx512f = bit(leaf7.ebx, 16) && f.avx && os_saves_zmm;
  f.avx512dq = bit(leaf7.ebx, 17) && f.avx512f;
  f.avx512bw = bit(leaf7.ebx, 30) && f.avx512f;
  f.avx512vl = bit(leaf7.ebx, 31) && f.avx512f;
  f.avx512_vnni = bit(leaf7.ecx, 11) && f.avx512f;
  f.avx512_bf16 = bit(leaf7_1.eax, 5) && f.avx512f;
  f.amx_tile = bit(leaf7.edx, 24) && os_saves_tiles;
  f.amx_bf16 = bit(leaf7.edx, 22) && f.amx_tile;
  return f;
}
#else
CpuFeatures detect_host() { return {}; }
#endif

}  // namespace

const CpuFeatures& host_cpu_features() {
  static const CpuFeatures features = detect_host();
  return features;
}

std::string host_cpu_name() {
  std::string name;
#ifdef TL_CPU_FEATURES_X86
  // Leaves 0x80000002..4 hold 48 bytes of brand string, NUL-padded.
  for (uint32_t leaf = 0x80000002u; leaf <= 0x80000004u; ++leaf) {
    const CpuidRegs r = cpuid(leaf);
    for (uint32_t reg : {r.eax, r.ebx, r.ecx, r.edx}) {
      for (int byte = 0; byte < 4; ++byte) name += static_cast<char>(reg >> (8 * byte) & 0xff);
    }
  }
  name.resize(std::strlen(name.c_str()));
#endif
  const char* kSpace = " \t";
  size_t first = name.find_first_not_of(kSpace);
  if (first == std::string::npos) return {};
  return name.substr(first, name.find_last_not_of(kSpace) - first + 1);
}

std::vector<std::string> feature_names(const CpuFeatures& features) {
  std::vector<std::string> names;
  for (const Feature& feature : kFeatures) {
    if (features.*feature.flag) names.emplace_back(feature.llvm_name);
  }
  return names;
}

std::optional<CpuFeatures> parse_features(const std::vector<std::string>& names, std::string* unknown) {
  CpuFeatures features;
  for (const std::string& name : names) {
    const Feature* found = nullptr;
    for (const Feature& feature : kFeatures) {
      if (name == feature.llvm_name) found = &feature;
    }
    if (found == nullptr) {
      if (unknown != nullptr) *unknown = name;
      return std::nullopt;
    }
    features.*found->flag = true;
  }
  return features;
}

std::vector<std::string> missing_features(const CpuFeatures& needed, const CpuFeatures& have) {
  std::vector<std::string> missing;
  for (const Feature& feature : kFeatures) {
    if (needed.*feature.flag && !(have.*feature.flag)) missing.emplace_back(feature.llvm_name);
  }
  return missing;
}

// The CPU features the kernels of this build were compiled for: an artifact runs them.
std::vector<std::string> compiled_cpu_features() {
  std::vector<std::string> f;
#ifdef __SSE4_2__
  f.push_back("sse4.2");
#endif
#ifdef __AVX__
  f.push_back("avx");
#endif
#ifdef __AVX2__
  f.push_back("avx2");
#endif
#ifdef __FMA__
  f.push_back("fma");
#endif
#ifdef __F16C__
  f.push_back("f16c");
#endif
#ifdef __AVX512F__
  f.push_back("avx512f");
#endif
#ifdef __AVX512BW__
  f.push_back("avx512bw");
#endif
#ifdef __AVX512VL__
  f.push_back("avx512vl");
#endif
#ifdef __AVX512DQ__
  f.push_back("avx512dq");
#endif
  return f;
}

}  // namespace tl::rt
