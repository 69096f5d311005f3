// NumPy .npy files: a magic string, a version, a Python-dict header naming dtype, layout and
// shape, then the raw little-endian data. Reads check every size against the file before
// allocating; writes replace the file atomically (detail::AtomicFile).
// Format reference: numpy/lib/format.py (versions 1.0, 2.0 and 3.0).
#include <sys/stat.h>

#include <bit>
#include <cstdio>
#include <limits>
#include <optional>

#include "runtime/base/file_io.h"
#include "runtime/base/little_endian.h"
#include "tl/io.h"
#include "runtime/device_backend.h"
#include "runtime/ops/pointwise/pointwise.h"

namespace tl {

static_assert(std::endian::native == std::endian::little, "npy I/O copies little-endian data as is");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// The dict holds three short entries; anything near this size is not a real header.
// (NumPy itself refuses headers over 10000 bytes by default.)
constexpr uint64_t kMaxHeaderBytes = 1 << 16;

struct NpyType {
  DType dtype;
  const char* descr;  // as written; on read, byte order '<', '=' and (1-byte types) '|' are accepted
};
constexpr NpyType kTypes[] = {{kFloat32, "<f4"}, {kFloat64, "<f8"}, {kFloat16, "<f2"},
                              {kInt32, "<i4"},   {kInt64, "<i8"},   {kBool, "|b1"}};
constexpr const char* kSupported = "'<f2', '<f4', '<f8', '<i4', '<i8', '|b1'";

// Printable form of raw bytes for error messages: "\x93NUMPX".
std::string escape(const std::string& bytes) {
  std::string s;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      s += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      s += buf;
    }
  }
  return s;
}

// ---------------------------------------------------------------- reading

// The file being loaded: a verified reader (detail::FileReader) plus the checks that name the
// byte offset of what is wrong.
class Reader {
 public:
  Reader(const std::string& path, Site site) : path_(path), site_(site) {}

  [[noreturn]] void fail(uint64_t offset, const std::string& what) const {
    throw IoError("tl::load_npy: '" + path_ + "', byte " + std::to_string(offset) + ": " + what + " (at " +
                  site_.str() + ")");
  }

  // Refuses a FIFO, directory, device or socket without blocking on it.
  void open() { file_.emplace(path_, "tl::load_npy", site_); }

  uint64_t size() const { return file_->size(); }

  // Requires bytes [offset, offset + n) to exist; `what` names them for the error.
  void require(uint64_t offset, uint64_t n, const std::string& what) const {
    if (offset + n > size()) {
      fail(offset, "truncated: expected " + what + " in bytes [" + std::to_string(offset) + ", " +
                       std::to_string(offset + n) + "), but the file ends at byte " + std::to_string(size()));
    }
  }

  void read(uint64_t offset, void* dst, uint64_t n) const { file_->read_at(offset, dst, n); }

 private:
  std::string path_;
  Site site_;
  std::optional<detail::FileReader> file_;
};

struct Header {
  std::string descr;
  bool has_descr = false;
  bool fortran_order = false;
  bool has_fortran_order = false;
  std::vector<int64_t> shape;
  bool has_shape = false;
};

// A parser for the subset of Python literal syntax .npy headers use: a dict of string keys
// whose values are strings, True/False or tuples of non-negative ints.
class HeaderParser {
 public:
  HeaderParser(const Reader& reader, const std::string& text, uint64_t base)
      : reader_(reader), text_(text), base_(base) {}

