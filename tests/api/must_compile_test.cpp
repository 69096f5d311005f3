// The spellings a PyTorch user types first compile and mean what they say: reductions over
// `{0}`, over one int dim (negative from the end), with keepdim; the call site is never what
// a literal converts to. (What must not compile is in compile_fail/.)
#include <catch2/catch.hpp>

#include <cstddef>

#include "tl/tl.h"

using namespace tl;

TEST_CASE("reductions take {0}, a single int dim and a negative dim", "[api]") {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(x.sum({0}).to_vector<float>() == std::vector<float>{5, 7, 9});
  CHECK(x.mean({0}).to_vector<float>() == std::vector<float>{2.5f, 3.5f, 4.5f});
  CHECK(x.sum(1).to_vector<float>() == std::vector<float>{6, 15});
  CHECK(x.sum(-1).to_vector<float>() == std::vector<float>{6, 15});
  CHECK(x.sum(1, true).shape() == Shape{2, 1});
  CHECK(amax(x, -1).to_vector<float>() == std::vector<float>{3, 6});
  CHECK(amin(x, 0).to_vector<float>() == std::vector<float>{1, 2, 3});
  CHECK(sum(x, {0, 1}).item<float>() == 21);
  CHECK(mean(x, 1, true).shape() == Shape{2, 1});
  CHECK(logsumexp(x, -1).shape() == Shape{2});
  CHECK(var(x, 1).to_vector<float>() == std::vector<float>{1, 1});
  const size_t dim = 1;  // an unsigned dim from a container's size
  CHECK(x.sum(dim).to_vector<float>() == std::vector<float>{6, 15});
  const int64_t d64 = 0;
  CHECK(x.sum(d64).to_vector<float>() == std::vector<float>{5, 7, 9});
  Shape dims{0};
  CHECK(x.sum(dims).to_vector<float>() == std::vector<float>{5, 7, 9});
  CHECK(x.sum().item<float>() == 21);  // no dims: all of them
}

TEST_CASE("a bad dim passed as an int names the op and the caller's line", "[api]") {
  Tensor x = zeros({2, 3});
  const int line = __LINE__ + 1;
  CHECK_THROWS_WITH(x.sum(5), Catch::Contains("sum") && Catch::Contains("must_compile_test.cpp:" + std::to_string(line)));
}

TEST_CASE("max and min along a dim give values and indices, sort and topk too", "[api]") {
  Tensor x = from_vector<float>({3, 1, 2, 0, 5, 4}, {2, 3});
  auto [values, indices] = x.max(1);
  CHECK(values.to_vector<float>() == std::vector<float>{3, 5});
  CHECK(indices.to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  CHECK(x.min(0).values.to_vector<float>() == std::vector<float>{0, 1, 2});
  CHECK(max(x, -1, true).values.shape() == Shape{2, 1});
  auto sorted = x.sort(1);
  CHECK(sorted.values.to_vector<float>() == std::vector<float>{1, 2, 3, 0, 4, 5});
  CHECK(sorted.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 0, 0, 2, 1});
  CHECK(sort(x, 0, true).values.to_vector<float>() == std::vector<float>{3, 5, 4, 0, 1, 2});
  auto top = topk(x, 2);
  CHECK(top.values.to_vector<float>() == std::vector<float>{3, 2, 5, 4});
  CHECK(top.indices.to_vector<int64_t>() == std::vector<int64_t>{0, 2, 1, 2});
  CHECK(topk(x, 1, 1, false).values.to_vector<float>() == std::vector<float>{1, 0});
  CHECK_THROWS_WITH(topk(x, 4), Catch::Contains("k is 4 but dim 1 of [2, 3] has 3 entries"));
  // A stable sort: ties keep their order; NaN sorts last.
  Tensor ties = from_vector<float>({2, 1, 2, NAN, 1});
  CHECK(argsort(ties).to_vector<int64_t>() == std::vector<int64_t>{1, 4, 0, 2, 3});
  // sort's gradient goes back to where each value came from.
  Tensor w = from_vector<float>({3, 1, 2}).requires_grad_();
  (sort(w).values * from_vector<float>({10, 20, 30})).sum().backward();
  CHECK(w.grad().to_vector<float>() == std::vector<float>{30, 10, 20});
}

