#include <catch2/catch.hpp>

#include "tests/frontend/ops/op_test_util.h"

using namespace tl;
using tl::test::max_abs_diff;
using tl::test::rand64;

namespace {
Tensor iota(Shape shape, DType dtype = kFloat32) {
  return arange(static_cast<double>(shape.numel()), {.dtype = dtype}).reshape(shape);
}
}  // namespace

TEST_CASE("cat joins along any dim and promotes dtypes", "[ops][cat]") {
  Tensor a = iota({2, 2}), b = iota({2, 3}) + 10.0;
  Tensor c = cat({a, b}, 1);
  REQUIRE(c.shape() == Shape{2, 5});
  CHECK(c.to_vector<float>() == std::vector<float>{0, 1, 10, 11, 12, 2, 3, 13, 14, 15});
  Tensor d = cat({a, iota({1, 2}, kFloat64)}, -2);
  REQUIRE(d.shape() == Shape{3, 2});
  CHECK(d.dtype() == kFloat64);
  CHECK(d.to_vector<double>() == std::vector<double>{0, 1, 2, 3, 0, 1});
  // Non-contiguous and empty inputs.
  CHECK(cat({a.t(), zeros({0, 2})}, 0).to_vector<float>() == std::vector<float>{0, 2, 1, 3});
}

TEST_CASE("cat gradient slices dout back to each input", "[ops][cat][grad]") {
  Tensor a = rand64({2, 3}).requires_grad_(), b = rand64({2, 1}).requires_grad_();
  Tensor dout = iota({2, 4}, kFloat64);
  std::vector<Tensor> g = grad(cat({a, b}, 1), {a, b}, dout);
  CHECK(g[0].to_vector<double>() == std::vector<double>{0, 1, 2, 4, 5, 6});
  CHECK(g[1].to_vector<double>() == std::vector<double>{3, 7});
}

TEST_CASE("stack adds a new dim", "[ops][stack]") {
  Tensor a = iota({2, 3}), b = iota({2, 3}) * 2.0;
  Tensor s = stack({a, b}, 1);
  REQUIRE(s.shape() == Shape{2, 2, 3});
  CHECK(s.to_vector<float>() == std::vector<float>{0, 1, 2, 0, 2, 4, 3, 4, 5, 6, 8, 10});
  CHECK(stack({a, b}, -1).shape() == Shape{2, 3, 2});
  CHECK(stack({a}, 0).shape() == Shape{1, 2, 3});
}

TEST_CASE("split and chunk return views of equal pieces with a short last one", "[ops][split]") {
  Tensor x = iota({7, 2});
  std::vector<Tensor> parts = split(x, 3);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].shape() == Shape{3, 2});
  CHECK(parts[2].shape() == Shape{1, 2});
  CHECK(parts[2].to_vector<float>() == std::vector<float>{12, 13});
  CHECK(parts[1].data_ptr() == static_cast<char*>(x.data_ptr()) + 6 * sizeof(float));  // a view

  std::vector<Tensor> cols = chunk(x, 2, 1);
  REQUIRE(cols.size() == 2);
  CHECK(cols[1].to_vector<float>() == std::vector<float>{1, 3, 5, 7, 9, 11, 13});
  // Like PyTorch, pieces have ceil(7 / chunks) rows: 2, 2, 2, 1 for 4 chunks and 3, 3, 1 for 3.
  CHECK(chunk(x, 4).size() == 4);
  std::vector<Tensor> three = chunk(x, 3);
  REQUIRE(three.size() == 3);
  CHECK(three[2].shape() == Shape{1, 2});

  // Gradients flow back through the pieces.
  Tensor y = rand64({5, 2}).requires_grad_();
  std::vector<Tensor> ps = split(y, 2);
  Tensor dy = grad(add(ps[0].sum(), mul(ps[2].sum(), scalar_tensor(3, {.dtype = kFloat64}))), {y})[0];
  CHECK(dy.to_vector<double>() == std::vector<double>{1, 1, 1, 1, 0, 0, 0, 0, 3, 3});
}

TEST_CASE("index_select picks rows and its gradient accumulates repeated indices", "[ops][index_select][grad]") {
  Tensor x = iota({4, 3}, kFloat64).requires_grad_();
  Tensor index = from_vector<int64_t>({2, 0, 2});
  Tensor y = index_select(x, 0, index);
  CHECK(y.to_vector<double>() == std::vector<double>{6, 7, 8, 0, 1, 2, 6, 7, 8});
  CHECK(index_select(x, 1, from_vector<int32_t>({1})).to_vector<double>() == std::vector<double>{1, 4, 7, 10});
  Tensor dout = iota({3, 3}, kFloat64);
  CHECK(grad(y, {x}, dout)[0].to_vector<double>() ==
        std::vector<double>{3, 4, 5, 0, 0, 0, 6 + 0, 7 + 1, 8 + 2, 0, 0, 0});
}

TEST_CASE("gather follows torch.gather and scatters its gradient back", "[ops][gather][grad]") {
  Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  Tensor index = from_vector<int64_t>({2, 2, 0, 1, 0, 1}, {2, 3});
  Tensor y = gather(x, 1, index);
  CHECK(y.to_vector<double>() == std::vector<double>{3, 3, 1, 5, 4, 5});
  CHECK(grad(y, {x}, ones({2, 3}, {.dtype = kFloat64}))[0].to_vector<double>() ==
        std::vector<double>{1, 0, 2, 1, 2, 0});
  // dim 0 with an index smaller than x in the other dim.
  Tensor i0 = from_vector<int64_t>({1, 0}, {1, 2});
  CHECK(gather(x, 0, i0).to_vector<double>() == std::vector<double>{4, 2});
}

