// Writing and verified opening of compiled artifacts (artifact.h).
#include "runtime/artifact/artifact.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <unordered_set>

#include <google/protobuf/stubs/logging.h>

#include "runtime/base/cpu_features.h"
#include "runtime/base/file_io.h"
#include "runtime/base/little_endian.h"
#include "runtime/base/sha256.h"

namespace tl::rt {
namespace {

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw ArtifactError("not a valid tl artifact: '" + path + "': " + why + "; nothing was run");
}

uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

std::string hex(const std::string& bytes) {
  Sha256Digest d{};
  std::memcpy(d.data(), bytes.data(), std::min(bytes.size(), d.size()));
  return bytes.size() == d.size() ? to_hex(d) : "(" + std::to_string(bytes.size()) + " bytes)";
}

// No value, and not all of a program's values together, may take kMaxValueBytes or more. The
// loader and executor compute sizes, strides and arena offsets in int64; under this bound none
// of those sums can overflow.
constexpr uint64_t kMaxValueBytes = uint64_t{1} << 62;

std::string shape_str(const artifact::ValueType& type) {
  std::string s = "[";
  for (int i = 0; i < type.shape_size(); ++i) s += (i ? ", " : "") + std::to_string(type.shape(i));
  return s + "]";
}

std::optional<DType> known_dtype(int value) {
  switch (value) {
    case artifact::F32: return kFloat32;
    case artifact::F64: return kFloat64;
    case artifact::F16: return kFloat16;
    case artifact::BF16: return kBFloat16;
    case artifact::I32: return kInt32;
    case artifact::I64: return kInt64;
    case artifact::BOOL: return kBool;
    default: return std::nullopt;
  }
}

// The bytes a value of `type` takes, or why it cannot be described (a negative dim, a rank past
// kMaxRank, an unknown dtype, a size past kMaxValueBytes). A zero dim makes the size 0 but not
// the row-major strides of the other dims, so those are bounded too.
std::string value_bytes(const artifact::ValueType& type, const std::string& where, uint64_t* bytes) {
  if (type.shape_size() > kMaxRank)
    return where + " has rank " + std::to_string(type.shape_size()) + " (at most " + std::to_string(kMaxRank) + ")";
  const std::optional<DType> dtype = known_dtype(type.dtype());
  if (!dtype) return where + " has an unknown dtype (" + std::to_string(type.dtype()) + ")";
  uint64_t n = dtype_size(*dtype), span = n;
  for (int64_t d : type.shape()) {
    if (d < 0) return where + " has a negative dim " + std::to_string(d);
    n *= static_cast<uint64_t>(d);  // n <= span: if this wraps, so does span, refused below
    if (__builtin_mul_overflow(span, static_cast<uint64_t>(std::max<int64_t>(d, 1)), &span) || span >= kMaxValueBytes)
      return where + " has shape " + shape_str(type) + ", whose size overflows (2^62 bytes or more)";
  }
  *bytes = n;
  return "";
}

// The structural checks on the program (see artifact.h): ids, ranges, definitions, plan.
// A fused node's generated code: an existing object and symbol, and a layout whose operand
// sizes are exactly its values' (the kernel reads and writes no other element).
void check_fused(const artifact::Program& p, const artifact::Node& node, const std::string& what,
                 const std::string& path) {
  const artifact::FusedCode& f = node.fused();
  if (f.object() < 0 || f.object() >= p.code_objects_size())
    refuse(path, what + " names code object " + std::to_string(f.object()) + ", but the program has " +
                     std::to_string(p.code_objects_size()));
  if (f.symbol().empty() || f.symbol().size() > 256) refuse(path, what + " names no valid entry symbol");
  if (node.outputs_size() != 1) refuse(path, what + " must have one output");
  const int64_t rank = f.dims_size();
  if (rank < 1 || rank > kMaxRank) refuse(path, what + " has a layout of rank " + std::to_string(rank));
  if (f.input_broadcast_size() != rank * node.inputs_size())
    refuse(path, what + " has " + std::to_string(f.input_broadcast_size()) + " broadcast flags for " +
                     std::to_string(node.inputs_size()) + " inputs of rank " + std::to_string(rank));
  if (f.reduced_size() != 0 && f.reduced_size() != rank) refuse(path, what + " has a malformed reduction");
  if (f.space_rank() < 0 || f.space_rank() > kMaxRank || f.leading_dims() < 0 || f.leading_dims() > f.space_rank())
    refuse(path, what + " has a malformed iteration space");
  uint64_t space = 1;
  for (int64_t d : f.dims()) {
    if (d < 1 || __builtin_mul_overflow(space, static_cast<uint64_t>(d), &space) || space >= kMaxValueBytes)
      refuse(path, what + " has a malformed layout");
  }
  // Elements each operand spans in the layout must be its value's.
  auto elements = [](const artifact::ValueType& t) {
    uint64_t n = 1;
    for (int64_t d : t.shape()) n *= static_cast<uint64_t>(d);  // bounded by value_bytes
    return n;
  };
  auto floating = [](int dtype) { return dtype == artifact::F32 || dtype == artifact::F64; };
  for (int i = 0; i < node.inputs_size(); ++i) {
    uint64_t n = 1;
    for (int64_t d = 0; d < rank; ++d)
      if (!f.input_broadcast(static_cast<int>(i * rank + d))) n *= static_cast<uint64_t>(f.dims(d));
    const artifact::ValueType& t = p.values(node.inputs(i));
    if (n != elements(t) || !floating(t.dtype()))
      refuse(path, what + ": input " + std::to_string(i) + " does not fit the generated code's layout");
  }
  uint64_t out = 1;
  for (int64_t d = 0; d < rank; ++d)
    if (f.reduced_size() == 0 || !f.reduced(d)) out *= static_cast<uint64_t>(f.dims(d));
  const artifact::ValueType& t = p.values(node.outputs(0));
  if (out != elements(t) || !floating(t.dtype()))
    refuse(path, what + ": its result does not fit the generated code's layout");
}

void check_program(const artifact::Program& p, const artifact::Manifest& m, uint64_t weights_bytes,
                   uint64_t code_bytes, const ArtifactLimits& limits, const std::string& path) {
  const uint64_t n_values = static_cast<uint64_t>(p.values_size());
  if (n_values > limits.max_values)
    refuse(path, "the program has " + std::to_string(n_values) + " values (the limit is " +
                     std::to_string(limits.max_values) + ")");
  std::vector<uint64_t> bytes(n_values);
  uint64_t total = 0;
  for (int v = 0; v < p.values_size(); ++v) {
    std::string why = value_bytes(p.values(v), "value %" + std::to_string(v), &bytes[v]);
    if (!why.empty()) refuse(path, why);
    total += bytes[v];  // each term < 2^62, so the sum cannot wrap before the check
    if (total >= kMaxValueBytes) refuse(path, "the program's values take 2^62 bytes or more in all");
  }
  // Batch axes: only in a program with a maximum batch size, inside the shape, at the maximum.
  if (m.max_batch() < 0) refuse(path, "the manifest's max_batch is negative");
  auto check_batch_axis = [&](bool has, int axis, const google::protobuf::RepeatedField<int64_t>& shape,
                              const std::string& what, int64_t multiple = 1) {
    if (!has) return;
    if (m.max_batch() == 0) refuse(path, what + " has a batch axis but the program's batch size is fixed");
    if (multiple < 1 || multiple > (int64_t{1} << 32) || axis < 0 || axis >= shape.size() ||
        shape[axis] != m.max_batch() * multiple)
      refuse(path, what + " names batch axis " + std::to_string(axis) + ", which is not a dim of size " +
                       (multiple == 1 ? std::string() : std::to_string(multiple) + " x ") + "max_batch (" +
                       std::to_string(m.max_batch()) + ")");
  };
  for (int v = 0; v < p.values_size(); ++v) {
    if (p.values(v).has_batch_multiple() && !p.values(v).has_batch_axis())
      refuse(path, "value %" + std::to_string(v) + " has a batch multiple but no batch axis");
    check_batch_axis(p.values(v).has_batch_axis(), p.values(v).batch_axis(), p.values(v).shape(),
                     "value %" + std::to_string(v), p.values(v).has_batch_multiple() ? p.values(v).batch_multiple() : 1);
  }
  for (int i = 0; i < m.inputs_size(); ++i)
    check_batch_axis(m.inputs(i).has_batch_axis(), m.inputs(i).batch_axis(), m.inputs(i).shape(),
                     "input " + std::to_string(i));
  for (int i = 0; i < m.outputs_size(); ++i)
    check_batch_axis(m.outputs(i).has_batch_axis(), m.outputs(i).batch_axis(), m.outputs(i).shape(),
                     "output " + std::to_string(i));
  std::vector<char> defined(n_values, 0);
  auto check_id = [&](int64_t v, const std::string& what) {
    if (v < 0 || static_cast<uint64_t>(v) >= n_values)
      refuse(path, what + " names value %" + std::to_string(v) + ", but the program has " + std::to_string(n_values) +
                       " values");
  };
  auto define = [&](int64_t v, const std::string& what) {
    check_id(v, what);
    if (defined[v]) refuse(path, what + " defines value %" + std::to_string(v) + " a second time");
    defined[v] = 1;
  };
  if (p.inputs_size() != m.inputs_size())
    refuse(path, "the program binds " + std::to_string(p.inputs_size()) + " inputs but the signature has " +
                     std::to_string(m.inputs_size()));
  if (p.outputs_size() != m.outputs_size())
    refuse(path, "the program returns " + std::to_string(p.outputs_size()) + " outputs but the signature has " +
                     std::to_string(m.outputs_size()));
  for (int i = 0; i < p.inputs_size(); ++i) {
    define(p.inputs(i), "input " + std::to_string(i));
    const artifact::ValueType& type = p.values(p.inputs(i));
    const artifact::TensorSpec& spec = m.inputs(i);
    if (type.dtype() != spec.dtype() || !std::equal(type.shape().begin(), type.shape().end(), spec.shape().begin(),
                                                    spec.shape().end()))
      refuse(path, "input " + std::to_string(i) + " ('" + spec.name().substr(0, 64) +
                       "') differs between the signature and the program");
  }
  // Constants: inside the weights section, exactly the value's size, not overlapping.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (int i = 0; i < p.constants_size(); ++i) {
    const artifact::Constant& c = p.constants(i);
    const std::string what = "constant " + std::to_string(i);
    define(c.value(), what);
    uint64_t end = 0;
    if (__builtin_add_overflow(c.offset(), c.size(), &end) || end > weights_bytes)
      refuse(path, what + " covers bytes [" + std::to_string(c.offset()) + ", +" + std::to_string(c.size()) +
                       ") past the end of the weights section (" + std::to_string(weights_bytes) + " bytes)");
    if (c.size() != bytes[c.value()])
      refuse(path, what + " has " + std::to_string(c.size()) + " bytes but value %" + std::to_string(c.value()) +
                       " needs " + std::to_string(bytes[c.value()]));
    ranges.push_back({c.offset(), end});
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) refuse(path, "two constants overlap in the weights section");
  // Code objects: inside the "code" section.
  for (int i = 0; i < p.code_objects_size(); ++i) {
    const artifact::CodeObject& c = p.code_objects(i);
    uint64_t end = 0;
    if (c.size() == 0 || __builtin_add_overflow(c.offset(), c.size(), &end) || end > code_bytes)
      refuse(path, "code object " + std::to_string(i) + " covers bytes [" + std::to_string(c.offset()) + ", +" +
                       std::to_string(c.size()) + ") outside the code section (" + std::to_string(code_bytes) +
                       " bytes)");
  }
  for (int k = 0; k < p.nodes_size(); ++k) {
    const artifact::Node& node = p.nodes(k);
    const std::string what = "node " + std::to_string(k) + " (" + node.op().substr(0, 64) + ")";
    if (node.op().empty() || node.op().size() > 64) refuse(path, "node " + std::to_string(k) + " has no valid op name");
    for (int v : node.inputs()) {
      check_id(v, what);
      if (!defined[v]) refuse(path, what + " reads value %" + std::to_string(v) + " before anything defines it");
    }
    if (node.outputs_size() == 0) refuse(path, what + " has no outputs");
    for (int v : node.outputs()) define(v, what);
    if ((node.op() == "fused") != node.has_fused())
      refuse(path, what + (node.has_fused() ? " carries generated code but is not a fused node"
                                             : " is a fused node without generated code"));
    if (node.has_fused()) check_fused(p, node, what, path);
  }
  for (int i = 0; i < p.outputs_size(); ++i) {
    check_id(p.outputs(i), "output " + std::to_string(i));
    if (!defined[p.outputs(i)]) refuse(path, "output " + std::to_string(i) + " is never computed");
    const artifact::ValueType& type = p.values(p.outputs(i));
    const artifact::TensorSpec& spec = m.outputs(i);
    if (type.dtype() != spec.dtype() || !std::equal(type.shape().begin(), type.shape().end(), spec.shape().begin(),
                                                    spec.shape().end()))
      refuse(path, "output " + std::to_string(i) + " ('" + spec.name().substr(0, 64) +
                       "') differs between the signature and the program");
  }
  // The memory plan: every planned value lies inside the arena, which is under the limit.
  const artifact::MemoryPlan& plan = p.plan();
  if (plan.arena_bytes() > limits.max_arena_bytes)
    refuse(path, "the memory plan asks for an arena of " + std::to_string(plan.arena_bytes()) + " bytes (the limit is " +
                     std::to_string(limits.max_arena_bytes) + ")");
  if (plan.offsets_size() != 0 && static_cast<uint64_t>(plan.offsets_size()) != n_values)
    refuse(path, "the memory plan has " + std::to_string(plan.offsets_size()) + " offsets for " +
                     std::to_string(n_values) + " values");
  for (int v = 0; v < plan.offsets_size(); ++v) {
    int64_t off = plan.offsets(v);
    if (off == -1) continue;
    uint64_t end = 0;
    if (off < 0 || __builtin_add_overflow(static_cast<uint64_t>(off), bytes[v], &end) || end > plan.arena_bytes())
      refuse(path, "the memory plan puts value %" + std::to_string(v) + " (" + std::to_string(bytes[v]) +
                       " bytes) at offset " + std::to_string(off) + ", outside the " +
                       std::to_string(plan.arena_bytes()) + "-byte arena");
  }
}

}  // namespace

