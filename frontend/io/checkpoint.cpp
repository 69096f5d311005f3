// tl::save / tl::load: training checkpoints in a safetensors container. Saving streams each
// tensor into a temporary that is renamed into place; loading verifies the whole file, then the
// fit with the model and optimizer, before changing anything. Layout: docs/checkpoints.md.
#include "tl/checkpoint.h"
#include "tl/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_set>

#include "frontend/io/crc32c.h"
#include "frontend/io/json_limits.h"
#include "runtime/base/file_io.h"
#include "runtime/base/little_endian.h"
#include "runtime/logging.h"
#include "tl/ops.h"
#include "tl/random.h"

namespace tl {

static_assert(std::endian::native == std::endian::little, "checkpoints copy little-endian data as is");

namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // safetensors' own cap is 100 MB
constexpr char kFormatName[] = "tracelight.checkpoint";
constexpr char kModelPrefix[] = "model.";
constexpr char kOptimizerPrefix[] = "optimizer.";

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypes[] = {{kFloat32, "F32"}, {kFloat64, "F64"}, {kFloat16, "F16"}, {kBFloat16, "BF16"},
                                 {kInt32, "I32"},   {kInt64, "I64"},   {kBool, "BOOL"}};

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// The tensor as contiguous CPU bytes (a no-op for the usual contiguous CPU tensor).
Tensor host_bytes(const Tensor& t) {
  NoGradGuard no_grad;
  return t.detach().to(kCPU).contiguous();
}

// Parses JSON, refusing duplicate keys at any depth (nlohmann would keep the last one). A SAX
// handler around nlohmann's own DOM builder: its callback parser rescans an object's members
// each time a nested object ends, which makes a header of n tensor entries cost O(n^2).
// Callers check the nesting depth first: copying, comparing and dumping a json value recurse
// once per level.
struct DuplicateKey {
  std::string key;
};
class StrictDomBuilder {
 public:
  explicit StrictDomBuilder(json& root) : dom_(root) {}
  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) {
    keys_.emplace_back();
    return dom_.start_object(n);
  }
  bool key(json::string_t& k) {
    if (!keys_.back().insert(k).second) throw DuplicateKey{k};
    return dom_.key(k);
  }
  bool end_object() {
    keys_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return dom_.start_array(n); }
  bool end_array() { return dom_.end_array(); }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& token, const Exception& e) {
    return dom_.parse_error(position, token, e);
  }

 private:
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<std::unordered_set<std::string>> keys_;
};
json parse_strict(const std::string& text) {
  json root;
  StrictDomBuilder builder(root);
  json::sax_parse(text, &builder);
  return root;
}

// ---------------------------------------------------------------- saving

struct SaveEntry {
  std::string name;
  Tensor tensor;
  const char* dtype = nullptr;
  uint64_t begin = 0, end = 0;
  uint32_t crc = 0;
  uint64_t version = 0;  // the storage version when the save began
};

// Bytes copied per step while streaming a tensor: the checksum and the write both read this
// private copy, so the file always matches its checksums even if the tensor changes meanwhile.
constexpr uint64_t kSaveChunkBytes = 4ull << 20;
// Temporaries of other saves are removed only when unlocked and at least this old: a margin
// for writers that hold no lock (older versions of tl, filesystems without flock).
constexpr int64_t kOrphanMinAgeSeconds = 60;

// The storage version of `t`, which every in-place write bumps. Read atomically: a save may
// race with another thread's in-place update, which is exactly what it checks for.
uint64_t storage_version(const Tensor& t) {
  return std::atomic_ref<uint64_t>(t.impl()->storage->version).load(std::memory_order_acquire);
}

}  // namespace

