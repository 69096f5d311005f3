// Hostile compiled artifacts (docs/reliability.md, rows D1, D2, D4, D5): a small program
// exported by tl::export_program, then variants that each break one rule, refused by the
// runtime's reader (tl::rt::Artifact::open) and by tl::load_program with a message naming the
// problem. Manifest and program edits are written back with tl::rt::write_artifact, so their
// checksums hold and each variant reaches the check it aims at; section layouts write_artifact
// would never produce are assembled by hand, with true checksums too.
#include <catch2/catch.hpp>

#include <elf.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/artifact/artifact.h"
#include "runtime/artifact/machine_code.h"
#include "runtime/base/cpu_features.h"
#include "runtime/base/sha256.h"
#include "tl/tl.h"

namespace fs = std::filesystem;
namespace artifact = tl::artifact;
using tl::rt::Artifact;
using tl::rt::ArtifactError;

namespace {

// A path in a folder private to this process, removed at exit.
fs::path scratch(const std::string& name) {
  static const struct Dir {
    fs::path path = fs::temp_directory_path() / ("tl_artifact_hostile_test_" + std::to_string(::getpid()));
    Dir() { fs::create_directories(path); }
    ~Dir() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } dir;
  return dir.path / name;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

uint64_t manifest_end(const std::string& file) {
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(static_cast<uint8_t>(file[12 + i])) << (8 * i);
  return tl::rt::kArtifactHeaderBytes + n;
}

// An artifact's parts, as write_artifact takes them.
struct Parts {
  artifact::Manifest manifest;
  artifact::Program program;
  std::string weights;
};

// Reads the parts of a valid artifact file: the 48-byte header ("TLARTIFACT", two zero
// bytes, the manifest's size as a little-endian u32), the manifest, then its sections.
Parts parse(const std::string& file) {
  Parts parts;
  const uint64_t end = manifest_end(file);
  REQUIRE(parts.manifest.ParseFromArray(file.data() + tl::rt::kArtifactHeaderBytes,
                                        static_cast<int>(end - tl::rt::kArtifactHeaderBytes)));
  for (const artifact::Section& s : parts.manifest.sections()) {
    const std::string bytes = file.substr(s.offset(), s.size());
    if (s.name() == "program") REQUIRE(parts.program.ParseFromString(bytes));
    if (s.name() == "weights") parts.weights = bytes;
  }
  return parts;
}

fs::path write_parts(const std::string& name, const Parts& parts) {
  const fs::path file = scratch(name + ".tlart");
  tl::rt::write_artifact(file.string(), parts.manifest,
                         {{"program", parts.program.SerializeAsString()}, {"weights", parts.weights}});
  return file;
}

// A section placed by hand: `bytes` written at `offset`, listed with `size` (which may
// differ from the bytes' length) and the SHA-256 of what the file holds in that range.
struct Placed {
  std::string name;
  uint64_t offset = 0, size = 0;
  std::string bytes;
};

// Writes `parts`' manifest with exactly the sections `placed` (layouts write_artifact never
// produces) into a file of `file_bytes` bytes. Checksums are of the bytes placed, before the
// header and manifest are written (a section over those is refused before it is hashed).
fs::path write_placed(const std::string& name, const Parts& parts, const std::vector<Placed>& placed,
                      uint64_t file_bytes) {
  std::string body(file_bytes, '\0');
  for (const Placed& s : placed)
    if (s.offset < file_bytes) body.replace(s.offset, std::min<uint64_t>(s.bytes.size(), file_bytes - s.offset), s.bytes, 0,
                                            std::min<uint64_t>(s.bytes.size(), file_bytes - s.offset));
  artifact::Manifest m = parts.manifest;
  m.clear_sections();
  for (const Placed& s : placed) {
    artifact::Section* sec = m.add_sections();
    sec->set_name(s.name);
    sec->set_offset(s.offset);
    sec->set_size(s.size);
    uint64_t end = 0;
    const bool inside = !__builtin_add_overflow(s.offset, s.size, &end) && end <= file_bytes;
    const tl::rt::Sha256Digest d = inside ? tl::rt::sha256(body.data() + s.offset, s.size)
                                          : tl::rt::sha256(s.bytes.data(), s.bytes.size());
    sec->set_sha256(std::string(reinterpret_cast<const char*>(d.data()), d.size()));
  }
  const std::string manifest = m.SerializeAsString();
  REQUIRE(tl::rt::kArtifactHeaderBytes + manifest.size() <= 1024);  // every layout below starts at 1024
  std::memcpy(body.data(), tl::rt::kArtifactMagic, sizeof(tl::rt::kArtifactMagic));
  body[10] = static_cast<char>(tl::rt::kArtifactFormatVersion);
  body[11] = '\0';
  for (int i = 0; i < 4; ++i) body[12 + i] = static_cast<char>((manifest.size() >> (8 * i)) & 0xff);
  const tl::rt::Sha256Digest manifest_digest = tl::rt::sha256(manifest.data(), manifest.size());
  std::memcpy(body.data() + 16, manifest_digest.data(), manifest_digest.size());
  body.replace(tl::rt::kArtifactHeaderBytes, manifest.size(), manifest);
  const fs::path file = scratch(name + ".tlart");
  write_bytes(file, body);
  return file;
}

bool same_bits(const tl::Tensor& a, const tl::Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

// The index of the first node running `op`.
int node_of(const Parts& parts, const std::string& op) {
  for (int k = 0; k < parts.program.nodes_size(); ++k)
    if (parts.program.nodes(k).op() == op) return k;
  FAIL("the fixture has no '" << op << "' node");
  return -1;
}

// The program every variant starts from: a two-layer MLP on captured weights, its result
// cast to float64:
//   relu(matmul(x, w1) + b1) -> matmul(_, w2) -> cast {dtype = F64}
// The compiler's pipeline may fuse the first layer into one node (matmul_bias {relu}), so
// the cases find the nodes they edit by role.
struct Fixture {
  fs::path file;
  std::string bytes;
  Parts parts;
  tl::Tensor x;
  tl::Tensor y;  // what the valid artifact computes from x
  int first = 0;   // the first node (it reads x)
  int hidden = 0;  // its result: an intermediate value in the arena, [4, 16] float32
  int layer2 = 0;  // the second layer's matmul, [4, 16] x [16, 3]
  int cast = 0;    // the cast to float64
  std::string first_node() const { return "node " + std::to_string(first) + " (" + parts.program.nodes(first).op() + ")"; }
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture f;
    tl::manual_seed(11);
    const tl::Tensor w1 = tl::randn({8, 16}), b1 = tl::randn({16}), w2 = tl::randn({16, 3});
    f.x = tl::randn({4, 8});
    f.file = scratch("mlp.tlart");
    tl::export_program(
        [&](const tl::Tensor& in) { return tl::cast(tl::matmul(tl::relu(tl::add(tl::matmul(in, w1), b1)), w2), tl::kFloat64); },
        f.x, f.file.string());
    f.bytes = read_bytes(f.file);
    f.parts = parse(f.bytes);
    f.y = tl::load_program(f.file.string())({f.x})[0];
    f.hidden = f.parts.program.nodes(f.first).outputs(0);
    f.cast = node_of(f.parts, "cast");
    for (int k = 0; k < f.parts.program.nodes_size(); ++k)
      if (f.parts.program.nodes(k).outputs(0) == f.parts.program.nodes(f.cast).inputs(0)) f.layer2 = k;
    return f;
  }();
  return f;
}

// The message of the ArtifactError `load` throws; "accepted" when it throws nothing, and the
// message of any other exception marked as such.
std::string refusal(const std::function<void()>& load) {
  try {
    load();
  } catch (const ArtifactError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not an ArtifactError: ") + e.what();
  }
  return "accepted";
}

std::string reader_refusal(const fs::path& file) {
  return refusal([&] { (void)Artifact::open(file.string()); });
}
std::string loader_refusal(const fs::path& file) {
  return refusal([&] { (void)tl::load_program(file.string()); });
}

// `file` is refused by the runtime's reader and by tl::load_program, each naming the file
// and `why`; "nothing was run" ends every refusal (load_program returns no program).
void require_refused(const fs::path& file, const std::string& why) {
  INFO("variant " << file.filename().string());
  // (Catch's combined matchers hold their parts by reference: each CHECK builds its own.)
  const std::string quoted = "'" + file.string() + "'";
  CHECK_THAT(reader_refusal(file), Catch::Contains(why) && Catch::Contains(quoted) && Catch::Contains("nothing was run"));
  CHECK_THAT(loader_refusal(file), Catch::Contains(why) && Catch::Contains(quoted) && Catch::Contains("nothing was run"));
}

// What the op table means is the loader's to check (artifact.h): the runtime's reader accepts
// `file`, tl::load_program refuses it naming `why`.
void require_refused_by_loader(const fs::path& file, const std::string& why) {
  INFO("variant " << file.filename().string());
  CHECK(reader_refusal(file) == "accepted");
  CHECK_THAT(loader_refusal(file),
             Catch::Contains(why) && Catch::Contains("'" + file.string() + "'") && Catch::Contains("nothing was run"));
}

// The manifest's fields a reader acts on: everything but the writer's version, the producer,
// the signature's names and fields this build does not know.
std::string manifest_essentials(const artifact::Manifest& m) {
  artifact::Manifest e;
  e.set_format_version(m.format_version());
  e.set_abi_stamp(m.abi_stamp());
  *e.mutable_cpu_features() = m.cpu_features();
  *e.mutable_sections() = m.sections();
  for (const auto* specs : {&m.inputs(), &m.outputs()}) {
    for (const artifact::TensorSpec& s : *specs) {
      artifact::TensorSpec* c = specs == &m.inputs() ? e.add_inputs() : e.add_outputs();
      *c->mutable_shape() = s.shape();
      c->set_dtype(s.dtype());
    }
  }
  return e.SerializeAsString();
}

}  // namespace

TEST_CASE("the valid artifact of the hostile-artifact tests loads and runs", "[artifact]") {
  const Fixture& f = fixture();
  CHECK(reader_refusal(f.file) == "accepted");
  CHECK(f.y.shape() == tl::Shape{4, 3});
  CHECK(f.y.dtype() == tl::kFloat64);
  // The same parts written again make a file that loads and computes the same.
  const fs::path again = write_parts("rewritten", f.parts);
  CHECK(read_bytes(again) == f.bytes);
  // The roles the cases rely on.
  CHECK(f.parts.program.nodes(f.layer2).op() == "matmul");
  CHECK(f.parts.program.values(f.hidden).shape_size() == 2);
  CHECK(f.parts.program.values(f.hidden).shape(1) == 16);
  CHECK(f.first < f.layer2);
  CHECK(f.layer2 < f.cast);
}

TEST_CASE("an artifact cut at any section boundary or at 64 evenly spaced bytes is refused by the reader and the loader",
          "[artifact]") {
  const Fixture& f = fixture();
  const uint64_t size = f.bytes.size(), end = manifest_end(f.bytes);
  std::set<uint64_t> cuts = {0, 1, 11, 12, 15, 16, 17, end - 1, end, end + 1};
  for (const artifact::Section& s : f.parts.manifest.sections())
    for (uint64_t at : {s.offset() - 1, s.offset(), s.offset() + 1, s.offset() + s.size() - 1, s.offset() + s.size()})
      if (at < size) cuts.insert(at);
  for (uint64_t k = 0; k < 64; ++k) cuts.insert(k * size / 64);
  for (uint64_t cut : cuts) {
    const fs::path file = scratch("cut_" + std::to_string(cut) + ".tlart");
    write_bytes(file, f.bytes.substr(0, cut));
    // Each cut is named by the first structure it leaves incomplete.
    const std::string why = cut < tl::rt::kArtifactHeaderBytes ? "fewer than the " + std::to_string(tl::rt::kArtifactHeaderBytes) + "-byte header"
                            : cut < end ? "-byte manifest, but the file has " + std::to_string(cut) + " bytes (truncated?)"
                                        : "outside the file's " + std::to_string(cut) + " bytes after the manifest (truncated?)";
    require_refused(file, why);
  }
  CHECK(cuts.size() >= 70);
  WARN("truncation: " << cuts.size() << " cuts of a " << size << "-byte artifact, each checked against the reader and the loader");
}

TEST_CASE("an artifact with any one bit flipped is refused, unless the flip lands in padding or in the manifest's names, "
          "and then it runs with the same outputs",
          "[artifact]") {
  const Fixture& f = fixture();
  const uint64_t end = manifest_end(f.bytes);
  const std::string essentials = manifest_essentials(f.parts.manifest);
  auto in_section = [&](uint64_t at) {
    for (const artifact::Section& s : f.parts.manifest.sections())
      if (at >= s.offset() && at < s.offset() + s.size()) return true;
    return false;
  };
  int refused = 0, accepted_padding = 0, accepted_names = 0;
  std::ostringstream failures;
  const fs::path file = scratch("flipped.tlart");
  for (uint64_t at = 0; at < f.bytes.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bytes = f.bytes;
      bytes[at] = static_cast<char>(bytes[at] ^ (1 << bit));
      write_bytes(file, bytes);
      const std::string by_reader = reader_refusal(file), by_loader = loader_refusal(file);
      const std::string where = "byte " + std::to_string(at) + " bit " + std::to_string(bit);
      if (by_reader != "accepted" || by_loader != "accepted") {
        ++refused;
        for (const std::string& why : {by_reader, by_loader})
          if (why.find("not a valid tl artifact") != 0 || why.find("nothing was run") == std::string::npos)
            failures << where << ": refused without an artifact message: " << why << "\n";
        continue;
      }
      // Accepted: it must compute exactly what the original computes, and the flip must lie
      // where no check can see it.
      if (!same_bits(tl::load_program(file.string())({f.x})[0], f.y)) failures << where << ": accepted, other outputs\n";
      if (at >= end && !in_section(at)) {
        ++accepted_padding;
      } else if (at >= tl::rt::kArtifactHeaderBytes && at < end &&
                 manifest_essentials(Artifact::open(file.string()).manifest()) == essentials) {
        ++accepted_names;
      } else {
        failures << where << ": accepted, and it is neither padding nor a name in the manifest\n";
      }
    }
  }
  INFO(failures.str());
  CHECK(failures.str().empty());
  CHECK(refused + accepted_padding + accepted_names == static_cast<int>(8 * f.bytes.size()));
  // Since format version 2 the header holds the manifest's SHA-256, so only flips in the
  // padding between sections go undetected.
  CHECK(accepted_names == 0);
  WARN("bit flips: " << refused << " refused, " << accepted_padding << " accepted in padding, " << accepted_names
                     << " accepted in the manifest's descriptive fields (same outputs), of " << 8 * f.bytes.size());
}

