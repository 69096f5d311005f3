// Hand-written plots for run folders: an SVG line chart (plot.svg, tl-runs compare --plot)
// and a small text chart for the terminal.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tl::track {

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (step, value), in step order
  bool higher_is_better = false;  // which point is its best (PlotOptions::mark_best)
};

// Whether a metric named `name` improves upward: accuracy, AUC, F1, precision, recall, score,
// reward (by name); losses and errors improve downward.
bool higher_is_better(const std::string& name);

// At most this many points per polyline; longer series are thinned by bucket means.
inline constexpr size_t kMaxPlotPoints = 2000;

struct PlotOptions {
  // A log-scale y axis when every value is positive and they span at least two decades
  // (a loss falling from 2 to 0.001 then reads as a line, not a cliff and a flat tail).
  bool auto_log_y = true;
  // Mark each series' best point (a dot, its value and step in the legend): the lowest, or
  // the highest for a series with `higher_is_better`.
  bool mark_best = true;
};

// A complete SVG document: axes with ticks, one polyline per non-empty series, a legend.
// Non-finite values are left out.
std::string svg_plot(const std::vector<Series>& series, const std::string& title,
                     const std::string& x_label, const std::string& y_label, const PlotOptions& options = {});

// A `width` x `height` character chart of one series with its y range and step range.
std::string text_chart(const Series& series, int width = 60, int height = 10);

}  // namespace tl::track
