// tl::Run: folder layout and contents, log() cost, concurrent starts, kill -9 while logging,
// resume, the run lock (one writer per folder; a killed run lists as crashed), names that are
// not UTF-8, plot.svg and the progress bar.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <tl/tl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>
#include <thread>

#include "tests/frontend/track/track_test_util.h"
#include "tests/support/locked_temporary.h"
#include "tests/support/spawn_self.h"

namespace fs = std::filesystem;
using tl::test::count;
using tl::test::read_text;
using tl::test::ScratchDir;
using tl::test::quiet;

namespace {

std::vector<int64_t> steps_of(const tl::MetricsFile& file, const std::string& name) {
  std::vector<int64_t> out;
  for (auto& r : file.records)
    if (r.name == name) out.push_back(r.step);
  return out;
}

std::vector<int64_t> iota(int64_t n, int64_t from = 0) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(from + i);
  return out;
}

}  // namespace

TEST_CASE("a run creates its folder with config, environment, metrics, log and checkpoints", "[track]") {
  ScratchDir dir;
  tl::Run run("iris", {{"lr", 1e-2}, {"width", 16}, {"opt", "adam"}, {"nesterov", false}}, quiet(dir.path));
  CHECK(std::regex_match(run.id(), std::regex(R"(\d{8}-\d{6}-[0-9a-f]{6})")));
  CHECK(run.path() == dir.path / "iris" / run.id());
  for (const char* f : {"config.json", "env.json", "meta.json", "metrics.jsonl", "run.log"})
    CHECK(fs::is_regular_file(run.path() / f));
  CHECK(fs::is_directory(run.path() / "checkpoints"));
  CHECK(run.checkpoint_path(42) == run.path() / "checkpoints" / "step_00000042.tlckpt");

  auto config = nlohmann::json::parse(read_text(run.path() / "config.json"));
  CHECK(config["lr"].get<double>() == 1e-2);
  CHECK(config["width"].get<int>() == 16);
  CHECK(config["width"].is_number_integer());
  CHECK(config["opt"] == "adam");
  CHECK(config["nesterov"] == false);

  auto env = nlohmann::json::parse(read_text(run.path() / "env.json"));
  for (const char* key : {"tl_version", "git_commit", "compiler", "cpu_model", "threads", "seed", "libraries"})
    CHECK(env.contains(key));
  CHECK(env["threads"].get<int>() == tl::get_num_threads());
  CHECK(env["libraries"].contains("onednn"));
  CHECK(nlohmann::json::parse(read_text(run.path() / "meta.json"))["status"] == "running");

  run.log("loss", 0.5);
  run.log("loss", tl::full({}, 0.25));
  run.note("hello from the test");
  run.close();
  CHECK(nlohmann::json::parse(read_text(run.path() / "meta.json"))["status"] == "finished");
  CHECK(read_text(run.path() / "run.log").find("hello from the test") != std::string::npos);
  // No temporary files are left behind by the atomic writes.
  for (auto& e : fs::directory_iterator(run.path()))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);

  std::string metrics = read_text(run.path() / "metrics.jsonl");
  CHECK(count(metrics, "\n") == 2);
  auto first = nlohmann::json::parse(metrics.substr(0, metrics.find('\n')));
  CHECK(first["step"] == 0);
  CHECK(first["name"] == "loss");
  CHECK(first["value"] == 0.5);
  CHECK(first["time"].get<double>() > 1.7e9);
}

