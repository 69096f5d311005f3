// runtime/base/disk_cache.cpp and the disk cache path of compile_groups: entries round trip,
// every damaged entry is ignored and replaced, failed writes leave nothing behind, and kernels
// compiled in one process are linked from disk by the next with identical results. Every test
// uses its own temporary TL_CACHE_DIR.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <mlir/IR/BuiltinOps.h>
#include <mlir/IR/MLIRContext.h>
#include <mlir/Parser/Parser.h>

#include "runtime/base/disk_cache.h"
#include "codegen/cpu/elementwise.h"
#include "runtime/exec/fused_kernel.h"
#include "ir/dialect.h"
#include "runtime/base/file_io.h"
#include "tests/support/locked_temporary.h"
#include "tests/support/spawn_self.h"
#include "tl/ops.h"
#include "tl/random.h"


using namespace tl;
using rt::DiskCache;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the system's temporary folder, removed with its contents at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tl_disk_cache_test.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    // Undo the read-only modes some tests set, so the folder can be removed.
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      ::chmod(it->path().c_str(), 0755);
    }
    fs::remove_all(path, ec);
  }
};

// Sets an environment variable (nullptr: unsets it) until the end of the scope.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(const char* n, const char* value) : name(n) {
    if (const char* v = std::getenv(n)) old = v;
    if (value) ::setenv(n, value, 1);
    else ::unsetenv(n);
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.flush());
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

// A fused group as tl-fuse-elementwise outlines it: x * c + b, then tanh and sigmoid, with a
// broadcast bias; `c` varies the IR (and so the cache key).
std::string group_ir(double c) {
  std::ostringstream s;
  s << "func.func private @g(%x: tensor<64x33xf32>, %b: tensor<33xf32>) -> tensor<64x33xf32> "
       "attributes {fused = \"mul+add+tanh+sigmoid\"} {\n"
    << "  %c = tl.constant dense<" << std::scientific << c << "> : tensor<f32>\n"
    << "  %0 = tl.mul %x, %c : (tensor<64x33xf32>, tensor<f32>) -> tensor<64x33xf32>\n"
       "  %1 = tl.add %0, %b : (tensor<64x33xf32>, tensor<33xf32>) -> tensor<64x33xf32>\n"
       "  %2 = tl.tanh %1 : (tensor<64x33xf32>) -> tensor<64x33xf32>\n"
       "  %3 = tl.sigmoid %2 : (tensor<64x33xf32>) -> tensor<64x33xf32>\n"
       "  return %3 : tensor<64x33xf32>\n"
       "}\n";
  return s.str();
}

struct Outcome {
  bool ok = false;
  bool from_disk = false;
  std::string error;
  std::vector<float> values;  // the kernel's output on fixed inputs
};

// Compiles group_ir(c) with compile_groups (after forgetting the kernels of this process, so
// the disk cache is consulted as by a new process) and runs it on fixed inputs.
Outcome compile_and_run(double c) {
  codegen::cpu::clear_cache();
  std::unique_ptr<mlir::MLIRContext> ctx = ir::make_context();
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceString<mlir::ModuleOp>(group_ir(c), ctx.get());
  REQUIRE(module);
  auto group = *module->getOps<mlir::func::FuncOp>().begin();
  auto results = codegen::cpu::compile_groups({group});
  Outcome out;
  out.error = results.front().error;
  out.from_disk = results.front().from_disk;
  if (!results.front().kernel) return out;
  manual_seed(7);
  std::vector<Tensor> inputs = {randn({64, 33}), randn({33})};
  Tensor y = empty({64, 33});
  results.front().kernel->run(std::span<const Tensor>(inputs), y);
  out.values = y.to_vector<float>();
  out.ok = true;
  return out;
}

std::vector<fs::path> entries_in(const fs::path& cache_root) { return files_in(cache_root / "kernels"); }

using testing::spawn_self;
int wait_for(pid_t pid) { return testing::wait_for_child(pid); }

