#include <catch2/catch.hpp>

#include <sstream>

#include "tl/autograd.h"
#include "tl/ops.h"

using namespace tl;

namespace {
size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + what.size())) ++n;
  return n;
}
}  // namespace

TEST_CASE("a 1-D float tensor prints right-aligned values with 4 decimals, shape, dtype and device", "[print]") {
  Tensor t = from_vector<float>({1.0f, 2.5f, -3.0f});
  CHECK(to_string(t) == "tensor([ 1.0000,  2.5000, -3.0000], shape=[3], dtype=float32, device=cpu)");
  std::ostringstream os;
  os << t;
  CHECK(os.str() == to_string(t));
}

TEST_CASE("nested dims print one row per line, aligned under the first bracket", "[print]") {
  Tensor t = from_vector<double>({0.5, -10.25, 3, 4, 5, 6}, {2, 3});
  CHECK(to_string(t) ==
        "tensor([[  0.5000, -10.2500,   3.0000],\n"
        "        [  4.0000,   5.0000,   6.0000]], shape=[2, 3], dtype=float64, device=cpu)");
  Tensor u = arange(8).reshape({2, 2, 2});
  CHECK(to_string(u) ==
        "tensor([[[0, 1],\n"
        "         [2, 3]],\n"
        "\n"
        "        [[4, 5],\n"
        "         [6, 7]]], shape=[2, 2, 2], dtype=int64, device=cpu)");
}

TEST_CASE("values spanning many magnitudes print in scientific notation", "[print]") {
  CHECK(to_string(from_vector<float>({1e-5f, 1.0f})) ==
        "tensor([1.0000e-05, 1.0000e+00], shape=[2], dtype=float32, device=cpu)");
  CHECK(to_string(from_vector<double>({1e9, 2})) ==
        "tensor([1.0000e+09, 2.0000e+00], shape=[2], dtype=float64, device=cpu)");
  CHECK(to_string(from_vector<float>({NAN, INFINITY, -INFINITY, 1})) ==
        "tensor([   nan,    inf,   -inf, 1.0000], shape=[4], dtype=float32, device=cpu)");
}

TEST_CASE("integers, bools, scalars and empty tensors print plainly", "[print]") {
  CHECK(to_string(from_vector<int32_t>({-5, 12, 7})) == "tensor([-5, 12,  7], shape=[3], dtype=int32, device=cpu)");
  CHECK(to_string(from_vector<bool>({true, false})) == "tensor([ True, False], shape=[2], dtype=bool, device=cpu)");
  CHECK(to_string(scalar_tensor(3.14159)) == "tensor(3.1416, shape=[], dtype=float32, device=cpu)");
  CHECK(to_string(zeros({0, 3})) == "tensor([], shape=[0, 3], dtype=float32, device=cpu)");
  CHECK(to_string(Tensor()) == "Tensor(undefined)");
}

TEST_CASE("half precision tensors print their float values", "[print]") {
  Tensor h = from_vector<float>({0.5f, -2.0f}).to(kFloat16);
  CHECK(to_string(h) == "tensor([ 0.5000, -2.0000], shape=[2], dtype=float16, device=cpu)");
}

TEST_CASE("tensors over 1000 elements show 3 items at each edge of every dim", "[print]") {
  std::string s = to_string(arange(2000));
  CHECK(s == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999], shape=[2000], dtype=int64, device=cpu)");
  std::string m = to_string(arange(1200).reshape({40, 30}));
  CHECK(count(m, "...") == 7);  // one per printed row (6) and one for the skipped rows
  CHECK(count(m, "\n") == 6);   // 6 printed rows + the "..." row
  CHECK_THAT(m, Catch::StartsWith("tensor([[   0,    1,    2,  ...,   27,   28,   29],\n"
                                  "        [  30,   31,   32,  ...,   57,   58,   59],"));
  CHECK_THAT(m, Catch::Contains("        ...,\n        [1110,"));
  CHECK_THAT(m, Catch::EndsWith("[1170, 1171, 1172,  ..., 1197, 1198, 1199]], shape=[40, 30], dtype=int64, device=cpu)"));
  // 1000 elements exactly are printed in full.
  CHECK(count(to_string(arange(1000)), "...") == 0);
}

TEST_CASE("long rows wrap at 80 columns", "[print]") {
  std::string s = to_string(arange(30, {.dtype = kFloat32}));
  CHECK(s ==
        "tensor([ 0.0000,  1.0000,  2.0000,  3.0000,  4.0000,  5.0000,  6.0000,  7.0000,\n"
        "         8.0000,  9.0000, 10.0000, 11.0000, 12.0000, 13.0000, 14.0000, 15.0000,\n"
        "        16.0000, 17.0000, 18.0000, 19.0000, 20.0000, 21.0000, 22.0000, 23.0000,\n"
        "        24.0000, 25.0000, 26.0000, 27.0000, 28.0000, 29.0000], shape=[30], dtype=float32, device=cpu)");
}

TEST_CASE("a strided view prints its own elements, not its storage order", "[print]") {
  Tensor t = arange(6).reshape({2, 3});
  Tensor v = t.t().slice(0, 1, 3);  // [[1, 4], [2, 5]]
  CHECK(to_string(v) ==
        "tensor([[1, 4],\n"
        "        [2, 5]], shape=[2, 2], dtype=int64, device=cpu)");
}

TEST_CASE("autograd state and names are shown when relevant", "[print]") {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  CHECK(to_string(x) == "tensor([1.0000, 2.0000], shape=[2], dtype=float32, device=cpu, requires_grad=True)");
  Tensor y = x * x;
  CHECK(to_string(y) == "tensor([1.0000, 4.0000], shape=[2], dtype=float32, device=cpu, grad_fn=<mul>)");
  Tensor w = zeros({1});
  w.set_name("w");
  CHECK(to_string(w) == "tensor([0.0000], shape=[1], dtype=float32, device=cpu, name='w')");
}
