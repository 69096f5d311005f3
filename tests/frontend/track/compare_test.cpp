// tl-runs and compare_runs: listing, the comparison table (only differing config keys,
// final and best values, sorted) and the combined plot.
#include <catch2/catch.hpp>
#include <tl/tl.h>

#include <cstdio>

#include "tests/frontend/track/track_test_util.h"

namespace fs = std::filesystem;
using tl::test::count;
using tl::test::ScratchDir;
using tl::test::run_command;

namespace {

// Three runs: lr and width differ, opt does not. Final losses 0.5, 0.25, 0.75; bests 0.5,
// 0.25, 0.125.
void make_runs(const fs::path& root) {
  tl::RunOptions options;
  options.root = root;
  options.print_summary = false;
  struct Spec {
    double lr;
    int width;
    std::vector<double> losses;
  };
  for (auto& spec : std::vector<Spec>{{0.1, 16, {2.0, 1.0, 0.5}},
                                      {0.01, 16, {2.0, 0.25}},
                                      {0.001, 32, {2.0, 0.125, 0.75}}}) {
    tl::Run run("sweep", {{"lr", spec.lr}, {"width", spec.width}, {"opt", "adam"}}, options);
    for (double v : spec.losses) run.log("loss", v);
  }
}

}  // namespace

TEST_CASE("tl-runs compare prints differing config keys and final and best values, sorted", "[track]") {
  ScratchDir dir;
  make_runs(dir.path);
  fs::path plot = dir.path / "loss.svg";
  int status = 0;
  std::string out = run_command(std::string(TL_RUNS_PATH) + " compare " + dir.path.string() +
                                    " --metric loss --sort final --plot " + plot.string() + " 2>&1",
                                &status);
  INFO(out);
  REQUIRE(status == 0);
  std::string header = out.substr(0, out.find('\n'));
  CHECK(header.find("lr") != std::string::npos);
  CHECK(header.find("width") != std::string::npos);
  CHECK(header.find("opt") == std::string::npos);  // same in every run
  CHECK(header.find("final loss") != std::string::npos);
  CHECK(header.find("best loss") != std::string::npos);
  // Sorted by final loss: 0.25 (lr 0.01), 0.5 (lr 0.1), 0.75 (lr 0.001).
  size_t a = out.find("0.01 "), b = out.find("0.1 "), c = out.find("0.001 ");
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  REQUIRE(c != std::string::npos);
  CHECK(a < b);
  CHECK(b < c);
  for (const char* v : {"0.25", "0.5", "0.75", "0.125", "32"}) CHECK(out.find(v) != std::string::npos);
  std::string svg = tl::test::read_text(plot);
  CHECK(count(svg, "<polyline") == 3);
  // Each curve is named by what differs between the runs, and its best point is marked.
  CHECK_THAT(svg, Catch::Contains(">lr=0.001 width=32</text>"));
  CHECK_THAT(svg, Catch::Contains("best 0.125 at step 1"));

  // Sorted by best instead: 0.125 first.
  std::string best = tl::compare_runs(dir.path, {.metric = "loss", .sort = "best"});
  CHECK(best.find("0.001 ") < best.find("0.01 "));
  CHECK_THROWS_AS(tl::compare_runs(dir.path, {.sort = "median"}), tl::ValueError);
}

TEST_CASE("tl-runs list shows every run with its status and config", "[track]") {
  ScratchDir dir;
  make_runs(dir.path);
  int status = 0;
  std::string out = run_command(std::string(TL_RUNS_PATH) + " list " + dir.path.string(), &status);
  INFO(out);
  CHECK(status == 0);
  CHECK(count(out, "sweep/") == 3);
  CHECK(count(out, "finished") == 3);
  CHECK(out.find("lr=0.001") != std::string::npos);
  CHECK(!run_command(std::string(TL_RUNS_PATH) + " frobnicate 2>&1", &status).empty());
  CHECK(status != 0);
}
