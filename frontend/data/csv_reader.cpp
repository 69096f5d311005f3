// tl::data::read_csv: one pass over the file held in memory, splitting RFC 4180 records into
// fields and converting numeric cells with fast_float as they are found.
#include <fast_float/fast_float.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <memory>
#include <new>
#include <string_view>
#include <unordered_map>

#include "frontend/io/json_limits.h"
#include "tl/data.h"
#include "tl/ops.h"

namespace tl::data {
namespace {

// Thrown inside the parser in TargetKind::kAuto when the target turns out to hold strings:
// the file is parsed again with class labels (usually this happens on the first row).
struct TargetIsClasses {};

// A cell as it appears to a user in a message: at most 40 bytes, control bytes escaped.
std::string shown(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 40; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 40) out += "...";
  return "'" + out + "'";
}

enum class NumberStatus { kOk, kEmpty, kNotNumber, kOverflow };

NumberStatus parse_float(std::string_view s, float& out) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  if (b == e) return NumberStatus::kEmpty;
  // fast_float follows std::from_chars, which rejects a leading '+'.
  if (s[b] == '+' && e - b > 1 && s[b + 1] != '-' && s[b + 1] != '+') ++b;
  auto r = fast_float::from_chars(s.data() + b, s.data() + e, out);
  if (r.ptr != s.data() + e) return NumberStatus::kNotNumber;
  if (r.ec == std::errc::result_out_of_range) return NumberStatus::kOverflow;
  if (r.ec != std::errc()) return NumberStatus::kNotNumber;
  if (std::isinf(out)) {
    // "inf" written out is accepted; a finite literal that rounds to infinity is not.
    for (size_t i = b; i < e; ++i)
      if (s[i] == 'i' || s[i] == 'I') return NumberStatus::kOk;
    return NumberStatus::kOverflow;
  }
  return NumberStatus::kOk;
}

struct Field {
  std::string_view text;
  size_t line;  // 1-based physical line and byte column where the field starts
  size_t column;
};

// Splits the buffer into records. Lines are counted at LF, CRLF and lone CR, also inside
// quoted fields, so that every message points at the physical line a text editor shows.
class Splitter {
 public:
  Splitter(const std::string& path, const char* begin, const char* end, char delimiter,
           size_t max_field_bytes, const std::string& where)
      : path_(path), where_(where), p_(begin), end_(end), line_start_(begin),
        delimiter_(delimiter), max_field_bytes_(max_field_bytes) {
    std::memset(special_, 0, sizeof special_);
    special_[static_cast<unsigned char>(delimiter)] = true;
    special_[static_cast<unsigned char>('\n')] = true;
    special_[static_cast<unsigned char>('\r')] = true;
    delimiter_bytes_ = kOnes * static_cast<unsigned char>(delimiter);
  }

  // Reads the next non-blank record into `fields`, at most `max_fields` of them; false at
  // the end of the file. `count` is the record's number of fields. Past `max_fields` the
  // rest of the record is only counted (with `count_all`) or not read at all, so a runaway
  // row costs no memory.
  bool next(std::vector<Field>& fields, size_t& record_line, size_t max_fields, size_t& count,
            bool count_all = true) {
    fields.clear();
    used_ = 0;
    count = 0;
    // Blank lines (anywhere) are skipped.
    while (p_ < end_ && (*p_ == '\n' || *p_ == '\r')) end_line();
    if (p_ >= end_) return false;
    record_line = line_;
    auto add = [&](const Field& f) {
      if (count++ < max_fields) fields.push_back(f);
    };
    for (;;) {
      if (count == max_fields && !count_all) {
        ++count;
        return true;
      }
      add(read_field());
      if (p_ >= end_) return true;
      char c = *p_;
      if (c == delimiter_) {
        ++p_;
        if (p_ >= end_ || *p_ == '\n' || *p_ == '\r') {
          // A delimiter ending the line opens one more (empty) field.
          add({std::string_view(), line_, column()});
        } else {
          continue;
        }
      }
      if (p_ < end_) end_line();
      return true;
    }
  }

