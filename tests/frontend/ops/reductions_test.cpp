// Reductions over no values and without degrees of freedom give PyTorch's answers.
#include <catch2/catch.hpp>

#include <cmath>

#include "tl/ops.h"

using namespace tl;

TEST_CASE("mean of an empty tensor is NaN, as in PyTorch", "[ops][reduce]") {
  CHECK(std::isnan(zeros({0}).mean().item<float>()));
  CHECK(std::isnan(zeros({0}, {.dtype = kFloat64}).mean().item<double>()));
  // Over an empty outer dim: one NaN per kept element (and zeros for sum).
  auto m = zeros({0, 5}).mean(Shape{0}).to_vector<float>();
  REQUIRE(m.size() == 5);
  for (float v : m) CHECK(std::isnan(v));
  auto s = zeros({0, 5}).sum(Shape{0}).to_vector<float>();
  CHECK(s == std::vector<float>(5, 0.0f));
  // Over an empty inner dim.
  auto r = zeros({3, 0}).mean(Shape{1}).to_vector<float>();
  REQUIRE(r.size() == 3);
  for (float v : r) CHECK(std::isnan(v));
  CHECK(zeros({3, 0}).sum(Shape{1}).to_vector<float>() == std::vector<float>(3, 0.0f));
}

TEST_CASE("sum over an empty outer dim of a contiguous tensor writes every output", "[ops][reduce]") {
  // The outer-reduction kernel once computed the kept size as numel / outer = 0 and left the
  // output uninitialized.
  for (int trial = 0; trial < 4; ++trial) {
    Tensor big = full({64, 7}, 123.0);  // leaves non-zero memory in the allocator's cache
    big = Tensor();
    CHECK(zeros({0, 7}).sum(Shape{0}).to_vector<float>() == std::vector<float>(7, 0.0f));
  }
}

TEST_CASE("var without degrees of freedom gives inf or NaN like PyTorch", "[ops][reduce]") {
  Tensor two = from_vector<float>({1, 2});
  CHECK(std::isinf(var(two, {0}, 2).item<float>()));
  CHECK(std::isinf(var(two, {0}, 3).item<float>()));
  CHECK(std::isnan(var(from_vector<float>({1, 1}), {0}, 2).item<float>()));
  CHECK(std::isnan(var(from_vector<float>({3})).item<float>()));
  CHECK(var(two, {0}, 1).item<float>() == 0.5f);
}
