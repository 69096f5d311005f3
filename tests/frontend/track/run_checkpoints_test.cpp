// Run::save, Run::load_latest and keep_last rotation: naming by step, restoring the newest,
// rotation under injected I/O faults and kill -9, and concurrent saves into one run folder
// from processes and threads.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <tl/tl.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <thread>

#include "runtime/base/file_io.h"
#include "tests/frontend/track/track_test_util.h"
#include "tests/support/locked_temporary.h"

namespace fs = std::filesystem;
using tl::test::ScratchDir;
using tl::test::quiet;

namespace {

// The steps of a run's checkpoints, lowest first.
std::vector<int64_t> steps(const tl::Run& run) {
  std::vector<int64_t> out;
  for (const auto& p : run.checkpoints()) out.push_back(std::stoll(p.filename().string().substr(5, 8)));
  return out;
}

// Names of the files in `dir` that are temporaries of a save.
std::vector<std::string> temporaries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().filename().string());
  return out;
}

std::vector<float> weights(const tl::nn::Module& model) {
  std::vector<float> out;
  for (const auto& [name, p] : model.named_parameters())
    for (float v : p.to_vector<float>()) out.push_back(v);
  return out;
}

// The step stored in the checkpoint at `path` (it must load into `model`).
int64_t stored_step(const fs::path& path, tl::nn::Module& model) {
  tl::CheckpointExtra extra;
  tl::load(path.string(), model, nullptr, &extra);
  return extra.step;
}

tl::nn::Sequential big_model() {
  return tl::nn::Sequential(tl::nn::Linear(64, 256), tl::nn::ReLU(), tl::nn::Linear(256, 256));
}

}  // namespace

TEST_CASE("run.save names checkpoints by the run's step and load_latest restores the newest", "[track][checkpoint]") {
  ScratchDir dir;
  tl::manual_seed(11);
  tl::nn::Linear model(3, 2);
  tl::optim::Adam opt(model.parameters(), {.lr = 1e-2});
  tl::Run run("ckpt", {}, quiet(dir.path));
  auto train = [&](int n) {
    for (int i = 0; i < n; ++i) {
      tl::Tensor loss = model(tl::randn({4, 3})).pow(2).mean();
      opt.zero_grad();
      loss.backward();
      opt.step();
      run.log("loss", loss);
    }
  };
  CHECK(run.step() == 0);
  train(5);
  CHECK(run.step() == 5);
  CHECK(run.save(model, opt) == run.checkpoint_path(5));
  train(3);
  tl::data::DataLoader loader(std::make_shared<tl::data::TensorDataset>(tl::randn({10, 3}), tl::randn({10})),
                              {.batch_size = 4, .shuffle = true});
  for (auto [x, y] : loader) break;
  CHECK(run.save(model, &opt, {.step = 12, .epoch = 2, .stateful = {&loader}}) == run.checkpoint_path(12));
  // With a Stateful but no step, the run's step names the file.
  CHECK(run.save(model, &opt, {.stateful = {&loader}}) == run.checkpoint_path(8));
  CHECK(steps(run) == std::vector<int64_t>{5, 8, 12});
  CHECK(fs::is_regular_file(run.path() / "checkpoints" / "step_00000012.tlckpt"));

  // A new process would reopen the folder and continue from the newest checkpoint.
  fs::path path = run.path();
  run.close();
  tl::manual_seed(99);
  tl::nn::Linear fresh(3, 2);
  tl::optim::Adam fresh_opt(fresh.parameters(), {.lr = 1e-2});
  tl::data::DataLoader fresh_loader(std::make_shared<tl::data::TensorDataset>(tl::randn({10, 3}), tl::randn({10})),
                                    {.batch_size = 4, .shuffle = true});
  tl::Run resumed = tl::Run::resume(path, quiet(dir.path));
  tl::CheckpointExtra extra{.stateful = {&fresh_loader}};
  CHECK(resumed.load_latest(fresh, &fresh_opt, &extra) == resumed.checkpoint_path(12));
  CHECK(extra.step == 12);
  CHECK(extra.epoch == 2);
  CHECK(weights(fresh) == weights(model));
  CHECK(fresh_loader.save_state() == loader.save_state());
  CHECK(tl::test::read_text(path / "run.log").find("resumed from checkpoint") != std::string::npos);

  // A fresh run has none: an empty path, nothing changed.
  tl::Run empty("other", {}, quiet(dir.path));
  tl::nn::Linear untouched(3, 2);
  auto before = weights(untouched);
  CHECK(empty.load_latest(untouched).empty());
  CHECK(weights(untouched) == before);
}