void save(const std::string& path, const nn::Module& model, const optim::Optimizer* optimizer,
          const CheckpointExtra& extra, Site site) {
  auto refuse = [&](const std::string& what) -> void {
    throw IoError("tl::save: cannot write '" + path + "': " + what + "; nothing was written (at " + site.str() + ")");
  };
  // The destination is checked before anything is serialized or written.
  if (path.empty()) refuse("the path is empty");
  if (path.back() == '/') refuse("the path ends with '/', so it names a directory, not a file");
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) refuse("it is a directory");
    if (S_ISLNK(st.st_mode)) {
      refuse("it is a symbolic link, which the atomic rename would replace rather than follow; pass the link's "
             "target path");
    }
    if (!S_ISREG(st.st_mode)) refuse("it is not a regular file");
  }
  std::filesystem::path p(path);
  std::string dir = p.parent_path().empty() ? std::string(".") : p.parent_path().string();
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    refuse("its folder '" + dir + "' " + (err == ENOENT ? std::string("does not exist") : "cannot be read: " + detail::errno_text(err)));
  }
  if (!S_ISDIR(st.st_mode)) refuse("'" + dir + "' is not a directory");

  // Every string that goes into the JSON header must be UTF-8 (JSON text is); checked before
  // anything is written. `printable` keeps names with NUL or control bytes whole in messages.
  auto require_utf8 = [&](const std::string& text, const std::string& what) {
    if (auto bad = detail::first_invalid_utf8(text)) {
      throw ValueError("tl::save: cannot write '" + path + "': " + what + " is not valid UTF-8 (byte " +
                       std::to_string(*bad) + " of " + std::to_string(text.size()) +
                       "); checkpoint names and metadata are JSON text, which must be UTF-8; nothing was written (at " +
                       site.str() + ")");
    }
  };

  // Collect the tensors, sorted by name; offsets follow that order so the data has no holes.
  // Neither the state dict nor the optimizer's state view copies a tensor.
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : model.state_dict())
    if (t.defined()) tensors[kModelPrefix + name] = t;
  json meta_optimizer;
  if (optimizer) {
    std::string tag = std::string(kOptimizerPrefix) + optimizer->name();
    for (const auto& [name, t] : optimizer->state_view())
      if (name != tag && t.defined()) tensors[kOptimizerPrefix + name] = t;
    json groups = json::array();
    size_t num_params = 0;
    for (const auto& g : optimizer->param_groups()) {
      groups.push_back({{"num_params", g.params.size()}, {"lr", g.lr}, {"weight_decay", g.weight_decay}});
      num_params += g.params.size();
    }
    meta_optimizer = {{"type", optimizer->name()}, {"num_params", num_params}, {"groups", groups}};
  }
  for (const auto& [name, t] : tensors) require_utf8(name, "the tensor name '" + detail::printable(name) + "'");
  for (const auto& [key, value] : extra.metadata) {
    require_utf8(key, "the user metadata key '" + detail::printable(key) + "'");
    require_utf8(value, "the value of user metadata '" + detail::printable(key) + "'");
  }

  std::vector<SaveEntry> entries;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SaveEntry e{name, t};
    for (const auto& d : kDTypes)
      if (d.dtype == t.dtype()) e.dtype = d.name;
    TL_ASSERT(e.dtype, "every tl dtype has a safetensors name");
    e.begin = offset;
    e.end = offset += static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
    entries.push_back(std::move(e));
  }

  json stateful = json::object();
  for (const Stateful* s : extra.stateful) {
    if (!s) throw ValueError("tl::save: '" + path + "': extra.stateful holds a null pointer (at " + site.str() + ")");
    std::string key = s->state_key();
    require_utf8(key, "the Stateful key '" + detail::printable(key) + "'");
    if (stateful.contains(key)) {
      throw ValueError("tl::save: '" + path + "': two Stateful objects share the key '" + detail::printable(key) +
                       "' (at " + site.str() + ")");
    }
    std::string state = s->save_state();
    require_utf8(state, "the state of Stateful '" + detail::printable(key) + "'");
    stateful[key] = std::move(state);
  }
  GeneratorState rng = default_generator().state();
  json meta = {{"format", kFormatName},
               {"format_version", std::to_string(kCheckpointFormatVersion)},
               {"rng", json{{"cpu", {{"seed", rng.seed}, {"offset", rng.offset}}}}.dump()},
               {"step", std::to_string(extra.step)},
               {"epoch", std::to_string(extra.epoch)},
               {"user_metadata", json(extra.metadata).dump()},
               {"stateful", stateful.dump()}};
  if (optimizer) meta["optimizer"] = meta_optimizer.dump();

  // The header as it stands with the entries' current CRCs. Every CRC is 8 hex digits, so the
  // header written before the data (with zero CRCs) and the final one have the same length.
  auto header_text = [&] {
    json crcs = json::object();
    json header = json::object();
    for (const auto& e : entries) {
      std::vector<int64_t> shape(e.tensor.shape().begin(), e.tensor.shape().end());
      header[e.name] = {{"dtype", e.dtype}, {"shape", shape}, {"data_offsets", {e.begin, e.end}}};
      crcs[e.name] = hex32(e.crc);
    }
    header["__metadata__"] = meta;
    header["__metadata__"]["crc32c"] = crcs.dump();
    // The header checksum covers the header as serialized without it.
    header["__metadata__"]["header_crc32c"] = hex32([&] {
      std::string canonical = header.dump();
      return detail::crc32c(canonical.data(), canonical.size());
    }());
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned, as safetensors pads
    return text;
  };
  std::string text = header_text();
  uint64_t total = 8 + text.size() + offset;

  detail::remove_orphan_temporaries(dir, detail::AtomicFile::temporary_prefix(path), kOrphanMinAgeSeconds);
  detail::AtomicFile tmp(path, "tl::save", total, site);
  unsigned char len[8];
  detail::store_le(len, text.size(), 8);
  tmp.write(len, 8);
  tmp.write(text);

  // One pass per tensor: copy a chunk, checksum the copy, write the copy. A tensor written to
  // in place meanwhile (another thread's optimizer step) would give a mix of old and new
  // values, and tensors from different steps; storage versions tell, and such a save is
  // refused rather than renamed into place.
  for (auto& e : entries) e.version = storage_version(e.tensor);
  auto check_unchanged = [&](const SaveEntry& e) {
    uint64_t now = storage_version(e.tensor);
    if (now != e.version) {
      tmp.fail("tensor '" + detail::printable(e.name) + "' was modified while saving (its storage version went from " +
               std::to_string(e.version) + " to " + std::to_string(now) +
               "); run in-place updates such as optimizer steps before or after tl::save, not during it");
    }
  };
  std::vector<unsigned char> chunk;
  for (auto& e : entries) {
    uint64_t nbytes = e.end - e.begin;
    if (nbytes == 0) continue;
    Tensor bytes = host_bytes(e.tensor);  // a copy only for non-contiguous or device tensors
    const auto* src = static_cast<const unsigned char*>(bytes.data_ptr());
    chunk.resize(std::min(kSaveChunkBytes, std::max<uint64_t>(chunk.size(), nbytes)));
    uint32_t crc = 0;
    for (uint64_t at = 0; at < nbytes; at += chunk.size()) {
      uint64_t n = std::min<uint64_t>(chunk.size(), nbytes - at);
      std::memcpy(chunk.data(), src + at, n);
      crc = detail::crc32c(chunk.data(), n, crc);
      tmp.write(chunk.data(), n);
    }
    check_unchanged(e);
    e.crc = crc;
  }
  for (const auto& e : entries) check_unchanged(e);  // the earlier ones too: one consistent snapshot
  std::string final_text = header_text();
  TL_ASSERT(final_text.size() == text.size(), "the checkpoint header keeps its length when the CRCs are filled in");
  tmp.pwrite(8, final_text.data(), final_text.size());
  tmp.commit();
}

