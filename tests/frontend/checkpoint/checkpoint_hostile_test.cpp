// Checkpoints under hostile conditions: saves racing in-place updates, headers of 100,000
// tensors, peak memory, names that are not UTF-8, invalid optimizer hyper-parameters, bad
// destinations, temporaries of live saves in other processes, deep JSON nesting and FIFOs.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "checkpoint_test_util.h"
#include "runtime/base/file_io.h"
#include "runtime/device_backend.h"
#include "tests/support/locked_temporary.h"
#include "tests/support/spawn_self.h"
#include "tl/run.h"

using namespace tl;
using namespace checkpoint_test;

namespace {

// Runs the hidden test case `name` in a child process with an 8 MiB stack and `env`; returns
// its exit status (128 + signal when it died).
int run_in_child(const std::string& name, const std::vector<std::string>& env = {}) {
  struct rlimit saved;
  REQUIRE(::getrlimit(RLIMIT_STACK, &saved) == 0);
  struct rlimit small = saved;
  small.rlim_cur = std::min<rlim_t>(saved.rlim_max, 8u << 20);
  REQUIRE(::setrlimit(RLIMIT_STACK, &small) == 0);
  pid_t pid = testing::spawn_self(name, env);
  REQUIRE(::setrlimit(RLIMIT_STACK, &saved) == 0);
  return testing::wait_for_child(pid);
}

// A thread that flips the sign of `t` in place, as fast as it can, until destroyed: an
// optimizer stepping in another thread.
class Mutator {
 public:
  explicit Mutator(Tensor t) : thread_([this, t]() mutable {
      NoGradGuard no_grad;
      while (!stop_) {
        t.mul_(-1.0);
        ++count_;
      }
    }) {
    while (count_ == 0) std::this_thread::yield();
  }
  ~Mutator() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> count_{0};
  std::thread thread_;
};

// Parameters p0..p<n-1> of shape [1] holding first, first + 1, ...
struct Leaves : nn::Module {
  Leaves(int n, int first) {
    for (int i = 0; i < n; ++i) register_parameter("p" + std::to_string(i), full({1}, first + i));
  }
  Tensor forward(const Tensor& x) override { return x; }
};
// `groups` x `each` one-element parameters. Split into children because a module's own
// registration looks names up linearly.
struct Forest : nn::Module {
  Forest(int groups, int each, bool zero) {
    for (int g = 0; g < groups; ++g)
      register_module_ptr("g" + std::to_string(g), std::make_shared<Leaves>(each, zero ? 0 : g * each));
  }
  Tensor forward(const Tensor& x) override { return x; }
};

// A module with one parameter of any name (register_parameter takes any name without a dot).
struct Named : nn::Module {
  explicit Named(const std::string& name) { register_parameter(name, zeros({2})); }
  Tensor forward(const Tensor& x) override { return x; }
};

struct RawStateful : Stateful {
  std::string key, state;
  std::string state_key() const override { return key; }
  std::string save_state() const override { return state; }
  void load_state(const std::string& text) override { state = text; }
};

uint64_t status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stoull(line.substr(std::strlen(field)));
  }
  FAIL("no " << field << " in /proc/self/status");
  return 0;
}

// Resets the peak resident set size (VmHWM) to the current one.
void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  REQUIRE(clear.good());
}

}  // namespace

// ---------------------------------------------------------------- saves racing updates

