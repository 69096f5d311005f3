// Fuzzes the readers of run folders (frontend/track: config.json and meta.json, metrics.jsonl,
// histograms.jsonl), as Run::resume and tl-runs use them. The input is split at NUL bytes
// into config.json, meta.json, metrics.jsonl and histograms.jsonl (a missing part leaves its
// file out); then list_runs, read_metrics, read_histograms, compare_runs, show_histograms
// and Run::resume + close run on the folder.
// Oracle: each refuses with a tl::Error or succeeds; a resumed run cuts a torn metrics tail
// off, so after close metrics.jsonl reads back the same complete records with no torn tail.
// Any other exception is a failure.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "tl/tl.h"

namespace fs = std::filesystem;

namespace {

bool same_record(const tl::MetricRecord& a, const tl::MetricRecord& b) {
  auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
  return a.step == b.step && a.name == b.name && same(a.value, b.value) && same(a.time, b.time);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const kFiles[] = {"config.json", "meta.json", "metrics.jsonl", "histograms.jsonl"};
  const fs::path run = tl::fuzz::scratch_dir() / "runs" / "fuzz" / "run";
  fs::remove_all(run.parent_path());
  fs::create_directories(run);
  size_t begin = 0;
  for (const char* name : kFiles) {
    if (begin > size) break;
    const void* nul = std::memchr(data + begin, 0, size - begin);
    const size_t end = nul ? static_cast<const uint8_t*>(nul) - data : size;
    tl::fuzz::write_file(run / name, data + begin, end - begin);
    begin = end + 1;
  }

  try {
    tl::list_runs(run.parent_path().parent_path());
  } catch (const tl::Error&) {
  }
  tl::MetricsFile before;
  bool has_metrics = false;
  try {
    before = tl::read_metrics(run / "metrics.jsonl");
    has_metrics = true;
  } catch (const tl::Error&) {
  }
  try {
    tl::read_histograms(run / "histograms.jsonl");
    tl::show_histograms(run);
  } catch (const tl::Error&) {
  }
  try {
    tl::compare_runs(run.parent_path().parent_path());
  } catch (const tl::Error&) {
  }

  try {
    tl::Run resumed = tl::Run::resume(run, tl::RunOptions{.print_summary = false});
    resumed.close();
  } catch (const tl::Error&) {
    return 0;
  }
  if (!has_metrics) return 0;
  tl::MetricsFile after;
  try {
    after = tl::read_metrics(run / "metrics.jsonl");
  } catch (const tl::Error& e) {
    tl::fuzz::fail(std::string("metrics.jsonl of a resumed run does not read: ") + e.what());
  }
  if (after.torn_tail) tl::fuzz::fail("a resumed run left a torn metrics record");
  if (after.records.size() != before.records.size()) tl::fuzz::fail("resume changed the number of metric records");
  for (size_t i = 0; i < after.records.size(); ++i) {
    if (!same_record(after.records[i], before.records[i])) tl::fuzz::fail("resume changed a metric record");
  }
  return 0;
}
