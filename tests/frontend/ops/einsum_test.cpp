// tl::einsum (frontend/ops/linalg/einsum.cpp) against products and sums written out with
// other ops: explicit and implicit outputs, "...", diagonals, broadcasting, its error
// messages, its gradients (finite differences in float64) and a compiled call.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "op_test_util.h"
#include "tl/autograd.h"
#include "tl/compile.h"
#include "tl/ops.h"
#include "tl/random.h"

using namespace tl;
using test::max_abs_diff;
using test::rand64;

namespace {

// The message of the exception `fn` throws as E (fails the test when it throws nothing).
template <class E, class F>
std::string message_of(F&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  FAIL("no exception");
  return "";
}

}  // namespace

TEST_CASE("einsum computes matmul, batched matmul, outer product and transpose", "[ops][einsum]") {
  manual_seed(1);
  Tensor a = rand64({3, 4}), b = rand64({4, 5});
  Tensor ab = einsum("ij,jk->ik", {a, b});
  REQUIRE(ab.shape() == Shape{3, 5});
  CHECK(max_abs_diff(ab, matmul(a, b)) < 1e-14);

  Tensor x = rand64({2, 3, 4}), y = rand64({2, 4, 6});
  Tensor xy = einsum("bij,bjk->bik", {x, y});
  REQUIRE(xy.shape() == Shape{2, 3, 6});
  CHECK(max_abs_diff(xy, matmul(x, y)) < 1e-14);

  Tensor u = rand64({3}), v = rand64({5});
  Tensor uv = einsum("i,j->ij", {u, v});
  REQUIRE(uv.shape() == Shape{3, 5});
  CHECK(max_abs_diff(uv, u.unsqueeze(1) * v.unsqueeze(0)) < 1e-15);
  CHECK(uv.item_at<double>({2, 4}) == u.item_at<double>({2}) * v.item_at<double>({4}));

  Tensor t = einsum("ij->ji", {a});
  REQUIRE(t.shape() == Shape{4, 3});
  CHECK(equal(t, a.t()));
  // Dot product: every letter summed.
  CHECK(std::abs(einsum("i,i->", {u, u}).item<double>() - (u * u).sum().item<double>()) < 1e-14);
}

TEST_CASE("einsum takes traces and diagonals of repeated letters", "[ops][einsum]") {
  Tensor m = arange(0, 9, 1, {.dtype = kFloat64}).reshape({3, 3});  // m[i][j] = 3 i + j
  Tensor trace = einsum("ii->", {m});
  REQUIRE(trace.dim() == 0);
  CHECK(trace.item<double>() == 0 + 4 + 8);
  CHECK(einsum("ii", {m}).item<double>() == 12);  // implicit: i is used twice, so summed
  Tensor diagonal = einsum("ii->i", {m});
  CHECK(diagonal.to_vector<double>() == std::vector<double>{0, 4, 8});
  // A batch of diagonals, the repeated letter away from the end.
  Tensor batch = arange(0, 2 * 3 * 3, 1, {.dtype = kFloat64}).reshape({3, 2, 3});  // [i][b][j]
  Tensor d = einsum("ibi->bi", {batch});
  REQUIRE(d.shape() == Shape{2, 3});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 3; ++i) CHECK(d.item_at<double>({b, i}) == batch.item_at<double>({i, b, i}));
  // Three times the same letter.
  Tensor cube = arange(0, 8, 1, {.dtype = kFloat64}).reshape({2, 2, 2});
  CHECK(einsum("iii->i", {cube}).to_vector<double>() == std::vector<double>{0, 7});
  // Infinity off the diagonal stays out of the result (no mask multiply: 0 * inf is NaN).
  Tensor inf = from_vector<double>({1, INFINITY, -INFINITY, 2}, {2, 2});
  CHECK(einsum("ii->", {inf}).item<double>() == 3);
}

