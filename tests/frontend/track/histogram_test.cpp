// Run::log_histogram's records read back, their text views (show_histograms, tl-runs
// histograms) and the SVG of each last histogram written at close.
#include <catch2/catch.hpp>
#include <tl/tl.h>

#include <cmath>
#include <cstdio>

#include "tests/frontend/track/track_test_util.h"

namespace fs = std::filesystem;
using tl::test::count;
using tl::test::read_text;
using tl::test::ScratchDir;
using tl::test::quiet;
using tl::test::run_command;

namespace {

// A run with histograms "act/fc1" at steps 0, 10, 20 (0..9 plus 10*step, 5 bins) and
// "grad" at step 20 (one NaN among 1, 1, 1, 4).
fs::path make_run(const fs::path& root) {
  tl::Run run("hist", {}, quiet(root));
  for (int64_t step : {0, 10, 20}) {
    std::vector<float> v;
    for (int i = 0; i < 10; ++i) v.push_back(float(i + step));
    run.log_histogram("act/fc1", tl::from_vector<float>(v, {10}), step, 5);
  }
  run.log_histogram("grad", tl::from_vector<float>({1, 1, 1, 4, NAN}, {5}), 20, 3);
  return run.path();
}

}  // namespace

TEST_CASE("histograms logged by a run read back with their bins, and a torn last line is skipped", "[track]") {
  ScratchDir dir;
  fs::path run = make_run(dir.path);
  tl::HistogramsFile file = tl::read_histograms(run / "histograms.jsonl");
  REQUIRE(file.records.size() == 4);
  CHECK_FALSE(file.torn_tail);
  const auto& first = file.records[0];
  CHECK(first.name == "act/fc1");
  CHECK(first.step == 0);
  CHECK(first.min == 0);
  CHECK(first.max == 9);
  CHECK(first.counts == std::vector<int64_t>{2, 2, 2, 2, 2});
  CHECK(file.records[2].min == 20);
  const auto& grad = file.records[3];
  CHECK(grad.counts == std::vector<int64_t>{3, 0, 1});
  CHECK(grad.non_finite == 1);

  // A crash mid-write leaves a line without its newline; a damaged line in the middle is counted.
  std::string text = read_text(run / "histograms.jsonl");
  tl::test::write_text(run / "histograms.jsonl", "{\"step\": oops}\n" + text + "{\"step\":30,\"name\":\"gr");
  file = tl::read_histograms(run / "histograms.jsonl");
  CHECK(file.records.size() == 4);
  CHECK(file.torn_tail);
  CHECK(file.corrupt == 1);
  CHECK_THROWS_AS(tl::read_histograms(dir.path / "absent.jsonl"), tl::IoError);
}

TEST_CASE("show_histograms prints one sparkline per logged step, or the last step's bins as bars", "[track]") {
  ScratchDir dir;
  fs::path run = make_run(dir.path);
  std::string all = tl::show_histograms(run);
  INFO(all);
  CHECK(all.find("act/fc1: 3 steps, 5 bins\n") != std::string::npos);
  CHECK(all.find("  step  0  [0, 9]                 |█████|  10 values\n") != std::string::npos);
  CHECK(all.find("  step 20  [20, 29]               |█████|  10 values\n") != std::string::npos);
  // 3, 0 and 1 of at most 3: full, empty, a third (rounded up to three eighths).
  CHECK(all.find("grad: 1 steps, 3 bins\n  step 20  [1, 4]                 |█ ▃|  4 values, 1 non-finite\n") !=
        std::string::npos);
  CHECK(all.find("act/fc1") < all.find("grad"));  // names in order

  std::string limited = tl::show_histograms(run, {.name = "act/fc1", .max_steps = 2});
  CHECK(limited.find("(the last 2 shown)") != std::string::npos);
  CHECK(limited.find("step  0") == std::string::npos);
  CHECK(limited.find("step 10") != std::string::npos);
  CHECK(limited.find("grad") == std::string::npos);

  std::string last = tl::show_histograms(run, {.name = "grad", .last_only = true, .width = 8});
  INFO(last);
  CHECK(last == "grad at step 20: 4 values, 1 non-finite in [1, 4]\n"
                "  [1, 2)  ████████  3\n"
                "  [2, 3)            0\n"
                "  [3, 4]  ██▋       1\n");

  try {
    tl::show_histograms(run, {.name = "weights"});
    FAIL("an unknown name must throw");
  } catch (const tl::ValueError& e) {
    CHECK_THAT(e.what(), Catch::Contains("no histogram named 'weights' (it has 'act/fc1', 'grad')"));
  }
}

TEST_CASE("closing a run draws the last histogram of each name as an SVG", "[track]") {
  ScratchDir dir;
  fs::path run = make_run(dir.path);  // closed when make_run returns
  fs::path act = run / "histograms" / "act_fc1.svg", grad = run / "histograms" / "grad.svg";
  REQUIRE(fs::is_regular_file(act));
  REQUIRE(fs::is_regular_file(grad));
  std::string svg = read_text(act);
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("act/fc1 at step 20") != std::string::npos);
  CHECK(svg.find("step 20: 10 values") != std::string::npos);
  CHECK(count(svg, "<polyline") == 1);
  CHECK(read_text(grad).find("1 non-finite") != std::string::npos);

  // Two names with one file-safe form get distinct files.
  {
    tl::Run clash("clash", {}, quiet(dir.path));
    clash.log_histogram("a/b", tl::ones({4}), 0);
    clash.log_histogram("a:b", tl::ones({4}), 0);
    auto paths = tl::write_histogram_plots(clash.path());
    REQUIRE(paths.size() == 2);
    CHECK(paths[0].filename() == "a_b.svg");
    CHECK(paths[1].filename() == "a_b-2.svg");
  }
  // A run without histograms writes no histograms folder.
  tl::Run plain("plain", {}, quiet(dir.path));
  plain.log("loss", 1.0);
  plain.close();
  CHECK_FALSE(fs::exists(plain.path() / "histograms"));
}

TEST_CASE("tl-runs histograms prints a run's histograms and writes their SVGs", "[track]") {
  ScratchDir dir;
  fs::path run = make_run(dir.path);
  fs::remove_all(run / "histograms");
  int status = 0;
  std::string out = run_command(std::string(TL_RUNS_PATH) + " histograms " + run.string() + " 2>&1", &status);
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("act/fc1: 3 steps, 5 bins") != std::string::npos);
  CHECK(count(out, "  step ") == 4);

  out = run_command(std::string(TL_RUNS_PATH) + " histograms " + run.string() + " grad --last --svg 2>&1", &status);
  CHECK(status == 0);
  CHECK(out.find("grad at step 20: 4 values, 1 non-finite in [1, 4]") != std::string::npos);
  CHECK(out.find("act/fc1") == std::string::npos);
  CHECK(out.find("plot: " + (run / "histograms" / "grad.svg").string()) != std::string::npos);
  CHECK(fs::is_regular_file(run / "histograms" / "act_fc1.svg"));

  out = run_command(std::string(TL_RUNS_PATH) + " histograms " + run.string() + " nope 2>&1", &status);
  CHECK(status != 0);
  CHECK(out.find("no histogram named 'nope'") != std::string::npos);
  out = run_command(std::string(TL_RUNS_PATH) + " histograms " + (dir.path / "missing").string() + " 2>&1", &status);
  CHECK(status != 0);
  CHECK(out.find("cannot open") != std::string::npos);
}