TEST_CASE("log takes doubles and scalar tensors with automatic or explicit steps", "[track]") {
  ScratchDir dir;
  tl::Run run("steps", {}, quiet(dir.path));
  run.log("loss", 3.0);                       // step 0
  run.log("loss", tl::full({1}, 2.0));        // step 1, read at flush time
  run.log("loss", 1.0, 10);                   // explicit
  run.log("loss", 0.5);                       // step 11
  run.log("loss", 9.0, 5);                    // not after 11: dropped
  run.log("acc", 0.9);                        // its own steps: 0
  CHECK(run.next_step("loss") == 12);
  CHECK(run.last_value("loss") == 0.5);
  CHECK_THROWS_AS(run.log("loss", tl::zeros({2})), tl::ShapeError);
  run.flush();
  auto file = tl::read_metrics(run.path() / "metrics.jsonl");
  CHECK(steps_of(file, "loss") == std::vector<int64_t>{0, 1, 10, 11});
  CHECK(steps_of(file, "acc") == std::vector<int64_t>{0});
  CHECK(file.records[1].value == 2.0);
  CHECK(!file.torn_tail);
  CHECK(file.corrupt == 0);
}

TEST_CASE("log costs well under a microsecond (measured, not asserted)", "[track][perf]") {
  // Wall time per call on the caller, and CPU time of the calling thread (which excludes
  // time the scheduler gave to other processes on a busy machine).
  auto thread_ns = [] {
    timespec ts;
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
  };
  auto wall_ns = [] {
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };
  ScratchDir dir;
  constexpr int kN = 1'000'000;
  tl::Run run("cost", {}, quiet(dir.path));
  double w0 = wall_ns(), c0 = thread_ns();
  for (int i = 0; i < kN; ++i) run.log("loss", double(i));
  double w1 = wall_ns(), c1 = thread_ns();
  run.flush();
  double w2 = wall_ns();
  tl::Tensor scalar = tl::full({}, 1.5);
  constexpr int kT = 200'000;
  double c2 = thread_ns();
  for (int i = 0; i < kT; ++i) run.log("tensor_loss", scalar);
  double w3 = wall_ns(), c3 = thread_ns();
  run.flush();
  double w4 = wall_ns();
  std::printf("Run::log(double): %.1f ns/call wall, %.1f ns/call thread CPU on the caller; "
              "%.1f ns/call wall including the writes\n",
              (w1 - w0) / kN, (c1 - c0) / kN, (w2 - w0) / kN);
  std::printf("Run::log(Tensor): %.1f ns/call wall, %.1f ns/call thread CPU on the caller; "
              "%.1f ns/call wall including the writes\n",
              (w3 - w2) / kT, (c3 - c2) / kT, (w4 - w2) / kT);
  auto file = tl::read_metrics(run.path() / "metrics.jsonl");
  CHECK(file.records.size() == size_t(kN + kT));
  CHECK(file.records.back().value == 1.5);
}

TEST_CASE("eight processes starting runs in one folder at once get eight distinct ids", "[track]") {
  ScratchDir dir;
  constexpr int kProcesses = 8;
  // Every child sleeps until the same instant, so the starts collide within a second.
  auto start = std::chrono::system_clock::now() + std::chrono::milliseconds(300);
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int rc = 0;
      try {
        std::this_thread::sleep_until(start);
        tl::Run run("sweep", {{"index", i}}, quiet(dir.path));
        run.log("loss", double(i));
        run.close();
      } catch (...) {
        rc = 1;
      }
      ::_exit(rc);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto runs = tl::list_runs(dir.path);
  REQUIRE(runs.size() == size_t(kProcesses));
  std::set<std::string> ids, indices;
  for (auto& r : runs) {
    ids.insert(r.id);
    indices.insert(r.config.at(0).second.str());
    CHECK(r.status == "finished");
  }
  CHECK(ids.size() == size_t(kProcesses));
  CHECK(indices.size() == size_t(kProcesses));
}

