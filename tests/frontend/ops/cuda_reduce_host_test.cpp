// Focused checks of the CUDA reduce kernels on the host runner (tests/runtime/cuda_host_runner.h):
// shapes the op samples do not reach (many blocks, long rows, edge sizes).
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "runtime/cuda/launch.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tl/tl.h"

using namespace tl;

namespace {

struct CpuAndCuda {
  Tensor want, got;
};

// `f` through the CPU kernels, then through the CUDA kernels on the host runner (which must
// have launched one unless the result is empty). Inputs are made before, so only the op under
// test runs its CUDA kernel.
CpuAndCuda run_both(const std::function<Tensor()>& f) {
  CpuAndCuda r;
  r.want = f();
  test::HostCudaKernels on_host;
  r.got = f();
  CHECK((on_host.runner().launches() > 0 || r.got.numel() == 0));
  return r;
}

std::vector<double> values_of(const Tensor& t) {
  Tensor d = t.to(kFloat64).contiguous();
  const double* p = d.data<double>();
  return std::vector<double>(p, p + d.numel());
}

// The largest |got - want| / (|want| + 1); NaN must meet NaN (a lone NaN counts as infinity).
double worst_diff(const CpuAndCuda& r) {
  REQUIRE(r.got.shape() == r.want.shape());
  REQUIRE(r.got.dtype() == r.want.dtype());
  const std::vector<double> got = values_of(r.got), want = values_of(r.want);
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) || std::isnan(want[i])) {
      if (std::isnan(got[i]) != std::isnan(want[i])) worst = std::numeric_limits<double>::infinity();
      continue;
    }
    if (got[i] == want[i]) continue;  // equal infinities too
    worst = std::max(worst, std::abs(got[i] - want[i]) / (std::abs(want[i]) + 1));
  }
  return worst;
}

// Exact agreement (integer results: indices, integer sums).
void check_equal(const CpuAndCuda& r) {
  REQUIRE(r.got.shape() == r.want.shape());
  REQUIRE(r.got.dtype() == r.want.dtype());
  CHECK(values_of(r.got) == values_of(r.want));
}

Tensor from_floats(const std::vector<float>& v, Shape shape) { return from_vector(v, shape); }

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

}  // namespace

TEST_CASE("CUDA sum and mean agree with the CPU over block shapes, splits and strides", "[cuda][host][reduce]") {
  SECTION("many short rows: several outputs per block") {
    Tensor x = rand({300, 5});
    CHECK(worst_diff(run_both([&] { return sum(x, {1}); })) < 1e-6);
    CHECK(worst_diff(run_both([&] { return mean(x, {1}, true); })) < 1e-6);
  }
  SECTION("rows longer than a block") {
    Tensor x = rand({3, 1000});
    CHECK(worst_diff(run_both([&] { return sum(x, {1}); })) < 1e-6);
    Tensor y = rand({3, 1000}, {.dtype = kFloat64});
    CHECK(worst_diff(run_both([&] { return mean(y, {-1}); })) < 1e-14);
  }
  SECTION("one long reduction split over several blocks, then combined") {
    Tensor x = rand({20000});
    CHECK(worst_diff(run_both([&] { return sum(x); })) < 1e-6);
    CHECK(worst_diff(run_both([&] { return mean(x); })) < 1e-6);
    Tensor y = rand({2, 9000}, {.dtype = kFloat64});
    CHECK(worst_diff(run_both([&] { return sum(y, {1}); })) < 1e-14);
  }
  SECTION("column sums (kept dims contiguous), permuted and broadcast inputs") {
    Tensor x = rand({100, 40});
    CHECK(worst_diff(run_both([&] { return sum(x, {0}); })) < 1e-6);
    Tensor p = rand({4, 5, 6}).permute({2, 0, 1});
    CHECK(worst_diff(run_both([&] { return sum(p, {0, 2}); })) < 1e-6);
    CHECK(worst_diff(run_both([&] { return mean(p, {1}, true); })) < 1e-6);
    Tensor b = rand({1, 7}).expand({50, 7});
    CHECK(worst_diff(run_both([&] { return sum(b, {0}); })) < 1e-6);
    CHECK(worst_diff(run_both([&] { return sum(b, {1}); })) < 1e-6);
    Tensor s = rand({6, 20}).slice(1, 1, 20, 3);
    CHECK(worst_diff(run_both([&] { return sum(s, {0, 1}); })) < 1e-6);
  }
  SECTION("empty and size-1 dims, 0-d") {
    Tensor e = rand({0, 5});
    auto zero_rows = run_both([&] { return sum(e, {0}); });
    CHECK(worst_diff(zero_rows) == 0);
    CHECK(zero_rows.got.shape() == Shape{5});
    CHECK(std::isnan(values_of(run_both([&] { return mean(e, {0}); }).got)[0]));
    CHECK(run_both([&] { return sum(e, {1}); }).got.numel() == 0);
    Tensor one = rand({1, 4, 1});
    CHECK(worst_diff(run_both([&] { return sum(one, {0, 2}, true); })) == 0);
    Tensor scalar = scalar_tensor(2.5);
    CHECK(worst_diff(run_both([&] { return sum(scalar); })) == 0);
  }
  SECTION("half types accumulate in float; integers and bools sum to int64") {
    for (DType dtype : {kFloat16, kBFloat16}) {
      Tensor x = rand({4, 700}).to(dtype);
      CHECK(worst_diff(run_both([&] { return sum(x, {1}); })) < 1e-2);
      CHECK(worst_diff(run_both([&] { return mean(x, {0}); })) < 1e-2);
    }
    Tensor i = randint(-1000, 1000, {30, 600}, {.dtype = kInt32});
    auto ints = run_both([&] { return sum(i, {1}); });
    CHECK(ints.got.dtype() == kInt64);
    check_equal(ints);
    Tensor big = full({3, 700}, 4e15, {.dtype = kInt64});  // past float64's exact integers once summed
    check_equal(run_both([&] { return sum(big, {1}); }));
    Tensor flags = gt(rand({9000}), scalar_tensor(0.3));
    check_equal(run_both([&] { return sum(flags); }));
  }
}