// ---------------------------------------------------------------- loading

namespace {

// The checkpoint being loaded: a verified reader (detail::FileReader) plus the JSON parsing
// every part of the header goes through, and the two ways a load stops: `fail` when the file
// is damaged or not a checkpoint, `refuse` when it is sound but does not fit what it is loaded
// into.
class CheckpointFile {
 public:
  CheckpointFile(const std::string& path, Site site, std::string who = "tl::load")
      : path_(path), site_(site), who_(std::move(who)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(who_ + ": '" + path_ + "': " + what + " (at " + site_.str() + ")");
  }

  [[noreturn]] void refuse(const std::string& what) const {
    throw ValueError(who_ + ": '" + path_ + "': " + what + "; nothing was loaded (at " + site_.str() + ")");
  }

  // Refuses a FIFO, directory, device or socket without blocking on it.
  void open() { reader_.emplace(path_, who_, site_); }

  // Parses `text` (the header, or a metadata value named by `what`), refusing nesting deeper
  // than the parser's recursion can take; duplicate keys throw DuplicateKey.
  json parse(const std::string& text, const std::string& what) const {
    try {
      detail::check_json_nesting(text, what);
    } catch (const IoError& e) {
      fail(e.what());
    }
    return parse_strict(text);
  }

  uint64_t size() const { return reader_->size(); }

  void read(uint64_t offset, void* dst, uint64_t n) const { reader_->read_at(offset, dst, n); }

 private:
  std::string path_;
  Site site_;
  std::string who_;
  std::optional<detail::FileReader> reader_;
};

struct LoadEntry {
  std::string name;
  DType dtype = kFloat32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // relative to the data section
  Tensor tensor;
};

// Everything a checkpoint holds, verified and staged; the model is not touched yet.
struct Staged {
  std::map<std::string, Tensor> tensors;  // by full name ("model.fc1.weight")
  std::map<std::string, std::string> meta;
};

// ---- reading and verifying the file, part by part in file order

// The little-endian u64 that opens the file: the header's length in bytes, checked against
// the cap and against the file's `size`.
uint64_t read_header_length(const CheckpointFile& file, uint64_t size) {
  if (size < 8) {
    file.fail("truncated: the header length field needs bytes [0, 8), the file ends at byte " + std::to_string(size));
  }
  unsigned char len_bytes[8];
  file.read(0, len_bytes, 8);
  const uint64_t n = detail::load_le(len_bytes, 8);
  if (n > kMaxHeaderBytes) {
    file.fail("the header length field says " + std::to_string(n) + " bytes, over the " +
              std::to_string(kMaxHeaderBytes) + "-byte cap (file size " + std::to_string(size) +
              "); the file is damaged or not a checkpoint");
  }
  if (n > size - 8) {
    file.fail("truncated: the header needs bytes [8, " + std::to_string(8 + n) + "), the file ends at byte " +
              std::to_string(size));
  }
  return n;
}

// The `n`-byte JSON header after the length field: a JSON object with no duplicate keys.
json read_header(const CheckpointFile& file, uint64_t n) {
  std::string text(n, '\0');
  file.read(8, text.data(), n);
  for (uint64_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(text[i]) < 0x20) {
      file.fail("the header has a control byte 0x" + hex32(static_cast<unsigned char>(text[i])).substr(6) +
                " at byte " + std::to_string(8 + i) + " (JSON text holds none)");
    }
  }
  json header;
  try {
    header = file.parse(text, "the header");
  } catch (const DuplicateKey& d) {
    file.fail("the header JSON has the key '" + detail::printable(d.key) + "' twice");
  } catch (const json::exception& e) {
    file.fail("the header is not valid JSON: " + std::string(e.what()));
  }
  if (!header.is_object()) file.fail("the header is JSON but not an object");
  return header;
}

// __metadata__: string -> string, as safetensors requires.
std::map<std::string, std::string> read_metadata(const CheckpointFile& file, const json& header) {
  if (!header.contains("__metadata__")) file.fail("the header has no '__metadata__' (it is not a tl checkpoint)");
  const json& meta = header["__metadata__"];
  if (!meta.is_object()) file.fail("'__metadata__' is not an object");
  std::map<std::string, std::string> strings;
  for (const auto& [key, value] : meta.items()) {
    if (!value.is_string()) file.fail("metadata '" + detail::printable(key) + "' is " + value.type_name() + ", expected a string");
    strings[key] = value.get<std::string>();
  }
  return strings;
}

// The metadata names the tl format, in the version this build reads.
void check_format(const CheckpointFile& file, std::map<std::string, std::string>& m) {
  if (!m.count("format_version") || m["format"] != kFormatName) {
    file.fail("the metadata has no tl format version (it is a safetensors file, but not a tl checkpoint)");
  }
  const std::string& v = m["format_version"];
  int version = 0;
  bool is_number = !v.empty() && v.size() < 6 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (is_number) version = std::stoi(v);
  if (!is_number || version != kCheckpointFormatVersion) {
    file.fail("written by format v" + v + "; this build reads v" + std::to_string(kCheckpointFormatVersion));
  }
}

// The header checksum covers the header as serialized without it (see save).
void verify_header_checksum(const CheckpointFile& file, const json& header, std::map<std::string, std::string>& m) {
  if (!m.count("header_crc32c")) file.fail("the metadata has no 'header_crc32c'");
  json copy = header;
  copy["__metadata__"].erase("header_crc32c");
  std::string canonical = copy.dump();
  std::string want = hex32(detail::crc32c(canonical.data(), canonical.size()));
  if (m["header_crc32c"] != want) {
    file.fail("header checksum mismatch: stored CRC32C " + m["header_crc32c"] + ", computed " + want +
              " (the header is damaged)");
  }
}

