// The disk cache of compiled kernels through tl::compile (libtl_compiler.so): a training step
// compiled in one process runs in the next with the kernels read from the cache, and both
// give bitwise the results of a process without the cache. Uses its own TL_CACHE_DIR.
#include <catch2/catch.hpp>

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tl/compile.h"
#include "tl/nn.h"
#include "tl/optim.h"
#include "tl/random.h"
#include "tl/tl.h"
#include "tests/support/spawn_self.h"


using namespace tl;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs this binary's hidden test below in a new process with `env` added; returns its status.
int run_child(const std::vector<std::string>& env) {
  return testing::wait_for_child(testing::spawn_self("child: run a compiled training step and report", env));
}

struct EntryFile {
  fs::path path;
  ino_t inode = 0;
  std::string bytes;
};
std::vector<EntryFile> entries_in(const fs::path& dir) {
  std::vector<EntryFile> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    REQUIRE(::stat(it->path().c_str(), &st) == 0);
    out.push_back({it->path(), st.st_ino, read_file(it->path())});
  }
  std::sort(out.begin(), out.end(), [](const EntryFile& a, const EntryFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace

TEST_CASE("child: run a compiled training step and report", "[.][disk_cache_child]") {
  const char* report = std::getenv("TL_TEST_CHILD_REPORT");
  REQUIRE(report != nullptr);
  manual_seed(0);
  nn::Sequential model(nn::Linear(16, 32), nn::GELU(), nn::Linear(32, 32), nn::Tanh(), nn::Linear(32, 4));
  optim::SGD opt(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  Tensor x = randn({64, 16});
  Tensor y = randint(0, 4, {64});
  auto step = compile([&](Tensor a, Tensor b) {
    Tensor loss = nn::cross_entropy(model(a), b);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  });
  std::ofstream out(report, std::ios::binary);
  for (int i = 0; i < 5; ++i) {  // eager warm-up, trace, then compiled calls
    const float loss = step(x, y).item<float>();
    out.write(reinterpret_cast<const char*>(&loss), sizeof loss);
  }
  REQUIRE(step.stats().compiled_calls == 3);
  for (const Tensor& p : model.parameters()) {
    const std::vector<float> v = p.contiguous().to_vector<float>();
    out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  }
  // The program ran generated kernels (else the cache would not be exercised).
  out << "\n" << (explain(step, x, y).find("fused = ") != std::string::npos ? "fused" : "unfused");
  REQUIRE(out.flush());
}

TEST_CASE("a compiled training step in a new process runs the cached kernels with identical results",
          "[codegen][disk_cache]") {
  std::string pattern = (fs::temp_directory_path() / "tl_disk_cache_compile_test.XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  const fs::path tmp = pattern;
  const fs::path kernels = tmp / "cache" / "kernels";
  const std::string cache = "TL_CACHE_DIR=" + (tmp / "cache").string();

  REQUIRE(run_child({cache, "TL_TEST_CHILD_REPORT=" + (tmp / "cold").string()}) == 0);
  const std::string cold = read_file(tmp / "cold");
  REQUIRE(cold.size() > 5 * sizeof(float));
  CHECK(cold.substr(cold.size() - 6) == "\nfused");
  const std::vector<EntryFile> stored = entries_in(kernels);
  REQUIRE(!stored.empty());
  // Aged, so a read (which touches its entry) shows.
  for (const EntryFile& e : stored) fs::last_write_time(e.path, fs::file_time_type::clock::now() - std::chrono::hours(2));

  REQUIRE(run_child({cache, "TL_TEST_CHILD_REPORT=" + (tmp / "warm").string()}) == 0);
  CHECK(read_file(tmp / "warm") == cold);
  const std::vector<EntryFile> after = entries_in(kernels);
  REQUIRE(after.size() == stored.size());
  for (size_t i = 0; i < after.size(); ++i) {
    INFO(after[i].path);
    // Read, not rewritten: the same file (a store renames a new one in), with a fresh mtime.
    CHECK(after[i].inode == stored[i].inode);
    CHECK(after[i].bytes == stored[i].bytes);
    CHECK(fs::last_write_time(after[i].path) > fs::file_time_type::clock::now() - std::chrono::minutes(30));
  }

  REQUIRE(run_child({"TL_CACHE_DIR=off", "TL_TEST_CHILD_REPORT=" + (tmp / "off").string()}) == 0);
  CHECK(read_file(tmp / "off") == cold);
  std::error_code ec;
  fs::remove_all(tmp, ec);
}