TEST_CASE("einsum sums letters absent from the output and contracts several operands", "[ops][einsum]") {
  manual_seed(2);
  Tensor x = rand64({2, 3, 4});
  CHECK(std::abs(einsum("ijk->", {x}).item<double>() - x.sum().item<double>()) < 1e-14);
  CHECK(max_abs_diff(einsum("ijk->j", {x}), sum(x, {0, 2})) < 1e-14);
  // Bilinear: out[b][a] = sum_nm x[b][n] w[a][n][m] y[b][m].
  Tensor xb = rand64({5, 3}), w = rand64({2, 3, 4}), yb = rand64({5, 4});
  Tensor got = einsum("bn,anm,bm->ba", {xb, w, yb});
  REQUIRE(got.shape() == Shape{5, 2});
  Tensor want = (xb.unsqueeze(1).unsqueeze(3) * w.unsqueeze(0) * yb.unsqueeze(1).unsqueeze(2)).sum({2, 3});
  CHECK(max_abs_diff(got, want) < 1e-13);
  // A chain of four matrices.
  Tensor a = rand64({2, 3}), b = rand64({3, 4}), c = rand64({4, 5}), d = rand64({5, 2});
  CHECK(max_abs_diff(einsum("ij,jk,kl,lm->im", {a, b, c, d}), matmul(matmul(matmul(a, b), c), d)) < 1e-13);
  // A letter only one operand has is summed before the product.
  CHECK(max_abs_diff(einsum("ij,k->k", {a, c.select(1, 0)}), a.sum() * c.select(1, 0)) < 1e-13);
}

TEST_CASE("einsum broadcasts '...' and size-1 dims", "[ops][einsum]") {
  manual_seed(3);
  Tensor x = rand64({2, 5, 3, 4}), y = rand64({5, 4, 6});
  Tensor got = einsum("...ij,...jk->...ik", {x, y});
  REQUIRE(got.shape() == Shape{2, 5, 3, 6});
  CHECK(max_abs_diff(got, matmul(x, y)) < 1e-13);
  // "..." in the middle, and an operand whose "..." covers no dims.
  Tensor z = rand64({3, 2, 7, 4});
  Tensor v = rand64({4});
  Tensor zv = einsum("i...j,j->...i", {z, v});
  REQUIRE(zv.shape() == Shape{2, 7, 3});
  CHECK(max_abs_diff(zv, matmul(z, v).permute({1, 2, 0})) < 1e-13);
  CHECK(max_abs_diff(einsum("...,...->...", {v, v}), v * v) < 1e-15);
  // Size 1 against size 5 for a shared letter.
  Tensor p = rand64({1, 3}), q = rand64({5, 3});
  CHECK(max_abs_diff(einsum("ij,ij->ij", {p, q}), p * q) < 1e-15);
  CHECK(max_abs_diff(einsum("ij,ij->j", {p, q}), (p * q).sum(0)) < 1e-14);
  // An explicit output without "..." sums the ellipsis dims (PyTorch's rule).
  CHECK(max_abs_diff(einsum("...i->i", {x}), sum(x, {0, 1, 2})) < 1e-13);
}

TEST_CASE("einsum's implicit output holds the letters used once, in ASCII order", "[ops][einsum]") {
  manual_seed(4);
  Tensor a = rand64({3, 4}), b = rand64({4, 5});
  CHECK(max_abs_diff(einsum("ij,jk", {a, b}), matmul(a, b)) < 1e-14);
  // "ba" sorts to "ab": a transpose.
  CHECK(equal(einsum("ba", {a}), a.t()));
  // Uppercase sorts first.
  Tensor c = rand64({2, 3});
  CHECK(equal(einsum("aB", {c}), c.t()));
  // "..." leads the implicit output.
  Tensor x = rand64({4, 2, 3});
  CHECK(equal(einsum("i...", {x}), x.permute({1, 2, 0})));
  // Spaces are ignored.
  CHECK(max_abs_diff(einsum(" ij , jk -> ik ", {a, b}), matmul(a, b)) < 1e-14);
}

