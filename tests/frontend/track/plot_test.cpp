// svg_plot and text_chart: thinning of long series, non-finite values, the terminal chart.
#include <catch2/catch.hpp>

#include <cmath>

#include "frontend/track/plot.h"
#include "tests/frontend/track/track_test_util.h"

using tl::test::count;
using tl::track::Series;

TEST_CASE("svg_plot thins long series and leaves out non-finite values", "[track]") {
  Series longer{"loss", {}}, holes{"acc", {{0, 1.0}, {1, NAN}, {2, INFINITY}, {3, 0.5}}};
  for (int i = 0; i < 10'000; ++i) longer.points.emplace_back(i, 1.0 / (i + 1));
  std::string svg = tl::track::svg_plot({longer, holes, Series{"empty", {}}}, "t", "step", "value");
  CHECK(count(svg, "<polyline") == 2);  // the empty series draws nothing
  size_t first = svg.find("points=\""), second = svg.find("points=\"", first + 1);
  CHECK(count(svg.substr(first, second - first), ",") == tl::track::kMaxPlotPoints);
  CHECK(count(svg.substr(second, svg.find('"', second + 8) - second), ",") == 2);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
}

TEST_CASE("text_chart draws one mark per column between the min and max labels", "[track]") {
  Series s{"loss", {}};
  for (int i = 0; i < 100; ++i) s.points.emplace_back(i, 100.0 - i);
  std::string chart = tl::track::text_chart(s, 50, 8);
  CHECK(chart.rfind("loss\n", 0) == 0);
  CHECK(count(chart, "*") == 50);
  CHECK(chart.find("       100 |") != std::string::npos);  // the y range
  CHECK(chart.find("         1 |") != std::string::npos);
  CHECK(chart.find("step 0 .. 99") != std::string::npos);
  CHECK(count(chart, "\n") == 1 + 8 + 2);
  // The first column is on the top row, the last on the bottom row.
  auto line = [&](int i) {
    size_t pos = 0;
    for (int k = 0; k < i; ++k) pos = chart.find('\n', pos) + 1;
    return chart.substr(pos, chart.find('\n', pos) - pos);
  };
  CHECK(line(1).substr(line(1).find('|') + 1, 1) == "*");
  CHECK(line(8).back() == '*');
}