// Metadata 'crc32c': a JSON object holding each tensor's CRC32C by name.
json read_tensor_checksums(const CheckpointFile& file, std::map<std::string, std::string>& m) {
  json crcs;
  try {
    crcs = file.parse(m["crc32c"], "metadata 'crc32c'");
  } catch (const IoError&) {
    throw;
  } catch (...) {
    file.fail("metadata 'crc32c' is not a valid JSON object");
  }
  if (!crcs.is_object()) file.fail("metadata 'crc32c' is not a JSON object");
  return crcs;
}

// Fails naming the tensor entry `name`.
struct EntryError {
  const CheckpointFile& file;
  const std::string& name;
  [[noreturn]] void operator()(const std::string& what) const {
    file.fail("tensor '" + detail::printable(name) + "': " + what);
  }
};

// The tl dtype of the safetensors dtype name `dtype`.
DType dtype_named(const std::string& dtype, const EntryError& bad) {
  const DTypeName* found = nullptr;
  for (const auto& d : kDTypes)
    if (dtype == d.name) found = &d;
  if (!found) bad("unknown dtype '" + dtype + "' (tl reads F32, F64, F16, BF16, I32, I64, BOOL)");
  return found->dtype;
}

// Reads the entry's 'shape' into `e.shape` (`e.dtype` set) and returns the tensor's size in
// bytes, checked for overflow.
uint64_t read_entry_shape(const json& value, const std::string& dtype, const EntryError& bad, LoadEntry& e) {
  if (!value.contains("shape") || !value["shape"].is_array()) bad("no 'shape' array");
  const json& shape = value["shape"];
  if (shape.size() > static_cast<size_t>(kMaxRank)) {
    bad("rank " + std::to_string(shape.size()) + " is over tl's maximum rank " + std::to_string(kMaxRank));
  }
  uint64_t nbytes = dtype_size(e.dtype);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!shape[i].is_number_integer()) bad("dimension " + std::to_string(i) + " is not an integer");
    if (!shape[i].is_number_unsigned()) bad("dimension " + std::to_string(i) + " is negative: " + shape[i].dump());
    uint64_t d = shape[i].get<uint64_t>();
    if (d > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(nbytes, d, &nbytes)) {
      bad("shape " + shape.dump() + " x " + dtype + " overflows 64 bits");
    }
    e.shape.push_back(static_cast<int64_t>(d));
  }
  return nbytes;
}

// Reads the entry's 'data_offsets' into `e.begin` and `e.end`; they must span exactly the
// tensor's `nbytes`.
void read_entry_offsets(const json& value, uint64_t nbytes, const std::string& dtype, const EntryError& bad, LoadEntry& e) {
  const json& off = value.contains("data_offsets") ? value["data_offsets"] : json();
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
    bad("'data_offsets' is not a pair of non-negative integers");
  }
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end < e.begin) bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ") end before they begin");
  if (e.end - e.begin != nbytes) {
    bad("shape " + value["shape"].dump() + " x " + dtype + " is " + std::to_string(nbytes) + " bytes, but data_offsets [" +
        std::to_string(e.begin) + ", " + std::to_string(e.end) + ") hold " + std::to_string(e.end - e.begin));
  }
}

// The header's entry for tensor `name`: only the fields dtype, shape and data_offsets, and a
// CRC32C for it in `crcs`.
LoadEntry read_tensor_entry(const CheckpointFile& file, const std::string& name, const json& value, const json& crcs) {
  EntryError bad{file, name};
  if (!value.is_object()) bad("its entry is not an object");
  for (const auto& [key, unused] : value.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") bad("unexpected field '" + detail::printable(key) + "'");
  }
  if (!value.contains("dtype") || !value["dtype"].is_string()) bad("no 'dtype' string");
  LoadEntry e;
  e.name = name;
  std::string dtype = value["dtype"].get<std::string>();
  e.dtype = dtype_named(dtype, bad);
  uint64_t nbytes = read_entry_shape(value, dtype, bad, e);
  read_entry_offsets(value, nbytes, dtype, bad, e);
  if (!crcs.is_null() && (!crcs.contains(name) || !crcs[name].is_string())) bad("no CRC32C in the metadata");
  return e;
}

// Tensor entries: dtype, shape and offsets, every size overflow-checked. `crcs` holds a
// checksum for each of them and for nothing else.
std::vector<LoadEntry> read_tensor_table(const CheckpointFile& file, const json& header, const json& crcs) {
  std::vector<LoadEntry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") continue;
    entries.push_back(read_tensor_entry(file, item.key(), item.value(), crcs));
  }
  if (!crcs.is_null() && crcs.size() != entries.size())
    file.fail("metadata 'crc32c' names tensors the header does not hold");
  return entries;
}

// Sorts `entries` by offset and checks that they pack the data section from its start: no
// holes, no overlaps. Returns the data byte where the last one ends.
uint64_t check_packed(const CheckpointFile& file, std::vector<LoadEntry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const LoadEntry& a, const LoadEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  const std::string* previous = nullptr;
  for (const auto& e : entries) {
    if (e.begin < expected) {
      file.fail("tensor '" + detail::printable(e.name) + "' at data bytes [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                ") overlaps tensor '" + detail::printable(*previous) + "', which ends at " + std::to_string(expected));
    }
    if (e.begin > expected) {
      file.fail("tensor '" + detail::printable(e.name) + "' begins at data byte " + std::to_string(e.begin) + ", leaving a hole after byte " +
                std::to_string(expected));
    }
    expected = e.end;
    previous = &e.name;
  }
  return expected;
}