TEST_CASE("kill -9 while logging loses only the torn last record, and the run resumes", "[track][slow]") {
  const char* bounded = std::getenv("TL_SLOW_BOUNDED");
  const int kills = bounded && std::string(bounded) == "1" ? 5 : 20;
  ScratchDir dir;
  int torn_seen = 0;
  for (int k = 0; k < kills; ++k) {
    fs::path root = dir.path / std::to_string(k);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(ready[0]);
      tl::RunOptions options = quiet(root);
      options.flush_every = 1 + k % 7;  // writes land at many different points
      options.flush_interval_s = 0.001;
      tl::Run run("crash", {{"k", k}}, options);
      run.log("loss", 0.0);
      run.flush();
      char byte = 1;
      (void)!::write(ready[1], &byte, 1);
      for (int64_t i = 1;; ++i) run.log("loss", double(i) * 0.5);
    }
    ::close(ready[1]);
    char byte = 0;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    ::close(ready[0]);
    std::this_thread::sleep_for(std::chrono::microseconds(500 + 1700 * k));
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));

    auto dirs = tl::test::run_dirs(root / "crash");
    REQUIRE(dirs.size() == 1);
    fs::path metrics = dirs[0] / "metrics.jsonl";
    std::string text = read_text(metrics);
    auto file = tl::read_metrics(metrics);
    // Every complete line is read, in order, with its value; only an unterminated tail is torn.
    size_t complete = count(text, "\n");
    CHECK(file.records.size() == complete);
    CHECK(file.corrupt == 0);
    CHECK(file.torn_tail == (!text.empty() && text.back() != '\n'));
    torn_seen += file.torn_tail;
    CHECK(steps_of(file, "loss") == iota(int64_t(complete)));
    for (auto& r : file.records) CHECK(r.value == double(r.step) * 0.5);

    // Resuming cuts the torn tail and continues the steps without duplicates.
    {
      tl::Run resumed = tl::Run::resume(dirs[0], quiet(root));
      CHECK(resumed.id() == dirs[0].filename().string());
      CHECK(resumed.next_step("loss") == int64_t(complete));
      for (int i = 0; i < 3; ++i) resumed.log("loss", double(complete + i) * 0.5);
    }
    auto after = tl::read_metrics(metrics);
    CHECK(!after.torn_tail);
    CHECK(steps_of(after, "loss") == iota(int64_t(complete) + 3));
  }
  std::printf("kill -9: %d kill points, %d left a torn last record\n", kills, torn_seen);
}

TEST_CASE("a resumed run keeps its id and continues each metric's steps", "[track]") {
  ScratchDir dir;
  fs::path path;
  std::string id;
  {
    tl::Run run("resume", {{"lr", 0.1}}, quiet(dir.path));
    for (int i = 0; i < 5; ++i) run.log("loss", 1.0 / (i + 1));
    run.log("acc", 0.5);
    path = run.path();
    id = run.id();
  }
  tl::Run run = tl::Run::resume(path, quiet(dir.path));
  CHECK(run.id() == id);
  CHECK(run.name() == "resume");
  CHECK(run.config().at(0).first == "lr");
  CHECK(nlohmann::json::parse(read_text(path / "meta.json"))["status"] == "running");
  run.log("loss", 0.1);       // step 5
  run.log("loss", 0.2, 3);    // a step already recorded: dropped
  run.log("loss", 0.05);      // step 6
  run.log("acc", 0.6);        // step 1
  run.close();
  auto file = tl::read_metrics(path / "metrics.jsonl");
  CHECK(steps_of(file, "loss") == iota(7));
  CHECK(steps_of(file, "acc") == iota(2));
  CHECK(tl::test::run_dirs(dir.path / "resume").size() == 1);
}