  Header parse() {
    Header h;
    skip_space();
    expect('{', "'{' opening the header dict");
    skip_space();
    while (peek() != '}') {
      uint64_t key_at = pos_;
      std::string key = parse_string("a string key");
      skip_space();
      expect(':', "':' after the key '" + key + "'");
      skip_space();
      if (key == "descr") {
        if (h.has_descr) fail_at(key_at, "the key 'descr' appears twice");
        if (peek() == '[') fail_here("unsupported dtype: structured (record) dtypes are not supported");
        h.descr = parse_string("a dtype string for 'descr'");
        h.has_descr = true;
      } else if (key == "fortran_order") {
        if (h.has_fortran_order) fail_at(key_at, "the key 'fortran_order' appears twice");
        h.fortran_order = parse_bool();
        h.has_fortran_order = true;
      } else if (key == "shape") {
        if (h.has_shape) fail_at(key_at, "the key 'shape' appears twice");
        h.shape = parse_shape();
        h.has_shape = true;
      } else {
        fail_at(key_at, "unexpected key '" + escape(key) + "' (expected 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        fail_here("expected ',' or '}' after a header entry, found " + found());
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) fail_here("expected only padding after the header dict, found " + found());
    if (!h.has_descr) fail_at(0, "the header dict has no 'descr' key");
    if (!h.has_fortran_order) fail_at(0, "the header dict has no 'fortran_order' key");
    if (!h.has_shape) fail_at(0, "the header dict has no 'shape' key");
    return h;
  }

 private:
  [[noreturn]] void fail_at(size_t pos, const std::string& what) const { reader_.fail(base_ + pos, what); }
  [[noreturn]] void fail_here(const std::string& what) const { fail_at(pos_, what); }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  std::string found() const {
    if (pos_ >= text_.size()) return "the end of the header";
    return "'" + escape(text_.substr(pos_, 1)) + "'";
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c, const std::string& what) {
    if (peek() != c || pos_ >= text_.size()) fail_here("expected " + what + ", found " + found());
    ++pos_;
  }

  std::string parse_string(const std::string& what) {
    char quote = peek();
    if (pos_ >= text_.size() || (quote != '\'' && quote != '"')) fail_here("expected " + what + ", found " + found());
    size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' || text_[pos_] == '\n') fail_here("unsupported character in a header string: " + found());
      ++pos_;
    }
    if (pos_ >= text_.size()) fail_at(start - 1, "unterminated string in the header");
    return text_.substr(start, pos_++ - start);
  }

  bool parse_bool() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail_here("expected True or False for 'fortran_order', found " + found());
  }

  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> dims;
    size_t open = pos_;
    expect('(', "a tuple '(...)' for 'shape'");
    skip_space();
    bool trailing_comma = false;
    while (peek() != ')') {
      if (pos_ >= text_.size()) fail_here("unterminated shape tuple");
      size_t at = pos_;
      if (peek() == '-') fail_here("negative dimension in the shape (dims must be >= 0)");
      if (peek() < '0' || peek() > '9') fail_here("expected a dimension (a non-negative integer), found " + found());
      int64_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(d, 10, &d) || __builtin_add_overflow(d, peek() - '0', &d))
          fail_at(at, "dimension " + std::to_string(dims.size()) + " of the shape does not fit in int64");
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long literal, written by old NumPy
      dims.push_back(d);
      if (dims.size() > static_cast<size_t>(kMaxRank)) {
        fail_at(at, "the shape has more than " + std::to_string(kMaxRank) + " dims (tl's maximum rank)");
      }
      skip_space();
      trailing_comma = false;
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
        skip_space();
      } else if (peek() != ')') {
        fail_here("expected ',' or ')' in the shape tuple, found " + found());
      }
    }
    ++pos_;
    if (dims.size() == 1 && !trailing_comma) {
      fail_at(open, "'shape' is a parenthesized int, not a tuple (a 1-tuple is written '(n,)')");
    }
    return dims;
  }

  const Reader& reader_;
  const std::string& text_;
  uint64_t base_;  // file offset of text_[0]
  size_t pos_ = 0;
};

DType dtype_from_descr(const Reader& reader, const std::string& descr, uint64_t offset) {
  if (descr.size() >= 2) {
    char order = descr[0];
    std::string code = descr.substr(1);
    bool single_byte = code == "b1";
    if (order == '>' && !single_byte) {
      reader.fail(offset, "unsupported dtype '" + escape(descr) + "': big-endian data is not supported "
                          "(convert with arr.astype('<" + escape(code) + "') before saving)");
    }
    bool little = order == '<' || order == '=' || (single_byte && (order == '|' || order == '>'));
    if (little) {
      for (const NpyType& t : kTypes)
        if (code == t.descr + 1) return t.dtype;
    }
  }
  std::string hint = descr.size() >= 2 && descr[1] == 'u' ? "; tl has no unsigned types, convert with arr.astype('<i4')"
                                                          : "; convert with arr.astype(...)";
  reader.fail(offset, "unsupported dtype '" + escape(descr) + "' (tl reads " + kSupported + ")" + hint);
}