// Every tensor lies within the file of `size` bytes, whose data section starts at byte `base`,
// and the tensors, ending at data byte `data_end`, fill it to the end.
void check_data_section_size(const CheckpointFile& file, const std::vector<LoadEntry>& entries, uint64_t base,
                             uint64_t data_end, uint64_t size) {
  for (const auto& e : entries) {
    if (e.end > size - base) {
      file.fail("truncated: tensor '" + e.name + "' needs bytes [" + std::to_string(base + e.begin) + ", " +
                std::to_string(base + e.end) + "), file ends at " + std::to_string(size));
    }
  }
  if (data_end != size - base) {
    file.fail("the tensors cover data bytes [0, " + std::to_string(data_end) + ") but the data section holds " +
              std::to_string(size - base) + " bytes (trailing bytes after the last tensor)");
  }
}

// Reads and checks each tensor. Sizes were all checked against the file, so these
// allocations are bounded by its size.
std::map<std::string, Tensor> read_tensors(const CheckpointFile& file, const std::vector<LoadEntry>& entries, const json& crcs,
                                           uint64_t base) {
  std::map<std::string, Tensor> tensors;
  for (const auto& e : entries) {
    Tensor t = empty(Shape(e.shape), {.dtype = e.dtype});
    uint64_t nbytes = e.end - e.begin;
    if (nbytes > 0) file.read(base + e.begin, t.data_ptr(), nbytes);
    if (crcs.is_null()) {  // a plain safetensors file stores no checksums
      tensors[e.name] = t;
      continue;
    }
    std::string crc = hex32(detail::crc32c(t.data_ptr(), nbytes));
    if (crc != crcs[e.name].get<std::string>()) {
      file.fail("checksum mismatch in tensor '" + detail::printable(e.name) + "' (bytes [" + std::to_string(base + e.begin) + ", " +
                std::to_string(base + e.end) + ")): stored CRC32C " + crcs[e.name].get<std::string>() + ", computed " +
                crc);
    }
    tensors[e.name] = t;
  }
  return tensors;
}

Staged read_checkpoint(CheckpointFile& file) {
  file.open();
  uint64_t size = file.size();
  uint64_t header_bytes = read_header_length(file, size);
  json header = read_header(file, header_bytes);
  Staged staged;
  staged.meta = read_metadata(file, header);
  check_format(file, staged.meta);
  verify_header_checksum(file, header, staged.meta);
  json crcs = read_tensor_checksums(file, staged.meta);
  std::vector<LoadEntry> entries = read_tensor_table(file, header, crcs);
  // The data section is exactly the tensors, packed in offset order: no holes, no overlaps.
  uint64_t base = 8 + header_bytes;
  uint64_t data_end = check_packed(file, entries);
  check_data_section_size(file, entries, base, data_end, size);
  staged.tensors = read_tensors(file, entries, crcs, base);
  return staged;
}

int64_t parse_int(const CheckpointFile& file, const std::map<std::string, std::string>& meta, const char* key) {
  auto it = meta.find(key);
  if (it == meta.end()) file.fail(std::string("the metadata has no '") + key + "'");
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  file.fail(std::string("metadata '") + key + "' is not an integer: '" + it->second + "'");
}

json parse_meta_json(const CheckpointFile& file, const std::map<std::string, std::string>& meta, const char* key,
                     bool required = true) {
  auto it = meta.find(key);
  if (it == meta.end()) {
    if (required) file.fail(std::string("the metadata has no '") + key + "'");
    return json();
  }
  try {
    json j = file.parse(it->second, std::string("metadata '") + key + "'");
    if (j.is_object()) return j;
  } catch (const DuplicateKey& d) {
    file.fail(std::string("metadata '") + key + "' has the key '" + detail::printable(d.key) + "' twice");
  } catch (const json::exception&) {
  }
  file.fail(std::string("metadata '") + key + "' is not a JSON object");
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ", ") + detail::printable(item);
  return s;
}

// "[1, 0, 2]": the multi-index of element `flat` of a C-order tensor of `shape`.
std::string index_of(int64_t flat, const Shape& shape) {
  std::vector<int64_t> index(static_cast<size_t>(shape.size()));
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    index[static_cast<size_t>(d)] = flat % shape[d];
    flat /= shape[d];
  }
  std::string s = "[";
  for (size_t i = 0; i < index.size(); ++i) s += (i ? ", " : "") + std::to_string(index[i]);
  return s + "]";
}

// For LoadOptions::check_finite: "'model.fc.weight' has 2 of 6 non-finite values, the first nan
// at [0, 1]", or "" when every value of `t` is finite (integer and bool tensors always are).
template <typename T>
std::string non_finite_in(const std::string& name, const Tensor& t) {
  const T* p = static_cast<const T*>(t.data_ptr());
  int64_t n = t.numel(), count = 0, first = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) {
      if (first < 0) first = i;
      ++count;
    }
  }
  if (count == 0) return "";
  double v = static_cast<double>(p[first]);
  return "'" + detail::printable(name) + "' has " + std::to_string(count) + " of " + std::to_string(n) + " non-finite values, the first " +
         (std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf") + " at " + index_of(first, t.shape());
}
std::string non_finite_in(const std::string& name, const Tensor& t) {
  if (t.dtype() == kFloat64) return non_finite_in<double>(name, t);
  if (!is_floating(t.dtype())) return "";
  NoGradGuard no_grad;
  // float16 and bfloat16 widen to float32 exactly, NaN and infinities included.
  return non_finite_in<float>(name, t.dtype() == kFloat32 ? t : t.to(kFloat32));
}

constexpr char kWarnHint[] = " (LoadOptions{.missing_state = MissingState::kWarn} loads without it)";

// ---- checking that the checkpoint fits, before anything changes

