// DataLoader: reproducible order, drop_last, resuming mid-epoch and background prefetch.
#include <catch2/catch.hpp>
#include <tl/tl.h>

#include <set>

#include "tests/support/spawn_self.h"

using namespace tl::data;

namespace {

std::shared_ptr<TensorDataset> numbered(int64_t n) {
  // Row i holds x = [i, -i] and y = i, so a batch's y lists the indices it visited.
  auto idx = tl::arange(n, {.dtype = tl::kFloat32});
  auto x = tl::stack({idx, -idx}, 1);
  return std::make_shared<TensorDataset>(x, tl::arange(n));
}

// The y (= indices) of every batch the loader gives in one pass.
std::vector<std::vector<int64_t>> one_epoch(DataLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (auto [x, y] : loader) {
    REQUIRE(x.size(0) == y.size(0));
    out.push_back(y.to_vector<int64_t>());
  }
  return out;
}

}  // namespace

TEST_CASE("DataLoader without shuffle visits the dataset in order and keeps the short last batch",
          "[data][loader]") {
  DataLoader loader(numbered(10), {.batch_size = 4});
  CHECK(loader.num_batches() == 3);
  auto batches = one_epoch(loader);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0] == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(batches[2] == std::vector<int64_t>{8, 9});
  CHECK(loader.epoch() == 1);
}

TEST_CASE("DataLoader drop_last drops only the short batch", "[data][loader]") {
  DataLoader loader(numbered(10), {.batch_size = 4, .shuffle = true, .drop_last = true, .seed = 1});
  CHECK(loader.num_batches() == 2);
  auto batches = one_epoch(loader);
  REQUIRE(batches.size() == 2);
  for (auto& b : batches) CHECK(b.size() == 4);
  DataLoader exact(numbered(8), {.batch_size = 4, .drop_last = true});
  CHECK(one_epoch(exact).size() == 2);
}

TEST_CASE("DataLoader shuffle order depends only on (seed, epoch)", "[data][loader]") {
  auto ds = numbered(50);
  DataLoader a(ds, {.batch_size = 8, .shuffle = true, .seed = 42});
  DataLoader b(ds, {.batch_size = 8, .shuffle = true, .seed = 42});
  auto a0 = one_epoch(a), a1 = one_epoch(a);
  auto b0 = one_epoch(b), b1 = one_epoch(b);
  CHECK(a0 == b0);
  CHECK(a1 == b1);
  CHECK(a0 != a1);  // a new order every epoch
  std::set<int64_t> seen;
  for (auto& batch : a0)
    for (int64_t i : batch) CHECK(seen.insert(i).second);
  CHECK(seen.size() == 50);
  // set_epoch jumps straight to an epoch's order.
  DataLoader c(ds, {.batch_size = 8, .shuffle = true, .seed = 42});
  c.set_epoch(1);
  CHECK(one_epoch(c) == a1);
  DataLoader other(ds, {.batch_size = 8, .shuffle = true, .seed = 43});
  CHECK(one_epoch(other) != a0);
  // Without an explicit seed the seed comes from tl's default generator.
  tl::manual_seed(7);
  DataLoader d(ds, {.batch_size = 8, .shuffle = true});
  tl::manual_seed(7);
  DataLoader e(ds, {.batch_size = 8, .shuffle = true});
  CHECK(d.seed() == e.seed());
  CHECK(one_epoch(d) == one_epoch(e));
}

TEST_CASE("a DataLoader restored mid-epoch yields exactly the remaining batches", "[data][loader][stateful]") {
  auto ds = numbered(37);
  DataLoaderOptions options{.batch_size = 5, .shuffle = true, .seed = 9, .name = "data_loader.train"};
  DataLoader reference(ds, options);
  std::vector<std::vector<int64_t>> expected;
  for (int epoch = 0; epoch < 3; ++epoch)
    for (auto& b : one_epoch(reference)) expected.push_back(b);

  // Stop after 3 batches of epoch 1 (saving inside the loop body, as a checkpoint would).
  DataLoader first(ds, options);
  std::vector<std::vector<int64_t>> got = one_epoch(first);
  std::string state;
  int taken = 0;
  for (auto [x, y] : first) {
    got.push_back(y.to_vector<int64_t>());
    if (++taken == 3) {
      state = first.save_state();
      break;
    }
  }
  CHECK(first.state_key() == "data_loader.train");

  DataLoader resumed(ds, {.batch_size = 5, .shuffle = true, .seed = 1234, .name = "data_loader.train"});
  resumed.load_state(state);
  CHECK(resumed.seed() == 9);
  CHECK(resumed.epoch() == 1);
  CHECK(resumed.position() == 3);
  for (int epoch = 0; epoch < 2; ++epoch)
    for (auto& b : one_epoch(resumed)) got.push_back(b);
  CHECK(got == expected);

  // Saved at the last batch of an epoch: the restored loader starts the next epoch.
  DataLoader last(ds, options);
  std::string at_end;
  for (auto [x, y] : last) at_end = last.save_state();
  DataLoader after(ds, options);
  after.load_state(at_end);
  auto next = one_epoch(after);
  CHECK(next.front() == expected[static_cast<size_t>(last.num_batches())]);
}

