// The standalone executables tlc emits (docs/tlc.md): the bytes of tl-model-runner, zero
// padding to a 4096-byte boundary, the artifact, the runner's settings and a 24-byte trailer:
//
//   [runner ELF][zeros][artifact][settings]["TLEXE\0\0\0"][u64 artifact offset][u64 artifact size]
//
// Integers are little-endian. The settings are the bytes between the artifact's end and the
// trailer: "key=value\n" lines (`threads=N`, `batch=N`), empty when nothing is set. Written by
// tlc, read back by the runner from /proc/self/exe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tl::tlc {

inline constexpr char kExeMagic[8] = {'T', 'L', 'E', 'X', 'E', '\0', '\0', '\0'};
inline constexpr uint64_t kExeTrailerBytes = 24;
// The artifact starts on a page boundary, so a later runner can map it in place.
inline constexpr uint64_t kExeArtifactAlignment = 4096;

// What the runner applies before it loads the model.
struct ExeSettings {
  int threads = 0;      // tl::set_num_threads(threads) at start; 0 keeps tl's default
  int64_t batch = 0;    // the largest batch the executable accepts (a batched model); 0: the model's maximum
};

// Whether `bytes` ends in a TLEXE trailer (a runner that already carries a model).
bool has_exe_trailer(std::string_view bytes);

// Writes `runner` + padding + `artifact` + `settings` + trailer to `path` atomically
// (AtomicFile: the previous file stays intact on failure), then makes it mode 0755.
// Returns the bytes written. Throws tl::IoError naming `path` and the failing call.
uint64_t write_exe(const std::string& path, std::string_view runner, std::string_view artifact,
                   const ExeSettings& settings);

struct EmbeddedModel {
  std::string artifact;  // the artifact's bytes
  uint64_t offset = 0;   // where they start in the executable
  ExeSettings settings;
};

// Reads the model embedded in the executable at `exe_path` (the runner passes /proc/self/exe).
// Throws tl::IoError naming `exe_path` when it cannot be read, has no trailer (a bare runner),
// or the trailer points outside the file or holds settings this runner does not know.
EmbeddedModel read_embedded_model(const std::string& exe_path);

}  // namespace tl::tlc