TEST_CASE("a save racing in-place updates is refused naming the tensor or writes a file that loads",
          "[checkpoint][reliability]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  nn::Linear model(1024, 1024);  // 4 MB of weights: a save takes long enough to overlap updates
  save(path, model, nullptr, {.step = 1});
  std::string previous = read_bytes(path);
  int refused = 0, saved = 0;
  {
    Mutator mutator(model.weight);
    for (int i = 0; i < 10; ++i) {
      try {
        save(path, model, nullptr, {.step = 2});
        ++saved;
        nn::Linear loaded(1024, 1024);
        INFO("a save that returned must have written a loadable file");
        REQUIRE_NOTHROW(load(path, loaded));
        previous = read_bytes(path);
      } catch (const IoError& e) {
        ++refused;
        std::string what = e.what();
        CHECK_THAT(what, Catch::Contains("tensor 'model.weight' was modified while saving") &&
                             Catch::Contains("storage version went from") && Catch::Contains(path));
        CHECK(read_bytes(path) == previous);
      }
      CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
    }
  }
  WARN("saves racing a thread that updates the weights in place: " << refused << " refused, " << saved
                                                                    << " complete and loadable");
  CHECK(refused > 0);
  // Without the racing thread the same save goes through.
  save(path, model, nullptr, {.step = 3});
  nn::Linear loaded(1024, 1024);
  load(path, loaded);
  CHECK(snapshot(loaded.state_dict()) == snapshot(model.state_dict()));
}

TEST_CASE("with keep_last a save refused for a concurrent update deletes no checkpoint", "[checkpoint][reliability]") {
  ScratchDir dir;
  RunOptions options;
  options.root = dir.path;
  options.print_summary = false;
  options.keep_last = 1;
  Run run("race", {}, options);
  nn::Linear model(1024, 1024);
  fs::path good = run.save(model, nullptr, {.step = 1});
  std::string good_bytes = read_bytes(good.string());
  int refused = 0;
  {
    Mutator mutator(model.weight);
    for (int64_t step = 2; step < 8; ++step) {
      try {
        run.save(model, nullptr, {.step = step});
        // Went through between two updates: it must load, and it may replace the old one.
        nn::Linear loaded(1024, 1024);
        REQUIRE_NOTHROW(run.load_latest(loaded));
        good = run.checkpoints().back();
        good_bytes = read_bytes(good.string());
      } catch (const IoError& e) {
        ++refused;
        CHECK_THAT(std::string(e.what()), Catch::Contains("was modified while saving"));
      }
      // The newest good checkpoint is still there, unchanged, and is what load_latest finds.
      REQUIRE(run.checkpoints() == std::vector<fs::path>{good});
      CHECK(read_bytes(good.string()) == good_bytes);
      std::vector<fs::path> files;  // no temporary left behind either
      for (const auto& e : fs::directory_iterator(good.parent_path())) files.push_back(e.path());
      CHECK(files == std::vector<fs::path>{good});
    }
  }
  CHECK(refused > 0);
  nn::Linear loaded(1024, 1024);
  CHECK(run.load_latest(loaded) == good);
  run.close();
}

// ---------------------------------------------------------------- size

TEST_CASE("a checkpoint of one hundred thousand one-element tensors saves and loads in about linear time", "[checkpoint][slow]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  Forest model(250, 400, /*zero=*/false);
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  save(path, model);
  auto t1 = clock::now();
  Forest loaded(250, 400, /*zero=*/true);
  load(path, loaded);
  auto t2 = clock::now();
  double save_s = std::chrono::duration<double>(t1 - t0).count();
  double load_s = std::chrono::duration<double>(t2 - t1).count();
  WARN("100,000 tensors: save " << save_s << " s, load (header parse, checks, reads) " << load_s << " s, file "
                                << fs::file_size(path) << " bytes");
  auto state = loaded.state_dict();
  REQUIRE(state.size() == 100000);
  CHECK(state.at("g0.p0").item<float>() == 0.0f);
  CHECK(state.at("g17.p123").item<float>() == 17 * 400 + 123);
  CHECK(state.at("g249.p399").item<float>() == 99999.0f);
  // Generous: quadratic work on 100,000 entries takes minutes; linear work well under a second.
  CHECK(save_s < 30);
  CHECK(load_s < 30);
}

// ---------------------------------------------------------------- memory

