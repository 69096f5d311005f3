// The compiler (MLIR, LLVM) is loaded on the first compiled trace and never before: an eager
// program maps none of it. Each case runs in a fresh process, whose memory map is its own.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "tests/support/spawn_self.h"
#include "tl/compile.h"
#include "tl/tl.h"

using namespace tl;

namespace {

// True when this process has a library whose file name contains `name` mapped.
bool maps_library(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(name) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("child: eager training maps no MLIR or LLVM, a compiled trace does", "[.][compiler_loader_child]") {
  manual_seed(0);
  nn::Linear model(4, 2);
  optim::SGD opt(model.parameters(), {.lr = 0.1});
  Tensor x = randn({8, 4}), y = randn({8, 2});
  auto step = [&](Tensor a, Tensor b) {
    Tensor loss = nn::mse_loss(model(a), b);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  };
  for (int i = 0; i < 3; ++i) step(x, y);
  REQUIRE_FALSE(maps_library("libMLIR"));
  REQUIRE_FALSE(maps_library("libLLVM"));
  REQUIRE(maps_library("libtl.so"));  // the check sees libraries at all
  auto compiled = compile(step);
  for (int i = 0; i < 3; ++i) compiled(x, y);
  REQUIRE(compiled.stats().compiled_calls == 1);
  REQUIRE(maps_library("libMLIR"));  // loaded with libtl_compiler.so by the trace
}

TEST_CASE("an eager program loads no MLIR or LLVM until a function is compiled", "[compile][layers]") {
  CHECK(testing::wait_for_child(testing::spawn_self("child: eager training maps no MLIR or LLVM, a compiled trace does", {})) == 0);
}