artifact::DType to_artifact(DType dtype) {
  switch (dtype) {
    case kFloat32: return artifact::F32;
    case kFloat64: return artifact::F64;
    case kFloat16: return artifact::F16;
    case kBFloat16: return artifact::BF16;
    case kInt32: return artifact::I32;
    case kInt64: return artifact::I64;
    case kBool: return artifact::BOOL;
  }
  return artifact::DTYPE_UNSPECIFIED;
}

DType dtype_from_artifact(int value, const std::string& where) {
  if (std::optional<DType> dtype = known_dtype(value)) return *dtype;
  throw ArtifactError("not a valid tl artifact: " + where + " has an unknown dtype (" + std::to_string(value) + ")");
}

void write_artifact(const std::string& path, artifact::Manifest manifest, const std::vector<SectionBytes>& sections) {
  manifest.clear_sections();
  // The manifest's size depends on the offsets it holds, so they are laid out against a
  // manifest with room reserved: each offset is a fixed64-sized guess, then fixed up until
  // the layout is stable (it converges in two rounds: offsets only grow the varints a little).
  uint64_t header_and_manifest = 0;
  for (int round = 0; round < 4; ++round) {
    manifest.clear_sections();
    uint64_t offset = align_up(kArtifactHeaderBytes + header_and_manifest, kSectionAlignment);
    for (const SectionBytes& s : sections) {
      artifact::Section* sec = manifest.add_sections();
      sec->set_name(s.name);
      sec->set_offset(offset);
      sec->set_size(s.bytes.size());
      Sha256Digest d = sha256(s.bytes.data(), s.bytes.size());
      sec->set_sha256(std::string(reinterpret_cast<const char*>(d.data()), d.size()));
      offset = align_up(offset + s.bytes.size(), kSectionAlignment);
    }
    uint64_t size = manifest.ByteSizeLong();
    if (size == header_and_manifest) break;
    header_and_manifest = size;
  }
  std::string manifest_bytes = manifest.SerializeAsString();
  if (manifest_bytes.size() > std::numeric_limits<uint32_t>::max())
    throw ValueError("tl artifact '" + path + "': the manifest is too large");
  uint64_t total = sections.empty() ? kArtifactHeaderBytes + manifest_bytes.size()
                                    : manifest.sections(manifest.sections_size() - 1).offset() + sections.back().bytes.size();
  detail::AtomicFile file(path, "tl artifact", total, Site{});
  char header[kArtifactHeaderBytes] = {};
  std::memcpy(header, kArtifactMagic, sizeof(kArtifactMagic));
  header[10] = static_cast<char>(kArtifactFormatVersion);
  detail::store_le(header + 12, manifest_bytes.size(), 4);
  const Sha256Digest digest = sha256(manifest_bytes.data(), manifest_bytes.size());
  std::memcpy(header + 16, digest.data(), digest.size());
  file.write(header, sizeof(header));
  file.write(manifest_bytes);
  uint64_t at = kArtifactHeaderBytes + manifest_bytes.size();
  static const char zeros[kSectionAlignment] = {};
  for (int i = 0; i < manifest.sections_size(); ++i) {
    const artifact::Section& sec = manifest.sections(i);
    TL_ASSERT(sec.offset() >= at, "artifact layout: a section starts before the previous one ends");
    file.write(zeros, sec.offset() - at);
    file.write(sections[i].bytes);
    at = sec.offset() + sec.size();
  }
  file.commit();
}

