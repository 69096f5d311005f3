// Host CPU feature detection (checked against what Linux reports in /proc/cpuinfo) and the
// LLVM feature names a compiled artifact records.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/base/cpu_features.h"

using tl::rt::CpuFeatures;
using Names = std::vector<std::string>;

namespace {

// Every field of CpuFeatures set.
CpuFeatures all_features() {
  CpuFeatures f;
  f.sse4_2 = f.avx = f.avx2 = f.fma = f.f16c = true;
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512_bf16 = f.avx512_vnni = true;
  f.amx_tile = f.amx_bf16 = true;
  return f;
}

// The value after "<key>\t: " on the first line of /proc/cpuinfo that starts with `key`;
// false when the file or the line is missing.
bool cpuinfo_field(const std::string& key, std::string* value) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t start = line.find_first_not_of(' ', colon + 1);
    *value = start == std::string::npos ? std::string() : line.substr(start);
    return true;
  }
  return false;
}

}  // namespace

TEST_CASE("host_cpu_features is detected once and is self-consistent", "[runtime][cpu_features]") {
  const CpuFeatures& host = tl::rt::host_cpu_features();
  CHECK(&host == &tl::rt::host_cpu_features());
  INFO("host features: " << Catch::Detail::stringify(tl::rt::feature_names(host)));
  // Each feature requires the one it extends (and the OS state that one needs).
  if (host.avx2 || host.fma || host.f16c || host.avx512f) CHECK(host.avx);
  if (host.avx512bw || host.avx512vl || host.avx512dq || host.avx512_bf16 || host.avx512_vnni) CHECK(host.avx512f);
  if (host.amx_bf16) CHECK(host.amx_tile);
#if !defined(__x86_64__)
  CHECK(host == CpuFeatures{});
#endif
}

TEST_CASE("cpu_features names are LLVM's and round-trip through parse_features", "[runtime][cpu_features]") {
  const Names all = {"sse4.2",   "avx",      "avx2",       "fma",        "f16c",     "avx512f", "avx512bw",
                     "avx512vl", "avx512dq", "avx512bf16", "avx512vnni", "amx-tile", "amx-bf16"};
  CHECK(tl::rt::feature_names(all_features()) == all);
  CHECK(tl::rt::parse_features(all) == all_features());
  CHECK(tl::rt::feature_names(CpuFeatures{}).empty());
  CHECK(tl::rt::parse_features({}) == CpuFeatures{});
  // Each name alone sets exactly its own field.
  for (const std::string& name : all) {
    INFO(name);
    std::optional<CpuFeatures> one = tl::rt::parse_features({name});
    REQUIRE(one.has_value());
    CHECK(tl::rt::feature_names(*one) == Names{name});
  }
  // Order and repeats do not matter.
  CHECK(tl::rt::feature_names(*tl::rt::parse_features({"fma", "avx2", "fma"})) == Names{"avx2", "fma"});
  const CpuFeatures& host = tl::rt::host_cpu_features();
  CHECK(tl::rt::parse_features(tl::rt::feature_names(host)) == host);
}

TEST_CASE("cpu_features parse_features reports an unknown name", "[runtime][cpu_features]") {
  std::string unknown;
  // Linux's spelling and a sign-prefixed one are not LLVM feature names.
  CHECK_FALSE(tl::rt::parse_features({"avx2", "avx512_bf16", "sse7"}, &unknown).has_value());
  CHECK(unknown == "avx512_bf16");
  CHECK_FALSE(tl::rt::parse_features({"+avx2"}, &unknown).has_value());
  CHECK(unknown == "+avx2");
  CHECK_FALSE(tl::rt::parse_features({""}, &unknown).has_value());
  CHECK(unknown.empty());
  CHECK_FALSE(tl::rt::parse_features({"AVX2"}).has_value());
}

TEST_CASE("cpu_features missing_features lists exactly the needed features the host lacks", "[runtime][cpu_features]") {
  const CpuFeatures needed = *tl::rt::parse_features({"avx", "avx2", "fma", "avx512f", "avx512bw"});
  const CpuFeatures avx2_host = *tl::rt::parse_features({"sse4.2", "avx", "avx2", "fma", "f16c"});
  CHECK(tl::rt::missing_features(needed, avx2_host) == Names{"avx512f", "avx512bw"});
  CHECK(tl::rt::missing_features(needed, all_features()).empty());
  CHECK(tl::rt::missing_features(needed, CpuFeatures{}) == Names{"avx", "avx2", "fma", "avx512f", "avx512bw"});
  // Features the host has but the binary does not need are not listed.
  CHECK(tl::rt::missing_features(CpuFeatures{}, all_features()).empty());
  const CpuFeatures& host = tl::rt::host_cpu_features();
  CHECK(tl::rt::missing_features(host, host).empty());
  CHECK(tl::rt::missing_features(all_features(), host).size() ==
        tl::rt::feature_names(all_features()).size() - tl::rt::feature_names(host).size());
}

TEST_CASE("host_cpu_features agrees with the flags in /proc/cpuinfo", "[runtime][cpu_features]") {
  std::string flags_line;
  if (!cpuinfo_field("flags", &flags_line)) {
    WARN("not checked: /proc/cpuinfo is missing or has no x86 flags line on this machine");
    return;
  }
  std::set<std::string> flags;
  std::istringstream words(flags_line);
  for (std::string word; words >> word;) flags.insert(word);
  auto has = [&](const char* flag) { return flags.count(flag) == 1; };
  const CpuFeatures& host = tl::rt::host_cpu_features();
  INFO("/proc/cpuinfo flags: " << flags_line);
  // Linux also clears these flags when the OS does not save the registers they use. AMX is
  // left out: kernels before 5.16 list amx_tile while leaving the tile state off.
  CHECK(host.sse4_2 == has("sse4_2"));
  CHECK(host.avx == has("avx"));
  CHECK(host.avx2 == has("avx2"));
  CHECK(host.fma == has("fma"));
  CHECK(host.f16c == has("f16c"));
  CHECK(host.avx512f == has("avx512f"));
  CHECK(host.avx512bw == has("avx512bw"));
  CHECK(host.avx512vl == has("avx512vl"));
  CHECK(host.avx512dq == has("avx512dq"));
  CHECK(host.avx512_bf16 == has("avx512_bf16"));
  CHECK(host.avx512_vnni == has("avx512_vnni"));
}

TEST_CASE("cpu_features host_cpu_name is the trimmed brand string that /proc/cpuinfo shows", "[runtime][cpu_features]") {
  const std::string name = tl::rt::host_cpu_name();
  INFO("host_cpu_name: '" << name << "'");
  if (!name.empty()) {
    CHECK(name.front() != ' ');
    CHECK(name.back() != ' ');
    CHECK(name.find('\0') == std::string::npos);
  }
#if defined(__x86_64__)
  std::string model_name;
  if (!cpuinfo_field("model name", &model_name)) {
    WARN("not compared: /proc/cpuinfo is missing or has no 'model name' line on this machine");
    return;
  }
  CHECK(name == model_name);
#else
  CHECK(name.empty());
#endif
}
