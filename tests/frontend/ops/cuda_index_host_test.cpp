// Focused checks of the CUDA index kernels on the host runner (tests/runtime/cuda_host_runner.h):
// shapes the op samples do not reach (many blocks, long rows, edge sizes).
#include <catch2/catch.hpp>

#include <array>
#include <functional>
#include <string>

#include "frontend/ops/registry.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tl/tl.h"

using namespace tl;

namespace {

// fn's result from the CPU kernels and from the CUDA kernels on the host runner; a non-empty
// second result must come from kernel launches (not a CPU fallback).
std::pair<Tensor, Tensor> cpu_and_cuda(const std::function<Tensor()>& fn) {
  NoGradGuard no_grad;
  Tensor want = fn();
  test::HostCudaKernels on_host;
  Tensor got = fn();
  if (got.numel() > 0) REQUIRE(on_host.runner().launches() > 0);
  return {want, got};
}

// Copies and index sums in the CPU's order give the CPU's bits: compare exactly.
void require_identical(const std::function<Tensor()>& fn) {
  auto [want, got] = cpu_and_cuda(fn);
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.dtype() == want.dtype());
  CHECK(got.to(kFloat64).to_vector<double>() == want.to(kFloat64).to_vector<double>());
}

Tensor random(Shape shape, DType dtype) {
  if (dtype == kBool) return uniform(shape, 0, 1, {.dtype = kFloat64}) > 0.5;
  if (dtype == kInt32 || dtype == kInt64) return randint(-1000, 1000, shape, {.dtype = dtype});
  return uniform(shape, -1, 1, {.dtype = kFloat64}).to(dtype);
}

ops::Attrs axis_attrs(int64_t axis, Shape dims = {}) {
  ops::Attrs a;
  a.axis = axis;
  a.dims = dims;
  return a;
}

Tensor call_op(const char* name, std::initializer_list<Tensor> in, const ops::Attrs& a) {
  return ops::call(*ops::find_op(name), in, a, Site::here());
}

constexpr DType kEveryDType[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kBool};

}  // namespace

TEST_CASE("CUDA cat joins strided, broadcast and empty operands of every dtype", "[cuda][host][cat]") {
  for (DType dtype : kEveryDType) {
    INFO(dtype_name(dtype));
    Tensor a = random({3, 4, 5}, dtype);
    Tensor b = random({5, 2, 3}, dtype).permute({2, 1, 0});  // [3, 2, 5], non-contiguous
    Tensor c = random({3, 1, 1}, dtype).expand({3, 7, 5});   // stride 0
    Tensor empty = random({3, 0, 5}, dtype);
    require_identical([&] { return cat({a, b, empty, c}, 1); });
    require_identical([&] { return cat({a, a.slice(2, 1, 5, 2)}, 2); });
    require_identical([&] { return cat({empty, empty}, 0); });
  }
  // Several blocks per operand.
  Tensor big = random({40, 30}, kFloat32), transposed = random({30, 25}, kFloat32).t();
  require_identical([&] { return cat({big, transposed, big}, 0); });
}

TEST_CASE("CUDA slice_backward puts the gradient in the slice and zeros elsewhere", "[cuda][host][slice]") {
  for (DType dtype : kEveryDType) {
    INFO(dtype_name(dtype));
    for (auto [axis, start, end, step] : std::vector<std::array<int64_t, 4>>{
             {0, 1, 6, 2}, {1, 0, 9, 3}, {2, 2, 3, 1}, {1, 4, 4, 1}, {1, 0, 9, 1}}) {
      ops::Attrs a = axis_attrs(axis, {6, 9, 4});
      a.count = start;
      a.count2 = end;
      a.step = step;
      Shape sliced{6, 9, 4};
      sliced[axis] = end > start ? (end - start - 1) / step + 1 : 0;
      // The gradient transposed in memory.
      Tensor dout = random({sliced[2], sliced[1], sliced[0]}, dtype).permute({2, 1, 0});
      require_identical([&] { return call_op("slice_backward", {dout}, a); });
    }
  }
}