TEST_CASE("load_latest skips a damaged newest checkpoint for the next one, and throws when none loads",
          "[track][checkpoint]") {
  ScratchDir dir;
  tl::nn::Linear model(3, 2);
  tl::Run run("damaged", {}, quiet(dir.path));
  run.save(model, nullptr, {.step = 1});
  run.save(model, nullptr, {.step = 2});
  fs::resize_file(run.checkpoint_path(2), 100);  // a damaged file (a commit is never torn)
  tl::nn::Linear loaded(3, 2);
  CHECK(run.load_latest(loaded) == run.checkpoint_path(1));
  CHECK(weights(loaded) == weights(model));
  CHECK(tl::test::read_text(run.path() / "run.log").find("skipping the unreadable checkpoint") != std::string::npos);

  fs::resize_file(run.checkpoint_path(1), 10);
  try {
    run.load_latest(loaded);
    FAIL("no readable checkpoint must throw");
  } catch (const tl::IoError& e) {
    CHECK_THAT(e.what(), Catch::Contains("step_00000002.tlckpt"));  // the newest one's error
    CHECK_THAT(e.what(), Catch::Contains("truncated"));
  }
  // Another model's checkpoint is thrown at once, not skipped.
  run.save(model, nullptr, {.step = 3});
  tl::nn::Linear other(3, 5);
  CHECK_THROWS_AS(run.load_latest(other), tl::ValueError);
}

TEST_CASE("keep_last keeps the newest checkpoints and deletes older ones only after the new one is written",
          "[track][checkpoint][reliability]") {
  ScratchDir dir;
  tl::manual_seed(12);
  tl::nn::Linear model(3, 2);
  tl::Run run("rotate", {}, quiet(dir.path, 2));
  for (int64_t s = 1; s <= 5; ++s) run.save(model, nullptr, {.step = s});
  CHECK(steps(run) == std::vector<int64_t>{4, 5});
  // A lower step (after a rollback) is kept besides the two highest.
  run.save(model, nullptr, {.step = 3});
  CHECK(steps(run) == std::vector<int64_t>{3, 4, 5});
  // Other files in the folder are not checkpoints: never counted, never deleted.
  tl::test::write_text(run.path() / "checkpoints" / "notes.txt", "keep me");
  tl::test::write_text(run.path() / "checkpoints" / "step_12.tlckpt.bak", "keep me");
  run.save(model, nullptr, {.step = 6});
  CHECK(steps(run) == std::vector<int64_t>{5, 6});
  CHECK(fs::exists(run.path() / "checkpoints" / "notes.txt"));
  CHECK(fs::exists(run.path() / "checkpoints" / "step_12.tlckpt.bak"));

  // Fail each I/O call of a rotating save in turn (ENOSPC and EIO): a save that throws
  // deletes nothing; one that succeeds has its file in place before anything is deleted.
  tl::detail::file_io_fail_at(0, 0);
  run.save(model, nullptr, {.step = 7});
  uint64_t calls = tl::detail::file_io_calls();
  REQUIRE(calls > 5);
  int64_t step = 7, thrown = 0, committed = 0;
  for (int error : {ENOSPC, EIO}) {
    for (uint64_t k = 1; k <= calls; ++k) {
      CAPTURE(error, k);
      std::vector<int64_t> before = steps(run);
      tl::detail::file_io_fail_at(k, error);
      bool threw = false;
      try {
        run.save(model, nullptr, {.step = step + 1});
      } catch (const tl::IoError&) {
        threw = true;
      }
      tl::detail::file_io_fail_at(0, 0);
      std::vector<int64_t> after = steps(run);
      bool has_new = !after.empty() && after.back() == step + 1;
      if (threw && !has_new) {
        CHECK(after == before);  // nothing deleted
      } else {
        // Committed (a failed directory fsync after the rename also throws): the newest two
        // are there; old ones whose deletion failed or was skipped may remain, until a later save.
        ++step;
        ++committed;
        REQUIRE(after.size() >= 2);
        CHECK(after[after.size() - 2] == step - 1);
        CHECK(after.size() <= std::max<size_t>(before.size(), 2) + 1);
      }
      thrown += threw;
      for (const auto& p : run.checkpoints()) CHECK(stored_step(p, model) == std::stoll(p.filename().string().substr(5, 8)));
      CHECK(temporaries(run.path() / "checkpoints").empty());
    }
  }
  CHECK(thrown > 0);
  CHECK(committed > 0);
  // The next save cleans up whatever a failed deletion left.
  run.save(model, nullptr, {.step = step + 1});
  CHECK(steps(run) == std::vector<int64_t>{step, step + 1});
}

