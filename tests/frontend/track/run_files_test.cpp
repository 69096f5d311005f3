// read_metrics: complete records are read, a torn last record is skipped, a corrupt line in
// the middle is skipped and counted. Hostile run folders: deeply nested JSON and FIFOs in
// place of the run's files are refused by name, without a stack overflow or a hang. Writes of
// run files survive a failure at each of their I/O calls.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <tl/tl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "frontend/track/run_files.h"
#include "runtime/base/file_io.h"
#include "tests/frontend/track/track_test_util.h"
#include "tests/support/spawn_self.h"

namespace fs = std::filesystem;
using Catch::Contains;
using tl::test::quiet;
using tl::test::ScratchDir;
using tl::test::write_text;

namespace {

// The message of the IoError `fn` throws, or "(no error)".
template <class F>
std::string io_error_of(F fn) {
  try {
    fn();
  } catch (const tl::IoError& e) {
    return e.what();
  }
  return "(no error)";
}

// Two closed runs under `root` (the first with a metric and a histogram); returns their folders.
std::pair<fs::path, fs::path> two_runs(const fs::path& root) {
  fs::path a, b;
  {
    tl::Run run("hostile", {{"lr", 0.1}}, quiet(root));
    run.log("loss", 1.0);
    run.log_histogram("w", tl::ones({4}), 0);
    a = run.path();
  }
  {
    tl::Run run("hostile", {{"lr", 0.2}}, quiet(root));
    b = run.path();
  }
  return {a, b};
}

// Runs the hidden test case `name` in a child process with TL_TEST_ROOT=`root`; a stack
// overflow or a hang there fails this test instead of ending the test runner.
void run_child(const std::string& name, const fs::path& root) {
  pid_t child = tl::testing::spawn_self(name, {"TL_TEST_ROOT=" + root.string()});
  int status = tl::test::wait_or_kill(child, 120);
  INFO("child status " << status << " (-1: hung and killed; 128 + n: killed by signal n)");
  CHECK(status == 0);
}

}  // namespace

TEST_CASE("read_metrics reads every complete record of every truncated metrics file", "[track]") {
  ScratchDir dir;
  fs::path path;
  {
    tl::RunOptions options;
    options.root = dir.path;
    options.print_summary = false;
    tl::Run run("sweep", {}, options);
    for (int i = 0; i < 6; ++i) run.log(i % 2 ? "acc" : "loss", 0.125 * i);
    path = run.path();
  }
  std::string full = tl::test::read_text(path / "metrics.jsonl");
  REQUIRE(tl::test::count(full, "\n") == 6);
  fs::path cut = dir.path / "cut.jsonl";
  for (size_t length = 0; length <= full.size(); ++length) {
    std::string prefix = full.substr(0, length);
    tl::test::write_text(cut, prefix);
    auto file = tl::read_metrics(cut);
    size_t complete = tl::test::count(prefix, "\n");
    INFO("prefix of " << length << " bytes");
    REQUIRE(file.records.size() == complete);
    CHECK(file.torn_tail == (length > 0 && prefix.back() != '\n'));
    CHECK(file.corrupt == 0);
    CHECK(file.complete_bytes == int64_t(prefix.rfind('\n') + 1));
    for (size_t i = 0; i < complete; ++i) CHECK(file.records[i].value == 0.125 * double(i));
  }
}

TEST_CASE("read_metrics skips a corrupt line in the middle and counts it", "[track]") {
  ScratchDir dir;
  fs::path file = dir.path / "metrics.jsonl";
  tl::test::write_text(file,
                       "{\"step\":0,\"name\":\"loss\",\"value\":1.0,\"time\":1.0}\n"
                       "{\"step\":1,\"name\":\"lo\n"
                       "{\"step\":2,\"name\":\"loss\",\"value\":null,\"time\":2.0}\n");
  auto metrics = tl::read_metrics(file);
  REQUIRE(metrics.records.size() == 2);
  CHECK(metrics.corrupt == 1);
  CHECK(!metrics.torn_tail);
  CHECK(std::isnan(metrics.records[1].value));
  CHECK_THROWS_AS(tl::read_metrics(dir.path / "missing.jsonl"), tl::IoError);
}

// ---- deeply nested JSON