TEST_CASE("child: peak memory of a save and a load", "[.][checkpoint_memory_child]") {
  // Every tensor in its own mapping, unmapped when freed, so the resident size follows the
  // live bytes; and the CPU caching allocator is emptied before each measurement.
  REQUIRE(::mallopt(M_MMAP_THRESHOLD, 64 << 10) == 1);
  const char* dir = std::getenv("TL_CHECKPOINT_MEMORY_DIR");
  REQUIRE(dir);
  std::string path = std::string(dir) + "/ckpt.safetensors";
  manual_seed(3);
  nn::Sequential model(nn::Linear(1024, 1024), nn::Linear(1024, 1024), nn::Linear(1024, 1024),
                       nn::Linear(1024, 1024), nn::Linear(1024, 1024), nn::Linear(1024, 1024));
  optim::Adam opt(model.parameters());
  {
    Tensor loss = model(randn({8, 1024})).pow(2).mean();
    loss.backward();
    opt.step();
    opt.zero_grad();
  }
  uint64_t checkpoint_bytes = 0;
  for (const auto& [name, t] : model.state_dict()) checkpoint_bytes += t.nbytes();
  for (const auto& [name, t] : opt.state_view()) checkpoint_bytes += t.nbytes();
  auto& cpu = rt::backend_for(kCPU, "test").allocator(0);
  const uint64_t slack = 8ull << 20;  // the header, the file layer, allocator rounding

  cpu.empty_cache();
  reset_peak_rss();
  uint64_t before = status_kb("VmRSS:") << 10;
  save(path, model, &opt);
  uint64_t save_growth = (status_kb("VmHWM:") << 10) - before;

  cpu.empty_cache();
  reset_peak_rss();
  before = status_kb("VmRSS:") << 10;
  load(path, model, &opt);
  uint64_t load_growth = (status_kb("VmHWM:") << 10) - before;

  WARN("checkpoint of " << (checkpoint_bytes >> 20) << " MiB of tensors (model and Adam moments): peak resident "
                        << "growth " << (save_growth >> 20) << " MiB while saving, " << (load_growth >> 20)
                        << " MiB while loading");
  // Saving: one 4 MiB chunk buffer (every tensor here is contiguous on the CPU).
  CHECK(save_growth <= (4ull << 20) + slack);
  // Loading: the new values are staged before anything is changed, so at most one copy of
  // the checkpoint's tensors.
  CHECK(load_growth <= checkpoint_bytes + slack);
}

TEST_CASE("saving adds a fixed buffer to peak memory and loading at most the checkpoint's tensors",
          "[checkpoint][memory]") {
#if defined(__SANITIZE_ADDRESS__)
  // ASan's allocator ignores mallopt and keeps freed memory in quarantine: resident size
  // measures the sanitizer, not the save.
  WARN("peak memory is not measured under AddressSanitizer");
  return;
#endif
  ScratchDir dir;
  CHECK(run_in_child("child: peak memory of a save and a load", {"TL_CHECKPOINT_MEMORY_DIR=" + dir.path.string()}) ==
        0);
}

// ---------------------------------------------------------------- names and metadata

TEST_CASE("save refuses names and metadata that are not UTF-8 naming the file and the key and writes nothing",
          "[checkpoint]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  auto refused = [&](const std::function<void()>& f) -> std::string {
    detail::file_io_fail_at(0, 0);
    try {
      f();
    } catch (const ValueError& e) {
      CHECK(detail::file_io_calls() == 0);
      CHECK(dir.entries().empty());
      return e.what();
    }
    FAIL("no ValueError");
    return "";
  };
  SECTION("a parameter name with a NUL and an invalid byte is shown whole") {
    Named model(std::string("w\0x\xff", 4));
    std::string what = refused([&] { save(path, model); });
    CHECK_THAT(what, Catch::Contains("tensor name 'model.w\\x00x\\xFF' is not valid UTF-8 (byte 9 of 10)") &&
                         Catch::Contains(path));
  }
  SECTION("user metadata keys and values") {
    Tiny model;
    std::string what = refused([&] { save(path, model, nullptr, {.metadata = {{"run\xc3", "a"}}}); });
    CHECK_THAT(what, Catch::Contains("user metadata key 'run\\xC3'") && Catch::Contains(path));
    what = refused([&] { save(path, model, nullptr, {.metadata = {{"run", "\xed\xa0\x80"}}}); });
    CHECK_THAT(what, Catch::Contains("the value of user metadata 'run' is not valid UTF-8 (byte 0 of 3)"));
  }
  SECTION("Stateful keys and states") {
    Tiny model;
    RawStateful s;
    s.key = "loader\xfe";
    s.state = "{}";
    std::string what = refused([&] { save(path, model, nullptr, {.stateful = {&s}}); });
    CHECK_THAT(what, Catch::Contains("the Stateful key 'loader\\xFE'"));
    s.key = "loader";
    s.state = "\"\xc0\xaf\"";  // an overlong '/'
    what = refused([&] { save(path, model, nullptr, {.stateful = {&s}}); });
    CHECK_THAT(what, Catch::Contains("the state of Stateful 'loader' is not valid UTF-8 (byte 1 of 4)"));
  }
}

