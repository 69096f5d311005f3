#include <catch2/catch.hpp>

#include "tl/tl.h"

using namespace tl;

TEST_CASE("views share storage and see writes", "[tensor][views]") {
  Tensor x = arange(12, {.dtype = kFloat32}).reshape({3, 4});
  Tensor v = x.t();
  CHECK(v.shape() == Shape{4, 3});
  CHECK_FALSE(v.is_contiguous());
  CHECK(v.item_at<float>({1, 2}) == 9.0f);
  Tensor s = x.slice(1, 1, 4, 2);
  CHECK(s.shape() == Shape{3, 2});
  CHECK(s.to_vector<float>() == std::vector<float>{1, 3, 5, 7, 9, 11});
  s.fill_(-1.0);
  CHECK(x.item_at<float>({2, 3}) == -1.0f);
  CHECK(x.item_at<float>({2, 2}) == 10.0f);
}

TEST_CASE("broadcasting follows NumPy rules", "[tensor][broadcast]") {
  Tensor a = arange(3, {.dtype = kFloat32}).reshape({3, 1});
  Tensor b = arange(4, {.dtype = kFloat32});
  Tensor c = a * b;
  REQUIRE(c.shape() == Shape{3, 4});
  CHECK(c.item_at<float>({2, 3}) == 6.0f);
  CHECK_THROWS_AS(ones({2, 3}) + ones({4}), ShapeError);
}

TEST_CASE("a shape mismatch names the op, both operands and the caller's line", "[tensor][errors]") {
  try {
    Tensor c = matmul(ones({32, 64}), ones({128, 10}));
    FAIL("no error");
  } catch (const ShapeError& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("tl::matmul"));
    CHECK_THAT(msg, Catch::Contains("[32, 64] float32"));
    CHECK_THAT(msg, Catch::Contains("[128, 10] float32"));
    CHECK_THAT(msg, Catch::Contains("tensor_test.cpp:"));
  }
}

TEST_CASE("reductions over any axes with keepdim", "[ops][reduce]") {
  Tensor x = arange(24, {.dtype = kFloat32}).reshape({2, 3, 4});
  CHECK(x.sum().item<float>() == 276.0f);
  Tensor s = sum(x, {0, 2}, true);
  REQUIRE(s.shape() == Shape{1, 3, 1});
  CHECK(s.to_vector<float>() == std::vector<float>{60, 92, 124});
  CHECK(amax(x, {1}).item_at<float>({1, 2}) == 22.0f);
  CHECK(argmax(x, 2).to_vector<int64_t>() == std::vector<int64_t>{3, 3, 3, 3, 3, 3});
  Tensor sm = softmax(x, 1);
  CHECK(sum(sm, {1}).to_vector<float>()[0] == Approx(1.0f));
}

TEST_CASE("matmul matches a hand computation, with transposed and batched operands", "[ops][matmul]") {
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<float>({1, 0, 0, 1, 1, 1}, {3, 2});
  CHECK(matmul(a, b).to_vector<float>() == std::vector<float>{4, 5, 10, 11});
  CHECK(matmul(b.t(), a.t()).to_vector<float>() == std::vector<float>{4, 10, 5, 11});
  Tensor ab = matmul(ones({2, 1, 3, 4}), ones({5, 4, 6}));
  REQUIRE(ab.shape() == Shape{2, 5, 3, 6});
  CHECK(ab.item_at<float>({1, 4, 2, 5}) == 4.0f);
  Tensor a64 = a.to(kFloat64);
  CHECK(matmul(a64, b.to(kFloat64)).to_vector<double>() == std::vector<double>{4, 5, 10, 11});
}

TEST_CASE("manual_seed makes random draws reproducible", "[random]") {
  manual_seed(42);
  auto a = randn({1000}).to_vector<float>();
  manual_seed(42);
  auto b = randn({1000}).to_vector<float>();
  CHECK(a == b);
  double mean = 0;
  for (float v : a) mean += v;
  CHECK(std::abs(mean / 1000) < 0.1);
}

TEST_CASE("shape and size errors name the op and the caller's line", "[tensor][errors]") {
  // A count past int64's range (converting it was undefined behaviour, seen as a negative dim).
  int line = __LINE__; CHECK_THROWS_WITH(arange(0, 1e19), Catch::Contains("tl::arange") &&
                                                        Catch::Contains("tensor_test.cpp:" + std::to_string(line)) &&
                                                        Catch::Contains("more than a tensor can hold"));
  CHECK_THROWS_AS(arange(0, 1e19), ShapeError);
  CHECK(arange(0, 3).numel() == 3);
  // A literal shape of rank 9.
  line = __LINE__; CHECK_THROWS_WITH(zeros({1, 1, 1, 1, 1, 1, 1, 1, 1}),
                                     Catch::Contains("at most 8") && Catch::Contains("tensor_test.cpp:" + std::to_string(line)));
  // Rank 9 reached inside an op.
  Tensor r8 = zeros({1, 1, 1, 1, 1, 1, 1, 1});
  line = __LINE__; CHECK_THROWS_WITH(r8.unsqueeze(0), Catch::Contains("at most 8") &&
                                                        Catch::Contains("tensor_test.cpp:" + std::to_string(line)));
  // An allocation that cannot succeed names the op, the shape and the line.
  line = __LINE__; CHECK_THROWS_WITH(zeros({int64_t{1} << 40, int64_t{1} << 20}),
                                     Catch::Contains("tl::zeros") && Catch::Contains("tensor_test.cpp:" + std::to_string(line)));
  Tensor huge_rows = ones({int64_t{1} << 20, 1}).expand({int64_t{1} << 20, int64_t{1} << 30});
  line = __LINE__; CHECK_THROWS_WITH(huge_rows.contiguous(),
                                     Catch::Contains("tensor_test.cpp:" + std::to_string(line)) &&
                                         Catch::Contains("[1048576, 1073741824] float32"));
}
