// Ops on an undefined (default-constructed or moved-from) tl::Tensor throw tl::Error naming
// the op and the caller's line; none dereferences the missing tensor.
#include <catch2/catch.hpp>

#include <string>
#include <utility>

#include "tests/support/op_samples.h"
#include "tl/autograd.h"
#include "tl/ops.h"

using namespace tl;

TEST_CASE("every op in the table refuses an undefined operand with a tl::Error", "[ops][undefined]") {
  int cases = 0;
  for (const ops::OpDef* op : ops::all_ops()) {
    for (size_t k = 0; k < op->samples.size(); ++k) {
      const ops::Sample& s = op->samples[k];
      for (size_t i = 0; i < s.shapes.size(); ++i) {
        bool optional = std::find(op->optional_inputs.begin(), op->optional_inputs.end(), static_cast<int>(i)) !=
                        op->optional_inputs.end();
        if (optional) continue;
        INFO(op->name << " sample " << k << " operand " << i);
        std::vector<Tensor> in = test::make_inputs(s, test::seed_for(op->name, k), false);
        in[i] = Tensor();
        CHECK_THROWS_AS(s.call(in), Error);
        ++cases;
      }
    }
  }
  CHECK(cases > 50);
}

TEST_CASE("operators, methods and backward on a moved-from tensor name the op and the line", "[ops][undefined]") {
  Tensor a = ones({2});
  Tensor moved = std::move(a);
  Tensor b = ones({2});
  // NOLINTBEGIN(bugprone-use-after-move): the point of the test
  int line = __LINE__; CHECK_THROWS_WITH(add(a, b), Catch::Contains("tl::add") && Catch::Contains("undefined") &&
                                                  Catch::Contains("undefined_operand_test.cpp:" + std::to_string(line)));
  line = __LINE__; CHECK_THROWS_WITH(b * a, Catch::Contains("tl::mul") && Catch::Contains("undefined_operand_test.cpp:" +
                                                                                         std::to_string(line)));
  line = __LINE__; CHECK_THROWS_WITH(a.sum(), Catch::Contains("tl::sum") && Catch::Contains("undefined_operand_test.cpp:" +
                                                                                          std::to_string(line)));
  line = __LINE__; CHECK_THROWS_WITH(a.backward(), Catch::Contains("tl::backward") &&
                                                      Catch::Contains("undefined_operand_test.cpp:" + std::to_string(line)));
  CHECK_THROWS_WITH(a.exp(), Catch::Contains("tl::exp"));
  CHECK_THROWS_WITH(a.matmul(b), Catch::Contains("tl::matmul"));
  CHECK_THROWS_WITH(a.mul_(2.0), Catch::Contains("tl::mul_"));
  CHECK_THROWS_WITH(b.copy_(a), Catch::Contains("tl::copy_") && Catch::Contains("the source"));
  CHECK_THROWS_WITH(a.requires_grad_(), Catch::Contains("tl::requires_grad_"));
  // Accessors have no call site to name, but they throw instead of dereferencing null.
  CHECK_THROWS_WITH(a.shape(), Catch::Contains("tl::Tensor::shape") && Catch::Contains("undefined"));
  CHECK_THROWS_AS(a.numel(), ValueError);
  CHECK_THROWS_AS(a.detach(), ValueError);
  CHECK_THROWS_AS(a.item<float>(), ValueError);
  CHECK_THROWS_AS(a.grad(), ValueError);
  CHECK_THROWS_AS(a.is_leaf(), ValueError);
  CHECK(to_string(a) == "Tensor(undefined)");  // printing is always safe
  // NOLINTEND(bugprone-use-after-move)
  CHECK_FALSE(a.defined());
  CHECK(moved.sum().item<float>() == 2.0f);
}