TEST_CASE("an artifact from a future format, another ABI, or for unknown or missing CPU features is refused",
          "[artifact]") {
  const Fixture& f = fixture();
  {
    Parts p = f.parts;
    p.manifest.set_format_version(tl::rt::kArtifactFormatVersion + 1);
    require_refused(write_parts("future_version", p),
                    "it has format version " + std::to_string(tl::rt::kArtifactFormatVersion + 1) + " (written by tl " +
                        f.parts.manifest.tl_version() + "); this build reads version " +
                        std::to_string(tl::rt::kArtifactFormatVersion) + ": re-export it");
  }
  {
    // A version-1 file (16-byte header, no manifest checksum) says which version it is.
    std::string bytes = f.bytes;
    bytes[10] = '\0';
    write_bytes(scratch("version_1_header.tlart"), bytes);
    require_refused(scratch("version_1_header.tlart"), "its header is of format version 1; this build reads version " +
                                                           std::to_string(tl::rt::kArtifactFormatVersion));
  }
  {
    Parts p = f.parts;
    p.manifest.set_abi_stamp(tl::rt::kArtifactAbiStamp + 1);
    require_refused(write_parts("other_abi", p), "its kernel ABI stamp " + std::to_string(tl::rt::kArtifactAbiStamp + 1) +
                                                     " differs from this build's " +
                                                     std::to_string(tl::rt::kArtifactAbiStamp));
  }
  {
    Parts p = f.parts;
    p.manifest.add_cpu_features("avx9000");
    require_refused(write_parts("unknown_feature", p), "it needs an unknown CPU feature 'avx9000'");
  }
  {
    // A flipped tag turns the "avx2" entry into field 12, which the format does not have:
    // without the checks the feature would vanish from what the code needs. The manifest's
    // SHA-256 catches the flip; with the digest resealed, the encoding check still does.
    std::string bytes = f.bytes;
    const size_t at = bytes.find(std::string("\x22\x04" "avx2", 6));
    REQUIRE(at < manifest_end(bytes));
    bytes[at] = '\x62';
    write_bytes(scratch("unknown_field.tlart"), bytes);
    require_refused(scratch("unknown_field.tlart"), "the manifest fails its SHA-256 check");
    const uint64_t header = tl::rt::kArtifactHeaderBytes;
    const tl::rt::Sha256Digest d = tl::rt::sha256(bytes.data() + header, manifest_end(bytes) - header);
    std::memcpy(bytes.data() + 16, d.data(), d.size());
    write_bytes(scratch("unknown_field_resealed.tlart"), bytes);
    require_refused(scratch("unknown_field_resealed.tlart"),
                    "the manifest is not encoded as tl writes it (a field out of place, or one format version " +
                        std::to_string(tl::rt::kArtifactFormatVersion) + " does not have): the file is corrupt");
  }
  tl::rt::CpuFeatures all;
  all.sse4_2 = all.avx = all.avx2 = all.fma = all.f16c = true;
  all.avx512f = all.avx512bw = all.avx512vl = all.avx512dq = all.avx512_bf16 = all.avx512_vnni = true;
  all.amx_tile = all.amx_bf16 = true;
  REQUIRE(tl::rt::feature_names(all).size() == 13);
  const std::vector<std::string> lacking = tl::rt::missing_features(all, tl::rt::host_cpu_features());
  if (lacking.empty()) {
    WARN("skipped: this CPU has every CPU feature an artifact can name");
    return;
  }
  Parts p = f.parts;
  p.manifest.add_cpu_features(lacking.front());
  require_refused(write_parts("missing_feature", p), "its code needs CPU features this CPU (" + tl::rt::host_cpu_name() +
                                                         ") lacks: " + lacking.front());
}

