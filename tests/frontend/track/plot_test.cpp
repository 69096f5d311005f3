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

TEST_CASE("svg_plot marks each series' best point and switches to a log axis across decades", "[track]") {
  using tl::track::Series;
  Series loss{"loss", {{0, 2.0}, {1, 0.5}, {2, 0.01}, {3, 0.02}}};
  Series acc{"accuracy", {{0, 0.1}, {1, 0.9}, {2, 0.8}}, /*higher_is_better=*/true};
  std::string svg = tl::track::svg_plot({loss}, "t", "step", "loss");
  CHECK_THAT(svg, Catch::Contains("best 0.01 at step 2"));
  CHECK_THAT(svg, Catch::Contains("loss (log scale)"));  // 2 .. 0.01 spans more than two decades
  CHECK_THAT(svg, Catch::Contains(">0.1</text>") && Catch::Contains(">1</text>"));  // decade ticks
  svg = tl::track::svg_plot({acc}, "t", "step", "accuracy");
  CHECK_THAT(svg, Catch::Contains("best 0.9 at step 1"));
  CHECK_THAT(svg, !Catch::Contains("log scale"));  // 0.1 .. 0.9: one decade
  svg = tl::track::svg_plot({loss}, "t", "step", "loss", {.auto_log_y = false, .mark_best = false});
  CHECK_THAT(svg, !Catch::Contains("log scale") && !Catch::Contains("best "));
  CHECK(tl::track::higher_is_better("val_accuracy"));
  CHECK_FALSE(tl::track::higher_is_better("val_loss"));
  CHECK_FALSE(tl::track::higher_is_better("error_rate"));
}