// LoadOptions::check_finite: refuses the checkpoint when any tensor holds NaN or Inf, naming each.
void check_all_finite(const CheckpointFile& file, const std::map<std::string, Tensor>& tensors) {
  std::vector<std::string> bad;
  for (const auto& [name, t] : tensors) {
    std::string what = non_finite_in(name, t);
    if (!what.empty()) bad.push_back(what);
  }
  if (!bad.empty()) {
    std::string what = "check_finite: " + std::to_string(bad.size()) + (bad.size() == 1 ? " tensor holds" : " tensors hold") +
                       " NaN or Inf: ";
    for (size_t i = 0; i < bad.size(); ++i) what += (i ? "; " : "") + bad[i];
    file.refuse(what);
  }
}

// The plain metadata: step, epoch, user metadata, RNG, Stateful states.
struct SavedRun {
  int64_t step = 0, epoch = 0;
  std::map<std::string, std::string> user_metadata;
  std::optional<GeneratorState> cpu_rng;  // none: the checkpoint holds none, and the caller accepts that
  json stateful;                          // Stateful key -> its state, a string
};

std::map<std::string, std::string> read_user_metadata(const CheckpointFile& file,
                                                      const std::map<std::string, std::string>& meta) {
  json user = parse_meta_json(file, meta, "user_metadata");
  std::map<std::string, std::string> user_metadata;
  for (const auto& [k, v] : user.items()) {
    if (!v.is_string()) file.fail("user metadata '" + detail::printable(k) + "' is not a string");
    user_metadata[k] = v.get<std::string>();
  }
  return user_metadata;
}

// The default generator's saved state. Without one the load fails, or, when `warn_missing`,
// goes on with a warning in `report`.
std::optional<GeneratorState> read_rng_state(const CheckpointFile& file, const std::map<std::string, std::string>& meta,
                                             bool warn_missing, LoadReport& report) {
  if (!meta.count("rng")) {
    if (!warn_missing) file.fail(std::string("the metadata has no 'rng' (the random generator's state)") + kWarnHint);
    report.warnings.push_back("the checkpoint holds no random generator state ('rng'); the default generator keeps "
                              "its current state, so random draws (dropout, shuffles) differ from the saved run's");
    return std::nullopt;
  }
  json rng = parse_meta_json(file, meta, "rng");
  const json& r = rng.contains("cpu") ? rng["cpu"] : json();
  if (!r.is_object() || !r.contains("seed") || !r.contains("offset") || !r["seed"].is_number_unsigned() ||
      !r["offset"].is_number_unsigned()) {
    file.fail("metadata 'rng' has no valid 'cpu' generator state {seed, offset}");
  }
  return GeneratorState{r["seed"].get<uint64_t>(), r["offset"].get<uint64_t>()};
}

// The Stateful objects' states by key, each a string.
json read_stateful_states(const CheckpointFile& file, const std::map<std::string, std::string>& meta, bool warn_missing) {
  // A missing 'stateful' entry is a missing state for every Stateful object passed in.
  json stateful = parse_meta_json(file, meta, "stateful", /*required=*/!warn_missing);
  if (stateful.is_null()) stateful = json::object();
  for (const auto& [k, v] : stateful.items()) {
    if (!v.is_string()) file.fail("the state of Stateful '" + detail::printable(k) + "' is not a string");
  }
  return stateful;
}

SavedRun read_saved_run(const CheckpointFile& file, const std::map<std::string, std::string>& meta, bool warn_missing,
                        LoadReport& report) {
  SavedRun run;
  run.step = parse_int(file, meta, "step");
  run.epoch = parse_int(file, meta, "epoch");
  run.user_metadata = read_user_metadata(file, meta);
  run.cpu_rng = read_rng_state(file, meta, warn_missing, report);
  run.stateful = read_stateful_states(file, meta, warn_missing);
  return run;
}

// The staged tensors by owner, without their prefix: "model.fc.weight" is the model's "fc.weight".
struct OwnedState {
  std::map<std::string, Tensor> model, optimizer;
};

OwnedState split_by_owner(const CheckpointFile& file, const std::map<std::string, Tensor>& tensors) {
  OwnedState owned;
  for (const auto& [name, t] : tensors) {
    if (name.rfind(kModelPrefix, 0) == 0) {
      owned.model[name.substr(std::strlen(kModelPrefix))] = t;
    } else if (name.rfind(kOptimizerPrefix, 0) == 0) {
      owned.optimizer[name.substr(std::strlen(kOptimizerPrefix))] = t;
    } else {
      file.fail("tensor '" + detail::printable(name) + "' is neither 'model.*' nor 'optimizer.*'");
    }
  }
  return owned;
}

// The model's state has exactly these keys and shapes; every problem is listed at once.
void check_model_fit(const CheckpointFile& file, const nn::Module& model, const std::map<std::string, Tensor>& model_state) {
  nn::StateDict own = model.state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, t] : own) {
    auto it = model_state.find(name);
    if (it == model_state.end()) {
      missing.push_back(name);
    } else if (it->second.shape() != t.shape()) {
      mismatched.push_back(detail::printable(name) + " (checkpoint " + it->second.shape().str() + ", model " + t.shape().str() + ")");
    }
  }
  for (const auto& [name, t] : model_state)
    if (!own.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string what = "the checkpoint does not fit the model:";
    if (!missing.empty()) what += " missing keys (" + std::to_string(missing.size()) + "): " + join(missing) + ";";
    if (!unexpected.empty()) what += " unexpected keys (" + std::to_string(unexpected.size()) + "): " + join(unexpected) + ";";
    if (!mismatched.empty()) what += " shape mismatches (" + std::to_string(mismatched.size()) + "): " + join(mismatched) + ";";
    what.pop_back();
    file.refuse(what);
  }
}