TEST_CASE("an artifact whose sections lie outside the file, overlap, are misaligned, repeat a name or lack the program "
          "is refused",
          "[artifact]") {
  const Fixture& f = fixture();
  const std::string program = f.parts.program.SerializeAsString(), weights = f.parts.weights;
  const uint64_t at = 1024, weights_at = (at + program.size() + 63) / 64 * 64, end = weights_at + weights.size();
  // The layout the cases below bend: program at 1024, weights after it, as write_artifact aligns them.
  const fs::path good = write_placed("placed", f.parts,
                                     {{"program", at, program.size(), program}, {"weights", weights_at, weights.size(), weights}}, end);
  REQUIRE(reader_refusal(good) == "accepted");
  REQUIRE(same_bits(tl::load_program(good.string())({f.x})[0], f.y));

  require_refused(write_placed("past_the_end", f.parts,
                               {{"program", at, program.size(), program}, {"weights", weights_at, weights.size() + 64, weights}},
                               end),
                  "section 'weights' covers bytes [" + std::to_string(weights_at) + ", +" + std::to_string(weights.size() + 64) +
                      "), outside the file's " + std::to_string(end) + " bytes");
  require_refused(write_placed("offset_wraps", f.parts,
                               {{"program", at, program.size(), program}, {"weights", ~uint64_t{0} - 63, 128, weights}}, end),
                  "section 'weights' covers bytes [18446744073709551552, +128), outside the file's");
  require_refused(write_placed("inside_the_manifest", f.parts,
                               {{"program", 0, program.size(), program}, {"weights", weights_at, weights.size(), weights}}, end),
                  "section 'program' covers bytes [0, +" + std::to_string(program.size()) + "), outside the file's");
  require_refused(write_placed("overlapping", f.parts,
                               {{"program", at, program.size(), program}, {"weights", at + 64, weights.size(), ""}},
                               at + 64 + weights.size()),
                  "two sections overlap");
  require_refused(write_placed("misaligned", f.parts,
                               {{"program", at + 8, program.size(), program}, {"weights", weights_at + 64, weights.size(), weights}},
                               end + 64),
                  "section 'program' starts at byte " + std::to_string(at + 8) + ", not a multiple of 64");
  require_refused(write_placed("duplicate_name", f.parts,
                               {{"program", at, program.size(), program}, {"program", weights_at, weights.size(), weights}}, end),
                  "section 'program' appears twice");
  require_refused(write_placed("no_program", f.parts,
                               {{"code", at, program.size(), program}, {"weights", weights_at, weights.size(), weights}}, end),
                  "it has no 'program' section");
  // A size that would not fit the reader's caps is refused before anything is hashed or parsed.
  std::string huge_manifest = f.bytes;
  huge_manifest[15] = '\x7f';
  write_bytes(scratch("huge_manifest.tlart"), huge_manifest);
  require_refused(scratch("huge_manifest.tlart"), "the header declares a " +
                                                      std::to_string(manifest_end(huge_manifest) - tl::rt::kArtifactHeaderBytes) + "-byte manifest");
}

