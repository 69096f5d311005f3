// RunOptions::tensorboard: the event file a run writes holds TensorBoard's records (length,
// masked CRC32C of it, a serialized Event, masked CRC32C of that), read back here with the
// Event protobuf: the file version first, then every logged scalar with its step and value,
// and every histogram with its buckets.
#include <catch2/catch.hpp>
#include <tl/tl.h>

#include <map>

#include "frontend/track/tensorboard.h"
#include "frontend/track/tensorboard.pb.h"
#include "tests/frontend/track/track_test_util.h"

using tl::test::ScratchDir;
using tl::test::quiet;
namespace fs = std::filesystem;

namespace {
fs::path event_file(const fs::path& run) {
  for (const auto& e : fs::directory_iterator(run))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) return e.path();
  return {};
}
}  // namespace

TEST_CASE("the masked CRC32C is TensorBoard's", "[track][tensorboard]") {
  // crc32c("123456789") = 0xe3069283 (the standard check value), masked as TensorFlow does.
  const uint32_t crc = 0xe3069283u;
  CHECK(tl::track::masked_crc32c("123456789", 9) == ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST_CASE("a run with tensorboard writes its scalars and histograms as TensorBoard events", "[track][tensorboard]") {
  ScratchDir dir;
  tl::RunOptions options = quiet(dir.path);
  options.tensorboard = true;
  fs::path path;
  {
    tl::Run run("tb", {{"lr", 0.1}}, options);
    path = run.path();
    for (int step = 0; step < 5; ++step) run.log("loss", 1.0 / (step + 1));
    run.log("accuracy", 0.75, 10);
    run.log("loss_tensor", tl::full({}, 2.5), 3);
    run.log_histogram("weights", tl::from_vector<float>({0, 1, 1, 2, 3, 4}), 7, 4);
    run.close();
  }
  const fs::path file = event_file(path);
  REQUIRE_FALSE(file.empty());
  const std::vector<tl::track::EventRecord> records = tl::track::read_event_records(file);
  REQUIRE(records.size() == 1 + 5 + 1 + 1 + 1);
  std::map<std::string, std::vector<std::pair<int64_t, float>>> scalars;
  tl::tensorboard::HistogramProto histogram;
  int64_t histogram_step = -1;
  for (size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i].crc_ok);
    tl::tensorboard::Event e;
    REQUIRE(e.ParseFromString(records[i].event));
    CHECK(e.wall_time() > 1.7e9);
    if (i == 0) {
      CHECK(e.file_version() == "brain.Event:2");
      continue;
    }
    REQUIRE(e.has_summary());
    REQUIRE(e.summary().value_size() == 1);
    const auto& v = e.summary().value(0);
    if (v.has_histo()) {
      histogram = v.histo();
      histogram_step = e.step();
      CHECK(v.tag() == "weights");
    } else {
      scalars[v.tag()].push_back({e.step(), v.simple_value()});
    }
  }
  REQUIRE(scalars["loss"].size() == 5);
  for (int step = 0; step < 5; ++step) {
    CHECK(scalars["loss"][step].first == step);
    CHECK(scalars["loss"][step].second == Approx(1.0 / (step + 1)));
  }
  CHECK(scalars["accuracy"] == std::vector<std::pair<int64_t, float>>{{10, 0.75f}});
  CHECK(scalars["loss_tensor"] == std::vector<std::pair<int64_t, float>>{{3, 2.5f}});
  CHECK(histogram_step == 7);
  CHECK(histogram.min() == 0);
  CHECK(histogram.max() == 4);
  CHECK(histogram.num() == 6);
  CHECK(histogram.sum() == 11);
  CHECK(histogram.sum_squares() == 31);
  CHECK(std::vector<double>(histogram.bucket_limit().begin(), histogram.bucket_limit().end()) ==
        std::vector<double>{1, 2, 3, 4});
  CHECK(std::vector<double>(histogram.bucket().begin(), histogram.bucket().end()) == std::vector<double>{1, 2, 1, 2});

  // A flipped byte is caught by the record's checksum.
  std::string bytes = tl::test::read_text(file);
  bytes[bytes.size() - 6] ^= 0x40;
  tl::test::write_text(file, bytes);
  CHECK_FALSE(tl::track::read_event_records(file).back().crc_ok);
}

TEST_CASE("a run without tensorboard writes no event file", "[track][tensorboard]") {
  ScratchDir dir;
  tl::Run run("plain", {}, quiet(dir.path));
  run.log("loss", 1.0);
  run.close();
  CHECK(event_file(run.path()).empty());
}