Artifact Artifact::open(const std::string& path, const ArtifactLimits& limits) {
  uint64_t cap = limits.max_manifest_bytes + limits.max_program_bytes + (limits.max_arena_bytes);
  std::string bytes = detail::read_file_capped(path, cap, "tl artifact", Site{});
  return from_bytes(std::move(bytes), path, limits);
}

Artifact Artifact::from_bytes(std::string bytes, const std::string& name, const ArtifactLimits& limits) {
  Artifact a;
  a.path_ = name;
  a.bytes_ = std::move(bytes);
  const std::string& b = a.bytes_;
  // Header.
  if (b.size() < kArtifactHeaderBytes)
    refuse(name, "the file has " + std::to_string(b.size()) + " bytes, fewer than the " +
                     std::to_string(kArtifactHeaderBytes) + "-byte header");
  if (std::memcmp(b.data(), kArtifactMagic, sizeof(kArtifactMagic)) != 0 || b[11] != 0)
    refuse(name, "it does not start with the artifact magic \"TLARTIFACT\"");
  if (b[10] != static_cast<char>(kArtifactFormatVersion))
    refuse(name, "its header is of format version " + std::to_string(b[10] == 0 ? 1 : static_cast<uint8_t>(b[10])) +
                     "; this build reads version " + std::to_string(kArtifactFormatVersion) + ": re-export it with this tl");
  const uint64_t manifest_bytes = detail::load_le(b.data() + 12, 4);
  if (manifest_bytes > limits.max_manifest_bytes || kArtifactHeaderBytes + manifest_bytes > b.size())
    refuse(name, "the header declares a " + std::to_string(manifest_bytes) + "-byte manifest, but the file has " +
                     std::to_string(b.size()) + " bytes (truncated?)");
  {
    const Sha256Digest d = sha256(b.data() + kArtifactHeaderBytes, manifest_bytes);
    if (std::memcmp(b.data() + 16, d.data(), d.size()) != 0)
      refuse(name, "the manifest fails its SHA-256 check (expected " + hex(b.substr(16, 32)) + ", the bytes hash to " +
                       to_hex(d) + "): the file is corrupt");
  }
  // Manifest. (protobuf's own log lines about bad bytes are silenced: the refusal says it.)
  const google::protobuf::LogSilencer quiet;
  if (!a.manifest_.ParseFromArray(b.data() + kArtifactHeaderBytes, static_cast<int>(manifest_bytes)))
    refuse(name, "the manifest does not parse");
  const artifact::Manifest& m = a.manifest_;
  if (m.format_version() != kArtifactFormatVersion)
    refuse(name, "it has format version " + std::to_string(m.format_version()) + " (written by tl " +
                     (m.tl_version().empty() ? std::string("?") : m.tl_version().substr(0, 32)) +
                     "); this build reads version " + std::to_string(kArtifactFormatVersion) +
                     (m.format_version() > kArtifactFormatVersion ? ": re-export it with this tl or run a newer one" : ""));
  if (m.abi_stamp() != kArtifactAbiStamp)
    refuse(name, "its kernel ABI stamp " + std::to_string(m.abi_stamp()) + " differs from this build's " +
                     std::to_string(kArtifactAbiStamp) + "; re-export it with this tl");
  // The manifest has no checksum of its own. A flipped tag can turn a field into one this build
  // does not know (a CPU feature the code needs would vanish) or into another field; protobuf
  // keeps an unknown field aside and writes it last. So the manifest must be encoded exactly as
  // write_artifact encodes what it holds. (A field that was last already is not caught: in
  // version 1 that is the producer, text for messages, or else a signature entry, counted below.)
  if (m.SerializeAsString() != std::string_view(b.data() + kArtifactHeaderBytes, manifest_bytes))
    refuse(name, "the manifest is not encoded as tl writes it (a field out of place, or one format version " +
                     std::to_string(kArtifactFormatVersion) + " does not have): the file is corrupt");
  std::vector<std::string> feature_list(m.cpu_features().begin(), m.cpu_features().end());
  std::string unknown;
  std::optional<CpuFeatures> needed = parse_features(feature_list, &unknown);
  if (!needed) refuse(name, "it needs an unknown CPU feature '" + unknown.substr(0, 64) + "'");
  if (std::vector<std::string> missing = missing_features(*needed, host_cpu_features()); !missing.empty()) {
    std::string list;
    for (const std::string& f : missing) list += (list.empty() ? "" : ", ") + f;
    refuse(name, "its code needs CPU features this CPU (" + host_cpu_name() + ") lacks: " + list);
  }
  // Sections.
  const uint64_t first = kArtifactHeaderBytes + manifest_bytes;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  // A set, not a scan of the earlier names: a 16 MiB manifest lists ~10^5 sections.
  std::unordered_set<std::string_view> names;
  for (int i = 0; i < m.sections_size(); ++i) {
    const artifact::Section& s = m.sections(i);
    const std::string what = "section '" + s.name().substr(0, 64) + "'";
    if (s.name().empty()) refuse(name, "section " + std::to_string(i) + " has no name");
    if (!names.insert(s.name()).second) refuse(name, what + " appears twice");
    uint64_t end = 0;
    if (__builtin_add_overflow(s.offset(), s.size(), &end) || s.offset() < first || end > b.size())
      refuse(name, what + " covers bytes [" + std::to_string(s.offset()) + ", +" + std::to_string(s.size()) +
                       "), outside the file's " + std::to_string(b.size()) + " bytes after the manifest (truncated?)");
    if (s.offset() % kSectionAlignment != 0)
      refuse(name, what + " starts at byte " + std::to_string(s.offset()) + ", not a multiple of " +
                       std::to_string(kSectionAlignment));
    spans.push_back({s.offset(), end});
    Sha256Digest d = sha256(b.data() + s.offset(), s.size());
    if (s.sha256().size() != d.size() || std::memcmp(s.sha256().data(), d.data(), d.size()) != 0)
      refuse(name, what + " fails its SHA-256 check (expected " + hex(s.sha256()) + ", the bytes hash to " + to_hex(d) +
                       "): the file is corrupt");
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second) refuse(name, "two sections overlap");
  // Program.
  std::span<const uint8_t> program = a.section("program");
  if (program.data() == nullptr) refuse(name, "it has no 'program' section");
  if (program.size() > limits.max_program_bytes) refuse(name, "the program section is larger than the limit");
  if (!a.program_.ParseFromArray(program.data(), static_cast<int>(program.size())))
    refuse(name, "the program section does not parse");
  check_program(a.program_, m, a.section("weights").size(), a.section("code").size(), limits, name);
  return a;
}