TEST_CASE("an artifact whose program names values out of range or undefined, or misplaces constants or the memory "
          "plan, is refused",
          "[artifact]") {
  const Fixture& f = fixture();
  const int n_values = f.parts.program.values_size();
  const int later = f.parts.program.nodes(f.layer2).outputs(0);
  {
    Parts p = f.parts;
    p.program.mutable_nodes(f.first)->set_inputs(0, 1000);
    require_refused(write_parts("value_id_out_of_range", p),
                    f.first_node() + " names value %1000, but the program has " + std::to_string(n_values) + " values");
  }
  {
    Parts p = f.parts;
    p.program.set_outputs(0, -1);
    require_refused(write_parts("negative_output_id", p), "output 0 names value %-1");
  }
  {
    Parts p = f.parts;
    p.program.mutable_nodes(f.first)->set_inputs(0, later);
    require_refused(write_parts("read_before_defined", p),
                    f.first_node() + " reads value %" + std::to_string(later) + " before anything defines it");
  }
  {
    Parts p = f.parts;
    p.program.mutable_nodes(f.first)->set_outputs(0, p.program.constants(0).value());
    require_refused(write_parts("defined_twice", p), f.first_node() + " defines value %" +
                                                         std::to_string(p.program.constants(0).value()) + " a second time");
  }
  {
    Parts p = f.parts;
    p.program.mutable_constants(1)->set_offset(p.weights.size());
    require_refused(write_parts("constant_past_weights", p),
                    "constant 1 covers bytes [" + std::to_string(p.weights.size()) + ", +" +
                        std::to_string(p.program.constants(1).size()) + ") past the end of the weights section (" +
                        std::to_string(p.weights.size()) + " bytes)");
  }
  {
    Parts p = f.parts;
    const artifact::Constant c = p.program.constants(0);
    p.program.mutable_constants(0)->set_size(c.size() - 4);
    require_refused(write_parts("constant_wrong_size", p), "constant 0 has " + std::to_string(c.size() - 4) +
                                                               " bytes but value %" + std::to_string(c.value()) + " needs " +
                                                               std::to_string(c.size()));
  }
  {
    Parts p = f.parts;
    p.program.mutable_constants(1)->set_offset(p.program.constants(0).offset() + 4);
    require_refused(write_parts("constants_overlap", p), "two constants overlap in the weights section");
  }
  const uint64_t arena = f.parts.program.plan().arena_bytes();
  REQUIRE(arena > 0);
  REQUIRE(f.parts.program.plan().offsets(f.hidden) >= 0);
  {
    Parts p = f.parts;
    p.program.mutable_plan()->set_offsets(f.hidden, static_cast<int64_t>(arena));
    require_refused(write_parts("value_outside_arena", p), "the memory plan puts value %" + std::to_string(f.hidden) +
                                                               " (256 bytes) at offset " + std::to_string(arena) +
                                                               ", outside the " + std::to_string(arena) + "-byte arena");
  }
  {
    Parts p = f.parts;
    const uint64_t too_big = tl::rt::ArtifactLimits{}.max_arena_bytes + 1;
    p.program.mutable_plan()->set_arena_bytes(too_big);
    require_refused(write_parts("arena_over_limit", p), "the memory plan asks for an arena of " + std::to_string(too_big) +
                                                            " bytes (the limit is " +
                                                            std::to_string(tl::rt::ArtifactLimits{}.max_arena_bytes) + ")");
    // The limit is the reader's to set: the valid file under a tighter one.
    CHECK_THROWS_WITH(Artifact::from_bytes(f.bytes, "tight", tl::rt::ArtifactLimits{.max_arena_bytes = arena - 1}),
                      Catch::Contains("the memory plan asks for an arena of " + std::to_string(arena) + " bytes (the limit is " +
                                      std::to_string(arena - 1) + ")"));
  }
  {
    // A plan that declares less than its values need: the reader cannot know (the plan's own
    // offsets fit); the loader plans the program again and refuses before allocating.
    Parts p = f.parts;
    p.program.mutable_plan()->set_arena_bytes(arena / 2);
    for (int v = 0; v < n_values; ++v) p.program.mutable_plan()->set_offsets(v, -1);
    require_refused_by_loader(write_parts("plan_smaller_than_needed", p),
                              "its values need an arena of " + std::to_string(arena) + " bytes, more than the " +
                                  std::to_string(arena / 2) + " its memory plan declares");
  }
  {
    Parts p = f.parts;
    p.manifest.mutable_outputs(0)->set_shape(1, 4);
    require_refused(write_parts("output_signature_differs", p),
                    "output 0 ('output_0') differs between the signature and the program");
  }
  {
    Parts p = f.parts;
    p.manifest.mutable_inputs(0)->set_dtype(artifact::F64);
    require_refused(write_parts("input_signature_differs", p),
                    "input 0 ('input_0') differs between the signature and the program");
  }
}