  [[noreturn]] void fail(size_t line, size_t column, const std::string& what) const {
    throw IoError(path_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what + where_);
  }

 private:
  static constexpr uint64_t kOnes = 0x0101010101010101ull;
  static uint64_t has_zero(uint64_t v) { return (v - kOnes) & ~v & (kOnes * 0x80); }

  size_t column() const { return static_cast<size_t>(p_ - line_start_) + 1; }

  // At '\n', '\r' or "\r\n": steps past it.
  void end_line() {
    if (*p_ == '\r' && p_ + 1 < end_ && p_[1] == '\n') ++p_;
    ++p_;
    ++line_;
    line_start_ = p_;
  }

  Field read_field() {
    size_t line = line_, col = column();
    if (p_ < end_ && *p_ == '"') return read_quoted(line, col);
    const char* q = p_;
    // 8 bytes at a time: the lowest flagged byte of has_zero(w ^ c) is the first byte equal
    // to c (higher flags can be false positives, so only the lowest is used).
    while (q + 8 <= end_) {
      uint64_t w;
      std::memcpy(&w, q, 8);
      uint64_t hit = has_zero(w ^ delimiter_bytes_) | has_zero(w ^ (kOnes * '\n')) | has_zero(w ^ (kOnes * '\r'));
      if (hit) {
        q += __builtin_ctzll(hit) / 8;
        goto found;
      }
      q += 8;
    }
    while (q < end_ && !special_[static_cast<unsigned char>(*q)]) ++q;
  found:
    size_t n = static_cast<size_t>(q - p_);
    if (n > max_field_bytes_) too_long(line, col, n);
    Field f{std::string_view(p_, n), line, col};
    p_ = q;
    return f;
  }

  Field read_quoted(size_t open_line, size_t open_col) {
    ++p_;  // the opening quote
    const char* start = p_;
    std::string* unescaped = nullptr;  // set at the first doubled quote
    const char* run = start;           // start of the bytes not yet appended to *unescaped
    for (;;) {
      if (p_ >= end_)
        fail(open_line, open_col,
             "unterminated quoted field: the quote opened here is never closed (reached the end of "
             "the file at line " + std::to_string(line_) + ")");
      char c = *p_;
      if (c == '"') {
        if (p_ + 1 < end_ && p_[1] == '"') {
          if (!unescaped) {
            if (used_ == scratch_.size()) scratch_.emplace_back();
            unescaped = &scratch_[used_++];
            unescaped->clear();
          }
          unescaped->append(run, p_ + 1);  // keeps one of the two quotes
          p_ += 2;
          run = p_;
          if (unescaped->size() > max_field_bytes_) too_long(open_line, open_col, unescaped->size());
          continue;
        }
        break;
      }
      if (c == '\n' || c == '\r') {
        end_line();
      } else {
        ++p_;
      }
      size_t so_far = static_cast<size_t>(p_ - run) + (unescaped ? unescaped->size() : 0);
      if (so_far > max_field_bytes_) too_long(open_line, open_col, so_far);
    }
    std::string_view text;
    if (unescaped) {
      unescaped->append(run, p_);
      text = *unescaped;
    } else {
      text = std::string_view(start, static_cast<size_t>(p_ - start));
    }
    ++p_;  // the closing quote
    if (p_ < end_ && *p_ != delimiter_ && *p_ != '\n' && *p_ != '\r')
      fail(line_, column(),
           "expected a delimiter or the end of the line after a closing quote, found " +
               shown(std::string_view(p_, 1)));
    return {text, open_line, open_col};
  }

  [[noreturn]] void too_long(size_t line, size_t col, size_t n) const {
    fail(line, col,
         "field longer than max_field_bytes (" + std::to_string(max_field_bytes_) + " bytes): found at least " +
             std::to_string(n) +
             " bytes; raise CsvOptions::max_field_bytes if this is intended");
  }

  const std::string& path_;
  const std::string& where_;
  const char* p_;
  const char* end_;
  const char* line_start_;
  size_t line_ = 1;
  char delimiter_;
  size_t max_field_bytes_;
  bool special_[256];
  uint64_t delimiter_bytes_;
  std::deque<std::string> scratch_;  // unescaped quoted fields; a deque keeps views valid
  size_t used_ = 0;
};