TEST_CASE("kill -9 during rotating saves never loses the newest checkpoints", "[track][checkpoint][reliability][slow]") {
  ScratchDir dir;
  const char* bounded = std::getenv("TL_SLOW_BOUNDED");
  int points = bounded && std::string(bounded) == "1" ? 6 : 30;
  constexpr int64_t kKeep = 2;
  tl::manual_seed(13);
  // A model big enough that a save takes a while, so kills land inside writes and deletions.
  // The child only saves: OpenMP-parallel ops are not safe in a forked child.
  auto model = big_model();
  fs::path path;
  {
    tl::Run run("killed", {}, quiet(dir.path, kKeep));
    path = run.path();
  }
  std::mt19937 rng(7);
  int64_t latest = 0;
  int mid_rotation = 0;
  for (int point = 0; point < points; ++point) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      try {
        tl::Run run = tl::Run::resume(path, quiet(dir.path, kKeep));
        for (int64_t s = latest + 1;; ++s) run.save(model, nullptr, {.step = s});
      } catch (...) {
        ::_exit(3);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 30000));
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));

    CAPTURE(point);
    tl::Run run = tl::Run::resume(path, quiet(dir.path, kKeep));
    std::vector<int64_t> present = steps(run);
    if (present.empty()) continue;  // killed before the first commit
    latest = present.back();
    // The kKeep newest steps are all there and load. Older ones are left over when a kill
    // lands between a commit and its deletions (the directory fsync makes that window wide);
    // the next completed save removes them.
    for (int64_t s = std::max<int64_t>(1, latest - kKeep + 1); s <= latest; ++s)
      CHECK(std::find(present.begin(), present.end(), s) != present.end());
    mid_rotation += present.size() > size_t(kKeep);
    auto loaded = big_model();
    for (const auto& p : run.checkpoints()) {
      CHECK_NOTHROW(stored_step(p, loaded));
    }
    tl::nn::Sequential newest = big_model();
    CHECK(run.load_latest(newest) == run.checkpoint_path(latest));
    CHECK(weights(newest) == weights(model));
  }
  // The next save removes the dead children's temporaries (unlocked, once over a minute old)
  // and the leftover old checkpoint.
  for (const std::string& name : temporaries(path / "checkpoints"))
    fs::last_write_time(path / "checkpoints" / name, fs::file_time_type::clock::now() - std::chrono::minutes(2));
  tl::Run run = tl::Run::resume(path, quiet(dir.path, kKeep));
  run.save(model, nullptr, {.step = latest + 1});
  CHECK(temporaries(path / "checkpoints").empty());
  CHECK(steps(run) == std::vector<int64_t>{latest, latest + 1});
  WARN("kill -9 during rotation: " << points << " kill points, newest " << latest << ", " << mid_rotation
                                   << " found old checkpoints left over");
}

