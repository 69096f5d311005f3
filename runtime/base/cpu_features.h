// The x86-64 CPU features generated code may depend on: which of them this host has, their
// names as LLVM spells them (the names a compiled artifact records), and which of an
// artifact's features the host lacks. Plain C++ only, for the standalone runtime.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace tl::rt {

// One flag per LLVM target feature. On the host a flag is set only when the CPU has the
// instructions (cpuid) and the OS saves the registers they use (xgetbv): avx512f is false on an
// AVX-512 CPU whose kernel leaves the ZMM state off. Everything is false on a non-x86 CPU.
struct CpuFeatures {
  bool sse4_2 = false;       // "sse4.2"
  bool avx = false;          // "avx"
  bool avx2 = false;         // "avx2"
  bool fma = false;          // "fma"
  bool f16c = false;         // "f16c"
  bool avx512f = false;      // "avx512f"
  bool avx512bw = false;     // "avx512bw"
  bool avx512vl = false;     // "avx512vl"
  bool avx512dq = false;     // "avx512dq"
  bool avx512_bf16 = false;  // "avx512bf16"
  bool avx512_vnni = false;  // "avx512vnni"
  // On Linux a process must also ask for the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM)
  // before its first tile instruction; the loader that runs AMX code does that.
  bool amx_tile = false;  // "amx-tile"
  bool amx_bf16 = false;  // "amx-bf16"

  bool operator==(const CpuFeatures&) const = default;
};

// This CPU's features, detected on the first call.
const CpuFeatures& host_cpu_features();

// The CPU's brand string ("AMD EPYC 7B13 64-Core Processor") without surrounding spaces;
// empty when the CPU reports none (and on non-x86 CPUs).
std::string host_cpu_name();

// The LLVM names of the features set in `features`, in the order of the fields above.
std::vector<std::string> feature_names(const CpuFeatures& features);

// The features named in `names` (LLVM names, as feature_names writes them; repeats are
// allowed). Returns nullopt for a name not listed above, and stores that name in `*unknown`
// when `unknown` is given.
std::optional<CpuFeatures> parse_features(const std::vector<std::string>& names, std::string* unknown = nullptr);

// The LLVM names of the features set in `needed` but not in `have`, in field order: what a
// binary built for `needed` lacks on a host with `have`. Empty when it can run.
std::vector<std::string> missing_features(const CpuFeatures& needed, const CpuFeatures& have);

// The features the runtime's kernels were compiled for (this build's -march): what an
// artifact exported by this build needs of the CPU that runs it.
std::vector<std::string> compiled_cpu_features();

}  // namespace tl::rt