TEST_CASE("indexing with x[i] and x.index with slices", "[api]") {
  Tensor x = arange(0, 12).reshape({3, 4});
  CHECK(x[1].to_vector<int64_t>() == std::vector<int64_t>{4, 5, 6, 7});
  CHECK(x[-1][0].item<int64_t>() == 8);
  CHECK(x.index({0, Slice(1, 3)}).to_vector<int64_t>() == std::vector<int64_t>{1, 2});
  CHECK(x.index({Slice(), 2}).to_vector<int64_t>() == std::vector<int64_t>{2, 6, 10});
  CHECK(x.index({Slice(std::nullopt, std::nullopt, 2), Slice(-2, std::nullopt)}).to_vector<int64_t>() ==
        std::vector<int64_t>{2, 3, 10, 11});
  CHECK(x.index({Slice(5, 9)}).shape() == Shape{0, 4});  // clamped, like Python
  CHECK_THROWS_AS(x.index({0, 0, 0}), ShapeError);
}

TEST_CASE("cumsum, split by sizes, clamp with tensor bounds, pow and reciprocal methods", "[api]") {
  Tensor x = from_vector<float>({1, 2, 3, 4});
  CHECK(x.cumsum(0).to_vector<float>() == std::vector<float>{1, 3, 6, 10});
  Tensor m = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(cumsum(m, 1).to_vector<float>() == std::vector<float>{1, 3, 6, 4, 9, 15});
  Tensor xg = from_vector<double>({1, 2, 3}).requires_grad_();
  cumsum(xg, 0).sum().backward();
  CHECK(xg.grad().to_vector<double>() == std::vector<double>{3, 2, 1});
  auto parts = split(m, std::vector<int64_t>{1, 2}, 1);
  REQUIRE(parts.size() == 2);
  CHECK(parts[1].shape() == Shape{2, 2});
  CHECK_THROWS_WITH(split(m, std::vector<int64_t>{1, 1}, 1), Catch::Contains("add up to 2 but dim 1"));
  CHECK(clamp(x, from_vector<float>({2, 2, 2, 2}), full({1}, 3.0)).to_vector<float>() == std::vector<float>{2, 2, 3, 3});
  CHECK(x.pow(full({4}, 2.0)).to_vector<float>() == std::vector<float>{1, 4, 9, 16});
  CHECK(x.reciprocal().to_vector<float>() == std::vector<float>{1, 0.5f, 1.0f / 3, 0.25f});
}

TEST_CASE("tl::compile takes functions of a vector or span of tensors", "[api][compile]") {
  auto total = compile([](const std::vector<Tensor>& xs) {
    Tensor s = xs.at(0);
    for (size_t i = 1; i < xs.size(); ++i) s = s + xs[i];
    return s;
  });
  std::vector<Tensor> three = {full({2}, 1.0), full({2}, 2.0), full({2}, 3.0)};
  for (int call = 0; call < 3; ++call) CHECK(total(three).to_vector<float>() == std::vector<float>{6, 6});
  std::vector<Tensor> two = {full({2}, 1.0), full({2}, 5.0)};
  CHECK(total(two).to_vector<float>() == std::vector<float>{6, 6});  // another count: traced again
  auto pairwise = compile([](std::span<const Tensor> xs) { return std::vector<Tensor>{xs[0] * xs[1], xs[0] - xs[1]}; });
  std::vector<Tensor> out;
  for (int call = 0; call < 3; ++call) out = pairwise(two);
  REQUIRE(out.size() == 2);
  CHECK(out[0].to_vector<float>() == std::vector<float>{5, 5});
  CHECK(out[1].to_vector<float>() == std::vector<float>{-4, -4});
}
