// Graphs far deeper than the stack: a loss accumulated over a long loop builds one node per
// step. Backward and destruction must not recurse per node. Each case runs in a child process
// so that a regression (a stack overflow) fails the test instead of killing the test runner.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <cstdlib>

#include "tests/support/spawn_self.h"
#include "tl/autograd.h"
#include "tl/ops.h"

using namespace tl;

namespace {

constexpr int kDepth = 200000;

// Runs the hidden case `name` in a child with an 8 MiB stack (the usual default, stated
// explicitly so the test does not depend on the runner's ulimit).
int run_in_child(const std::string& name) {
  struct rlimit saved;
  REQUIRE(::getrlimit(RLIMIT_STACK, &saved) == 0);
  struct rlimit small = saved;
  small.rlim_cur = std::min<rlim_t>(saved.rlim_max, 8u << 20);
  REQUIRE(::setrlimit(RLIMIT_STACK, &small) == 0);
  pid_t pid = testing::spawn_self(name, {});
  REQUIRE(::setrlimit(RLIMIT_STACK, &saved) == 0);
  return testing::wait_for_child(pid);
}

}  // namespace

TEST_CASE("child: backward through a chain of 200000 nodes", "[.][deep_graph_child]") {
  Tensor w = from_vector<float>({0.5f}).requires_grad_();
  Tensor total = zeros({1});
  for (int i = 0; i < kDepth; ++i) total = total + w;
  total.sum().backward();
  REQUIRE(w.grad().item<float>() == static_cast<float>(kDepth));
}

TEST_CASE("child: destroy a chain of 200000 nodes without backward", "[.][deep_graph_child]") {
  Tensor w = from_vector<float>({0.5f}).requires_grad_();
  {
    Tensor total = zeros({1});
    for (int i = 0; i < kDepth; ++i) total = total * 1.0 + w;
  }  // the whole graph is freed here
  REQUIRE(w.requires_grad());
}

TEST_CASE("child: backward twice with retain_graph then destroy a chain of 200000 nodes", "[.][deep_graph_child]") {
  Tensor w = from_vector<float>({1.0f}).requires_grad_();
  Tensor total = zeros({1});
  for (int i = 0; i < kDepth; ++i) total = total + w * 2.0;
  total.sum().backward({}, /*retain_graph=*/true);
  total.sum().backward();
  REQUIRE(w.grad().item<float>() == 4.0f * kDepth);
  total = Tensor();
}

TEST_CASE("a 200,000-node autograd chain is backpropagated and freed without recursion", "[autograd][deep]") {
  CHECK(run_in_child("child: backward through a chain of 200000 nodes") == 0);
  CHECK(run_in_child("child: destroy a chain of 200000 nodes without backward") == 0);
  CHECK(run_in_child("child: backward twice with retain_graph then destroy a chain of 200000 nodes") == 0);
}