// What a child run of "child: compile a group and report" found.
struct ChildReport {
  bool ok = false;
  bool from_disk = false;
  std::vector<float> values;
};
ChildReport read_report(const fs::path& path) {
  ChildReport r;
  std::ifstream in(path, std::ios::binary);
  int ok = 0, from_disk = 0;
  size_t n = 0;
  in >> ok >> from_disk >> n;
  in.get();
  r.values.resize(n);
  in.read(reinterpret_cast<char*>(r.values.data()), static_cast<std::streamsize>(n * sizeof(float)));
  r.ok = ok && in.good();
  r.from_disk = from_disk;
  return r;
}

}  // namespace

// ---- the entry format

TEST_CASE("a stored entry loads back, and an absent key is a miss", "[codegen][disk_cache]") {
  TempDir tmp;
  DiskCache cache((tmp.path / "a" / "b").string(), DiskCache::kDefaultLimitBytes);  // created on store
  CHECK_FALSE(cache.load("key one"));
  CHECK(cache.store("key one", std::string("payload\0with a zero", 19)).empty());
  auto got = cache.load("key one");
  REQUIRE(got);
  CHECK(*got == std::string("payload\0with a zero", 19));
  CHECK_FALSE(cache.load("key two"));
  CHECK(cache.store("key one", "replaced").empty());
  CHECK(cache.load("key one") == std::optional<std::string>("replaced"));
  auto stats = cache.stats();
  CHECK(stats.hits == 2);
  CHECK(stats.misses == 2);
  CHECK(stats.stores == 2);
  CHECK(stats.rejected == 0);
  CHECK(files_in(tmp.path / "a" / "b").size() == 1);  // no temporary file left
}

TEST_CASE("every truncation, flipped byte and appended byte of an entry is rejected", "[codegen][disk_cache]") {
  TempDir tmp;
  DiskCache cache(tmp.path.string(), DiskCache::kDefaultLimitBytes);
  const std::string key = "kernels for: some IR text", payload = "object code bytes 0123456789";
  REQUIRE(cache.store(key, payload).empty());
  const fs::path path = cache.path_for(key);
  const std::string good = read_file(path);
  REQUIRE(good.size() == DiskCache::kHeaderBytes + key.size() + payload.size());

  int rejected = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    write_file(path, good.substr(0, n));
    INFO("truncated to " << n << " bytes");
    CHECK_FALSE(cache.load(key));
    ++rejected;
  }
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit : {0, 7}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      write_file(path, bad);
      INFO("bit " << bit << " of byte " << i << " flipped");
      CHECK_FALSE(cache.load(key));
      ++rejected;
    }
  }
  write_file(path, good + "x");
  CHECK_FALSE(cache.load(key));
  CHECK(cache.last_rejection().find("trailing bytes") != std::string::npos);
  ++rejected;
  CHECK(cache.stats().rejected == rejected);
  CHECK(cache.stats().hits == 0);

  // The next store replaces the damaged entry.
  REQUIRE(cache.store(key, payload).empty());
  CHECK(cache.load(key) == std::optional<std::string>(payload));
}

// Runs `fn` on another thread; if it has not returned after `seconds`, opens `fifo` for
// writing so that a reader blocked in open() wakes up, and returns false (it hung).
template <class F>
bool returns_without_a_writer(const fs::path& fifo, F fn, int seconds = 10) {
  auto done = std::async(std::launch::async, fn);
  if (done.wait_for(std::chrono::seconds(seconds)) == std::future_status::ready) return true;
  int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) ::close(fd);
  done.wait();
  return false;
}

TEST_CASE("a FIFO under an entry's name is ignored without blocking, and a store replaces it",
          "[codegen][disk_cache]") {
  TempDir tmp;
  DiskCache cache(tmp.path.string(), DiskCache::kDefaultLimitBytes);
  const fs::path entry = cache.path_for("key");
  REQUIRE(::mkfifo(entry.c_str(), 0644) == 0);
  std::optional<std::string> got = std::string("not loaded");
  REQUIRE(returns_without_a_writer(entry, [&] { got = cache.load("key"); }));
  CHECK_FALSE(got);
  CHECK(cache.stats().rejected == 1);
  CHECK_THAT(cache.last_rejection(), Catch::Contains(entry.string()) && Catch::Contains("not a regular file"));
  // A store replaces the FIFO with a real entry.
  CHECK(cache.store("key", "payload").empty());
  CHECK(fs::is_regular_file(entry));
  CHECK(cache.load("key") == std::optional<std::string>("payload"));
  // Eviction walks past a FIFO too.
  REQUIRE(::mkfifo((tmp.path / "other.tlc").c_str(), 0644) == 0);
  CHECK(cache.store("key 2", "payload 2").empty());
}