// The saved parameter groups match `optimizer`'s one for one, in size and in hyper-parameters
// its constructor accepts. `type` is the optimizer's name.
void check_optimizer_groups(const CheckpointFile& file, const optim::Optimizer& optimizer, const json& saved_groups,
                            const std::string& type, Site site) {
  const auto& groups = optimizer.param_groups();
  if (saved_groups.size() != groups.size()) {
    file.refuse("the optimizer state has " + std::to_string(saved_groups.size()) + " parameter groups, this " + type +
                " has " + std::to_string(groups.size()));
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    const json& g = saved_groups[i];
    if (!g.is_object() || !g.contains("num_params") || !g["num_params"].is_number_unsigned() || !g.contains("lr") ||
        !g["lr"].is_number() || !g.contains("weight_decay") || !g["weight_decay"].is_number()) {
      file.fail("metadata 'optimizer' group " + std::to_string(i) + " lacks num_params, lr or weight_decay");
    }
    if (g["num_params"].get<uint64_t>() != groups[i].params.size()) {
      file.refuse("optimizer group " + std::to_string(i) + " holds " + std::to_string(g["num_params"].get<uint64_t>()) +
                  " parameters in the checkpoint and " + std::to_string(groups[i].params.size()) + " here");
    }
    // The saved hyper-parameters pass the rules the optimizer's constructor applies.
    try {
      optimizer.check_group(g["lr"].get<double>(), g["weight_decay"].get<double>(), site);
    } catch (const ValueError& e) {
      file.refuse("optimizer group " + std::to_string(i) + " in the checkpoint has invalid hyper-parameters: " + e.what());
    }
  }
}

// The optimizer metadata `opt_meta` fits `optimizer`: its type, parameter count and groups.
// Returns the saved parameter count.
uint64_t check_optimizer_fit(const CheckpointFile& file, const optim::Optimizer& optimizer, const json& opt_meta, Site site) {
  if (opt_meta.is_null()) file.refuse("the checkpoint holds no optimizer state, but an optimizer (" + optimizer.name() + ") was given");
  if (!opt_meta.contains("type") || !opt_meta["type"].is_string() || !opt_meta.contains("num_params") ||
      !opt_meta["num_params"].is_number_unsigned() || !opt_meta.contains("groups") || !opt_meta["groups"].is_array()) {
    file.fail("metadata 'optimizer' lacks its type, num_params or groups");
  }
  std::string type = opt_meta["type"].get<std::string>();
  if (type != optimizer.name()) file.refuse("the optimizer state was saved by " + type + ", not " + optimizer.name());
  uint64_t count = opt_meta["num_params"].get<uint64_t>();
  size_t own = 0;
  for (const auto& g : optimizer.param_groups()) own += g.params.size();
  if (count != own) {
    file.refuse("the optimizer state is for " + std::to_string(count) + " parameters, this " + type + " has " +
                std::to_string(own));
  }
  check_optimizer_groups(file, optimizer, opt_meta["groups"], type, site);
  return count;
}

// Pairs each of `objects` with its state in `stateful`. An object without one fails the load,
// or, when `warn_missing`, keeps its current state with a warning in `report`.
std::vector<std::pair<Stateful*, std::string>> match_stateful(const CheckpointFile& file, const std::vector<Stateful*>& objects,
                                                              const json& stateful, bool warn_missing, LoadReport& report) {
  std::vector<std::pair<Stateful*, std::string>> restore;
  std::set<std::string> seen;
  for (Stateful* s : objects) {
    if (!s) file.refuse("extra->stateful holds a null pointer");
    std::string key = s->state_key();
    if (!seen.insert(key).second) file.refuse("two Stateful objects share the key '" + key + "'");
    if (!stateful.contains(key)) {
      std::vector<std::string> keys;
      for (const auto& [k, v] : stateful.items()) keys.push_back("'" + k + "'");
      std::string what = "the checkpoint holds no state for Stateful '" + key + "' (it holds " +
                         (keys.empty() ? std::string("none") : join(keys)) + ")";
      if (!warn_missing) file.refuse(what + kWarnHint);
      report.warnings.push_back(what + "; '" + key + "' keeps its current state");
      continue;
    }
    restore.emplace_back(s, stateful[key].get<std::string>());
  }
  return restore;
}

// ---- applying: only the optimizer and Stateful objects can still refuse

// The optimizer takes the staged tensors as its buffers (no copy); its old buffers are kept,
// not copied, for a rollback: loading replaces buffers rather than writing into them. Returns
// the old buffers.
std::map<std::string, Tensor> adopt_optimizer_state(const CheckpointFile& file, optim::Optimizer& optimizer,
                                                    const std::map<std::string, Tensor>& state, Site site) {
  std::map<std::string, Tensor> old_state = optimizer.state_view();
  try {
    optimizer.adopt_state(state, site);
  } catch (const Error& e) {
    file.refuse(std::string("the optimizer refused its state: ") + e.what());
  }
  return old_state;
}

// Hands each Stateful object its state. When one refuses, the ones before it get their old state
// back and `optimizer` (when given) its `old_optimizer_state`, so nothing stays half loaded.
void load_stateful_states(const CheckpointFile& file, const std::vector<std::pair<Stateful*, std::string>>& restore,
                          optim::Optimizer* optimizer, const std::map<std::string, Tensor>& old_optimizer_state, Site site) {
  std::vector<std::pair<Stateful*, std::string>> old_states;
  for (const auto& [s, state] : restore) old_states.emplace_back(s, s->save_state());
  for (size_t i = 0; i < restore.size(); ++i) {
    try {
      restore[i].first->load_state(restore[i].second);
    } catch (const Error& e) {
      for (size_t j = 0; j < i; ++j) old_states[j].first->load_state(old_states[j].second);
      if (optimizer) optimizer->adopt_state(old_optimizer_state, site);
      file.refuse("Stateful '" + restore[i].first->state_key() + "' refused its state: " + e.what());
    }
  }
}