// ---------------------------------------------------------------- writing

const char* descr_for(DType dtype, const std::string& path, Site site) {
  for (const NpyType& t : kTypes)
    if (t.dtype == dtype) return t.descr;
  throw DTypeError("tl::save_npy: '" + path + "': dtype " + dtype_name(dtype) +
                   " has no .npy equivalent (NumPy has no bfloat16); convert first, e.g. t.to(tl::kFloat32), at " +
                   site.str());
}

// The magic, version, length field and padded header for a C-order array.
std::string npy_preamble(const char* descr, const Shape& shape) {
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (int64_t i = 0; i < shape.size(); ++i) {
    if (i > 0) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ",";
  dict += "), }";
  // Pad with spaces and end with '\n' so the data starts at a multiple of 64 bytes.
  for (int version : {1, 2}) {
    size_t prefix = kMagicSize + 2 + (version == 1 ? 2 : 4);
    size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
    size_t header_len = total - prefix;
    if (version == 1 && header_len > 0xffff) continue;
    std::string out(kMagic, kMagicSize);
    out += static_cast<char>(version);
    out += '\0';
    detail::append_le(out, header_len, static_cast<int>(prefix - kMagicSize - 2));
    out += dict;
    out.append(header_len - dict.size() - 1, ' ');
    out += '\n';
    return out;
  }
  return {};  // unreachable: a version 2.0 length field holds 4 GB
}

}  // namespace

void save_npy(const std::string& path, const Tensor& t, Site site) {
  if (!t.defined()) throw ValueError("tl::save_npy: '" + path + "': the tensor is undefined, at " + site.str());
  const char* descr = descr_for(t.dtype(), path, site);
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      throw IoError("tl::save_npy: cannot write '" + path + "': it is a directory (at " + site.str() + ")");
    }
    if (S_ISLNK(st.st_mode)) {
      throw IoError("tl::save_npy: cannot write '" + path + "': it is a symbolic link, which the atomic "
                    "rename would replace rather than follow; pass the link's target path (at " + site.str() + ")");
    }
  }
  Tensor data = ops::contiguous_copy(t);
  if (data.device() != kCPU) {
    Tensor host = ops::empty_tensor(data.shape(), data.dtype(), kCPU);
    rt::backend_for(data.device(), "save_npy").copy(host.data_ptr(), kCPU, data.data_ptr(), data.device(), data.nbytes());
    data = host;
  }
  std::string preamble = npy_preamble(descr, data.shape());
  uint64_t total = preamble.size() + data.nbytes();
  // 0666 as NumPy's own open() would: the umask decides.
  detail::AtomicFile tmp(path, "tl::save_npy", total, site, 0666);
  tmp.write(preamble);
  if (data.nbytes() > 0) tmp.write(data.data_ptr(), data.nbytes());
  tmp.commit();
}

