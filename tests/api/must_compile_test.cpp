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