TEST_CASE("an artifact whose nodes break the op table is refused by the loader, naming the node", "[artifact]") {
  const Fixture& f = fixture();
  const int cast = f.cast, second_matmul = f.layer2;
  REQUIRE(f.parts.program.nodes(second_matmul).op() == "matmul");
  const std::string cast_node = "node " + std::to_string(cast) + " (cast)";
  {
    Parts p = f.parts;
    p.program.mutable_nodes(f.first)->set_op("no_such_op");
    require_refused_by_loader(write_parts("unknown_op", p), "node " + std::to_string(f.first) +
                                                                " (no_such_op) names an op this build of tl does not have");
  }
  {
    Parts p = f.parts;
    artifact::Attribute* a = p.program.mutable_nodes(cast)->add_attrs();
    a->set_name("alpha");
    a->set_f(0.1);
    require_refused_by_loader(write_parts("undeclared_attribute", p),
                              cast_node + " has an attribute 'alpha' the op does not declare");
  }
  {
    Parts p = f.parts;
    REQUIRE(p.program.nodes(cast).attrs_size() == 1);
    p.program.mutable_nodes(cast)->mutable_attrs(0)->set_i(2);
    require_refused_by_loader(write_parts("attribute_wrong_type", p), cast_node + ": attribute 'dtype' must be ");
  }
  {
    Parts p = f.parts;
    *p.program.mutable_nodes(cast)->add_attrs() = p.program.nodes(cast).attrs(0);
    require_refused_by_loader(write_parts("attribute_repeated", p), cast_node + " repeats attribute 'dtype'");
  }
  {
    Parts p = f.parts;
    p.program.mutable_nodes(cast)->clear_attrs();
    require_refused_by_loader(write_parts("attribute_missing", p), cast_node + " lacks its required attribute 'dtype'");
  }
  {
    Parts p = f.parts;
    p.program.mutable_nodes(second_matmul)->mutable_inputs()->RemoveLast();
    require_refused_by_loader(write_parts("wrong_arity", p), "node " + std::to_string(second_matmul) +
                                                                 " (matmul) has 1 operands; the op takes 2");
  }
  {
    // The second matmul's result declared [4, 2]: the op's shape rule computes [4, 3].
    Parts p = f.parts;
    const int out = p.program.nodes(second_matmul).outputs(0);
    p.program.mutable_values(out)->set_shape(1, 2);
    require_refused_by_loader(write_parts("result_shape_differs", p),
                              "node " + std::to_string(second_matmul) +
                                  " (matmul) declares its result as [4, 2] float32 but the op computes [4, 3] float32");
  }
  {
    // The cast's result declared float32: its dtype attribute says float64.
    Parts p = f.parts;
    const int out = p.program.nodes(cast).outputs(0);
    p.program.mutable_values(out)->set_dtype(artifact::F32);
    p.manifest.mutable_outputs(0)->set_dtype(artifact::F32);
    require_refused_by_loader(write_parts("result_dtype_differs", p),
                              cast_node + " declares its result as [4, 3] float32 but the op computes [4, 3] float64");
  }
  {
    // An operand of the wrong shape for the op: the rule's own error, inside the refusal.
    Parts p = f.parts;
    p.program.mutable_nodes(second_matmul)->set_inputs(1, p.program.inputs(0));
    require_refused_by_loader(write_parts("operand_shape_wrong", p),
                              "node " + std::to_string(second_matmul) + " (matmul) is malformed: ");
  }
}

