// Host allocation failure at every allocation of a training step: each failure is a tl::Error
// naming the bytes requested (and, for op outputs, the op and the caller's line); the process
// survives and the next step runs normally. Under the sanitizer build, LeakSanitizer checks
// that no failure leaks.
#include <catch2/catch.hpp>

#include <string>

#include "runtime/device_backend.h"
#include "tl/tl.h"

using namespace tl;

namespace {

struct Fixture {
  nn::Sequential model{nn::Linear(6, 16), nn::Tanh(), nn::Linear(16, 3)};
  optim::Adam opt{model.parameters(), {.lr = 1e-2}};
  Tensor x, y;
  Fixture() {
    manual_seed(3);
    x = randn({8, 6});
    y = randint(0, 3, {8});
  }
  float step() {
    Tensor loss = nn::cross_entropy(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss.item<float>();
  }
};

}  // namespace

TEST_CASE("a training step survives an allocation failure at every allocation", "[tensor][oom]") {
  Fixture f;
  f.step();  // creates the optimizer state and gradients
  rt::allocation_fail_at(0);
  f.step();
  uint64_t calls = rt::allocation_calls();
  REQUIRE(calls > 10);
  int with_site = 0;
  for (uint64_t k = 1; k <= calls; ++k) {
    INFO("allocation " << k << " of " << calls);
    rt::allocation_fail_at(k);
    try {
      f.step();
      FAIL("the step succeeded although allocation " << k << " failed");
    } catch (const Error& e) {
      std::string msg = e.what();
      CHECK_THAT(msg, Catch::Contains("out of memory") && Catch::Contains("bytes"));
      with_site += msg.find("allocation_failure_test.cpp:") != std::string::npos ||
                   msg.find(" at ") != std::string::npos;
    }
    rt::allocation_fail_at(0);
    float loss = f.step();  // the process and the model are still usable
    CHECK(std::isfinite(loss));
  }
  // Most allocations are op outputs, whose errors name the op and the line.
  CHECK(with_site * 2 > static_cast<int>(calls));
}

TEST_CASE("an out-of-memory error names the op, the shape and the line", "[tensor][oom]") {
  Tensor a = ones({4, 5});
  rt::allocation_fail_at(1);
  int line = __LINE__; CHECK_THROWS_WITH(exp(a), Catch::Contains("tl::exp") && Catch::Contains("[4, 5] float32") &&
                                                     Catch::Contains("80 bytes") &&
                                                     Catch::Contains("allocation_failure_test.cpp:" + std::to_string(line)));
  rt::allocation_fail_at(0);
  CHECK(exp(a).sum().item<float>() == Approx(20 * 2.7182817f));
}
