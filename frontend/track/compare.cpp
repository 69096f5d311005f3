// compare_runs: one table of several runs (differing config keys, final and best metric),
// and optionally one SVG of the metric across runs. Used by tl-runs and the examples.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "frontend/track/plot.h"
#include "frontend/track/run_files.h"

namespace tl {

std::string compare_runs(const std::filesystem::path& root, const CompareOptions& options) {
  if (options.sort != "final" && options.sort != "best")
    throw ValueError("tl::compare_runs: sort must be \"final\" or \"best\", got \"" + options.sort + "\"");
  struct Row {
    RunInfo info;
    std::map<std::string, std::string> config;
    std::optional<double> final, best;
    int64_t steps = 0;
    track::Series series;
  };
  std::vector<Row> rows;
  std::vector<std::string> keys;  // first-seen order
  for (auto& info : list_runs(root)) {
    Row row;
    for (auto& [k, v] : info.config) {
      row.config[k] = v.str();
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
    row.series.label = info.name + "/" + info.id;
    std::error_code ec;
    if (std::filesystem::exists(info.path / "metrics.jsonl", ec)) {
      for (auto& r : read_metrics(info.path / "metrics.jsonl").records) {
        if (r.name != options.metric) continue;
        row.series.points.emplace_back(double(r.step), r.value);
        ++row.steps;
        row.final = r.value;
        if (std::isfinite(r.value) &&
            (!row.best || (options.maximize ? r.value > *row.best : r.value < *row.best)))
          row.best = r.value;
      }
    }
    row.info = std::move(info);
    rows.push_back(std::move(row));
  }
  // Only the keys whose value (or absence) differs between runs.
  std::vector<std::string> differing;
  for (auto& k : keys) {
    std::set<std::string> values;
    for (auto& row : rows) values.insert(row.config.count(k) ? "=" + row.config[k] : "missing");
    if (values.size() > 1) differing.push_back(k);
  }
  auto key_of = [&](const Row& r) { return options.sort == "final" ? r.final : r.best; };
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    auto x = key_of(a), y = key_of(b);
    bool xf = x && std::isfinite(*x), yf = y && std::isfinite(*y);
    if (xf != yf) return xf;
    if (!xf) return false;
    return options.maximize ? *x > *y : *x < *y;
  });

  std::vector<std::string> header{"run"};
  for (auto& k : differing) header.push_back(k);
  header.push_back("final " + options.metric);
  header.push_back("best " + options.metric);
  header.push_back("steps");
  std::vector<std::vector<std::string>> table{header};
  auto num = [](const std::optional<double>& v) { return v ? fmt::format("{:.6g}", *v) : "-"; };
  for (auto& row : rows) {
    std::vector<std::string> cells{row.series.label};
    for (auto& k : differing) cells.push_back(row.config.count(k) ? row.config[k] : "-");
    cells.push_back(num(row.final));
    cells.push_back(num(row.best));
    cells.push_back(std::to_string(row.steps));
    table.push_back(std::move(cells));
  }
  std::vector<size_t> width(header.size(), 0);
  for (auto& cells : table)
    for (size_t c = 0; c < cells.size(); ++c) width[c] = std::max(width[c], cells[c].size());
  std::string out;
  for (size_t r = 0; r < table.size(); ++r) {
    for (size_t c = 0; c < table[r].size(); ++c) {
      if (c == 0) out += fmt::format("{:<{}}", table[r][c], width[c]);
      else out += fmt::format("  {:>{}}", table[r][c], width[c]);
    }
    out += '\n';
    if (r == 0) out += std::string(out.size() - 1, '-') + '\n';
  }
  if (rows.empty()) out += "(no runs under " + root.string() + ")\n";
  out += fmt::format("sorted by {} {} ({} is better)\n", options.sort, options.metric,
                     options.maximize ? "higher" : "lower");

  if (!options.plot.empty()) {
    // Each curve is named by what differs between the runs ("lr=0.03 width=32"), the run's
    // id only when nothing does.
    std::vector<track::Series> series;
    for (auto& row : rows) {
      std::string label;
      for (auto& k : differing)
        label += (label.empty() ? "" : " ") + k + "=" + (row.config.count(k) ? row.config[k] : "-");
      if (!label.empty()) row.series.label = label;
      row.series.higher_is_better = options.maximize;
      series.push_back(std::move(row.series));
    }
    track::write_file_atomic(options.plot, track::svg_plot(series, options.metric + " across runs", "step",
                                                           options.metric));
  }
  return out;
}

}  // namespace tl
