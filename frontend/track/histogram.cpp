// Run::log_histogram: value distributions (activations, gradients) as line-framed JSON; the
// reader of histograms.jsonl, its text views (tl-runs histograms) and its SVG plots.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "frontend/track/plot.h"
#include "frontend/track/run_files.h"
#include "frontend/track/tensorboard.h"
#include "runtime/logging.h"
#include "tl/run.h"

namespace tl {

void Run::log_histogram(std::string_view name, const Tensor& values, int64_t step, int bins, Site site) {
  if (bins < 1) throw ValueError("tl::Run::log_histogram: bins must be >= 1, got " + std::to_string(bins) + " at " + site.str());
  track::check_name_utf8(name, "histogram", "tl::Run::log_histogram at " + site.str());
  std::vector<double> v;
  {
    NoGradGuard no_grad;
    v = values.to_vector<double>(site);
  }
  double lo = INFINITY, hi = -INFINITY;
  int64_t non_finite = 0;
  for (double x : v) {
    if (!std::isfinite(x)) {
      ++non_finite;
      continue;
    }
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
  if (lo <= hi) {
    double width = hi > lo ? (hi - lo) / bins : 1.0;
    for (double x : v) {
      if (!std::isfinite(x)) continue;
      int64_t b = static_cast<int64_t>((x - lo) / width);
      counts[static_cast<size_t>(std::clamp<int64_t>(b, 0, bins - 1))] += 1;
    }
  } else {
    lo = hi = 0;
  }
  nlohmann::json record = {{"step", step}, {"name", std::string(name)}, {"min", lo},
                           {"max", hi},    {"counts", counts},          {"non_finite", non_finite}};
  std::string line = record.dump() + "\n";
  track::append_line(path() / "histograms.jsonl", line, "tl::Run::log_histogram", site);
  if (track::EventWriter* events = tensorboard()) {
    std::vector<double> edges;
    for (int i = 0; i <= bins; ++i) edges.push_back(lo + (hi - lo) * double(i) / double(bins));
    double sum = 0, sum_squares = 0;
    for (double x : v)
      if (std::isfinite(x)) {
        sum += x;
        sum_squares += x * x;
      }
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (std::string error = events->add_histogram(name, step, now, edges, counts, sum, sum_squares); !error.empty())
      throw IoError("tl::Run::log_histogram: " + error + " at " + site.str());
  }
}

namespace {

bool parse_histogram(std::string_view line, HistogramRecord& r) {
  if (track::record_nested_too_deep(line)) return false;
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  auto step = j.find("step"), name = j.find("name"), lo = j.find("min"), hi = j.find("max"), counts = j.find("counts"),
       non_finite = j.find("non_finite");
  if (step == j.end() || !step->is_number_integer() || name == j.end() || !name->is_string() || lo == j.end() ||
      !lo->is_number() || hi == j.end() || !hi->is_number() || counts == j.end() || !counts->is_array() ||
      counts->empty() || non_finite == j.end() || !non_finite->is_number_unsigned())
    return false;
  r.step = step->get<int64_t>();
  r.name = name->get<std::string>();
  r.min = lo->get<double>();
  r.max = hi->get<double>();
  if (!(r.min <= r.max)) return false;
  r.counts.clear();
  for (const auto& c : *counts) {
    if (!c.is_number_unsigned()) return false;
    r.counts.push_back(c.get<int64_t>());
  }
  r.non_finite = non_finite->get<int64_t>();
  return true;
}

// Each name's records in file order, names sorted.
std::map<std::string, std::vector<const HistogramRecord*>> by_name(const HistogramsFile& file) {
  std::map<std::string, std::vector<const HistogramRecord*>> out;
  for (const auto& r : file.records) out[r.name].push_back(&r);
  return out;
}

int64_t total(const HistogramRecord& r) {
  int64_t n = 0;
  for (int64_t c : r.counts) n += c;
  return n;
}

// The lower edge of bin `i` (i == bins: the upper edge of the last bin).
double edge(const HistogramRecord& r, size_t i) {
  return r.min + (r.max - r.min) * double(i) / double(r.counts.size());
}

// One character per bin, eight heights relative to the fullest bin; an empty bin is a space.
std::string sparkline(const HistogramRecord& r) {
  static const char* kLevels[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  int64_t most = *std::max_element(r.counts.begin(), r.counts.end());
  std::string out;
  for (int64_t c : r.counts) {
    if (c == 0 || most == 0) {
      out += ' ';
      continue;
    }
    out += kLevels[std::clamp<int64_t>((c * 8 + most - 1) / most - 1, 0, 7)];
  }
  return out;
}

// A bar of `fraction` x `width` characters in eighths.
std::string bar(double fraction, int width) {
  static const char* kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  int64_t eighths = std::llround(fraction * width * 8);
  std::string out;
  for (int64_t i = 0; i < eighths / 8; ++i) out += "█";
  out += kEighths[eighths % 8];
  if (eighths == 0 && fraction > 0) out += "▏";  // a non-empty bin always shows
  return out;
}

std::string counts_note(const HistogramRecord& r) {
  std::string s = fmt::format("{} values", total(r));
  if (r.non_finite > 0) s += fmt::format(", {} non-finite", r.non_finite);
  return s;
}

std::string file_safe(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ? c : '_';
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  return out;
}

}  // namespace

HistogramsFile read_histograms(const std::filesystem::path& file) {
  std::string text = track::read_run_file(file, track::kMaxRecordFileBytes);
  HistogramsFile out;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) {
      // No newline: the writer died inside this record.
      out.torn_tail = true;
      rt::logger("tl.run")->warn("{}: skipping a torn last record at line {} ({} bytes)", file.string(), line_no,
                                 text.size() - pos);
      break;
    }
    HistogramRecord r;
    if (parse_histogram(std::string_view(text.data() + pos, end - pos), r)) {
      out.records.push_back(std::move(r));
    } else {
      ++out.corrupt;
      rt::logger("tl.run")->warn("{}: skipping unreadable histogram record at line {}", file.string(), line_no);
    }
    pos = end + 1;
  }
  return out;
}

std::string show_histograms(const std::filesystem::path& run, const HistogramViewOptions& options) {
  HistogramsFile file = read_histograms(run / "histograms.jsonl");
  auto names = by_name(file);
  if (!options.name.empty() && !names.count(options.name)) {
    std::string logged;
    for (const auto& [name, records] : names) logged += (logged.empty() ? "'" : ", '") + name + "'";
    throw ValueError("tl::show_histograms: " + run.string() + " has no histogram named '" + options.name +
                     "' (it has " + (logged.empty() ? std::string("none") : logged) + ")");
  }
  std::string out;
  for (const auto& [name, records] : names) {
    if (!options.name.empty() && name != options.name) continue;
    if (options.last_only) {
      const HistogramRecord& r = *records.back();
      out += fmt::format("{} at step {}: {} in [{:.4g}, {:.4g}]\n", name, r.step, counts_note(r), r.min, r.max);
      int64_t most = *std::max_element(r.counts.begin(), r.counts.end());
      std::vector<std::string> ranges;
      size_t range_width = 0;
      for (size_t i = 0; i < r.counts.size(); ++i) {
        ranges.push_back(fmt::format("[{:.4g}, {:.4g}{}", edge(r, i), edge(r, i + 1), i + 1 == r.counts.size() ? "]" : ")"));
        range_width = std::max(range_width, ranges.back().size());
      }
      for (size_t i = 0; i < r.counts.size(); ++i) {
        std::string b = bar(most > 0 ? double(r.counts[i]) / double(most) : 0.0, options.width);
        // Pad by characters, not bytes: each block is three bytes of UTF-8.
        size_t shown = 0;
        for (unsigned char c : b) shown += (c & 0xC0) != 0x80;
        out += fmt::format("  {:<{}}  {}{} {}\n", ranges[i], range_width, b,
                           std::string(size_t(options.width) + 1 - std::min<size_t>(shown, size_t(options.width) + 1), ' '),
                           r.counts[i]);
      }
      continue;
    }
    size_t first = options.max_steps > 0 && records.size() > size_t(options.max_steps)
                       ? records.size() - size_t(options.max_steps)
                       : 0;
    out += fmt::format("{}: {} steps, {} bins{}\n", name, records.size(), records.back()->counts.size(),
                       first > 0 ? fmt::format(" (the last {} shown)", records.size() - first) : "");
    size_t step_width = std::to_string(records.back()->step).size();
    for (size_t i = first; i < records.size(); ++i) {
      const HistogramRecord& r = *records[i];
      std::string range = fmt::format("[{:.4g}, {:.4g}]", r.min, r.max);
      out += fmt::format("  step {:>{}}  {:<22} |{}|  {}\n", r.step, step_width, range, sparkline(r), counts_note(r));
    }
  }
  if (file.records.empty()) out += run.string() + ": histograms.jsonl holds no histograms\n";
  return out;
}

std::vector<std::filesystem::path> write_histogram_plots(const std::filesystem::path& run) {
  namespace fs = std::filesystem;
  HistogramsFile file = read_histograms(run / "histograms.jsonl");
  std::vector<fs::path> written;
  if (file.records.empty()) return written;
  fs::path dir = run / "histograms";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir)) throw IoError("tl::write_histogram_plots: cannot create " + dir.string() + ": " + ec.message());
  std::map<std::string, int> used;
  for (const auto& [name, records] : by_name(file)) {
    const HistogramRecord& r = *records.back();
    // The bins' outline: up the left edge, across each bin's count, down the right edge.
    track::Series series;
    series.label = fmt::format("step {}: {}", r.step, counts_note(r));
    double lo = r.min, hi = r.max;
    if (hi <= lo) lo -= 0.5, hi += 0.5;  // every value equal: one bin of width 1 around it
    auto x = [&](size_t i) { return lo + (hi - lo) * double(i) / double(r.counts.size()); };
    series.points.emplace_back(x(0), 0.0);
    for (size_t i = 0; i < r.counts.size(); ++i) {
      series.points.emplace_back(x(i), double(r.counts[i]));
      series.points.emplace_back(x(i + 1), double(r.counts[i]));
    }
    series.points.emplace_back(x(r.counts.size()), 0.0);
    std::string stem = file_safe(name);
    if (int n = used[stem]++; n > 0) stem += "-" + std::to_string(n + 1);  // two names, one file-safe form
    fs::path path = dir / (stem + ".svg");
    track::write_file_atomic(path, track::svg_plot({series}, name + " at step " + std::to_string(r.step), "value", "count",
                                                 {.auto_log_y = false, .mark_best = false}));
    written.push_back(path);
  }
  return written;
}

}  // namespace tl
