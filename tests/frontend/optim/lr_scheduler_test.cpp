#include <cmath>
#include <numbers>

#include "optim_test_util.h"

using namespace tl;
using namespace optim_test;

namespace {
// The optimizer's lr after constructing the schedule and after each of `steps` steps.
template <class Schedule>
std::vector<double> lr_sequence(optim::Optimizer& opt, Schedule& schedule, int steps) {
  std::vector<double> lrs{opt.lr()};
  for (int i = 0; i < steps; ++i) {
    schedule.step();
    lrs.push_back(opt.lr());
  }
  return lrs;
}

void check_sequence(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("step " << i);
    CHECK(got[i] == Approx(expected[i]).epsilon(1e-12).margin(1e-15));
  }
}
}  // namespace

TEST_CASE("StepLR multiplies the lr by gamma every step_size steps", "[optim][lr_scheduler]") {
  optim::SGD opt({param({1.0})}, {.lr = 1.0});
  optim::StepLR schedule(opt, 3, 0.5);
  check_sequence(lr_sequence(opt, schedule, 7), {1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25});
  CHECK(schedule.last_step() == 7);
  CHECK(schedule.lr_at(9) == Approx(0.125));
}

TEST_CASE("CosineAnnealingLR follows half a cosine from base to eta_min", "[optim][lr_scheduler]") {
  optim::SGD opt({param({1.0})}, {.lr = 0.1});
  optim::CosineAnnealingLR schedule(opt, 4, 0.02);
  // eta_min + (base - eta_min) (1 + cos(pi k / 4)) / 2 with base - eta_min = 0.08.
  double c = std::cos(std::numbers::pi / 4);
  check_sequence(lr_sequence(opt, schedule, 4),
                 {0.1, 0.02 + 0.04 * (1 + c), 0.06, 0.02 + 0.04 * (1 - c), 0.02});
}

TEST_CASE("LinearWarmupLR ramps up linearly and then holds the base lr", "[optim][lr_scheduler]") {
  optim::Adam opt({param({1.0})}, {.lr = 0.4});
  optim::LinearWarmupLR schedule(opt, 4, 0.25);
  // Constructing the schedule applies step 0 at once, as PyTorch's LinearLR does.
  CHECK(opt.lr() == Approx(0.1));
  check_sequence(lr_sequence(opt, schedule, 6), {0.1, 0.175, 0.25, 0.325, 0.4, 0.4, 0.4});
  CHECK(schedule.base_lr() == 0.4);
}

TEST_CASE("a schedule scales each param group from its own base lr", "[optim][lr_scheduler]") {
  optim::SGD opt({param({1.0}), param({2.0})}, {.lr = 1.0});
  // Split into two groups with different lrs.
  auto& groups = opt.param_groups();
  groups.push_back({{groups[0].params[1]}, 0.1, 0.0});
  groups[0].params.pop_back();
  optim::StepLR schedule(opt, 1, 0.5);
  schedule.step();
  CHECK(groups[0].lr == 0.5);
  CHECK(groups[1].lr == Approx(0.05));
}

TEST_CASE("schedules refuse non-positive periods", "[optim][lr_scheduler][errors]") {
  optim::SGD opt({param({1.0})}, {.lr = 1.0});
  CHECK_THROWS_WITH(optim::StepLR(opt, 0), Catch::Contains("tl::optim::StepLR: step_size must be > 0, got 0") &&
                                               Catch::Contains("lr_scheduler_test.cpp:"));
  CHECK_THROWS_AS(optim::CosineAnnealingLR(opt, 0), ValueError);
  CHECK_THROWS_AS(optim::LinearWarmupLR(opt, 3, 1.5), ValueError);
  CHECK(opt.lr() == 1.0);
}