TEST_CASE("child: deeply nested run files", "[.][track_child_nested]") {
  fs::path root = std::getenv("TL_TEST_ROOT");
  auto [a, b] = two_runs(root);
  const std::string deep = tl::test::nested_json(1'000'000);

  write_text(a / "config.json", deep);
  auto runs = tl::list_runs(root);  // the damaged run is skipped with a warning
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].path == b);
  CHECK_THAT(io_error_of([&] { tl::Run::resume(a, quiet(root)); }),
             Contains((a / "config.json").string()) && Contains("nested deeper than 64 levels"));
  tl::test::write_text(a / "config.json", "{\"lr\": {\"nested\": [1, 2]}}\n");  // a shallow nesting reads
  CHECK(tl::list_runs(root).size() == 2);

  std::string meta = tl::test::read_text(a / "meta.json");
  write_text(a / "meta.json", deep);
  CHECK_THAT(io_error_of([&] { tl::Run::resume(a, quiet(root)); }), Contains((a / "meta.json").string()));
  write_text(a / "meta.json", meta);

  // A nested record line is one unreadable record; the others are read.
  std::string record = "{\"step\":0,\"name\":\"loss\",\"value\":1.0,\"time\":1.0}\n";
  write_text(a / "metrics.jsonl", record + "{\"step\":1,\"name\":\"loss\",\"value\":" +
                                      std::string(1'000'000, '[') + std::string(1'000'000, ']') + ",\"time\":1}\n" +
                                      record);
  auto metrics = tl::read_metrics(a / "metrics.jsonl");
  CHECK(metrics.records.size() == 2);
  CHECK(metrics.corrupt == 1);
  write_text(a / "histograms.jsonl", "{\"step\":0,\"name\":\"w\",\"min\":0,\"max\":1,\"counts\":" +
                                         std::string(1'000'000, '[') + std::string(1'000'000, ']') +
                                         ",\"non_finite\":0}\n");
  CHECK(tl::read_histograms(a / "histograms.jsonl").corrupt == 1);
}

TEST_CASE("deeply nested config, meta and record files are refused by name, not a stack overflow",
          "[track][reliability]") {
  ScratchDir dir;
  run_child("child: deeply nested run files", dir.path);
  // The command-line tool (another process) lists the healthy run next to a nested config.json.
  auto runs = tl::test::run_dirs(dir.path / "hostile");
  REQUIRE(runs.size() == 2);
  write_text(runs[0] / "config.json", tl::test::nested_json(1'000'000));
  int status = 0;
  std::string out = tl::test::run_command(std::string(TL_RUNS_PATH) + " list " + dir.path.string() + " 2>&1", &status);
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find(runs[1].filename().string()) != std::string::npos);
  CHECK(out.find("nested deeper than") != std::string::npos);  // the warning naming the skipped run
}

// ---- FIFOs in place of run files

TEST_CASE("child: FIFOs in a run folder", "[.][track_child_fifo]") {
  fs::path root = std::getenv("TL_TEST_ROOT");
  auto [a, b] = two_runs(root);
  // Replaces `file` with a FIFO (nobody ever writes it) for the scope of `check`.
  auto with_fifo = [&](const fs::path& file, auto check) {
    std::string saved = tl::test::read_text(file);
    fs::remove(file);
    REQUIRE(::mkfifo(file.c_str(), 0644) == 0);
    check();
    fs::remove(file);
    write_text(file, saved);
  };
  with_fifo(a / "config.json", [&] {
    auto runs = tl::list_runs(root);
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].path == b);
    CHECK_THAT(io_error_of([&] { tl::Run::resume(a, quiet(root)); }),
               Contains((a / "config.json").string()) && Contains("it is a FIFO (named pipe), not a regular file"));
  });
  with_fifo(a / "meta.json", [&] {
    CHECK(tl::list_runs(root).size() == 1);
    CHECK_THAT(io_error_of([&] { tl::Run::resume(a, quiet(root)); }), Contains((a / "meta.json").string()));
  });
  with_fifo(a / "metrics.jsonl", [&] {
    CHECK_THAT(io_error_of([&] { tl::read_metrics(a / "metrics.jsonl"); }),
               Contains((a / "metrics.jsonl").string()) && Contains("FIFO"));
    CHECK_THAT(io_error_of([&] { tl::Run::resume(a, quiet(root)); }), Contains((a / "metrics.jsonl").string()));
    CHECK_THAT(io_error_of([&] { tl::compare_runs(root); }), Contains((a / "metrics.jsonl").string()));
  });
  with_fifo(a / "histograms.jsonl", [&] {
    CHECK_THAT(io_error_of([&] { tl::read_histograms(a / "histograms.jsonl"); }), Contains("FIFO"));
  });
  with_fifo(a / "run.log", [&] {
    CHECK_THAT(io_error_of([&] { tl::Run::resume(a, quiet(root)); }), Contains((a / "run.log").string()));
  });
  with_fifo(a / "run.lock", [&] {
    CHECK(tl::list_runs(root).size() == 2);
    CHECK_THAT(io_error_of([&] { tl::Run::resume(a, quiet(root)); }), Contains((a / "run.lock").string()));
  });
  // With every file restored, the run resumes.
  tl::Run run = tl::Run::resume(a, quiet(root));
  CHECK(run.next_step("loss") == 1);
}