TEST_CASE("CUDA amax, amin, argmax and argmin keep the CPU's ties and NaN", "[cuda][host][reduce]") {
  SECTION("values and indices over several block shapes") {
    Tensor x = randn({300, 5});
    check_equal(run_both([&] { return amax(x, {1}); }));
    check_equal(run_both([&] { return argmin(x, 1); }));
    Tensor y = randn({3, 1000});
    check_equal(run_both([&] { return amin(y, {1}, true); }));
    check_equal(run_both([&] { return argmax(y, 1); }));
    Tensor t = randn({40, 70}).t();
    check_equal(run_both([&] { return argmax(t, 0); }));
    check_equal(run_both([&] { return argmax(t, 1, true); }));
    check_equal(run_both([&] { return amax(t, {0, 1}); }));
  }
  SECTION("ties go to the first index, even when a later thread sees its copy first") {
    std::vector<float> v(1000, 0.0f);
    v[700] = 5;
    v[300] = 5;
    v[999] = 5;
    v[10] = -5;
    v[900] = -5;
    Tensor x = from_floats(v, {1000});
    auto hi = run_both([&] { return argmax(x, 0); });
    check_equal(hi);
    CHECK(hi.got.item<int64_t>() == 300);
    CHECK(run_both([&] { return argmin(x, 0); }).got.item<int64_t>() == 10);
    Tensor flat = zeros({3, 600});
    CHECK(values_of(run_both([&] { return argmax(flat, 1); }).got) == std::vector<double>{0, 0, 0});
  }
  SECTION("the first NaN wins; of -0 and +0 the first") {
    std::vector<float> v(1000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 17);
    v[900] = kNaN;
    v[450] = kNaN;
    Tensor x = from_floats(v, {1000});
    CHECK(run_both([&] { return argmax(x, 0); }).got.item<int64_t>() == 450);
    CHECK(run_both([&] { return argmin(x, 0); }).got.item<int64_t>() == 450);
    CHECK(std::isnan(run_both([&] { return amin(x); }).got.item<float>()));
    Tensor zeros_signed = from_floats({-0.0f, 0.0f, 0.0f, -0.0f}, {2, 2});
    auto m = run_both([&] { return amax(zeros_signed, {1}); });
    CHECK(std::signbit(m.got.item_at<float>({0})) == std::signbit(m.want.item_at<float>({0})));
    CHECK(std::signbit(m.got.item_at<float>({1})) == std::signbit(m.want.item_at<float>({1})));
  }
  SECTION("a long reduction split over several blocks") {
    std::vector<float> v(20000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7919) % 1000);
    v[19000] = 2000;
    v[12345] = 2000;  // a tie in another chunk: the earlier one wins
    Tensor x = from_floats(v, {20000});
    CHECK(run_both([&] { return argmax(x, 0); }).got.item<int64_t>() == 12345);
    check_equal(run_both([&] { return amax(x); }));
    check_equal(run_both([&] { return argmin(x, 0); }));
    v[15000] = kNaN;
    Tensor with_nan = from_floats(v, {20000});
    CHECK(run_both([&] { return argmax(with_nan, 0); }).got.item<int64_t>() == 15000);
  }
  SECTION("half, bfloat16 and integer inputs") {
    for (DType dtype : {kFloat16, kBFloat16}) {
      Tensor x = randn({5, 300}).to(dtype);
      check_equal(run_both([&] { return amax(x, {1}); }));
      check_equal(run_both([&] { return argmin(x, 1); }));
    }
    for (DType dtype : {kInt32, kInt64}) {
      Tensor x = randint(-5, 5, {7, 400}, {.dtype = dtype});
      check_equal(run_both([&] { return amin(x, {1}); }));
      check_equal(run_both([&] { return argmax(x, 1); }));
      check_equal(run_both([&] { return argmin(x, 0); }));
    }
  }
}