TEST_CASE("an entry under another key's file name, or of another format version, is ignored",
          "[codegen][disk_cache]") {
  TempDir tmp;
  DiskCache cache(tmp.path.string(), DiskCache::kDefaultLimitBytes);
  REQUIRE(cache.store("key A", "payload of A").empty());
  REQUIRE(cache.store("key of another length", "payload").empty());
  const std::string entry_a = read_file(cache.path_for("key A"));

  // Same key length, other key: only the key comparison can tell.
  write_file(cache.path_for("key B"), entry_a);
  CHECK_FALSE(cache.load("key B"));
  CHECK(cache.last_rejection().find("another key") != std::string::npos);
  write_file(cache.path_for("key of another length"), entry_a);
  CHECK_FALSE(cache.load("key of another length"));
  CHECK(cache.last_rejection().find("another key") != std::string::npos);

  std::string newer = entry_a;
  newer[8] = static_cast<char>(DiskCache::kFormatVersion + 1);
  write_file(cache.path_for("key A"), newer);
  CHECK_FALSE(cache.load("key A"));
  CHECK(cache.last_rejection().find("format version " + std::to_string(DiskCache::kFormatVersion + 1)) !=
        std::string::npos);

  // A directory or a symlink in an entry's place is not read.
  fs::remove(cache.path_for("key A"));
  fs::create_directory(cache.path_for("key A"));
  CHECK_FALSE(cache.load("key A"));
  fs::remove(cache.path_for("key A"));
  fs::create_symlink(cache.path_for("key of another length"), cache.path_for("key A"));
  CHECK_FALSE(cache.load("key A"));
}

TEST_CASE("a write that fails at any I/O call keeps the previous entry and leaves no temporary file",
          "[codegen][disk_cache]") {
  TempDir tmp;
  DiskCache cache(tmp.path.string(), DiskCache::kDefaultLimitBytes);
  REQUIRE(cache.store("key", "old payload").empty());
  detail::file_io_fail_at(0, 0);
  REQUIRE(cache.store("key", "new payload").empty());
  const uint64_t calls = detail::file_io_calls();
  REQUIRE(calls >= 5);  // open, write x3, fsync, close, rename, folder open/fsync/close
  for (int error : {ENOSPC, EIO}) {
    for (uint64_t k = 1; k <= calls; ++k) {
      REQUIRE(cache.store("key", "old payload").empty());
      detail::file_io_fail_at(k, error);
      const std::string message = cache.store("key", "new payload");
      detail::file_io_fail_at(0, 0);
      INFO("I/O call " << k << " fails with " << std::strerror(error) << ": " << message);
      auto got = cache.load("key");
      REQUIRE(got);
      if (message.empty()) {
        CHECK(*got == "new payload");  // only the folder's fsync after the rename failed
      } else {
        CHECK(*got == "old payload");
        CHECK(message.find(cache.path_for("key")) != std::string::npos);
        CHECK(message.find(std::strerror(error)) != std::string::npos);
      }
      CHECK(files_in(tmp.path).size() == 1);
    }
  }
}