TEST_CASE("processes saving into one run folder at once leave only complete, loadable checkpoints",
          "[track][checkpoint][reliability]") {
  ScratchDir dir;
  constexpr int kProcesses = 6, kSaves = 8;
  constexpr int64_t kKeep = 3, kShared = 1000;
  tl::manual_seed(14);
  auto model = big_model();
  fs::path path;
  {
    tl::Run run("shared", {}, quiet(dir.path, kKeep));
    path = run.path();
  }
  int go[2];
  REQUIRE(::pipe(go) == 0);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(go[1]);
      char byte;
      (void)!::read(go[0], &byte, 1);  // all start together
      try {
        // One process holds the Run (one writer per run folder) and rotates; the others
        // (an evaluation job, say) save into its checkpoints folder with tl::save.
        std::optional<tl::Run> run;
        if (p == 0) run.emplace(tl::Run::resume(path, quiet(dir.path, kKeep)));
        auto save = [&](int64_t step) {
          if (run) run->save(model, nullptr, {.step = step});
          else {
            char name[64];
            std::snprintf(name, sizeof name, "step_%08lld.tlckpt", static_cast<long long>(step));
            tl::save((path / "checkpoints" / name).string(), model, nullptr, {.step = step});
          }
        };
        // Distinct steps across processes, and one step every process writes.
        for (int i = 0; i < kSaves; ++i) save(1 + p + kProcesses * i);
        save(kShared);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", p, e.what());
        ::_exit(3);
      }
      ::_exit(0);
    }
    children.push_back(child);
  }
  ::close(go[0]);
  ::close(go[1]);  // EOF releases every child
  for (pid_t child : children) {
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  tl::Run run = tl::Run::resume(path, quiet(dir.path, kKeep));
  // Every file that exists is complete and loads.
  auto loaded = big_model();
  for (const auto& p : run.checkpoints()) {
    CHECK(stored_step(p, loaded) == std::stoll(p.filename().string().substr(5, 8)));
    CHECK(weights(loaded) == weights(model));
  }
  CHECK(temporaries(path / "checkpoints").empty());
  // The next rotation counts every process's files: the kKeep highest steps survive.
  run.save(model, nullptr, {.step = kShared + 1});
  const int64_t highest = kProcesses * kSaves;  // 48
  CHECK(steps(run) == std::vector<int64_t>{highest, kShared, kShared + 1});
}

TEST_CASE("threads saving into one folder at once leave only complete, loadable checkpoints",
          "[track][checkpoint][reliability]") {
  ScratchDir dir;
  tl::manual_seed(15);
  auto model = big_model();
  constexpr int kThreads = 4, kSaves = 6;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSaves; ++i) {
        try {
          tl::save((dir.path / ("own_" + std::to_string(t) + "_" + std::to_string(i) + ".tlckpt")).string(), model,
                   nullptr, {.step = t * 100 + i});
          tl::save((dir.path / "shared.tlckpt").string(), model, nullptr, {.step = t * 100 + i});
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  auto loaded = big_model();
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    std::string name = e.path().filename().string();
    CAPTURE(name);
    CHECK(name.find(".tmp.") == std::string::npos);
    tl::CheckpointExtra extra;
    CHECK_NOTHROW(tl::load(e.path().string(), loaded, nullptr, &extra));
    CHECK(weights(loaded) == weights(model));
    if (name != "shared.tlckpt") CHECK(name == "own_" + std::to_string(extra.step / 100) + "_" +
                                               std::to_string(extra.step % 100) + ".tlckpt");
    ++files;
  }
  CHECK(files == kThreads * kSaves + 1);
}

TEST_CASE("run.save leaves a temporary another process holds locked, whatever its pid, and removes it once released",
          "[track][checkpoint]") {
  ScratchDir dir;
  tl::nn::Linear model(3, 2);
  tl::Run run("shared", {}, quiet(dir.path));
  fs::path folder = run.path() / "checkpoints";
  fs::create_directories(folder);
  // A save in another container: its pid names no process here, and it is old enough.
  fs::path temp = folder / ".step_00000007.tlckpt.tmp.4194302.0.0badf00d";
  tl::testing::TemporaryHeldByChild writer(temp.string());
  fs::last_write_time(temp, fs::file_time_type::clock::now() - std::chrono::minutes(5));
  run.save(model, nullptr, {.step = 1});
  CHECK(fs::exists(temp));  // a live save's temporary
  CHECK(writer.release());
  fs::last_write_time(temp, fs::file_time_type::clock::now() - std::chrono::minutes(5));
  run.save(model, nullptr, {.step = 2});
  CHECK_FALSE(fs::exists(temp));  // no one holds it any more: a crash's leftover
}