// Interns strings to ids in order of first appearance.
struct Labels {
  std::unordered_map<std::string, int64_t> ids;
  std::vector<std::string> names;
  int64_t intern(std::string_view s) {
    auto it = ids.find(std::string(s));
    if (it != ids.end()) return it->second;
    int64_t id = static_cast<int64_t>(names.size());
    ids.emplace(std::string(s), id);
    names.emplace_back(s);
    return id;
  }
  // remap[old id] = new id, for LabelOrder::kSorted (numeric order when all are numbers).
  std::vector<int64_t> sorted_remap() {
    size_t k = names.size();
    std::vector<double> values(k);
    bool numeric = true;
    for (size_t i = 0; i < k && numeric; ++i) {
      const char* b = names[i].data();
      const char* e = b + names[i].size();
      auto r = fast_float::from_chars(b, e, values[i]);
      numeric = r.ec == std::errc() && r.ptr == e && !std::isnan(values[i]);
    }
    std::vector<int64_t> order(k);
    for (size_t i = 0; i < k; ++i) order[i] = static_cast<int64_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return numeric ? values[a] < values[b] : names[a] < names[b];
    });
    std::vector<int64_t> remap(k);
    std::vector<std::string> sorted(k);
    for (size_t i = 0; i < k; ++i) {
      remap[order[i]] = static_cast<int64_t>(i);
      sorted[i] = names[order[i]];
    }
    names = std::move(sorted);
    return remap;
  }
};

// Bytes as a person reads them: "41.3 GB".
std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n >= (uint64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.1f GB", double(n) / double(uint64_t{1} << 30));
  else std::snprintf(buf, sizeof buf, "%.1f MB", double(n) / double(1 << 20));
  return buf;
}

// Reads the whole file. The open does not block (a FIFO would wait for a writer forever) and
// anything but a regular file is refused by name, as is a file larger than physical memory
// (with overcommit its allocation could succeed and the reads then end in the OOM killer).
std::string read_file(const std::string& path, const std::string& where) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open for reading: " + std::strerror(errno) + where);
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw IoError(path + ": cannot stat: " + std::strerror(errno) + where);
  if (S_ISDIR(st.st_mode)) throw IoError(path + ": is a directory, expected a CSV file" + where);
  if (!S_ISREG(st.st_mode))
    throw IoError(path + ": is " + (S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket" : "a device") +
                  ", expected a regular CSV file" + where);
  const auto n = static_cast<uint64_t>(st.st_size);
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  const uint64_t memory = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
  if (memory > 0 && n > memory)
    throw IoError(path + ": the file holds " + std::to_string(n) + " bytes (" + human_bytes(n) +
                  "), more than this machine's memory (" + human_bytes(memory) +
                  "); read_csv reads the whole file into memory, so split the file" + where);
  std::string data;
  try {
    data.resize(static_cast<size_t>(n));
  } catch (const std::bad_alloc&) {
    throw IoError(path + ": cannot allocate " + std::to_string(n) + " bytes (" + human_bytes(n) +
                  ") to read the file into memory" + where);
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t got = ::read(fd, data.data() + done, data.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      throw IoError(path + ": read failed after " + std::to_string(done) + " of " + std::to_string(n) +
                    " bytes: " + std::strerror(errno) + where);
    if (got == 0) break;  // the file shrank while being read: parse what is there
    done += static_cast<size_t>(got);
  }
  data.resize(done);
  return data;
}

size_t line_of_offset(const std::string& data, size_t offset) {
  size_t line = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (data[i] == '\n') ++line;
    else if (data[i] == '\r' && (i + 1 >= data.size() || data[i + 1] != '\n')) ++line;
  }
  return line;
}

enum class Role : uint8_t { kSkip, kFeature, kTarget };

struct Parsed {
  std::vector<float> features;
  std::vector<float> target_values;
  std::vector<int64_t> target_ids;
  Labels target_labels;
  std::vector<std::unique_ptr<Labels>> categories;  // per feature; null unless categorical
  std::vector<std::string> feature_names;
  int64_t rows = 0;
};

