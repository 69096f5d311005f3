// read_metrics: complete records are read, a torn last record is skipped, a corrupt line in
// the middle is skipped and counted.
#include <catch2/catch.hpp>
#include <tl/tl.h>

#include "tests/frontend/track/track_test_util.h"

namespace fs = std::filesystem;
using tl::test::ScratchDir;

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