TEST_CASE("CUDA softmax and log_softmax agree with the CPU on any axis and layout", "[cuda][host][reduce]") {
  for (bool log_form : {false, true}) {
    auto op = [log_form](const Tensor& x, int64_t dim) { return log_form ? log_softmax(x, dim) : softmax(x, dim); };
    INFO((log_form ? "log_softmax" : "softmax"));
    Tensor rows = mul(randn({3, 1000}), scalar_tensor(5.0));
    CHECK(worst_diff(run_both([&] { return op(rows, 1); })) < 1e-5);
    Tensor many = randn({300, 7});
    CHECK(worst_diff(run_both([&] { return op(many, 1); })) < 1e-6);
    Tensor middle = randn({4, 50, 6});
    CHECK(worst_diff(run_both([&] { return op(middle, 1); })) < 1e-6);
    Tensor first = randn({50, 40});
    CHECK(worst_diff(run_both([&] { return op(first, 0); })) < 1e-6);
    Tensor transposed = randn({30, 20}).t();
    CHECK(worst_diff(run_both([&] { return op(transposed, 1); })) < 1e-6);
    Tensor wide = randn({2, 600}, {.dtype = kFloat64});
    CHECK(worst_diff(run_both([&] { return op(wide, 1); })) < 1e-13);
    for (DType dtype : {kFloat16, kBFloat16}) {
      Tensor h = randn({6, 300}).to(dtype);
      CHECK(worst_diff(run_both([&] { return op(h, 1); })) < 1e-2);
    }
    // A row of -inf (NaN, as on the CPU), a row with an inf, a row with a NaN.
    Tensor special = from_floats({-kInf, -kInf, -kInf, 1, kInf, 2, 1, kNaN, 3, 0, -kInf, 1}, {4, 3});
    CHECK(worst_diff(run_both([&] { return op(special, 1); })) < 1e-6);
  }
}