std::span<const uint8_t> Artifact::section(std::string_view name) const {
  for (const artifact::Section& s : manifest_.sections())
    if (s.name() == name) return {reinterpret_cast<const uint8_t*>(bytes_.data()) + s.offset(), s.size()};
  return {};
}

std::string describe(const Artifact& a, bool per_node) {
  const artifact::Manifest& m = a.manifest();
  const artifact::Program& p = a.program();
  std::ostringstream o;
  auto type_str = [](const google::protobuf::RepeatedField<int64_t>& shape, int dtype) {
    std::string s = "[";
    for (int i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "] " + dtype_name(dtype_from_artifact(dtype, "a value"));
  };
  o << "artifact " << a.path() << " (" << a.file_bytes() << " bytes)\n"
    << "  format version " << m.format_version() << ", written by tl " << m.tl_version() << ", ABI stamp "
    << m.abi_stamp() << "\n"
    << "  producer: " << (m.producer().empty() ? "(unknown)" : m.producer()) << "\n"
    << "  target: " << (m.default_device().empty() ? "cpu" : m.default_device()) << " (the device tl::load_program uses by default)\n"
    << "  cpu features:";
  if (m.cpu_features().empty()) o << " (none beyond x86-64)";
  for (const std::string& f : m.cpu_features()) o << " " << f;
  o << "\nsignature:\n";
  for (const artifact::TensorSpec& s : m.inputs()) o << "  input  " << s.name() << ": " << type_str(s.shape(), s.dtype()) << "\n";
  for (const artifact::TensorSpec& s : m.outputs()) o << "  output " << s.name() << ": " << type_str(s.shape(), s.dtype()) << "\n";
  o << "sections:\n";
  for (const artifact::Section& s : m.sections())
    o << "  " << s.name() << ": bytes [" << s.offset() << ", " << s.offset() + s.size() << ") sha256 " << hex(s.sha256())
      << "\n";
  uint64_t weight_bytes = 0;
  for (const artifact::Constant& c : p.constants()) weight_bytes += c.size();
  o << "memory: weights " << weight_bytes << " bytes in " << p.constants_size() << " constants; arena "
    << p.plan().arena_bytes() << " bytes for " << std::count_if(p.plan().offsets().begin(), p.plan().offsets().end(),
                                                               [](int64_t off) { return off >= 0; })
    << " intermediates\n";
  const auto generated = std::count_if(p.nodes().begin(), p.nodes().end(), [](const artifact::Node& n) { return n.has_fused(); });
  o << "kernels: " << p.nodes_size() << " calls, " << generated << " of them generated code in " << p.code_objects_size()
    << " code objects";
  uint64_t code_bytes = 0;
  for (const artifact::CodeObject& c : p.code_objects()) code_bytes += c.size();
  if (code_bytes > 0) o << " (" << code_bytes << " bytes)";
  o << "\n";
  if (generated > 0) {
    const auto with_steps = std::count_if(p.nodes().begin(), p.nodes().end(), [](const artifact::Node& n) {
      return n.has_fused() && n.fused().cuda().steps_size() > 0;
    });
    o << "cuda: " << with_steps << " of " << generated << " fused groups have CUDA steps"
      << (with_steps == generated ? " (the program can run on CUDA)\n" : "\n");
    // Device code (tlc --target cuda): the architectures it was compiled for, and its size.
    std::vector<std::string> archs;
    for (const artifact::Node& n : p.nodes())
      for (const artifact::CudaKernelCode& code : n.fused().cuda().code())
        for (const artifact::CudaImage& image : code.images())
          if (std::find(archs.begin(), archs.end(), image.arch().substr(0, 32)) == archs.end())
            archs.push_back(image.arch().substr(0, 32));
    if (!archs.empty()) {
      o << "cuda device code:";
      for (const std::string& arch : archs) o << " " << arch;
      o << " (" << a.section("cuda").size() << " bytes; other GPUs compile the steps with NVRTC)\n";
    }
  }
  if (per_node) {
    for (int k = 0; k < p.nodes_size(); ++k) {
      const artifact::Node& n = p.nodes(k);
      o << "  ";
      for (int i = 0; i < n.outputs_size(); ++i) o << (i ? ", " : "") << "%" << n.outputs(i);
      o << " = " << n.op();
      if (n.has_fused()) {
        o << "[" << n.fused().description() << "; code object " << n.fused().object() << " @" << n.fused().symbol();
        if (n.fused().cuda().steps_size() > 0) o << "; " << n.fused().cuda().steps_size() << " cuda steps";
        else o << "; no cuda form";
        if (n.fused().cuda().code_size() > 0) o << ", device code for " << n.fused().cuda().code_size() << " kernels";
        o << "]";
      }
      o << "(";
      for (int i = 0; i < n.inputs_size(); ++i) o << (i ? ", " : "") << "%" << n.inputs(i);
      o << ")";
      if (n.attrs_size() > 0) {
        o << " {";
        for (int i = 0; i < n.attrs_size(); ++i) {
          const artifact::Attribute& at = n.attrs(i);
          o << (i ? ", " : "") << at.name();
          switch (at.value_case()) {
            case artifact::Attribute::kI: o << " = " << at.i(); break;
            case artifact::Attribute::kF: o << " = " << at.f(); break;
            case artifact::Attribute::kUnit: break;
            case artifact::Attribute::kInts: {
              o << " = [";
              for (int j = 0; j < at.ints().values_size(); ++j) o << (j ? ", " : "") << at.ints().values(j);
              o << "]";
              break;
            }
            case artifact::Attribute::kDtype: o << " = " << artifact::DType_Name(at.dtype()); break;
            case artifact::Attribute::VALUE_NOT_SET: o << " = ?"; break;
          }
        }
        o << "}";
      }
      const artifact::ValueType& out = p.values(n.outputs(0));
      o << " -> " << type_str(out.shape(), out.dtype());
      if (!p.plan().offsets().empty() && p.plan().offsets(n.outputs(0)) >= 0)
        o << " @arena+" << p.plan().offsets(n.outputs(0));
      if (!n.file().empty()) o << "  // " << n.file() << ":" << n.line();
      o << "\n";
    }
  }
  return o.str();
}

}  // namespace tl::rt