TEST_CASE("embedding looks up rows for any index shape and accumulates their gradient", "[ops][embedding][grad]") {
  Tensor weight = iota({5, 2}, kFloat64).requires_grad_();
  Tensor ids = from_vector<int32_t>({4, 1, 4, 0}, {2, 2});
  Tensor e = embedding(weight, ids);
  REQUIRE(e.shape() == Shape{2, 2, 2});
  CHECK(e.to_vector<double>() == std::vector<double>{8, 9, 2, 3, 8, 9, 0, 1});
  Tensor dw = grad(e, {weight}, iota({2, 2, 2}, kFloat64))[0];
  CHECK(dw.to_vector<double>() == std::vector<double>{6, 7, 2, 3, 0, 0, 0, 0, 0 + 4, 1 + 5});
}

TEST_CASE("index_add sums repeated rows in index order whatever the thread count", "[ops][index_select][grad]") {
  // Large enough to split across threads; float32 sums depend on order, so a sequential
  // sum in the same order must match bit for bit.
  int64_t K = 500, D = 7, inner = 20000;
  Tensor index = randint(0, D, {K});
  Tensor dout = randn({K, inner});
  Tensor w = zeros({D, inner}).requires_grad_();
  Tensor dw = grad(index_select(w, 0, index), {w}, dout)[0];
  std::vector<int64_t> idx = index.to_vector<int64_t>();
  std::vector<float> d = dout.to_vector<float>(), expected(static_cast<size_t>(D * inner), 0.0f);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < inner; ++c) expected[idx[k] * inner + c] += d[k * inner + c];
  CHECK(dw.to_vector<float>() == expected);
}

TEST_CASE("one_hot encodes indices in a new last dim", "[ops][one_hot]") {
  Tensor h = one_hot(from_vector<int64_t>({2, 0, 1}), 3);
  REQUIRE(h.shape() == Shape{3, 3});
  CHECK(h.dtype() == kFloat32);
  CHECK(h.to_vector<float>() == std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0});
  CHECK(one_hot(from_vector<int32_t>({3, 1}, {2, 1}), -1).shape() == Shape{2, 1, 4});
}

TEST_CASE("join and index ops' registered samples pass a finite-difference check", "[ops][grad]") {
  for (const char* name : {"cat", "index_select", "index_add", "gather", "scatter_add"}) tl::test::check_op_samples(name);
}

TEST_CASE("index errors name the op, the bad value, the bound and the caller's line", "[ops][errors]") {
  Tensor x = ones({5, 3});
  CHECK_THROWS_WITH(index_select(x, 0, from_vector<int64_t>({1, 5})),
                    Catch::Contains("tl::index_select") && Catch::Contains("value 5") && Catch::Contains("size 5") &&
                        Catch::Contains("join_index_test.cpp:"));
  CHECK_THROWS_WITH(index_select(x, 1, from_vector<int64_t>({-1})),
                    Catch::Contains("value -1") && Catch::Contains("size 3") && Catch::Contains("join_index_test.cpp:"));
  CHECK_THROWS_AS(index_select(x, 0, from_vector<float>({1})), DTypeError);
  CHECK_THROWS_WITH(index_select(x, 0, from_vector<float>({1})),
                    Catch::Contains("int32 or int64") && Catch::Contains("float32"));
  CHECK_THROWS_WITH(gather(x, 1, from_vector<int64_t>({0, 3}, {1, 2})),
                    Catch::Contains("tl::gather") && Catch::Contains("value 3") && Catch::Contains("join_index_test.cpp:"));
  CHECK_THROWS_WITH(gather(x, 1, from_vector<int64_t>({0, 1}, {2})), Catch::Contains("same rank"));
  CHECK_THROWS_WITH(embedding(x, from_vector<int32_t>({7})),
                    Catch::Contains("tl::embedding") && Catch::Contains("value 7") && Catch::Contains("size 5") &&
                        Catch::Contains("join_index_test.cpp:"));
  CHECK_THROWS_WITH(one_hot(from_vector<int64_t>({0, 4}), 3),
                    Catch::Contains("tl::one_hot") && Catch::Contains("value 4") && Catch::Contains("size 3"));
  CHECK_THROWS_WITH(cat({ones({2, 3}), ones({2, 3}), ones({3, 4})}, 0),
                    Catch::Contains("tl::cat") && Catch::Contains("tensors[0] is [2, 3]") &&
                        Catch::Contains("tensors[2] is [3, 4]") && Catch::Contains("join_index_test.cpp:"));
  CHECK_THROWS_WITH(stack({ones({2}), ones({3})}), Catch::Contains("tl::stack") && Catch::Contains("tensors[1] is [3]"));
  CHECK_THROWS_WITH(cat({}), Catch::Contains("tl::cat") && Catch::Contains("join_index_test.cpp:"));
  CHECK_THROWS_WITH(split(x, 0), Catch::Contains("tl::split") && Catch::Contains("join_index_test.cpp:"));
  CHECK_THROWS_WITH(chunk(x, 2, 2), Catch::Contains("tl::chunk") && Catch::Contains("join_index_test.cpp:"));
}