Parsed parse(const std::string& path, const std::string& data, size_t body_offset, const CsvOptions& options,
             TargetKind kind, const std::string& where) {
  Splitter split(path, data.data() + body_offset, data.data() + data.size(), options.delimiter,
                 options.max_field_bytes, where);
  std::vector<Field> fields;
  size_t header_line = 0, nfields = 0;
  if (!split.next(fields, header_line, options.max_columns, nfields, /*count_all=*/false))
    throw IoError(path + ": empty file, expected a header row" + where);
  if (nfields > options.max_columns)
    throw IoError(path + ":" + std::to_string(header_line) + ": header has more than max_columns (" +
                  std::to_string(options.max_columns) +
                  ") columns; raise CsvOptions::max_columns if this is intended" + where);

  // ----- header -----
  // Names are looked up through a sorted index (8 bytes a column) rather than a hash map
  // (about 64), so a wide header stays cheap.
  std::vector<std::string> header;
  header.reserve(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].text.empty())
      split.fail(fields[i].line, fields[i].column,
                 "header: column " + std::to_string(i + 1) + " has an empty name, expected a column name");
    header.emplace_back(fields[i].text);
  }
  const size_t ncols = header.size();
  std::vector<size_t> by_name(ncols);
  for (size_t i = 0; i < ncols; ++i) by_name[i] = i;
  std::stable_sort(by_name.begin(), by_name.end(), [&](size_t a, size_t b) { return header[a] < header[b]; });
  size_t duplicate = ncols;  // the first column, in file order, whose name came before
  for (size_t k = 1; k < ncols; ++k)
    if (header[by_name[k]] == header[by_name[k - 1]]) duplicate = std::min(duplicate, by_name[k]);
  if (duplicate < ncols)
    split.fail(fields[duplicate].line, fields[duplicate].column, "header: duplicate column name " + shown(header[duplicate]));
  auto find_column = [&](const std::string& name, const char* what) {
    auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                               [&](size_t c, const std::string& n) { return header[c] < n; });
    if (it == by_name.end() || header[*it] != name) {
      std::string known;
      for (size_t i = 0; i < header.size() && i < 20; ++i) known += (i ? ", " : "") + shown(header[i]);
      throw IoError(path + ":" + std::to_string(header_line) + ": " + what + " " + shown(name) +
                    " is not in the header (columns: " + known + (header.size() > 20 ? ", ..." : "") + ")" +
                    where);
    }
    return *it;
  };

  std::vector<Role> role(ncols, Role::kSkip);
  std::vector<int64_t> feature_slot(ncols, -1);
  size_t target_col = ncols;
  if (!options.target.empty()) {
    target_col = find_column(options.target, "target column");
    role[target_col] = Role::kTarget;
  }
  Parsed out;
  std::vector<size_t> feature_cols;
  if (options.columns.empty()) {
    for (size_t i = 0; i < ncols; ++i)
      if (i != target_col) feature_cols.push_back(i);
  } else {
    for (const std::string& name : options.columns) {
      size_t c = find_column(name, "column");
      if (c == target_col)
        throw IoError(path + ": column " + shown(name) + " is the target; it cannot also be a feature" + where);
      if (feature_slot[c] >= 0)
        throw IoError(path + ": column " + shown(name) + " is selected twice in CsvOptions::columns" + where);
      feature_slot[c] = 0;
      feature_cols.push_back(c);
    }
  }
  for (size_t k = 0; k < feature_cols.size(); ++k) {
    role[feature_cols[k]] = Role::kFeature;
    feature_slot[feature_cols[k]] = static_cast<int64_t>(k);
    out.feature_names.push_back(header[feature_cols[k]]);
  }
  const size_t nfeat = feature_cols.size();
  out.categories.resize(nfeat);  // null for a numeric column
  std::vector<bool> is_categorical(ncols, false);
  for (const std::string& name : options.categorical) {
    size_t c = find_column(name, "categorical column");
    if (role[c] != Role::kFeature)
      throw IoError(path + ": categorical column " + shown(name) + " is not a selected feature column" + where);
    is_categorical[c] = true;
    out.categories[static_cast<size_t>(feature_slot[c])] = std::make_unique<Labels>();
  }

  // A guess at the row count from the first data line keeps reallocation rare.
  out.features.reserve(std::min<size_t>(data.size() / 2, nfeat * (data.size() / std::max<size_t>(ncols * 2, 1) + 1)));

  // ----- rows -----
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> row(nfeat);
  size_t record_line = 0;
  while (split.next(fields, record_line, ncols, nfields)) {
    if (nfields != ncols)
      throw IoError(path + ":" + std::to_string(record_line) + ": expected " + std::to_string(ncols) +
                    " fields, saw " + std::to_string(nfields) + where);
    for (size_t c = 0; c < ncols; ++c) {
      const Field& f = fields[c];
      if (role[c] == Role::kSkip) continue;
      if (role[c] == Role::kFeature) {
        size_t k = static_cast<size_t>(feature_slot[c]);
        if (is_categorical[c]) {
          if (f.text.empty())
            split.fail(f.line, f.column, "column " + shown(header[c]) + ": empty cell, expected a category");
          row[k] = static_cast<float>(out.categories[k]->intern(f.text));
          continue;
        }
        float v;
        switch (parse_float(f.text, v)) {
          case NumberStatus::kOk: break;
          case NumberStatus::kEmpty:
            if (options.missing == MissingPolicy::kNaN) {
              v = kNaN;
              break;
            }
            split.fail(f.line, f.column,
                       "column " + shown(header[c]) +
                           ": empty cell, expected a number (set CsvOptions::missing = MissingPolicy::kNaN "
                           "to read missing values as NaN)");
          case NumberStatus::kNotNumber:
            split.fail(f.line, f.column,
                       "column " + shown(header[c]) + ": expected a number, found " + shown(f.text) +
                           " (list the column in CsvOptions::categorical if it holds categories)");
          case NumberStatus::kOverflow:
            split.fail(f.line, f.column,
                       "column " + shown(header[c]) + ": " + shown(f.text) +
                           " overflows float32, expected a finite number of magnitude at most 3.4e38");
        }
        row[k] = v;
        continue;
      }
      // The target.
      if (kind == TargetKind::kClasses) {
        if (f.text.empty()) split.fail(f.line, f.column, "target column " + shown(header[c]) + ": empty cell, expected a label");
        out.target_ids.push_back(out.target_labels.intern(f.text));
        continue;
      }
      float v;
      switch (parse_float(f.text, v)) {
        case NumberStatus::kOk: break;
        case NumberStatus::kEmpty:
          if (options.missing == MissingPolicy::kNaN && kind == TargetKind::kNumber) {
            v = kNaN;
            break;
          }
          split.fail(f.line, f.column, "target column " + shown(header[c]) + ": empty cell, expected a value");
        case NumberStatus::kNotNumber:
          if (kind == TargetKind::kAuto) throw TargetIsClasses{};
          split.fail(f.line, f.column,
                     "target column " + shown(header[c]) + ": expected a number, found " + shown(f.text));
        case NumberStatus::kOverflow:
          split.fail(f.line, f.column,
                     "target column " + shown(header[c]) + ": " + shown(f.text) +
                         " overflows float32, expected a finite number of magnitude at most 3.4e38");
      }
      out.target_values.push_back(v);
    }
    out.features.insert(out.features.end(), row.begin(), row.end());
    ++out.rows;
  }
  if (out.rows == 0)
    throw IoError(path + ":" + std::to_string(header_line) +
                  ": header only, expected at least one data row after the header" + where);
  return out;
}

}  // namespace