TEST_CASE("an artifact with an absurd shape is refused before anything is allocated", "[artifact]") {
  const Fixture& f = fixture();
  const int hidden = f.hidden;
  auto with_shape = [&](const std::vector<int64_t>& shape) {
    Parts p = f.parts;
    p.program.mutable_values(hidden)->clear_shape();
    for (int64_t d : shape) p.program.mutable_values(hidden)->add_shape(d);
    return p;
  };
  const std::string value = "value %" + std::to_string(hidden);
  require_refused(write_parts("dims_overflow", with_shape({int64_t{1} << 40, int64_t{1} << 40})),
                  value + " has shape [1099511627776, 1099511627776], whose size overflows (2^62 bytes or more)");
  // No elements, but the row-major strides of the other dims overflow int64.
  require_refused(write_parts("zero_dim_strides_overflow", with_shape({0, int64_t{1} << 40, int64_t{1} << 40})),
                  value + " has shape [0, 1099511627776, 1099511627776], whose size overflows");
  require_refused(write_parts("just_under_int64", with_shape({int64_t{1} << 61})), value + " has shape [2305843009213693952]");
  require_refused(write_parts("negative_dim", with_shape({4, -16})), value + " has a negative dim -16");
  require_refused(write_parts("rank_9", with_shape({1, 1, 1, 1, 1, 1, 1, 4, 16})), value + " has rank 9 (at most 8)");
  {
    Parts p = f.parts;
    p.program.mutable_values(hidden)->set_dtype(static_cast<artifact::DType>(99));
    require_refused(write_parts("unknown_dtype", p), value + " has an unknown dtype (99)");
  }
  {
    // Values that each fit but together pass 2^62 bytes.
    Parts p = f.parts;
    for (int k = 0; k < 8; ++k) {
      artifact::ValueType* v = p.program.add_values();
      v->add_shape(int64_t{1} << 59);
      v->set_dtype(artifact::F32);
    }
    require_refused(write_parts("values_overflow_together", p), "the program's values take 2^62 bytes or more in all");
  }
  {
    // A program whose shapes are consistent, all 4 TiB: x [2^20, 2^20] -> relu -> neg. Its
    // plan declares no arena; the intermediate would need 4 TiB of one. The reader has no
    // reason to refuse it; the loader refuses before allocating anything for it.
    const int64_t side = int64_t{1} << 20;
    Parts p;
    p.manifest = f.parts.manifest;
    p.manifest.clear_inputs();
    p.manifest.clear_outputs();
    for (auto* spec : {p.manifest.add_inputs(), p.manifest.add_outputs()}) {
      spec->set_name(spec == &p.manifest.inputs(0) ? "x" : "y");
      spec->add_shape(side);
      spec->add_shape(side);
      spec->set_dtype(artifact::F32);
    }
    for (int v = 0; v < 3; ++v) {
      artifact::ValueType* t = p.program.add_values();
      t->add_shape(side);
      t->add_shape(side);
      t->set_dtype(artifact::F32);
      p.program.mutable_plan()->add_offsets(-1);
    }
    p.program.add_inputs(0);
    p.program.add_outputs(2);
    for (const char* op : {"relu", "neg"}) {
      artifact::Node* n = p.program.add_nodes();
      n->set_op(op);
      n->add_inputs(p.program.nodes_size() - 1);
      n->add_outputs(p.program.nodes_size());
    }
    require_refused_by_loader(write_parts("terabyte_intermediate", p),
                              "its values need an arena of 4398046511104 bytes, more than the 0 its memory plan declares");
    // Declared honestly, the arena is over the reader's limit.
    p.program.mutable_plan()->set_arena_bytes(uint64_t{1} << 42);
    require_refused(write_parts("terabyte_arena", p), "the memory plan asks for an arena of 4398046511104 bytes");
  }
}

TEST_CASE("a memory budget refuses a program whose outputs repeat a value past 2^63 bytes in all", "[artifact]") {
  // x [2^59] float32 (2^61 bytes, under the reader's per-value bound) returned four times: the
  // outputs the program would allocate pass int64 together. The budget must refuse the
  // program, not let the sum wrap (UBSan: signed overflow) and pass it on to allocate 8 EiB.
  const Fixture& f = fixture();
  const int64_t n = int64_t{1} << 59;
  Parts p;
  p.manifest = f.parts.manifest;
  p.manifest.clear_inputs();
  p.manifest.clear_outputs();
  artifact::TensorSpec* in = p.manifest.add_inputs();
  in->set_name("x");
  in->add_shape(n);
  in->set_dtype(artifact::F32);
  artifact::ValueType* x = p.program.add_values();
  x->add_shape(n);
  x->set_dtype(artifact::F32);
  p.program.add_inputs(0);
  p.program.mutable_plan()->add_offsets(-1);
  for (int i = 0; i < 4; ++i) {
    *p.manifest.add_outputs() = *in;
    p.program.add_outputs(0);
  }
  const fs::path file = write_parts("outputs_past_int64", p);
  CHECK(reader_refusal(file) == "accepted");
  CHECK_THROWS_AS(tl::load_program(file.string(), tl::ProgramLoadOptions{.max_memory = int64_t{1} << 40}), tl::ValueError);
  CHECK_THROWS_WITH(tl::load_program(file.string(), tl::ProgramLoadOptions{.max_memory = int64_t{1} << 40}),
                    Catch::Contains("needs more than 2^63 bytes") && Catch::Contains("max_memory 1099511627776"));
}