Tensor load_npy(const std::string& path, Site site) {
  Reader reader(path, site);
  reader.open();
  const uint64_t size = reader.size();

  std::string magic(std::min<uint64_t>(size, kMagicSize), '\0');
  reader.read(0, magic.data(), magic.size());
  if (magic != std::string(kMagic, magic.size())) {
    reader.fail(0, "bad magic string: expected '\\x93NUMPY', found '" + escape(magic) + "' (not a .npy file)");
  }
  reader.require(0, kMagicSize, "the magic string '\\x93NUMPY'");
  unsigned char version[2];
  reader.require(kMagicSize, 2, "the format version");
  reader.read(kMagicSize, version, 2);
  if (version[0] < 1 || version[0] > 3 || version[1] != 0) {
    reader.fail(kMagicSize, "unsupported format version " + std::to_string(version[0]) + "." +
                                std::to_string(version[1]) + " (tl reads 1.0, 2.0 and 3.0)");
  }
  const uint64_t len_bytes = version[0] == 1 ? 2 : 4;
  const uint64_t len_at = kMagicSize + 2;
  reader.require(len_at, len_bytes, std::to_string(len_bytes) + "-byte header length");
  unsigned char len_raw[4] = {};
  reader.read(len_at, len_raw, len_bytes);
  const uint64_t header_len = detail::load_le(len_raw, static_cast<int>(len_bytes));
  const uint64_t header_at = len_at + len_bytes;
  if (header_at + header_len > size) {
    reader.fail(len_at, "header length " + std::to_string(header_len) + " runs past the end of the file: the header "
                        "needs bytes [" + std::to_string(header_at) + ", " + std::to_string(header_at + header_len) +
                        "), but the file ends at byte " + std::to_string(size));
  }
  if (header_len > kMaxHeaderBytes) {
    reader.fail(len_at, "header length " + std::to_string(header_len) + " exceeds the limit of " +
                            std::to_string(kMaxHeaderBytes) + " bytes");
  }
  std::string text(header_len, '\0');
  reader.read(header_at, text.data(), header_len);
  Header header = HeaderParser(reader, text, header_at).parse();
  uint64_t descr_at = header_at + text.find("descr");
  DType dtype = dtype_from_descr(reader, header.descr, descr_at);

  // All size math is overflow-checked before anything is allocated.
  uint64_t shape_at = header_at + text.find("shape");
  int64_t numel = 1;
  for (int64_t d : header.shape) {
    if (__builtin_mul_overflow(numel, d, &numel)) {
      reader.fail(shape_at, "the shape's element count overflows int64");
    }
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), static_cast<uint64_t>(dtype_size(dtype)), &nbytes) ||
      nbytes > std::numeric_limits<uint64_t>::max() - header_at - header_len) {
    reader.fail(shape_at, "the data size of the shape overflows 64 bits");
  }
  std::string shape_text = "(";
  for (size_t i = 0; i < header.shape.size(); ++i) shape_text += (i ? ", " : "") + std::to_string(header.shape[i]);
  shape_text += ")";
  const uint64_t data_at = header_at + header_len;
  const uint64_t data_end = data_at + nbytes;
  std::string data_what = "shape " + shape_text + " of '" + escape(header.descr) + "' needs bytes [" +
                          std::to_string(data_at) + ", " + std::to_string(data_end) + ")";
  if (data_end > size) {
    reader.fail(size, "truncated: " + data_what + ", but the file ends at byte " + std::to_string(size));
  }
  if (data_end < size) {
    reader.fail(data_end, std::to_string(size - data_end) + " unexpected bytes after the data: " + data_what +
                              ", but the file has " + std::to_string(size) + " bytes");
  }

  // Fortran order stores the transpose of the C-order layout.
  Shape stored;
  for (size_t i = 0; i < header.shape.size(); ++i)
    stored.push_back(header.shape[header.fortran_order ? header.shape.size() - 1 - i : i]);
  Tensor t = ops::empty_tensor(stored, dtype, kCPU, "load_npy", site);
  if (nbytes > 0) reader.read(data_at, t.data_ptr(), nbytes);
  if (dtype == kBool) {
    // Any nonzero byte is true; store 0/1 so the bools are valid C++ values.
    auto* p = static_cast<unsigned char*>(t.data_ptr());
    for (int64_t i = 0; i < numel; ++i) p[i] = p[i] != 0;
  }
  if (header.fortran_order && stored.size() > 1) {
    // The C-order tensor is the stored one with its dims reversed: a transposed view, copied.
    Shape shape, strides;
    for (int64_t d = stored.size() - 1; d >= 0; --d) {
      shape.push_back(stored[d]);
      strides.push_back(t.strides()[d]);
    }
    t = ops::contiguous_copy(ops::make_view(t, shape, strides, 0));
  }
  return t;
}

}  // namespace tl