TEST_CASE("FIFOs in place of a run's files are refused by name instead of blocking", "[track][reliability]") {
  ScratchDir dir;
  run_child("child: FIFOs in a run folder", dir.path);
}

namespace {

// Files in `folder` (and its checkpoints folder) whose names mark them as temporaries.
std::vector<std::string> temporaries_in(const fs::path& folder) {
  std::vector<std::string> out;
  for (const fs::path& dir : {folder, folder / "checkpoints"}) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

}  // namespace

TEST_CASE("a run file write failing with ENOSPC or EIO at any I/O call leaves the previous file and no temporary",
          "[track][reliability]") {
  ScratchDir dir;
  const fs::path config = dir.path / "config.json";
  const std::string old_text = "{\"lr\": 0.1}\n", new_text = "{\"lr\": 0.01, \"batch\": 32}\n";
  tl::track::write_file_atomic(config, old_text);

  tl::detail::file_io_fail_at(0, 0);
  tl::track::write_file_atomic(dir.path / "probe.json", new_text);
  const uint64_t calls = tl::detail::file_io_calls();
  fs::remove(dir.path / "probe.json");
  // open, write, fsync, close, rename, open the folder, fsync it
  REQUIRE(calls == 7);

  for (int error : {ENOSPC, EIO}) {
    for (uint64_t k = 1; k <= calls; ++k) {
      tl::detail::file_io_fail_at(k, error);
      std::string err = io_error_of([&] { tl::track::write_file_atomic(config, new_text); });
      tl::detail::file_io_fail_at(0, 0);
      INFO("call " << k << " of " << calls << " failing with " << std::strerror(error) << ": " << err);
      CHECK_THAT(err, Contains(config.string()) && Contains(std::strerror(error)));
      CHECK(temporaries_in(dir.path).empty());
      if (k >= calls - 1) {  // after the rename: in place, but perhaps not durable
        CHECK(tl::test::read_text(config) == new_text);
        CHECK_THAT(err, Contains("was written completely"));
        write_text(config, old_text);
      } else {
        CHECK(tl::test::read_text(config) == old_text);
      }
      if (k == 2) CHECK_THAT(err, Contains("write failed after 0 of " + std::to_string(new_text.size()) + " bytes needed"));
    }
  }
}

TEST_CASE("resuming and closing a run with any I/O call failing keeps every run file whole and leaves no temporary",
          "[track][reliability]") {
  ScratchDir dir;
  fs::path path;
  {
    tl::Run run("faults", {{"lr", 0.1}}, quiet(dir.path));
    run.log("loss", 1.0);
    path = run.path();
  }
  const std::string config = tl::test::read_text(path / "config.json");
  const std::string metrics = tl::test::read_text(path / "metrics.jsonl");
  auto status = [&] { return nlohmann::json::parse(tl::test::read_text(path / "meta.json")).at("status"); };
  REQUIRE(status() == "finished");

  tl::detail::file_io_fail_at(0, 0);
  tl::Run::resume(path, quiet(dir.path)).close();
  const uint64_t calls = tl::detail::file_io_calls();
  // resume: open metrics.jsonl and run.log, meta.json (7 calls); close: fsync metrics.jsonl,
  // meta.json (7), plot.svg (7)
  REQUIRE(calls == 24);

  int64_t failed = 0;
  for (int error : {ENOSPC, EIO}) {
    for (uint64_t k = 1; k <= calls; ++k) {
      tl::detail::file_io_fail_at(k, error);
      std::string err = io_error_of([&] { tl::Run::resume(path, quiet(dir.path)).close(); });
      tl::detail::file_io_fail_at(0, 0);
      INFO("call " << k << " of " << calls << " failing with " << std::strerror(error) << ": " << err);
      failed += err != "(no error)";
      CHECK_THAT(err, Contains(path.string()) && Contains(std::strerror(error)));
      CHECK(temporaries_in(path).empty());
      // Every file is the previous one or a whole new one.
      CHECK(tl::test::read_text(path / "config.json") == config);
      CHECK(tl::test::read_text(path / "metrics.jsonl") == metrics);
      nlohmann::json meta_status;
      REQUIRE_NOTHROW(meta_status = status());
      CHECK((meta_status == "running" || meta_status == "finished"));
      std::string svg = tl::test::read_text(path / "plot.svg");
      CHECK(svg.rfind("<?xml", 0) == 0);
      CHECK(svg.find("</svg>") != std::string::npos);
    }
  }
  CHECK(failed == int64_t(2 * calls));
  // The run still resumes, with its records.
  tl::Run run = tl::Run::resume(path, quiet(dir.path));
  CHECK(run.next_step("loss") == 1);
}
