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
};

// At most this many points per polyline; longer series are thinned by bucket means.
inline constexpr size_t kMaxPlotPoints = 2000;

// A complete SVG document: axes with ticks, one polyline per non-empty series, a legend.
// Non-finite values are left out.
std::string svg_plot(const std::vector<Series>& series, const std::string& title,
                     const std::string& x_label, const std::string& y_label);

// A `width` x `height` character chart of one series with its y range and step range.
std::string text_chart(const Series& series, int width = 60, int height = 10);

}  // namespace tl::track