// Each group's saved learning rate and weight decay, checked by check_optimizer_groups.
void set_group_hyperparameters(optim::Optimizer& optimizer, const json& opt_meta) {
  auto& groups = optimizer.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    groups[i].lr = opt_meta["groups"][i]["lr"].get<double>();
    groups[i].weight_decay = opt_meta["groups"][i]["weight_decay"].get<double>();
  }
}

}  // namespace

LoadReport load(const std::string& path, nn::Module& model, optim::Optimizer* optimizer, CheckpointExtra* extra,
                const LoadOptions& options, Site site) {
  CheckpointFile file(path, site);
  Staged staged = read_checkpoint(file);
  const bool warn_missing = options.missing_state == MissingState::kWarn;
  LoadReport report;

  if (options.check_finite) check_all_finite(file, staged.tensors);
  SavedRun run = read_saved_run(file, staged.meta, warn_missing, report);
  OwnedState owned = split_by_owner(file, staged.tensors);
  check_model_fit(file, model, owned.model);
  json opt_meta = parse_meta_json(file, staged.meta, "optimizer", /*required=*/false);
  if (optimizer) {
    uint64_t num_params = check_optimizer_fit(file, *optimizer, opt_meta, site);
    // The optimizer's state map names its type and parameter count in an entry of its own,
    // which save leaves out of the file: the metadata holds both.
    owned.optimizer[std::string(kOptimizerPrefix) + optimizer->name()] =
        scalar_tensor(static_cast<double>(num_params), {.dtype = kInt64});
  }
  std::vector<std::pair<Stateful*, std::string>> restore;
  if (extra) restore = match_stateful(file, extra->stateful, run.stateful, warn_missing, report);

  // Optimizer and Stateful objects may still refuse their state; keep what they held so a
  // refusal rolls everything back.
  std::map<std::string, Tensor> old_optimizer_state;
  if (optimizer) old_optimizer_state = adopt_optimizer_state(file, *optimizer, owned.optimizer, site);
  load_stateful_states(file, restore, optimizer, old_optimizer_state, site);
  model.load_state_dict(owned.model, /*strict=*/true, site);  // checked above: cannot refuse
  if (optimizer) set_group_hyperparameters(*optimizer, opt_meta);
  if (run.cpu_rng) default_generator().set_state(*run.cpu_rng);
  if (extra) {
    extra->step = run.step;
    extra->epoch = run.epoch;
    extra->metadata = std::move(run.user_metadata);
  }
  for (const auto& w : report.warnings) rt::logger("tl.checkpoint")->warn("tl::load: '{}': {} (at {})", path, w, site.str());
  return report;
}

// ---------------------------------------------------------------- plain safetensors

namespace io {

Safetensors load_safetensors(const std::string& path, Site site) {
  CheckpointFile file(path, site, "tl::io::load_safetensors");
  file.open();
  const uint64_t size = file.size();
  const uint64_t header_bytes = read_header_length(file, size);
  const json header = read_header(file, header_bytes);
  Safetensors out;
  if (header.contains("__metadata__")) out.metadata = read_metadata(file, header);
  std::vector<LoadEntry> entries = read_tensor_table(file, header, json());
  const uint64_t base = 8 + header_bytes;
  const uint64_t data_end = check_packed(file, entries);
  check_data_section_size(file, entries, base, data_end, size);
  out.tensors = read_tensors(file, entries, json(), base);
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata, Site site) {
  auto refuse = [&](const std::string& what) {
    throw ValueError("tl::io::save_safetensors: cannot write '" + path + "': " + what + "; nothing was written (at " +
                     site.str() + ")");
  };
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)))
    throw IoError("tl::io::save_safetensors: cannot write '" + path + "': it is a " +
                  (S_ISDIR(st.st_mode) ? "directory" : "symbolic link, which the atomic rename would replace") +
                  "; nothing was written (at " + site.str() + ")");
  json header = json::object();
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& [key, value] : metadata) {
      if (detail::first_invalid_utf8(key) || detail::first_invalid_utf8(value))
        refuse("metadata '" + detail::printable(key) + "' is not valid UTF-8");
      meta[key] = value;
    }
    header["__metadata__"] = meta;
  }
  // Offsets in name order (std::map), packed from the data section's start.
  std::vector<Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || name.empty() || detail::first_invalid_utf8(name))
      refuse("the tensor name '" + detail::printable(name) + "' cannot be a safetensors key");
    if (!t.defined()) refuse("tensor '" + detail::printable(name) + "' is undefined");
    const char* dtype = nullptr;
    for (const auto& d : kDTypes)
      if (d.dtype == t.dtype()) dtype = d.name;
    if (dtype == nullptr) refuse("tensor '" + name + "' has dtype " + dtype_name(t.dtype()) + ", which safetensors cannot hold");
    Tensor bytes = host_bytes(t);
    json entry = {{"dtype", dtype}, {"shape", t.shape().vec()}, {"data_offsets", {offset, offset + bytes.nbytes()}}};
    header[name] = entry;
    offset += bytes.nbytes();
    data.push_back(std::move(bytes));
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // as the safetensors library pads it
  std::string length;
  detail::append_le(length, text.size(), 8);
  detail::AtomicFile tmp(path, "tl::io::save_safetensors", 8 + text.size() + offset, site);
  tmp.write(length);
  tmp.write(text);
  for (const Tensor& t : data)
    if (t.nbytes() > 0) tmp.write(t.data_ptr(), t.nbytes());
  tmp.commit();
}

std::map<std::string, Tensor> rename_keys(const std::map<std::string, Tensor>& state, const std::vector<std::pair<std::string, std::string>>& prefixes) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : state) {
    std::string renamed = name;
    for (const auto& [from, to] : prefixes) {
      if (renamed.rfind(from, 0) == 0) {
        renamed = to + renamed.substr(from.size());
        break;
      }
    }
    out[renamed] = t;
  }
  return out;
}

}  // namespace io
}  // namespace tl