TEST_CASE("einsum's errors name the equation, the problem and the caller's line", "[ops][einsum][errors]") {
  Tensor a = ones({2, 3}), b = ones({4, 5});
  const std::string here = "einsum_test.cpp:";
  int line = __LINE__ + 1;
  std::string m = message_of<ValueError>([&] { einsum("ij,jk->iz", {a, ones({3, 5})}); });
  CHECK_THAT(m, Catch::Contains("tl::einsum(\"ij,jk->iz\")") && Catch::Contains("output subscript 'z'") &&
                    Catch::Contains(here + std::to_string(line)));

  line = __LINE__ + 1;
  m = message_of<ValueError>([&] { einsum("ij,jk->ik", {a}); });
  CHECK_THAT(m, Catch::Contains("subscripts for 2 operand(s) but 1 tensor(s)") &&
                    Catch::Contains(here + std::to_string(line)));

  line = __LINE__ + 1;
  m = message_of<ShapeError>([&] { einsum("ij,jk->ik", {a, b}); });
  CHECK_THAT(m, Catch::Contains("subscript 'j' has size 3 in operand 0") && Catch::Contains("size 4 in operand 1") &&
                    Catch::Contains(here + std::to_string(line)));

  line = __LINE__ + 1;
  m = message_of<ValueError>([&] { einsum("i..j->ij", {a}); });
  CHECK_THAT(m, Catch::Contains("not part of an ellipsis") && Catch::Contains(here + std::to_string(line)));
  m = message_of<ValueError>([&] { einsum("...i...->i", {a}); });
  CHECK_THAT(m, Catch::Contains("more than one ellipsis"));
  m = message_of<ValueError>([&] { einsum("ij->...ij", {a}); });
  CHECK_THAT(m, Catch::Contains("the output has \"...\" but no operand does"));

  line = __LINE__ + 1;
  m = message_of<ValueError>([&] { einsum("i1->i", {ones({2, 2})}); });
  CHECK_THAT(m, Catch::Contains("invalid character '1' at position 1") && Catch::Contains(here + std::to_string(line)));
  m = message_of<ValueError>([&] { einsum("ij->ii", {a}); });
  CHECK_THAT(m, Catch::Contains("output subscript 'i' appears more than once"));

  line = __LINE__ + 1;
  m = message_of<ShapeError>([&] { einsum("ijk->i", {a}); });
  CHECK_THAT(m, Catch::Contains("operand 0 has 2 dims (shape [2, 3]) but its subscripts name 3") &&
                    Catch::Contains(here + std::to_string(line)));
  m = message_of<ShapeError>([&] { einsum("ii->i", {a}); });
  CHECK_THAT(m, Catch::Contains("subscript 'i' is repeated in operand 0 (shape [2, 3])"));
  CHECK_THROWS_AS(einsum("ij", {from_vector<int64_t>({1, 2}, {1, 2})}), DTypeError);
  line = __LINE__ + 1;
  m = message_of<ValueError>([&] { einsum("i,i", {ones({2}), Tensor()}); });
  CHECK_THAT(m, Catch::Contains("tl::einsum: operand 1") && Catch::Contains(here + std::to_string(line)));
}

TEST_CASE("einsum's gradients pass gradcheck in float64", "[ops][einsum][autograd]") {
  manual_seed(5);
  struct Case {
    std::string equation;
    std::vector<Shape> shapes;
  };
  const std::vector<Case> cases = {
      {"ij,jk->ik", {{3, 4}, {4, 2}}},
      {"bn,anm,bm->ba", {{3, 2}, {2, 2, 4}, {3, 4}}},
      {"ii->i", {{3, 3}}},
      {"iji->j", {{3, 2, 3}}},
      {"...ij,...jk", {{2, 1, 3, 2}, {3, 2, 2}}},
      {"ij,ij->j", {{1, 3}, {4, 3}}},
      {"i,j->ij", {{3}, {2}}},
  };
  for (const Case& c : cases) {
    INFO(c.equation);
    std::vector<Tensor> inputs;
    for (const Shape& s : c.shapes) inputs.push_back(rand64(s).requires_grad_());
    const std::string equation = c.equation;
    GradcheckResult result = gradcheck([&](const std::vector<Tensor>& in) { return einsum(equation, in); }, inputs);
    INFO(result.message);
    CHECK(result.ok);
  }
}

TEST_CASE("einsum under tl::compile matches eager", "[ops][einsum][compile]") {
  manual_seed(6);
  NoGradGuard no_grad;
  auto f = compile([](Tensor x, Tensor w, Tensor y) { return einsum("bii,bij,jk->bk", {x, w, y}); });
  Tensor x = randn({2, 3, 3}), w = randn({2, 3, 4}), y = randn({4, 5});
  Tensor want = einsum("bii,bij,jk->bk", {x, w, y});
  for (int call = 0; call < 3; ++call) {  // eager, traced, compiled
    Tensor got = f(x, w, y);
    REQUIRE(got.shape() == Shape{2, 5});
    CHECK(max_abs_diff(got, want) < 1e-5);
  }
  CHECK(f.stats().compiled_calls >= 1);
}
