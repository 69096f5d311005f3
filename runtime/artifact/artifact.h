// Compiled artifacts on disk: writing one (atomically, with a SHA-256 per section) and opening
// one verified, before anything in it is trusted. Part of the runtime: plain C++, protobuf and
// POSIX, no MLIR, LLVM or frontend. The layout is in artifact.proto and docs/artifact.md.
//
// Opening checks, in order, and refuses with ArtifactError naming the file and the problem:
// the header (magic, layout version, manifest size inside the file, the manifest's SHA-256),
// the manifest (parses, encoded exactly as
// tl writes it; the format version is one this build reads; the ABI stamp matches; every CPU
// feature is known and present on this CPU), every section (inside the file, after the
// manifest, aligned, not overlapping another, named once, its SHA-256), and the program
// (parses; every value id, constant range and arena offset inside its bounds; every value
// defined once before it is read; sizes under 2^62 bytes and the limits; input and output
// types equal to the signature's; batch axes at dims of size max_batch). What an op name or
// attribute means is the op table's to check (the frontend's loader does), not this layer's.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/artifact/artifact.pb.h"
#include "tl/dtype.h"
#include "tl/error.h"
#include "tl/shape.h"

namespace tl::rt {

// A file that is not a valid artifact for this build (corrupt, truncated, hostile, from a
// newer tl, for another CPU).
class ArtifactError : public Error {
 public:
  using Error::Error;
};

inline constexpr char kArtifactMagic[10] = {'T', 'L', 'A', 'R', 'T', 'I', 'F', 'A', 'C', 'T'};
// "TLARTIFACT", the header's layout version (byte 10: kArtifactFormatVersion), a zero byte,
// the manifest's size (little-endian u32), then the manifest's SHA-256 (32 bytes).
inline constexpr uint64_t kArtifactHeaderBytes = 48;
inline constexpr uint64_t kSectionAlignment = 64;
// Version 1: the first format (a 16-byte header). Version 2: the header also carries the
// manifest's SHA-256, so no byte of the file goes unchecked but section padding. A reader
// refuses any other version.
inline constexpr uint32_t kArtifactFormatVersion = 2;
// The contract between an artifact's program and the kernels that run it: bumped whenever an
// op's meaning, attributes or kernel ABI changes incompatibly.
inline constexpr uint64_t kArtifactAbiStamp = 20261204;

// Bounds a reader enforces so a hostile file cannot make it allocate without limit.
struct ArtifactLimits {
  uint64_t max_manifest_bytes = 16ull << 20;
  uint64_t max_program_bytes = 256ull << 20;
  uint64_t max_values = 1u << 22;
  uint64_t max_arena_bytes = 64ull << 30;
};

struct SectionBytes {
  std::string name;
  std::string bytes;
};

// Writes `manifest` (its `sections` are filled in here: offsets, sizes, SHA-256) and the
// sections, atomically: the file appears complete or not at all. Throws IoError naming
// `path` and the failing call.
void write_artifact(const std::string& path, artifact::Manifest manifest, const std::vector<SectionBytes>& sections);

// An artifact file read into memory and verified (see the top of this file).
class Artifact {
 public:
  static Artifact open(const std::string& path, const ArtifactLimits& limits = {});
  // As open, from bytes already in memory (`name` stands for the path in messages).
  static Artifact from_bytes(std::string bytes, const std::string& name, const ArtifactLimits& limits = {});

  const std::string& path() const { return path_; }
  const artifact::Manifest& manifest() const { return manifest_; }
  const artifact::Program& program() const { return program_; }
  // The bytes of section `name`; empty when there is no such section.
  std::span<const uint8_t> section(std::string_view name) const;
  uint64_t file_bytes() const { return bytes_.size(); }

 private:
  std::string path_;
  std::string bytes_;
  artifact::Manifest manifest_;
  artifact::Program program_;
};

// DType <-> its artifact enum. dtype_from_artifact throws ArtifactError for an unknown value.
artifact::DType to_artifact(DType dtype);
DType dtype_from_artifact(int value, const std::string& where);

// Everything in the artifact, for `tlc --inspect`: header, manifest, signature, sections with
// their checksums, memory plan, constants and the kernel calls with their attributes.
std::string describe(const Artifact& artifact, bool per_node = true);

}  // namespace tl::rt