TEST_CASE("stores beyond the size limit evict the least recently used entries", "[codegen][disk_cache]") {
  TempDir tmp;
  DiskCache cache(tmp.path.string(), 10000);
  const std::string kb3(3000, 'x');
  for (const char* key : {"e1", "e2", "e3"}) REQUIRE(cache.store(key, kb3).empty());
  // Explicit ages: e2 oldest, then e1, then e3; loading e1 makes it the most recent.
  auto age = [&](const char* key, int seconds_ago) {
    const auto t = fs::file_time_type::clock::now() - std::chrono::seconds(seconds_ago);
    fs::last_write_time(cache.path_for(key), t);
  };
  age("e1", 300);
  age("e2", 400);
  age("e3", 200);
  REQUIRE(cache.load("e1"));
  REQUIRE(cache.store("e4", kb3).empty());  // 12 KB > 10 KB: evict down to 7.5 KB
  CHECK(cache.stats().evicted == 2);
  CHECK(cache.load("e1"));
  CHECK_FALSE(cache.load("e2"));
  CHECK_FALSE(cache.load("e3"));
  CHECK(cache.load("e4"));

  // A temporary file left by a writer that died is removed once it is old; a fresh one, or an
  // old one a live writer holds locked (a slow store in another process), is kept.
  const fs::path dead = tmp.path / ".abc.tlc.tmp.1.2.3", fresh = tmp.path / ".abc.tlc.tmp.4.5.6";
  const fs::path held = tmp.path / ".abc.tlc.tmp.7.8.9";
  write_file(dead, "partial");
  write_file(fresh, "partial");
  tl::testing::TemporaryHeldByChild writer(held.string());
  for (const fs::path& old : {dead, held})
    fs::last_write_time(old, fs::file_time_type::clock::now() - std::chrono::hours(2));
  REQUIRE(cache.store("e5", "small").empty());
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(fresh));
  CHECK(fs::exists(held));
  CHECK(writer.release());
  REQUIRE(cache.store("e6", "small").empty());
  CHECK_FALSE(fs::exists(held));  // unlocked now
}

TEST_CASE("concurrent stores and loads of one entry never see a partial entry", "[codegen][disk_cache]") {
  TempDir tmp;
  DiskCache cache(tmp.path.string(), DiskCache::kDefaultLimitBytes);
  const std::string a(200000, 'a'), b(200000, 'b');
  std::atomic<int> torn{0}, hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        cache.store("shared", (t + i) % 2 ? a : b);
        if (auto got = cache.load("shared")) {
          ++hits;
          if (*got != a && *got != b) ++torn;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(torn == 0);
  CHECK(hits == 80);
  CHECK(cache.stats().rejected == 0);
  CHECK(files_in(tmp.path).size() == 1);
}

TEST_CASE("the cache folder comes from TL_CACHE_DIR, XDG_CACHE_HOME or HOME", "[codegen][disk_cache]") {
  ScopedEnv xdg("XDG_CACHE_HOME", "/xdg"), home("HOME", "/home/u");
  {
    ScopedEnv dir("TL_CACHE_DIR", "/custom");
    CHECK(rt::cache_root_from_env() == "/custom");
  }
  {
    ScopedEnv dir("TL_CACHE_DIR", "off");
    CHECK(rt::cache_root_from_env().empty());
  }
  {
    ScopedEnv dir("TL_CACHE_DIR", "");
    CHECK(rt::cache_root_from_env().empty());
  }
  ScopedEnv dir("TL_CACHE_DIR", nullptr);
  CHECK(rt::cache_root_from_env() == "/xdg/tracelight");
  {
    ScopedEnv relative("XDG_CACHE_HOME", "relative");
    CHECK(rt::cache_root_from_env() == "/home/u/.cache/tracelight");
  }
  ScopedEnv no_xdg("XDG_CACHE_HOME", nullptr);
  CHECK(rt::cache_root_from_env() == "/home/u/.cache/tracelight");
  ScopedEnv no_home("HOME", nullptr);
  CHECK(rt::cache_root_from_env().empty());
}

// ---- compiled kernels through the cache

TEST_CASE("a kernel compiled once is linked from the disk cache with identical results",
          "[codegen][disk_cache]") {
  TempDir tmp;
  ScopedEnv dir("TL_CACHE_DIR", tmp.path.c_str());
  const auto before = codegen::cpu::cache_stats();
  Outcome cold = compile_and_run(0.75);
  REQUIRE(cold.ok);
  CHECK_FALSE(cold.from_disk);
  auto entries = entries_in(tmp.path);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].extension() == ".tlc");

  // The key written into the entry names what the code depends on.
  const std::string entry = read_file(entries[0]);
  for (const char* part : {"tl 0.", "abi ", "llvm 15", "codegen ", "cpu ", "features ", "-O3", "tl.tanh"}) {
    INFO(part);
    CHECK(entry.find(part) != std::string::npos);
  }

  Outcome warm = compile_and_run(0.75);
  REQUIRE(warm.ok);
  CHECK(warm.from_disk);
  CHECK(warm.values == cold.values);
  const auto after = codegen::cpu::cache_stats();
  CHECK(after.compiled == before.compiled + 1);
  CHECK(after.loaded == before.loaded + 1);

  // Another group is another entry.
  Outcome other = compile_and_run(1.5);
  REQUIRE(other.ok);
  CHECK_FALSE(other.from_disk);
  CHECK(other.values != cold.values);
  CHECK(entries_in(tmp.path).size() == 2);
}