TEST_CASE("a NUL in a tensor name survives a round trip and does not cut load's messages", "[checkpoint]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  Named model(std::string("w\0tail", 6));
  save(path, model);
  Named same(std::string("w\0tail", 6));
  load(path, same);
  Named other("w");
  CHECK_THROWS_WITH(load(path, other), Catch::Contains("missing keys (1): w;") &&
                                           Catch::Contains("unexpected keys (1): w\\x00tail; nothing was loaded"));
}

// ---------------------------------------------------------------- optimizer hyper-parameters

TEST_CASE("a checkpoint whose optimizer hyper-parameters break the constructor's rules is refused",
          "[checkpoint][optim]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  Tiny model;
  optim::AdamW opt(model.parameters(), {.lr = 0.01, .weight_decay = 0.1});
  train_a_little(model, opt, 2);
  save(path, model, &opt);
  std::string good = read_bytes(path);
  struct Case {
    const char* field;
    double value;
    const char* message;
  };
  for (const Case& c : {Case{"lr", -1000, "tl::optim::AdamW: lr must be >= 0, got -1000"},
                        Case{"weight_decay", -0.5, "tl::optim::AdamW: weight_decay must be >= 0, got -0.5"}}) {
    INFO(c.field);
    write_bytes(path, good);
    edit_metadata(path, [&](json& meta) {
      json o = json::parse(meta["optimizer"].get<std::string>());
      o["groups"][0][c.field] = c.value;
      meta["optimizer"] = o.dump();
    });
    auto model_before = snapshot(model.state_dict());
    auto opt_before = snapshot(opt.state());
    CHECK_THROWS_WITH(load(path, model, &opt),
                      Catch::Contains(path) && Catch::Contains("optimizer group 0 in the checkpoint has invalid") &&
                          Catch::Contains(c.message) && Catch::Contains("nothing was loaded"));
    CHECK(snapshot(model.state_dict()) == model_before);
    CHECK(snapshot(opt.state()) == opt_before);
    CHECK(opt.param_groups()[0].lr == 0.01);
    CHECK(opt.param_groups()[0].weight_decay == 0.1);
  }
  write_bytes(path, good);
  load(path, model, &opt);  // the untouched file still loads
}

// ---------------------------------------------------------------- destinations and temporaries

TEST_CASE("save refuses empty and folder paths and missing folders before writing anything", "[checkpoint]") {
  ScratchDir dir;
  Tiny model;
  write_bytes(dir.file("plain"), "x");
  struct Case {
    std::string path, message;
  };
  for (const Case& c : {Case{"", "the path is empty"},
                        Case{dir.file("sub/"), "the path ends with '/', so it names a directory"},
                        Case{dir.path.string(), "it is a directory"},
                        Case{dir.file("missing/ckpt"), "its folder '" + dir.file("missing") + "' does not exist"},
                        Case{dir.file("plain/ckpt"), "'" + dir.file("plain") + "' is not a directory"}}) {
    INFO("path '" << c.path << "'");
    detail::file_io_fail_at(0, 0);
    CHECK_THROWS_WITH(save(c.path, model), Catch::Contains("tl::save: cannot write '" + c.path + "': " + c.message) &&
                                               Catch::Contains("nothing was written"));
    CHECK(detail::file_io_calls() == 0);  // refused before the first file call
  }
  CHECK(dir.entries() == std::vector<std::string>{"plain"});
}