TEST_CASE("CUDA gather reads strided x at strided int32 and int64 indices", "[cuda][host][gather]") {
  for (DType dtype : kEveryDType) {
    INFO(dtype_name(dtype));
    Tensor x = random({7, 6, 5}, dtype).permute({1, 0, 2});  // [6, 7, 5]
    for (DType index_dtype : {kInt32, kInt64}) {
      for (int64_t axis = 0; axis < 3; ++axis) {
        Shape shape{4, 5, 3};
        const int64_t size = x.shape()[axis];
        shape[axis] = 9;  // longer than x along axis: indices repeat
        Tensor index = randint(0, size, {shape[2], shape[1], shape[0]}, {.dtype = index_dtype}).permute({2, 1, 0});
        require_identical([&] { return gather(x, axis, index); });
      }
    }
  }
  // Several blocks.
  Tensor x = random({20, 50}, kFloat64);
  Tensor index = randint(0, 50, {20, 40});
  require_identical([&] { return gather(x, 1, index); });
}

TEST_CASE("CUDA index_select picks rows at a strided index; embedding rows", "[cuda][host][index_select]") {
  for (DType dtype : kEveryDType) {
    INFO(dtype_name(dtype));
    Tensor x = random({5, 6, 4}, dtype).permute({2, 0, 1});  // [4, 5, 6]
    for (DType index_dtype : {kInt32, kInt64}) {
      for (int64_t axis = 0; axis < 3; ++axis) {
        Tensor index = randint(0, x.shape()[axis], {14}, {.dtype = index_dtype}).slice(0, 1, 14, 2);  // stride 2
        require_identical([&] { return index_select(x, axis, index); });
      }
      require_identical([&] { return index_select(x, 1, zeros({0}, {.dtype = index_dtype})); });
    }
  }
  Tensor weight = random({50, 16}, kFloat32);
  Tensor tokens = randint(0, 50, {4, 9});
  require_identical([&] { return embedding(weight, tokens); });
}

TEST_CASE("CUDA one_hot gives float32 rows of int32 and int64 indices", "[cuda][host][one_hot]") {
  for (DType index_dtype : {kInt32, kInt64}) {
    Tensor indices = randint(0, 11, {5, 7}, {.dtype = index_dtype}).t();
    require_identical([&] { return one_hot(indices, 11); });
    require_identical([&] { return one_hot(indices, 40); });
    require_identical([&] { return one_hot(from_vector<int64_t>({3}).reshape({}).to(index_dtype), 4); });
    require_identical([&] { return one_hot(zeros({0, 3}, {.dtype = index_dtype}), 2); });
  }
}

TEST_CASE("CUDA index_add sums repeated indices in the CPU's order, bit for bit", "[cuda][host][index_add]") {
  for (DType dtype : {kFloat64, kFloat32, kFloat16, kBFloat16, kInt32, kInt64}) {
    INFO(dtype_name(dtype));
    for (DType index_dtype : {kInt32, kInt64}) {
      // Long index (merge passes past the block's sort), few rows: many repeats per row.
      Tensor index = randint(0, 5, {1200}, {.dtype = index_dtype}).slice(0, 0, 1200, 2);  // 600, stride 2
      Tensor src = random({3, 2, 600}, dtype).permute({1, 2, 0});                        // [2, 600, 3]
      require_identical([&] { return call_op("index_add", {src, index}, axis_attrs(1, {2, 7, 3})); });
      // Short index along the last dim, and along the first.
      Tensor short_index = randint(0, 4, {5}, {.dtype = index_dtype});
      Tensor rows = random({3, 5}, dtype), columns = random({5, 3}, dtype);
      require_identical([&] { return call_op("index_add", {rows, short_index}, axis_attrs(1, {3, 4})); });
      require_identical([&] { return call_op("index_add", {columns, short_index}, axis_attrs(0, {4, 3})); });
      // An empty index gives zeros.
      Tensor no_src = random({3, 0}, dtype), no_index = zeros({0}, {.dtype = index_dtype});
      require_identical([&] { return call_op("index_add", {no_src, no_index}, axis_attrs(1, {3, 4})); });
    }
  }
  // A single row takes 600 terms: the sum must run in index order for float64 to agree exactly.
  Tensor ones_index = zeros({600}, {.dtype = kInt64});
  Tensor src = random({600}, kFloat64) * 1e8;
  require_identical([&] { return call_op("index_add", {src, ones_index}, axis_attrs(0, {2})); });
}