TEST_CASE("child: compile a group and report", "[.][disk_cache_child]") {
  // Run by the tests below in a new process: TL_TEST_CHILD_UID drops root first (so folder
  // modes apply), TL_TEST_CHILD_REPORT names the file the outcome goes to.
  if (const char* uid = std::getenv("TL_TEST_CHILD_UID")) REQUIRE(::setuid(std::atoi(uid)) == 0);
  const char* report = std::getenv("TL_TEST_CHILD_REPORT");
  REQUIRE(report != nullptr);
  Outcome out = compile_and_run(std::atof(std::getenv("TL_TEST_CHILD_CONSTANT")));
  INFO(out.error);
  std::ofstream file(report, std::ios::binary);
  file << out.ok << " " << out.from_disk << " " << out.values.size() << "\n";
  file.write(reinterpret_cast<const char*>(out.values.data()),
             static_cast<std::streamsize>(out.values.size() * sizeof(float)));
  REQUIRE(file.flush());
}

TEST_CASE("a new process links the kernel a previous one compiled, with identical results",
          "[codegen][disk_cache]") {
  TempDir tmp;
  ScopedEnv dir("TL_CACHE_DIR", tmp.path.c_str());
  Outcome cold = compile_and_run(0.25);
  REQUIRE(cold.ok);
  const fs::path report = tmp.path / "report";
  pid_t child = spawn_self("child: compile a group and report",
                           {"TL_TEST_CHILD_REPORT=" + report.string(), "TL_TEST_CHILD_CONSTANT=0.25"});
  REQUIRE(wait_for(child) == 0);
  ChildReport r = read_report(report);
  REQUIRE(r.ok);
  CHECK(r.from_disk);
  CHECK(r.values == cold.values);
}

TEST_CASE("two processes compiling one group into an empty cache both succeed", "[codegen][disk_cache]") {
  TempDir tmp;
  ScopedEnv dir("TL_CACHE_DIR", tmp.path.c_str());
  std::vector<pid_t> children;
  for (int i = 0; i < 2; ++i) {
    children.push_back(spawn_self("child: compile a group and report",
                                  {"TL_TEST_CHILD_REPORT=" + (tmp.path / ("report" + std::to_string(i))).string(),
                                   "TL_TEST_CHILD_CONSTANT=0.5"}));
  }
  for (pid_t c : children) CHECK(wait_for(c) == 0);
  ChildReport r0 = read_report(tmp.path / "report0"), r1 = read_report(tmp.path / "report1");
  REQUIRE(r0.ok);
  REQUIRE(r1.ok);
  CHECK(r0.values == r1.values);
  // One entry, whole: this process links it.
  CHECK(entries_in(tmp.path).size() == 1);
  Outcome warm = compile_and_run(0.5);
  REQUIRE(warm.ok);
  CHECK(warm.from_disk);
  CHECK(warm.values == r0.values);
}