TEST_CASE("DataLoader load_state rejects a state that does not fit and changes nothing", "[data][loader][stateful]") {
  DataLoader a(numbered(20), {.batch_size = 5, .shuffle = true, .seed = 1});
  std::string state = a.save_state();
  DataLoader other_size(numbered(21), {.batch_size = 5, .shuffle = true, .seed = 1});
  CHECK_THROWS_WITH(other_size.load_state(state), Catch::Contains("dataset size = 20"));
  DataLoader other_batch(numbered(20), {.batch_size = 4, .shuffle = true, .seed = 2});
  CHECK_THROWS_AS(other_batch.load_state(state), tl::Error);
  CHECK(other_batch.seed() == 2);
  CHECK_THROWS_WITH(a.load_state("{not json"), Catch::Contains("not a data loader state"));
  CHECK_THROWS_AS(a.load_state("{\"epoch\": 1}"), tl::Error);
}

TEST_CASE("child: load a deeply nested loader state", "[.][data_child_nested]") {
  DataLoader a(numbered(20), {.batch_size = 5, .shuffle = true, .seed = 1, .name = "train"});
  const size_t depth = 1'000'000;
  std::string nested = "{\"epoch\": " + std::string(depth, '[') + std::string(depth, ']') + "}";
  CHECK_THROWS_WITH(a.load_state(nested), Catch::Contains("DataLoader::load_state ('train')") &&
                                              Catch::Contains("nested deeper than 64 levels"));
  CHECK(a.seed() == 1);
}

TEST_CASE("a deeply nested loader state is refused with a named error, not a stack overflow",
          "[data][loader][stateful]") {
  // In a child process: a stack overflow there fails this test instead of ending the runner.
  pid_t child = tl::testing::spawn_self("child: load a deeply nested loader state", {});
  CHECK(tl::testing::wait_for_child(child) == 0);
}

TEST_CASE("background prefetch gives the same batches in the same order", "[data][loader][prefetch]") {
  auto ds = numbered(103);
  DataLoader serial(ds, {.batch_size = 7, .shuffle = true, .seed = 5});
  for (int workers : {1, 2, 4}) {
    INFO(workers << " workers");
    serial.set_epoch(0);
    DataLoader prefetching(ds, {.batch_size = 7, .shuffle = true, .num_workers = workers, .seed = 5});
    for (int epoch = 0; epoch < 3; ++epoch) {
      std::vector<tl::Tensor> xs_serial, xs_prefetch;
      for (auto [x, y] : serial) xs_serial.push_back(x);
      for (auto [x, y] : prefetching) xs_prefetch.push_back(x);
      REQUIRE(xs_serial.size() == xs_prefetch.size());
      for (size_t i = 0; i < xs_serial.size(); ++i)
        CHECK(xs_serial[i].to_vector<float>() == xs_prefetch[i].to_vector<float>());
    }
  }
  // Breaking out early and resuming with prefetch also continues in order.
  DataLoader a(ds, {.batch_size = 7, .shuffle = true, .num_workers = 3, .seed = 5});
  DataLoader b(ds, {.batch_size = 7, .shuffle = true, .seed = 5});
  std::vector<std::vector<int64_t>> got;
  int n = 0;
  for (auto [x, y] : a) {
    got.push_back(y.to_vector<int64_t>());
    if (++n == 4) break;
  }
  for (auto& batch : one_epoch(a)) got.push_back(batch);
  CHECK(got == one_epoch(b));
}

TEST_CASE("DataLoader rejects bad options", "[data][loader]") {
  CHECK_THROWS_AS(DataLoader(numbered(3), {.batch_size = 0}), tl::ValueError);
  CHECK_THROWS_AS(DataLoader(nullptr), tl::ValueError);
  DataLoader empty_loader(std::make_shared<TensorDataset>(tl::zeros({0, 2}), tl::zeros({0})), {.batch_size = 2});
  CHECK(one_epoch(empty_loader).empty());
}

TEST_CASE("DataLoader delivers batches on the device it is given, or refuses one that is not there",
          "[data][loader][cuda]") {
  if (!tl::cuda_device::is_available()) {
    CHECK_THROWS_AS(DataLoader(numbered(10), {.batch_size = 4, .device = tl::kCUDA}), tl::DeviceError);
    CHECK_THROWS_WITH(DataLoader(numbered(10), {.batch_size = 4, .device = tl::kCUDA}),
                      Catch::Contains("cuda:0") && Catch::Contains("data_loader_test.cpp"));
    WARN("skipped: no CUDA device (batches on the GPU)");
    return;
  }
  for (int workers : {0, 2}) {
    DataLoader loader(numbered(10), {.batch_size = 4, .num_workers = workers, .device = tl::kCUDA});
    std::vector<int64_t> seen;
    for (auto [x, y] : loader) {
      CHECK(x.device() == tl::kCUDA);
      CHECK(y.device() == tl::kCUDA);
      for (int64_t v : y.to(tl::kCPU).to_vector<int64_t>()) seen.push_back(v);
    }
    CHECK(seen == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  }
}