// Turns a parsed table into a CsvDataset (a friend of it).
struct CsvBuilder {
  static std::shared_ptr<CsvDataset> build(std::string data, const std::string& path, const CsvOptions& options,
                                           const std::string& where);
};

std::shared_ptr<CsvDataset> CsvBuilder::build(std::string data, const std::string& path, const CsvOptions& options,
                                              const std::string& where) {
  if (options.delimiter == '"' || options.delimiter == '\n' || options.delimiter == '\r')
    throw ValueError("tl::data::read_csv: the delimiter cannot be a quote or a line break" + where);
  if (options.max_field_bytes == 0)
    throw ValueError("tl::data::read_csv: max_field_bytes must be at least 1" + where);
  if (options.max_columns == 0) throw ValueError("tl::data::read_csv: max_columns must be at least 1" + where);

  std::string why;
  size_t bad = detail::first_invalid_utf8(data, &why, /*nul_is_invalid=*/true).value_or(std::string::npos);
  if (bad != std::string::npos)
    throw IoError(path + ":" + std::to_string(line_of_offset(data, bad)) + ": " + why + " at byte offset " +
                  std::to_string(bad) + ", expected UTF-8 text" + where);
  size_t body = data.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;

  TargetKind kind = options.target.empty() ? TargetKind::kNumber : options.target_kind;
  Parsed p;
  try {
    p = parse(path, data, body, options, kind, where);
  } catch (const TargetIsClasses&) {
    kind = TargetKind::kClasses;
    p = parse(path, data, body, options, kind, where);
  }
  std::string().swap(data);

  auto ds = std::shared_ptr<CsvDataset>(new CsvDataset());
  const int64_t n = p.rows, f = static_cast<int64_t>(p.feature_names.size());
  for (size_t k = 0; k < p.categories.size(); ++k) {
    if (!p.categories[k]) continue;
    Labels& labels = *p.categories[k];
    if (labels.names.empty() || options.label_order != LabelOrder::kSorted) continue;
    std::vector<int64_t> remap = labels.sorted_remap();
    for (int64_t r = 0; r < n; ++r) {
      float& v = p.features[static_cast<size_t>(r * f) + k];
      v = static_cast<float>(remap[static_cast<size_t>(v)]);
    }
  }
  ds->features_ = empty({n, f}, {.dtype = kFloat32});
  if (n * f > 0) std::memcpy(ds->features_.data<float>(), p.features.data(), p.features.size() * sizeof(float));
  ds->feature_names_ = std::move(p.feature_names);
  ds->feature_categories_.resize(p.categories.size());
  for (size_t k = 0; k < p.categories.size(); ++k)
    if (p.categories[k]) ds->feature_categories_[k] = std::move(p.categories[k]->names);
  ds->target_name_ = options.target;
  if (options.target.empty()) return ds;
  if (kind == TargetKind::kClasses) {
    if (options.label_order == LabelOrder::kSorted) {
      std::vector<int64_t> remap = p.target_labels.sorted_remap();
      for (int64_t& id : p.target_ids) id = remap[static_cast<size_t>(id)];
    }
    ds->class_names_ = std::move(p.target_labels.names);
    ds->targets_ = from_vector(p.target_ids, {n}, {.dtype = kInt64});
  } else {
    ds->targets_ = from_vector(p.target_values, {n}, {.dtype = kFloat32});
  }
  return ds;
}

namespace {

// Builds the dataset; an allocation that fails part-way becomes an IoError naming the file
// and its size instead of a bare std::bad_alloc.
std::shared_ptr<CsvDataset> build_or_explain(std::string data, const std::string& path, const CsvOptions& options,
                                             const std::string& where) {
  const uint64_t bytes = data.size();
  try {
    return CsvBuilder::build(std::move(data), path, options, where);
  } catch (const std::bad_alloc&) {
    throw IoError(path + ": out of memory parsing the file (" + std::to_string(bytes) + " bytes, " +
                  human_bytes(bytes) + "): the table of float32 values and the file must both fit in memory" +
                  where);
  }
}

}  // namespace

std::shared_ptr<CsvDataset> read_csv(const std::string& path, const CsvOptions& options, Site site) {
  const std::string where = " (tl::data::read_csv at " + site.str() + ")";
  return build_or_explain(read_file(path, where), path, options, where);
}

std::shared_ptr<CsvDataset> parse_csv(std::string text, const CsvOptions& options, const std::string& name,
                                      Site site) {
  return build_or_explain(std::move(text), name, options, " (tl::data::parse_csv at " + site.str() + ")");
}

}  // namespace tl::data