TEST_CASE("CUDA cumsum agrees with the CPU: long lines in tiles, many short lines, integers exactly",
          "[cuda][host][reduce]") {
  manual_seed(0);  // with these values a float accumulator drifts 1.9e-6 from the CPU's double one
  Tensor rows = rand({3, 1000});
  CHECK(worst_diff(run_both([&] { return cumsum(rows, 1); })) < 1e-6);
  Tensor columns = randn({200, 3});
  CHECK(worst_diff(run_both([&] { return cumsum(columns, 0); })) < 1e-6);
  Tensor middle = randn({3, 40, 5}).permute({2, 1, 0});
  CHECK(worst_diff(run_both([&] { return cumsum(middle, 1); })) < 1e-6);
  Tensor wide = randn({2, 700}, {.dtype = kFloat64});
  CHECK(worst_diff(run_both([&] { return cumsum(wide, 1); })) < 1e-13);
  for (DType dtype : {kFloat16, kBFloat16}) {
    Tensor h = rand({4, 300}).to(dtype);
    CHECK(worst_diff(run_both([&] { return cumsum(h, 1); })) < 1e-2);
  }
  for (DType dtype : {kInt32, kInt64}) {
    Tensor i = randint(-1000, 1000, {5, 500}, {.dtype = dtype});
    check_equal(run_both([&] { return cumsum(i, 1); }));
    check_equal(run_both([&] { return cumsum(i, 0); }));
  }
  Tensor broadcast = rand({1, 300}).expand({4, 300});
  CHECK(worst_diff(run_both([&] { return cumsum(broadcast, 1); })) < 1e-6);
  Tensor scalar = scalar_tensor(1.5);
  CHECK(worst_diff(run_both([&] { return cumsum(scalar, 0); })) == 0);
  CHECK(run_both([&] { return cumsum(zeros({0, 4}), 0); }).got.numel() == 0);
}

TEST_CASE("CUDA argsort gives the CPU's stable order: ties, NaN, descending, lines longer than a tile",
          "[cuda][host][reduce]") {
  // Few distinct values, so most comparisons are ties decided by position.
  auto ties = [](Shape shape) { return randint(0, 4, shape).to(kFloat32); };
  SECTION("ascending and descending, short lines and lines of several tiles") {
    for (bool descending : {false, true}) {
      INFO((descending ? "descending" : "ascending"));
      Tensor short_lines = ties({500, 5});
      check_equal(run_both([&] { return argsort(short_lines, 1, descending); }));
      Tensor odd = ties({7, 600});
      check_equal(run_both([&] { return argsort(odd, 1, descending); }));
      Tensor across = ties({30, 4, 3});
      check_equal(run_both([&] { return argsort(across, 0, descending); }));
      check_equal(run_both([&] { return argsort(across.transpose(0, 2), 1, descending); }));
      // Longer than a tile: 2 tiles (one merge, through the scratch buffer), 3 tiles (two merges),
      // and a middle axis (the output's line stride).
      Tensor two_tiles = ties({2, 2100});
      check_equal(run_both([&] { return argsort(two_tiles, 1, descending); }));
      Tensor three_tiles = ties({4200});
      check_equal(run_both([&] { return argsort(three_tiles, 0, descending); }));
      Tensor middle = ties({1, 2100, 2});
      check_equal(run_both([&] { return argsort(middle, 1, descending); }));
    }
  }
  SECTION("NaN sorts as the largest value, -0 ties with +0") {
    std::vector<float> v(2200);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 5) - 2.0f;
    v[1] = kNaN;
    v[2100] = kNaN;
    v[700] = -kInf;
    v[2] = -0.0f;
    v[5] = 0.0f;
    v[2199] = kInf;
    Tensor x = from_floats(v, {2200});
    check_equal(run_both([&] { return argsort(x, 0); }));
    check_equal(run_both([&] { return argsort(x, 0, true); }));
    Tensor small = from_floats({kNaN, 1, -0.0f, 0.0f, kNaN, -1}, {6});
    check_equal(run_both([&] { return argsort(small, 0); }));
    check_equal(run_both([&] { return argsort(small, 0, true); }));
  }
  SECTION("half, bfloat16 and integer inputs, single values") {
    for (DType dtype : {kFloat16, kBFloat16}) {
      Tensor h = ties({3, 300}).to(dtype);
      check_equal(run_both([&] { return argsort(h, 1); }));
    }
    for (DType dtype : {kInt32, kInt64}) {
      Tensor i = randint(-3, 3, {4, 2100}, {.dtype = dtype});
      check_equal(run_both([&] { return argsort(i, 1, true); }));
    }
    Tensor big = from_vector<int64_t>({int64_t{1} << 62, -(int64_t{1} << 62), (int64_t{1} << 62) + 1, 0}, {4});
    check_equal(run_both([&] { return argsort(big, 0); }));
    check_equal(run_both([&] { return argsort(scalar_tensor(3.0), 0); }));
    check_equal(run_both([&] { return argsort(rand({6, 1}), 1); }));
    CHECK(run_both([&] { return argsort(zeros({3, 0}), 1); }).got.numel() == 0);
  }
}