TEST_CASE("CUDA scatter_add sums each line in the CPU's order, bit for bit", "[cuda][host][scatter_add]") {
  for (DType dtype : {kFloat64, kFloat32, kFloat16, kBFloat16, kInt32, kInt64}) {
    INFO(dtype_name(dtype));
    for (DType index_dtype : {kInt32, kInt64}) {
      // Lines of 300 (merge passes), out larger than src in the other dims.
      Tensor src = random({300, 2, 3}, dtype).permute({1, 0, 2});  // [2, 300, 3]
      Tensor index = randint(0, 6, {3, 300, 2}, {.dtype = index_dtype}).permute({2, 1, 0});
      require_identical([&] { return call_op("scatter_add", {src, index}, axis_attrs(1, {4, 6, 3})); });
      // Many short lines (one block sorts several), along dim 0.
      Tensor short_src = random({3, 70}, dtype), short_index = randint(0, 4, {3, 70}, {.dtype = index_dtype});
      require_identical([&] { return call_op("scatter_add", {short_src, short_index}, axis_attrs(0, {4, 80})); });
      // Lines of one (gather's backward of a column pick).
      Tensor column = random({9, 1}, dtype), column_index = randint(0, 5, {9, 1}, {.dtype = index_dtype});
      require_identical([&] { return call_op("scatter_add", {column, column_index}, axis_attrs(1, {9, 5})); });
    }
  }
}

TEST_CASE("CUDA index kernels refuse an out-of-range index with the op's ValueError", "[cuda][host][errors]") {
  test::HostCudaKernels on_host;
  const Tensor x = zeros({4, 3}, {.dtype = kFloat32});
  auto require_refused = [](const std::function<Tensor()>& fn, const std::string& op, const std::string& detail) {
    try {
      fn();
      FAIL("no error for " << op);
    } catch (const ValueError& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find("tl::" + op + ":") != std::string::npos);
      CHECK(message.find("out of range") != std::string::npos);
      CHECK(message.find(detail) != std::string::npos);
    }
  };
  // The first bad element is reported, as the CPU's check does.
  require_refused([&] { return call_op("gather", {x, from_vector<int64_t>({0, 1, 3, 2, 7, 3}, {2, 3})}, axis_attrs(0)); },
                  "gather", "value 7 (element 4)");
  require_refused([&] { return call_op("index_select", {x, from_vector<int32_t>({1, -1, 5})}, axis_attrs(1)); },
                  "index_select", "value -1 (element 1)");
  require_refused([&] { return call_op("index_add", {x, from_vector<int64_t>({0, 2, 1, 2})}, axis_attrs(0, {2, 3})); },
                  "index_add", "value 2 (element 1)");
  require_refused([&] {
    return call_op("scatter_add", {x, from_vector<int64_t>({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0}, {4, 3})},
                   axis_attrs(1, {4, 3}));
  }, "scatter_add", "value 3 (element 10)");
  ops::Attrs classes;
  classes.count = 3;
  require_refused([&] { return call_op("one_hot", {from_vector<int64_t>({2, 3})}, classes); }, "one_hot",
                  "value 3 (element 1)");
  // In range at the edges is fine.
  CHECK(call_op("gather", {x, from_vector<int64_t>({3, 0, 3}, {1, 3})}, axis_attrs(0)).shape() == Shape{1, 3});
}