TEST_CASE("a temporary locked by a live save in another process survives cleanup whatever its pid",
          "[checkpoint][reliability]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  Tiny model;
  save(path, model);
  // The pid in the name means nothing here: as for a save running in another PID namespace.
  std::string temp = dir.file(".ckpt.safetensors.tmp.2147483646.0.deadbeef");
  testing::TemporaryHeldByChild writer(temp);  // a save in progress, as tl::save writes it
  dir.age_files();  // old enough to be an orphan: only the lock protects it
  save(path, model);
  CHECK(read_bytes(temp) == "partial");
  Tiny loaded;
  load(path, loaded);
  CHECK(writer.release());
  // The writer is gone and its lock with it: the next save removes the temporary.
  save(path, model);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

// ---------------------------------------------------------------- deep nesting

TEST_CASE("child: deeply nested JSON in a header or a metadata value is refused", "[.][checkpoint_nesting_child]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  Tiny model;
  constexpr int kDepth = 100000;
  {
    // 200 KB of brackets under a tensor name, with enough metadata to pass the first checks.
    std::string text = R"({"__metadata__":{"format":"tracelight.checkpoint","format_version":"1",)"
                       R"("header_crc32c":"00000000"},"w":)" +
                       std::string(kDepth, '[') + std::string(kDepth, ']') + "}";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(static_cast<uint64_t>(text.size()) >> (8 * i));
    write_bytes(path, bytes + text);
    CHECK_THROWS_WITH(load(path, model), Catch::Contains(path) && Catch::Contains("the header: JSON nested deeper "
                                                                                 "than 64 levels at byte"));
  }
  for (const char* key : {"rng", "optimizer", "stateful", "user_metadata", "crc32c"}) {
    INFO(key);
    optim::SGD opt(model.parameters());
    save(path, model, &opt);
    std::string nested;
    for (int i = 0; i < kDepth; ++i) nested += "{\"a\":";
    nested += "1" + std::string(kDepth, '}');
    edit_metadata(path, [&](json& meta) { meta[key] = nested; });
    CHECK_THROWS_WITH(load(path, model, &opt),
                      Catch::Contains(path) && Catch::Contains(std::string("metadata '") + key +
                                                               "': JSON nested deeper than 64 levels"));
  }
}

TEST_CASE("deeply nested JSON in a checkpoint is refused without overflowing the stack", "[checkpoint][reliability]") {
  CHECK(run_in_child("child: deeply nested JSON in a header or a metadata value is refused") == 0);
}

// ---------------------------------------------------------------- FIFOs and other non-files

TEST_CASE("child: load refuses a FIFO without blocking", "[.][checkpoint_fifo_child]") {
  ::alarm(20);  // a blocking open ends the child with SIGALRM instead of hanging the suite
  ScratchDir dir;
  std::string fifo = dir.file("pipe.safetensors");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  Tiny model;
  CHECK_THROWS_WITH(load(fifo, model), Catch::Contains("tl::load: '" + fifo + "': it is a FIFO (named pipe), not a "
                                                       "regular file"));
  CHECK_THROWS_WITH(load(dir.path.string(), model), Catch::Contains("it is a directory, not a regular file"));
  CHECK_THROWS_WITH(load("/dev/null", model), Catch::Contains("'/dev/null': it is a character device"));
}

TEST_CASE("load refuses FIFOs and other files that are not regular at once naming the path", "[checkpoint][reliability]") {
  int status = run_in_child("child: load refuses a FIFO without blocking");
  INFO("exit status " << status << (status == 128 + SIGALRM ? " (SIGALRM: the open blocked)" : ""));
  CHECK(status == 0);
}