// Writes the seed corpus of the artifact fuzz target (tests/fuzz/corpus/artifact/): valid
// artifacts of a few programs and truncated copies. Run by hand after a format change:
//   TL_ARTIFACT_CORPUS_DIR=tests/fuzz/corpus/artifact build/tests/runtime/artifact_hostile_test "[.artifact_corpus]"
TEST_CASE("write the artifact fuzz corpus", "[.artifact_corpus]") {
  const char* dir = std::getenv("TL_ARTIFACT_CORPUS_DIR");
  REQUIRE(dir != nullptr);
  const fs::path out(dir);
  fs::create_directories(out);
  const Fixture& f = fixture();
  write_bytes(out / "mlp_cast.tlart", f.bytes);
  tl::manual_seed(12);
  const tl::Tensor k = tl::randn({2, 1, 3, 3}), kb = tl::randn({2});
  tl::export_program(
      [&](const tl::Tensor& x) {
        tl::Tensor h = tl::max_pool2d(tl::relu(tl::conv2d(x, k, kb, {1, 1}, {1, 1})), {2, 2});
        return tl::softmax(h.reshape({1, -1}), 1);
      },
      tl::randn({1, 1, 6, 6}), (out / "conv_pool_softmax.tlart").string());
  tl::export_program(
      [&](const tl::Tensor& a, const tl::Tensor& b) {
        tl::Tensor t = tl::clamp(tl::matmul(a.transpose(0, 1), b), -1.0, 2.0);
        return std::vector<tl::Tensor>{tl::sum(t, {1}, true), tl::cast(tl::amax(t, {0}), tl::kInt64), tl::exp(b.mT())};
      },
      tl::randn({3, 2}), tl::randn({3, 4}), (out / "views_reductions_two_outputs.tlart").string());
  const std::string& b = f.bytes;
  write_bytes(out / "mlp_cut_in_manifest.tlart", b.substr(0, manifest_end(b) - 7));
  write_bytes(out / "mlp_cut_in_program.tlart", b.substr(0, f.parts.manifest.sections(0).offset() + 100));
  for (const auto& entry : fs::directory_iterator(out)) CHECK(fs::file_size(entry.path()) < 20000);
}

TEST_CASE("an artifact whose batch axes or batch entries do not fit its maximum batch size is refused", "[artifact]") {
  const Fixture& f = fixture();
  {
    Parts p = f.parts;  // a fixed-shape program cannot have a batch axis
    p.program.mutable_values(0)->set_batch_axis(0);
    require_refused(write_parts("batch_axis_without_max", p), "value %0 has a batch axis but the program's batch size is fixed");
  }
  {
    Parts p = f.parts;
    p.manifest.set_max_batch(p.program.values(0).shape(0));
    p.program.mutable_values(0)->set_batch_axis(7);  // past the value's rank
    require_refused(write_parts("batch_axis_past_rank", p), "value %0 names batch axis 7");
  }
  {
    Parts p = f.parts;
    p.manifest.set_max_batch(p.program.values(0).shape(0) + 1);  // the dim is not max_batch
    p.program.mutable_values(0)->set_batch_axis(0);
    require_refused(write_parts("batch_axis_not_max", p), "which is not a dim of size max_batch");
  }
  {
    Parts p = f.parts;
    p.manifest.set_max_batch(p.program.values(0).shape(0));
    p.program.mutable_values(0)->set_batch_axis(0);
    p.program.mutable_values(0)->set_batch_multiple(3);  // the dim is max_batch, not 3 x max_batch
    require_refused(write_parts("batch_multiple_not_max", p), "which is not a dim of size 3 x max_batch");
  }
  {
    Parts p = f.parts;
    p.program.mutable_values(0)->set_batch_multiple(2);  // a multiple without a batch axis
    require_refused(write_parts("batch_multiple_without_axis", p), "has a batch multiple but no batch axis");
  }
  {
    Parts p = f.parts;
    p.manifest.set_max_batch(-3);
    require_refused(write_parts("negative_max_batch", p), "max_batch is negative");
  }
}

namespace {

// An artifact whose program has a fused group calling libm's exp (float64), and its first
// code object's bytes.
struct CodeFixture {
  fs::path file;
  Parts parts;
  std::string code;    // the whole "code" section
  std::string object;  // code object 0
};

const CodeFixture& code_fixture() {
  static const CodeFixture f = [] {
    CodeFixture f;
    tl::manual_seed(12);
    const tl::Tensor a = tl::randn({6}, {.dtype = tl::kFloat64});
    f.file = scratch("fused.tlart");
    tl::export_program([&](const tl::Tensor& in) { return tl::tanh(tl::exp(in * a) + 1.0) * 0.5; },
                       tl::randn({4, 6}, {.dtype = tl::kFloat64}), f.file.string());
    const std::string bytes = read_bytes(f.file);
    f.parts = parse(bytes);
    for (const artifact::Section& s : f.parts.manifest.sections())
      if (s.name() == "code") f.code = bytes.substr(s.offset(), s.size());
    REQUIRE(f.parts.program.code_objects_size() >= 1);
    const artifact::CodeObject& c = f.parts.program.code_objects(0);
    f.object = f.code.substr(c.offset(), c.size());
    return f;
  }();
  return f;
}

std::string object_refusal(const std::string& object) {
  return refusal([&] { (void)tl::rt::LoadedObject::load(object, "code object 0"); });
}

// The section header of `object`'s first section of `type`.
Elf64_Shdr* section_of(std::string& object, uint32_t type) {
  auto* eh = reinterpret_cast<Elf64_Ehdr*>(object.data());
  auto* sh = reinterpret_cast<Elf64_Shdr*>(object.data() + eh->e_shoff);
  for (int i = 0; i < eh->e_shnum; ++i)
    if (sh[i].sh_type == type) return &sh[i];
  return nullptr;
}

// `file` with its code section replaced by `code` (and every checksum recomputed).
fs::path with_code(const std::string& name, const CodeFixture& f, const std::string& code) {
  const fs::path file = scratch(name + ".tlart");
  tl::rt::write_artifact(file.string(), f.parts.manifest,
                         {{"program", f.parts.program.SerializeAsString()}, {"weights", f.parts.weights}, {"code", code}});
  return file;
}

}  // namespace