TEST_CASE("corrupt, truncated and foreign kernel entries are ignored and rewritten", "[codegen][disk_cache]") {
  TempDir tmp;
  ScopedEnv dir("TL_CACHE_DIR", tmp.path.c_str());
  Outcome reference = compile_and_run(2.0);
  REQUIRE(reference.ok);
  REQUIRE(entries_in(tmp.path).size() == 1);
  const fs::path path = entries_in(tmp.path)[0];
  const std::string good = read_file(path);
  Outcome other = compile_and_run(3.0);  // an entry for another group
  REQUIRE(other.ok);
  fs::path other_path;
  for (const auto& p : entries_in(tmp.path))
    if (p != path) other_path = p;
  const std::string foreign = read_file(other_path);

  struct Damage {
    const char* what;
    std::string bytes;
  };
  std::string flipped = good;
  flipped[good.size() / 2] = static_cast<char>(flipped[good.size() / 2] ^ 0x10);  // inside the object code
  std::string zeroed = good;
  std::fill(zeroed.end() - 4096, zeroed.end(), '\0');
  const std::vector<Damage> damages = {
      {"truncated to half", good.substr(0, good.size() / 2)},
      {"truncated by one byte", good.substr(0, good.size() - 1)},
      {"a flipped bit in the object code", flipped},
      {"the last 4 KiB zeroed", zeroed},
      {"another group's entry", foreign},
      {"empty", ""},
  };
  for (const Damage& d : damages) {
    INFO(d.what);
    write_file(path, d.bytes);
    auto disk = rt::kernel_disk_cache();
    REQUIRE(disk);
    const int64_t rejected = disk->stats().rejected;
    Outcome recompiled = compile_and_run(2.0);
    REQUIRE(recompiled.ok);
    CHECK_FALSE(recompiled.from_disk);
    CHECK(recompiled.values == reference.values);
    CHECK(disk->stats().rejected == rejected + 1);
    // The recompiled kernel replaced the damaged entry.
    CHECK(read_file(path) == good);
    Outcome warm = compile_and_run(2.0);
    CHECK(warm.from_disk);
    CHECK(warm.values == reference.values);
  }
}

TEST_CASE("a missing cache folder is created, and a read-only one serves its entries", "[codegen][disk_cache]") {
  TempDir tmp;
  const fs::path root = tmp.path / "not" / "yet";
  ScopedEnv dir("TL_CACHE_DIR", root.c_str());
  Outcome cold = compile_and_run(4.0);
  REQUIRE(cold.ok);
  REQUIRE(entries_in(root).size() == 1);

  // Read-only: the entry still loads in a new process, a new group compiles without being
  // stored. Root ignores folder modes, so the child then runs as nobody.
  ::chmod(entries_in(root)[0].c_str(), 0444);
  for (const fs::path& p : {root / "kernels", root, tmp.path / "not"}) ::chmod(p.c_str(), 0555);
  ::chmod(tmp.path.c_str(), 0777);  // the child writes its report here
  std::vector<std::string> env = {"TL_TEST_CHILD_REPORT=" + (tmp.path / "report").string()};
  if (::geteuid() == 0) env.push_back("TL_TEST_CHILD_UID=65534");
  env.push_back("TL_TEST_CHILD_CONSTANT=4.0");
  REQUIRE(wait_for(spawn_self("child: compile a group and report", env)) == 0);
  ChildReport hit = read_report(tmp.path / "report");
  REQUIRE(hit.ok);
  CHECK(hit.from_disk);
  CHECK(hit.values == cold.values);

  env.back() = "TL_TEST_CHILD_CONSTANT=5.0";
  REQUIRE(wait_for(spawn_self("child: compile a group and report", env)) == 0);
  ChildReport miss = read_report(tmp.path / "report");
  REQUIRE(miss.ok);
  CHECK_FALSE(miss.from_disk);
  CHECK(entries_in(root).size() == 1);  // nothing could be written
  ScopedEnv off("TL_CACHE_DIR", "off");
  Outcome reference = compile_and_run(5.0);
  REQUIRE(reference.ok);
  CHECK(miss.values == reference.values);
}

TEST_CASE("with TL_CACHE_DIR=off or an unusable folder, kernels compile and nothing is written",
          "[codegen][disk_cache]") {
  TempDir tmp;
  ScopedEnv home("HOME", tmp.path.c_str()), xdg("XDG_CACHE_HOME", nullptr);
  {
    ScopedEnv dir("TL_CACHE_DIR", "off");
    CHECK_FALSE(rt::kernel_disk_cache());
    Outcome out = compile_and_run(6.0);
    REQUIRE(out.ok);
    CHECK_FALSE(out.from_disk);
    CHECK(files_in(tmp.path).empty());
  }
  // A regular file where the folder should be: the cache is off, compilation works.
  write_file(tmp.path / "file", "x");
  ScopedEnv dir("TL_CACHE_DIR", (tmp.path / "file" / "cache").c_str());
  CHECK_FALSE(rt::kernel_disk_cache());
  Outcome out = compile_and_run(6.0);
  REQUIRE(out.ok);
  CHECK_FALSE(out.from_disk);
  CHECK(files_in(tmp.path).size() == 1);
}
