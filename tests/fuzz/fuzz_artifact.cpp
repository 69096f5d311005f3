// Fuzzes compiled-artifact loading: the runtime's verifying reader (tl::rt::Artifact::from_bytes,
// runtime/artifact/artifact.cpp) and, for a file it accepts, the frontend's loader
// (tl::load_program, frontend/compile/program.cpp; it reads a path, so the bytes go through a
// scratch file) and two calls of the loaded program on zeros.
//
// Each input is tried twice: as it is, and resealed: its manifest and sections (as far as they
// parse) written again by tl::rt::write_artifact, which lays them out and recomputes every
// SHA-256. Raw bytes exercise the header, manifest and layout checks; resealed ones get past
// the checksums, so mutations of the program section reach the program and op-table checks.
//
// Oracle: a refusal is a tl::rt::ArtifactError, from the reader and from the loader; nothing
// else may be thrown. An accepted file can be described. A program that loads has the
// manifest's signature, runs on zeros of it without error, returns outputs of exactly the
// signature's shapes and dtypes, and returns the same bits on a second call.
//
// The harness bounds what one input may allocate: the reader's arena limit is 16 MiB, and
// programs whose values exceed 4 MiB in all are not loaded (libFuzzer's -malloc_limit_mb
// would report the allocation as a failure).
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "runtime/artifact/artifact.h"
#include "tests/fuzz/fuzz_util.h"
#include "tl/tl.h"

namespace {

constexpr uint64_t kMaxArenaBytes = 16u << 20;
constexpr uint64_t kMaxValueBytes = 4u << 20;

bool same_bits(const tl::Tensor& a, const tl::Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

// What the program's values take in all (the reader has checked every size).
uint64_t value_bytes(const tl::artifact::Program& program) {
  uint64_t total = 0;
  for (const tl::artifact::ValueType& v : program.values()) {
    const tl::Shape shape(v.shape().begin(), v.shape().end());
    total += static_cast<uint64_t>(shape.numel()) * tl::dtype_size(tl::rt::dtype_from_artifact(v.dtype(), "a value"));
  }
  return total;
}

void load_and_run(const std::string& bytes, const tl::rt::Artifact& artifact) {
  const std::string path = (tl::fuzz::scratch_dir() / "accepted.tlart").string();
  tl::fuzz::write_file(path, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  std::optional<tl::Program> program;
  try {
    program.emplace(tl::load_program(path));
  } catch (const tl::rt::ArtifactError&) {
    return;  // the op-table checks are the loader's
  } catch (const tl::Error& e) {
    tl::fuzz::fail(std::string("load_program refused an artifact the reader accepted without an ArtifactError: ") + e.what());
  }
  const tl::artifact::Manifest& m = artifact.manifest();
  if (program->inputs().size() != static_cast<size_t>(m.inputs_size()) ||
      program->outputs().size() != static_cast<size_t>(m.outputs_size()))
    tl::fuzz::fail("a loaded program's signature differs from its manifest's");
  std::vector<tl::Tensor> inputs;
  for (const tl::TensorSignature& s : program->inputs()) inputs.push_back(tl::zeros(s.shape, {.dtype = s.dtype}));
  std::vector<tl::Tensor> first, second;
  try {
    first = (*program)(inputs);
    second = (*program)(inputs);
  } catch (const tl::Error& e) {
    tl::fuzz::fail(std::string("a verified program failed on inputs of its signature: ") + e.what());
  }
  if (first.size() != program->outputs().size()) tl::fuzz::fail("a program returned another number of outputs");
  for (size_t i = 0; i < first.size(); ++i) {
    const tl::TensorSignature& s = program->outputs()[i];
    if (first[i].shape() != s.shape || first[i].dtype() != s.dtype)
      tl::fuzz::fail("output " + std::to_string(i) + " is " + first[i].shape().str() + " " + tl::dtype_name(first[i].dtype()) +
                     ", the signature says " + s.shape.str() + " " + tl::dtype_name(s.dtype));
    if (!same_bits(first[i], second[i])) tl::fuzz::fail("two calls on the same inputs returned different bits");
  }
}

void check(const std::string& bytes) {
  std::optional<tl::rt::Artifact> artifact;
  try {
    artifact.emplace(tl::rt::Artifact::from_bytes(bytes, "fuzz input", tl::rt::ArtifactLimits{.max_arena_bytes = kMaxArenaBytes}));
  } catch (const tl::rt::ArtifactError&) {
    return;
  } catch (const tl::Error& e) {
    tl::fuzz::fail(std::string("the reader refused without an ArtifactError: ") + e.what());
  }
  (void)tl::rt::describe(*artifact);
  if (value_bytes(artifact->program()) <= kMaxValueBytes) load_and_run(bytes, *artifact);
}

// The input's manifest and sections written again by write_artifact (fresh layout and
// checksums); nullopt when the header or manifest does not parse.
std::optional<std::string> reseal(const std::string& bytes) {
  if (bytes.size() < tl::rt::kArtifactHeaderBytes) return std::nullopt;
  uint32_t manifest_bytes = 0;
  for (int i = 0; i < 4; ++i) manifest_bytes |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[12 + i])) << (8 * i);
  if (manifest_bytes > bytes.size() - tl::rt::kArtifactHeaderBytes) return std::nullopt;
  tl::artifact::Manifest manifest;
  const google::protobuf::LogSilencer quiet;
  if (!manifest.ParseFromArray(bytes.data() + tl::rt::kArtifactHeaderBytes, static_cast<int>(manifest_bytes)))
    return std::nullopt;
  std::vector<tl::rt::SectionBytes> sections;
  for (const tl::artifact::Section& s : manifest.sections()) {
    const uint64_t at = std::min<uint64_t>(s.offset(), bytes.size());
    sections.push_back({s.name(), bytes.substr(at, std::min<uint64_t>(s.size(), bytes.size() - at))});
  }
  const std::string path = (tl::fuzz::scratch_dir() / "resealed.tlart").string();
  tl::rt::write_artifact(path, manifest, sections);
  return tl::fuzz::read_file(path);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  check(bytes);
  if (std::optional<std::string> resealed = reseal(bytes)) check(*resealed);
  return 0;
}