TEST_CASE("an artifact's generated code loads, runs, and is named in its description", "[artifact][code]") {
  const CodeFixture& f = code_fixture();
  tl::Program p = tl::load_program(f.file.string());
  tl::Tensor x = tl::randn({4, 6}, {.dtype = tl::kFloat64});
  CHECK(p({x})[0].shape() == tl::Shape{4, 6});
  CHECK_THAT(p.describe(), Catch::Contains("code: bytes") && Catch::Contains("generated code in 1 code objects"));
  auto loaded = tl::rt::LoadedObject::load(f.object, "code object 0");
  CHECK(loaded->symbol("tl_packed_fused0") != nullptr);
  CHECK(loaded->symbol("system") == nullptr);
}

TEST_CASE("a malformed or hostile code object is refused before any of it runs", "[artifact][code]") {
  const CodeFixture& f = code_fixture();
  // The object cut short, and cut to nothing.
  CHECK_THAT(object_refusal(f.object.substr(0, 40)), Catch::Contains("the ELF header lies outside the object"));
  CHECK_THAT(object_refusal(f.object.substr(0, f.object.size() / 2)), Catch::Contains("outside the object"));
  CHECK_THAT(object_refusal(""), Catch::Contains("code object 0 is not loadable machine code"));
  {
    std::string o = f.object;
    reinterpret_cast<Elf64_Ehdr*>(o.data())->e_machine = EM_AARCH64;
    CHECK_THAT(object_refusal(o), Catch::Contains("not x86-64"));
  }
  {
    std::string o = f.object;
    reinterpret_cast<Elf64_Ehdr*>(o.data())->e_type = ET_DYN;
    CHECK_THAT(object_refusal(o), Catch::Contains("not a relocatable object"));
  }
  {
    std::string o = f.object;
    reinterpret_cast<Elf64_Ehdr*>(o.data())->e_shoff = uint64_t{1} << 62;
    CHECK_THAT(object_refusal(o), Catch::Contains("the section headers lies outside the object"));
  }
  {
    // A call to a function generated code may not call: libm's exp renamed to libc's "brk".
    std::string o = f.object;
    const size_t at = o.find(std::string("\0exp\0", 5));
    REQUIRE(at != std::string::npos);
    o.replace(at + 1, 3, "brk");
    CHECK_THAT(object_refusal(o), Catch::Contains("it calls 'brk', which generated code may not call"));
  }
  {
    // A relocation that writes past its section.
    std::string o = f.object;
    Elf64_Shdr* rela = nullptr;
    auto* eh = reinterpret_cast<Elf64_Ehdr*>(o.data());
    auto* sh = reinterpret_cast<Elf64_Shdr*>(o.data() + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum && !rela; ++i)
      if (sh[i].sh_type == SHT_RELA && (sh[sh[i].sh_info].sh_flags & SHF_EXECINSTR)) rela = &sh[i];
    REQUIRE(rela != nullptr);
    reinterpret_cast<Elf64_Rela*>(o.data() + rela->sh_offset)->r_offset = uint64_t{1} << 40;
    CHECK_THAT(object_refusal(o), Catch::Contains("lies outside its section"));
    // ... or has a type the loader does not apply.
    o = f.object;
    auto* r = reinterpret_cast<Elf64_Rela*>(o.data() + rela->sh_offset);
    r->r_info = ELF64_R_INFO(ELF64_R_SYM(r->r_info), R_X86_64_GOTPCREL);
    CHECK_THAT(object_refusal(o), Catch::Contains("relocation type 9 is not supported"));
  }
  {
    std::string o = f.object;
    Elf64_Shdr* symtab = section_of(o, SHT_SYMTAB);
    REQUIRE(symtab != nullptr);
    symtab->sh_type = SHT_PROGBITS;
    CHECK_THAT(object_refusal(o), Catch::Contains("it has no symbol table"));
  }
  // Through load_program: the artifact is refused, naming the file and the code object.
  std::string code = f.code;
  const artifact::CodeObject& c = f.parts.program.code_objects(0);
  reinterpret_cast<Elf64_Ehdr*>(code.data() + c.offset())->e_machine = EM_AARCH64;
  const fs::path bad = with_code("bad_code", f, code);
  require_refused_by_loader(bad, "code object 0 is not loadable machine code: it is for machine");
}

TEST_CASE("a fused node whose layout does not fit its values or code is refused", "[artifact][code]") {
  const CodeFixture& f = code_fixture();
  int fused = -1;
  for (int k = 0; k < f.parts.program.nodes_size(); ++k)
    if (f.parts.program.nodes(k).has_fused()) fused = k;
  REQUIRE(fused >= 0);
  auto variant = [&](const std::string& name, const std::function<void(artifact::Program&)>& edit) {
    CodeFixture g = f;
    edit(g.parts.program);
    return with_code(name, g, g.code);
  };
  require_refused(variant("fused_object", [&](artifact::Program& p) { p.mutable_nodes(fused)->mutable_fused()->set_object(7); }),
                  "names code object 7, but the program has 1");
  require_refused(variant("fused_dims", [&](artifact::Program& p) { p.mutable_nodes(fused)->mutable_fused()->set_dims(0, 1000); }),
                  "does not fit the generated code's layout");
  require_refused(variant("fused_flags", [&](artifact::Program& p) { p.mutable_nodes(fused)->mutable_fused()->add_input_broadcast(true); }),
                  "broadcast flags");
  require_refused(variant("fused_op", [&](artifact::Program& p) { p.mutable_nodes(fused)->set_op("add"); }),
                  "carries generated code but is not a fused node");
  require_refused(variant("code_range", [&](artifact::Program& p) { p.mutable_code_objects(0)->set_size(uint64_t{1} << 40); }),
                  "outside the code section");
  require_refused_by_loader(
      variant("fused_symbol", [&](artifact::Program& p) { p.mutable_nodes(fused)->mutable_fused()->set_symbol("main"); }),
      "calls 'main', which code object 0 does not define");
}