TEST_CASE("close writes plot.svg with one polyline per metric", "[track]") {
  ScratchDir dir;
  fs::path path;
  {
    tl::Run run("plot", {}, quiet(dir.path));
    for (int i = 0; i < 7; ++i) run.log("loss", 1.0 / (i + 1));
    for (int i = 0; i < 3; ++i) run.log("acc", 0.3 * i);
    path = run.path();
  }
  std::string svg = read_text(path / "plot.svg");
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(count(svg, "<polyline") == 2);
  // Every element closed: lines, the best-point dots, the polylines and the background.
  CHECK(count(svg, "<line") + count(svg, "<circle") == count(svg, "/>") - count(svg, "<polyline") - 1);
  CHECK(count(svg, "<circle class=\"best\"") == 2);
  CHECK(svg.find("best 0.6 at step 2") != std::string::npos);     // accuracy: the highest
  CHECK(svg.find("best 0.1429 at step 6") != std::string::npos);  // loss: the lowest
  // Polylines in name order: acc (3 points), loss (7 points).
  std::vector<size_t> points;
  for (size_t pos = svg.find("points=\""); pos != std::string::npos; pos = svg.find("points=\"", pos + 1)) {
    size_t end = svg.find('"', pos + 8);
    points.push_back(count(svg.substr(pos + 8, end - pos - 8), ",") );
  }
  CHECK(points == std::vector<size_t>{3, 7});
  CHECK(svg.find(">loss</text>") != std::string::npos);
}

TEST_CASE("the progress bar prints plain periodic lines when stdout is not a terminal", "[track]") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  {
    tl::ProgressOptions options;
    options.out = out;
    options.line_percent = 25;
    tl::ProgressBar bar(100, options);
    for (int i = 0; i < 100; ++i) bar.update(1, 1.0 / (i + 1));
  }
  std::rewind(out);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, out)) > 0) text.append(buf, n);
  std::fclose(out);
  CHECK(text.find('\r') == std::string::npos);
  CHECK(count(text, "\n") == 4);  // 25%, 50%, 75%, 100%
  CHECK(text.find(" 25/100") != std::string::npos);
  CHECK(text.find("100/100 100%") != std::string::npos);
  CHECK(text.find("loss 0.01") != std::string::npos);
  CHECK(text.find("ETA") != std::string::npos);
}

// ---- one writer per run folder, and crashed runs

TEST_CASE("child: hold a run folder open", "[.][track_child_hold]") {
  const char* run_path = std::getenv("TL_TEST_RUN");
  REQUIRE(run_path);
  fs::path path = run_path;
  fs::path root = path.parent_path().parent_path();
  tl::Run run = tl::Run::resume(path, quiet(root));
  for (int i = 0; i < 5; ++i) run.log("loss", double(i));
  run.flush();
  tl::test::write_text(root / "ready", "1");
  std::this_thread::sleep_for(std::chrono::seconds(120));  // the parent kills it long before
}

TEST_CASE("a run folder held by another process is refused, and a killed run lists as crashed", "[track]") {
  ScratchDir dir;
  fs::path path;
  {
    tl::Run run("held", {{"lr", 0.5}}, quiet(dir.path));
    path = run.path();
  }
  pid_t child = tl::testing::spawn_self("child: hold a run folder open", {"TL_TEST_RUN=" + path.string()});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir.path / "ready") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  bool ready = fs::exists(dir.path / "ready");
  if (!ready) ::kill(child, SIGKILL);
  REQUIRE(ready);

  // A second writer is refused with the folder and the holder in the message, and changes nothing.
  std::string meta_before = read_text(path / "meta.json");
  try {
    tl::Run second = tl::Run::resume(path, quiet(dir.path));
    FAIL("a second Run opened a folder another process holds");
  } catch (const tl::IoError& e) {
    CHECK_THAT(e.what(), Catch::Contains(path.string()) && Catch::Contains("in use by another Run") &&
                             Catch::Contains("pid " + std::to_string(child)));
  }
  CHECK(read_text(path / "meta.json") == meta_before);
  auto runs = tl::list_runs(dir.path);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "running");

  ::kill(child, SIGKILL);
  CHECK(tl::testing::wait_for_child(child) == 128 + SIGKILL);
  runs = tl::list_runs(dir.path);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "crashed");
  int status = 0;
  std::string out = tl::test::run_command(std::string(TL_RUNS_PATH) + " list " + dir.path.string(), &status);
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("crashed") != std::string::npos);

  // The crashed run resumes after its last step; while open it lists as running, and a
  // second Run in this same process is refused too.
  {
    tl::Run resumed = tl::Run::resume(path, quiet(dir.path));
    CHECK(resumed.next_step("loss") == 5);
    CHECK(tl::list_runs(dir.path)[0].status == "running");
    CHECK_THROWS_AS(tl::Run::resume(path, quiet(dir.path)), tl::IoError);
    resumed.log("loss", 5.0);
  }
  CHECK(tl::list_runs(dir.path)[0].status == "finished");
  CHECK(steps_of(tl::read_metrics(path / "metrics.jsonl"), "loss") == iota(6));
}

