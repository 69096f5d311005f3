// Datasets, random_split and the Standardizer.
#include <catch2/catch.hpp>
#include <tl/tl.h>

#include <algorithm>
#include <set>

using namespace tl::data;

namespace {

// A user-defined dataset: example i is x = [i, 2i], y = i % 3, computed on demand.
struct Counting : Dataset {
  int64_t n;
  explicit Counting(int64_t n) : n(n) {}
  int64_t size() const override { return n; }
  Example get(int64_t i) const override {
    return {tl::from_vector(std::vector<float>{float(i), float(2 * i)}),
            tl::scalar_tensor(double(i % 3), {.dtype = tl::kInt64})};
  }
};

}  // namespace

TEST_CASE("a user-defined dataset batches through the default get_batch", "[data][dataset]") {
  Counting ds(10);
  Batch b = ds.get_batch({3, 7});
  REQUIRE(b.x.shape() == tl::Shape{2, 2});
  CHECK(b.x.to_vector<float>() == std::vector<float>{3, 6, 7, 14});
  CHECK(b.y.to_vector<int64_t>() == std::vector<int64_t>{0, 1});
}

TEST_CASE("TensorDataset indexes rows and checks dim 0", "[data][dataset]") {
  auto x = tl::arange(12, {.dtype = tl::kFloat32}).reshape({6, 2});
  auto y = tl::arange(6);
  TensorDataset ds(x, y);
  CHECK(ds.size() == 6);
  CHECK(ds.get(2).x.to_vector<float>() == std::vector<float>{4, 5});
  CHECK(ds.get(2).y.item<int64_t>() == 2);
  Batch b = ds.get_batch({5, 0});
  CHECK(b.x.to_vector<float>() == std::vector<float>{10, 11, 0, 1});
  CHECK(b.y.to_vector<int64_t>() == std::vector<int64_t>{5, 0});
  CHECK_THROWS_AS(TensorDataset(x, tl::arange(5)), tl::ShapeError);
  CHECK_THROWS_AS(ds.get(6), tl::ValueError);
}

TEST_CASE("random_split gives disjoint subsets of the requested sizes, fixed by manual_seed", "[data][split]") {
  auto ds = std::make_shared<Counting>(100);
  tl::manual_seed(3);
  auto parts = random_split(ds, {70, 20, 10});
  REQUIRE(parts.size() == 3);
  CHECK(parts[0]->size() == 70);
  CHECK(parts[1]->size() == 20);
  CHECK(parts[2]->size() == 10);
  std::set<int64_t> seen;
  for (auto& p : parts)
    for (int64_t i : p->indices()) CHECK(seen.insert(i).second);
  CHECK(seen.size() == 100);
  // The subset maps its indices onto the base dataset.
  int64_t first = parts[1]->indices()[0];
  CHECK(parts[1]->get(0).x.to_vector<float>() == std::vector<float>{float(first), float(2 * first)});
  tl::manual_seed(3);
  auto again = random_split(ds, {70, 20, 10});
  CHECK(again[0]->indices() == parts[0]->indices());
  auto [train, test] = random_split(ds, 0.8);
  CHECK(train->size() == 80);
  CHECK(test->size() == 20);
  CHECK_THROWS_AS(random_split(ds, {50, 49}), tl::ValueError);
  CHECK_THROWS_AS(random_split(ds, 1.5), tl::ValueError);
}

TEST_CASE("Standardizer fits on the training split only and applies to any split", "[data][standardize]") {
  // Train rows have feature 0 in {0, 2} (mean 1, std 1); the test row is far away and must
  // not move the statistics.
  auto x = tl::from_vector(std::vector<float>{0, 5, 2, 5, 0, 5, 2, 5, 100, 7}, {5, 2});
  auto all = std::make_shared<TensorDataset>(x, tl::arange(5));
  auto train = std::make_shared<Subset>(all, std::vector<int64_t>{0, 1, 2, 3});
  auto test = std::make_shared<Subset>(all, std::vector<int64_t>{4});
  Standardizer s;
  s.fit(*train);
  CHECK(s.mean().to_vector<float>() == std::vector<float>{1, 5});
  // Feature 1 is constant on the training split: std stays 1 instead of dividing by zero.
  CHECK(s.std().to_vector<float>() == std::vector<float>{1, 1});
  auto test_std = s.transform(std::shared_ptr<const Dataset>(test));
  CHECK(test_std->get(0).x.to_vector<float>() == std::vector<float>{99, 2});
  CHECK(test_std->get(0).y.item<int64_t>() == 4);
  auto train_std = s.transform(std::shared_ptr<const Dataset>(train));
  Batch b = train_std->get_batch({0, 1, 2, 3});
  CHECK(b.x.to_vector<float>() == std::vector<float>{-1, 0, 1, 0, -1, 0, 1, 0});
  CHECK_THROWS_AS(Standardizer().transform(x), tl::ValueError);
  CHECK_THROWS_AS(s.transform(tl::zeros({2, 3})), tl::ShapeError);
}
