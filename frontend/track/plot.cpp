// SVG and terminal charts of metric series, written by hand (no plotting dependency).
#include "frontend/track/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>

namespace tl::track {
namespace {

std::vector<std::pair<double, double>> finite_points(const Series& s) {
  std::vector<std::pair<double, double>> out;
  out.reserve(s.points.size());
  for (auto& p : s.points)
    if (std::isfinite(p.first) && std::isfinite(p.second)) out.push_back(p);
  if (out.size() <= kMaxPlotPoints) return out;
  // Bucket means keep the curve's shape; every bucket holds at least one point.
  std::vector<std::pair<double, double>> thin;
  thin.reserve(kMaxPlotPoints);
  for (size_t b = 0; b < kMaxPlotPoints; ++b) {
    size_t lo = b * out.size() / kMaxPlotPoints, hi = (b + 1) * out.size() / kMaxPlotPoints;
    double x = 0, y = 0;
    for (size_t i = lo; i < hi; ++i) x += out[i].first, y += out[i].second;
    thin.emplace_back(x / double(hi - lo), y / double(hi - lo));
  }
  return thin;
}

// "Nice" tick positions (1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int target = 6) {
  double span = hi - lo;
  double raw = span / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) { step = m * mag; break; }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return out;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

}  // namespace

bool higher_is_better(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("loss") != std::string::npos || lower.find("err") != std::string::npos) return false;
  for (const char* up : {"acc", "auc", "f1", "precision", "recall", "score", "reward"})
    if (lower.find(up) != std::string::npos) return true;
  return false;
}

std::string svg_plot(const std::vector<Series>& series, const std::string& title,
                     const std::string& x_label, const std::string& y_label, const PlotOptions& options) {
  constexpr double W = 720, H = 440, L = 70, R = 200, T = 40, B = 50;
  std::vector<std::vector<std::pair<double, double>>> pts;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  // Each series' best point, found before thinning (a bucket mean would hide the extreme).
  std::vector<std::optional<std::pair<double, double>>> best;
  for (auto& s : series) {
    std::optional<std::pair<double, double>> b;
    for (auto& p : s.points) {
      if (!std::isfinite(p.first) || !std::isfinite(p.second)) continue;
      if (!b || (s.higher_is_better ? p.second > b->second : p.second < b->second)) b = p;
    }
    best.push_back(b);
    pts.push_back(finite_points(s));
    for (auto& [x, y] : pts.back()) {
      x0 = std::min(x0, x), x1 = std::max(x1, x);
      y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  // Log scale: plot log10(y) and label the ticks with the values.
  const bool log_y = options.auto_log_y && y0 > 0 && std::isfinite(y0) && y1 / y0 >= 100;
  if (log_y) {
    for (auto& p : pts)
      for (auto& [x, y] : p) y = std::log10(y);
    y0 = std::log10(y0), y1 = std::log10(y1);
  }
  if (!(x0 <= x1)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-12 * std::max(1.0, std::abs(y0))) y0 -= 0.5, y1 += 0.5;
  double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  auto sx = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto sy = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };

  std::string out = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{3}</text>\n",
      W, H, (L + W - R) / 2, escape(title));
  // Axes.
  out += fmt::format("<g stroke=\"black\"><line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>"
                     "<line x1=\"{0}\" y1=\"{3}\" x2=\"{0}\" y2=\"{1}\"/></g>\n",
                     L, H - B, W - R, T);
  for (double t : ticks(x0, x1)) {
    double x = sx(t);
    out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"black\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4:g}</text>\n",
                       x, H - B, H - B + 5, H - B + 18, t);
  }
  // On a log axis the ticks are whole decades (or, within less than two, the nice ticks of
  // the exponent), labelled with the value.
  std::vector<double> y_ticks = ticks(y0, y1);
  if (log_y) {
    std::vector<double> decades;
    for (double e = std::ceil(y0); e <= y1; e += 1) decades.push_back(e);
    if (decades.size() >= 2) y_ticks = decades;
  }
  for (double t : y_ticks) {
    double y = sy(t);
    out += fmt::format("<line x1=\"{0}\" y1=\"{2:.1f}\" x2=\"{1}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
                       "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5:.4g}</text>\n",
                       L, W - R, y, L - 6, y + 4, log_y ? std::pow(10.0, t) : t);
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (L + W - R) / 2,
                     H - 12, escape(x_label));
  out += fmt::format("<text x=\"16\" y=\"{0}\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 16 {0})\">{1}</text>\n",
                     (T + H - B) / 2, escape(log_y ? y_label + " (log scale)" : y_label));
  // One polyline per series, and its legend entry.
  int shown = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    if (pts[i].empty()) continue;
    const char* color = kColors[shown % std::size(kColors)];
    out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"", color);
    for (size_t j = 0; j < pts[i].size(); ++j)
      out += fmt::format("{}{:.2f},{:.2f}", j ? " " : "", sx(pts[i][j].first), sy(pts[i][j].second));
    out += "\"/>\n";
    double ly = T + 10 + 30 * shown;
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" "
                       "stroke-width=\"3\"/><text x=\"{4}\" y=\"{5}\">{6}</text>\n",
                       W - R + 12, ly, W - R + 32, color, W - R + 38, ly + 4,
                       escape(series[i].label));
    if (options.mark_best && best[i]) {
      const double bx = best[i]->first, by = log_y ? std::log10(best[i]->second) : best[i]->second;
      out += fmt::format("<circle class=\"best\" cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"4\" fill=\"{}\" stroke=\"black\"/>"
                         "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#555\">best {:.4g} at step {:g}</text>\n",
                         sx(bx), sy(by), color, W - R + 38, ly + 16, best[i]->second, bx);
    }
    ++shown;
  }
  out += "</svg>\n";
  return out;
}

std::string text_chart(const Series& series, int width, int height) {
  auto pts = finite_points(series);
  if (pts.empty()) return series.label + ": no finite values\n";
  double y0 = pts[0].second, y1 = y0;
  for (auto& p : pts) y0 = std::min(y0, p.second), y1 = std::max(y1, p.second);
  if (y1 - y0 < 1e-300) y1 = y0 + 1;
  // Each column shows the mean of its share of the points.
  int cols = std::min<int>(width, int(pts.size()));
  std::vector<std::string> grid(height, std::string(cols, ' '));
  for (int c = 0; c < cols; ++c) {
    size_t lo = size_t(c) * pts.size() / cols, hi = size_t(c + 1) * pts.size() / cols;
    double y = 0;
    for (size_t i = lo; i < hi; ++i) y += pts[i].second;
    y /= double(hi - lo);
    int row = int(std::lround((y1 - y) / (y1 - y0) * (height - 1)));
    grid[std::clamp(row, 0, height - 1)][c] = '*';
  }
  std::string out = series.label + "\n";
  for (int r = 0; r < height; ++r) {
    std::string label = r == 0 ? fmt::format("{:.4g}", y1)
                        : r == height - 1 ? fmt::format("{:.4g}", y0) : "";
    out += fmt::format("{:>10} |{}\n", label, grid[r]);
  }
  out += fmt::format("{:>10} +{}\n", "", std::string(cols, '-'));
  out += fmt::format("{:>10}  step {:g} .. {:g}\n", "", pts.front().first, pts.back().first);
  return out;
}

}  // namespace tl::track