// ---- names that are not UTF-8

TEST_CASE("a config, run or metric name that is not UTF-8 is refused by name before anything is written",
          "[track]") {
  ScratchDir dir;
  auto refused = [&](const std::string& name, const tl::Config& config) -> std::string {
    try {
      tl::Run run(name, config, quiet(dir.path));
    } catch (const tl::ValueError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  CHECK_THAT(refused("utf8", {{"lr", 0.1}, {std::string("wid\xFFth"), 16}}),
             Catch::Contains("config key 'wid\\xFFth'") && Catch::Contains("not valid UTF-8 (byte 3)"));
  CHECK_THAT(refused("utf8", {{"optimizer", std::string("ad\xC3")}}),
             Catch::Contains("config key 'optimizer'") && Catch::Contains("'ad\\xC3'"));
  CHECK_THAT(refused(std::string("ru\xC0\x80n"), {}), Catch::Contains("run name 'ru\\xC0\\x80n'"));
  CHECK(!fs::exists(dir.path / "utf8"));  // nothing was created

  fs::path path;
  {
    tl::Run run("utf8", {{"name", "caf\xC3\xA9"}}, quiet(dir.path));  // valid UTF-8 is kept as is
    path = run.path();
    run.log("loss", 1.0);
    CHECK_THROWS_WITH(run.log(std::string("lo\xFFss"), 2.0),
                      Catch::Contains("metric name 'lo\\xFFss'") && Catch::Contains("not valid UTF-8"));
    CHECK_THROWS_AS(run.log(std::string("acc\xED\xA0\x80"), tl::full({}, 1.0f)), tl::ValueError);
    CHECK_THROWS_WITH(run.log_histogram(std::string("w\xFE"), tl::ones({4}), 0),
                      Catch::Contains("histogram name 'w\\xFE'"));
    run.log("loss", 3.0);
  }
  auto metrics = tl::read_metrics(path / "metrics.jsonl");
  CHECK(metrics.corrupt == 0);
  CHECK(steps_of(metrics, "loss") == iota(2));
  CHECK(metrics.records.size() == 2);
  CHECK(!fs::exists(path / "histograms.jsonl"));
  auto runs = tl::list_runs(dir.path);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "finished");
  CHECK(runs[0].config[0].second.str() == "caf\xC3\xA9");
}

TEST_CASE("resume removes a crashed metadata write's temporary but not one a live writer holds", "[track]") {
  ScratchDir dir;
  fs::path path;
  {
    tl::Run run("orphans", {{"lr", 0.1}}, quiet(dir.path));
    run.log("loss", 1.0);
    path = run.path();
  }
  // Left by a crash (nobody holds it) and written by a live process elsewhere (locked).
  fs::path crashed = path / ".meta.json.tmp.4194302.0.0badf00d";
  { std::ofstream(crashed) << "{\"partial\":"; }
  fs::path live = path / ".config.json.tmp.4194301.0.0badcafe";
  tl::testing::TemporaryHeldByChild writer(live.string());
  for (const fs::path& p : {crashed, live})
    fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::minutes(5));
  {
    tl::Run run = tl::Run::resume(path, quiet(dir.path));
    CHECK_FALSE(fs::exists(crashed));
    CHECK(fs::exists(live));
    REQUIRE(run.config().size() == 1);
    CHECK(run.config()[0].first == "lr");
  }
  CHECK(writer.release());
}
