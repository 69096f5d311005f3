// DataLoader::pin_memory: batches collated into pinned memory and copied to a CUDA device with
// non_blocking copies give the CPU loader's batches, with or without workers, on whatever
// CUDA device there is (a GPU, or the emulated device in ops_cuda_emulated_test); without
// one, the refusals.
#include <catch2/catch.hpp>
#include <tl/tl.h>

#include <stdexcept>

using namespace tl::data;

namespace {

// Rows of random floats with an int64 label, collated by Dataset's default get_batch; the
// example at `bad` (when set) throws.
class RandomRows : public Dataset {
 public:
  explicit RandomRows(int64_t n, int64_t bad = -1) : x_(tl::randn({n, 3, 5})), bad_(bad) {}
  int64_t size() const override { return x_.size(0); }
  Example get(int64_t i) const override {
    if (i == bad_) throw std::runtime_error("row " + std::to_string(i) + " is unreadable");
    return {x_.select(0, i), tl::full({}, static_cast<double>(i), {.dtype = tl::kInt64})};
  }

 private:
  tl::Tensor x_;
  int64_t bad_;
};

}  // namespace

TEST_CASE("without a CUDA device a DataLoader refuses pin_memory = true and leaves batches pageable otherwise",
          "[data][loader][pinned]") {
  if (tl::cuda_device::is_available()) {
    SUCCEED();
    return;
  }
  auto ds = std::make_shared<RandomRows>(10);
  CHECK_THROWS_AS(DataLoader(ds, {.batch_size = 4, .pin_memory = true}), tl::DeviceError);
  CHECK_THROWS_WITH(DataLoader(ds, {.batch_size = 4, .pin_memory = true}),
                    Catch::Contains("pin_memory") && Catch::Contains("data_loader_pinned_test.cpp"));
  for (std::optional<bool> pin : {std::optional<bool>{}, std::optional<bool>{false}}) {
    DataLoader loader(ds, {.batch_size = 4, .pin_memory = pin});
    for (auto [x, y] : loader) {
      CHECK_FALSE(x.is_pinned());
      CHECK_FALSE(y.is_pinned());
    }
  }
}

TEST_CASE("a DataLoader on CUDA with pinned batches gives the CPU loader's batches", "[data][loader][cuda][pinned]") {
  if (!tl::cuda_device::is_available()) {
    WARN("skipped: no CUDA device");
    return;
  }
  tl::manual_seed(11);
  auto ds = std::make_shared<RandomRows>(23);
  DataLoader cpu(ds, {.batch_size = 4, .shuffle = true, .seed = 9});
  std::vector<Batch> want;
  for (int epoch = 0; epoch < 2; ++epoch)
    for (auto [x, y] : cpu) want.push_back({x, y});
  for (int workers : {0, 3}) {
    for (std::optional<bool> pin : {std::optional<bool>{}, std::optional<bool>{true}, std::optional<bool>{false}}) {
      INFO(workers << " workers, pin_memory " << (pin ? (*pin ? "true" : "false") : "unset"));
      const auto before = tl::cuda_device::pinned_memory_stats();
      DataLoader gpu(ds, {.batch_size = 4, .shuffle = true, .num_workers = workers, .seed = 9, .device = tl::kCUDA,
                          .pin_memory = pin});
      size_t i = 0;
      for (int epoch = 0; epoch < 2; ++epoch) {
        for (auto [x, y] : gpu) {
          REQUIRE(i < want.size());
          CHECK(x.device() == tl::kCUDA);
          CHECK(y.device() == tl::kCUDA);
          // An op on the device, queued after the copy, and the values read back.
          CHECK(tl::equal((x * 1.0).to(tl::kCPU), want[i].x));
          CHECK(tl::equal(y.to(tl::kCPU), want[i].y));
          ++i;
        }
      }
      CHECK(i == want.size());
      // Pinning (the default on CUDA) queues two copies a batch; without it none is queued.
      const int64_t copies = tl::cuda_device::pinned_memory_stats().async_copies - before.async_copies;
      CHECK(copies == (pin.value_or(true) ? 2 * static_cast<int64_t>(want.size()) : 0));
    }
  }

  // pin_memory = true on the CPU delivers pinned CPU batches with the same values.
  DataLoader pinned_cpu(ds, {.batch_size = 4, .shuffle = true, .num_workers = 2, .seed = 9, .pin_memory = true});
  size_t i = 0;
  for (auto [x, y] : pinned_cpu) {
    CHECK(x.is_pinned());
    CHECK(y.is_pinned());
    CHECK(tl::equal(x, want[i].x));
    CHECK(tl::equal(y, want[i].y));
    ++i;
  }
  CHECK(i == 6);
}

TEST_CASE("a failing example on a pinned CUDA loader raises at its batch and leaks no pinned memory",
          "[data][loader][cuda][pinned]") {
  if (!tl::cuda_device::is_available()) {
    WARN("skipped: no CUDA device");
    return;
  }
  auto ds = std::make_shared<RandomRows>(12, /*bad=*/9);
  const size_t in_use = tl::cuda_device::pinned_memory_stats().in_use_bytes;
  for (int workers : {0, 2}) {
    INFO(workers << " workers");
    {
      DataLoader loader(ds, {.batch_size = 4, .num_workers = workers, .device = tl::kCUDA});
      int64_t batches = 0;
      try {
        for (auto [x, y] : loader) {
          CHECK(y.to(tl::kCPU).to_vector<int64_t>()[0] == 4 * batches);
          ++batches;
        }
        FAIL("no error");
      } catch (const std::runtime_error& e) {
        CHECK_THAT(e.what(), Catch::Contains("row 9 is unreadable"));
      }
      CHECK(batches == 2);
      CHECK(loader.position() == 2);  // the failed batch was not handed out
    }
    CHECK(tl::cuda_device::pinned_memory_stats().in_use_bytes == in_use);
  }
}
