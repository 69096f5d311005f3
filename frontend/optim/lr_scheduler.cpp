// Learning-rate schedules: closed forms of PyTorch's StepLR, CosineAnnealingLR and LinearLR.
#include <cmath>
#include <numbers>
#include <string>

#include "tl/optim.h"

namespace tl::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (const auto& group : optimizer.param_groups()) base_lrs_.push_back(group.lr);
}

void LRScheduler::step() {
  ++step_;
  apply();
}

void LRScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  for (size_t i = 0; i < groups.size() && i < base_lrs_.size(); ++i) groups[i].lr = lr_from(base_lrs_[i], step_);
}

namespace {
void check_schedule(bool ok, const char* schedule, const std::string& what, Site site) {
  if (!ok) throw ValueError(std::string("tl::optim::") + schedule + ": " + what + " at " + site.str());
}
}  // namespace

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma, Site site)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  check_schedule(step_size > 0, "StepLR", "step_size must be > 0, got " + std::to_string(step_size), site);
  apply();
}

double StepLR::lr_from(double base_lr, int64_t step) const {
  return base_lr * std::pow(gamma_, static_cast<double>(step / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min, Site site)
    : LRScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
  check_schedule(t_max > 0, "CosineAnnealingLR", "t_max must be > 0, got " + std::to_string(t_max), site);
  apply();
}

double CosineAnnealingLR::lr_from(double base_lr, int64_t step) const {
  double phase = std::numbers::pi * static_cast<double>(step) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr - eta_min_) * (1 + std::cos(phase)) / 2;
}

LinearWarmupLR::LinearWarmupLR(Optimizer& optimizer, int64_t warmup_steps, double start_factor, Site site)
    : LRScheduler(optimizer), warmup_steps_(warmup_steps), start_factor_(start_factor) {
  check_schedule(warmup_steps >= 0, "LinearWarmupLR",
                 "warmup_steps must be >= 0, got " + std::to_string(warmup_steps), site);
  check_schedule(start_factor >= 0 && start_factor <= 1, "LinearWarmupLR",
                 "start_factor must be in [0, 1], got " + std::to_string(start_factor), site);
  apply();
}

double LinearWarmupLR::lr_from(double base_lr, int64_t step) const {
  if (step >= warmup_steps_) return base_lr;
  double progress = static_cast<double>(step) / static_cast<double>(warmup_steps_);
  return base_lr * (start_factor_ + (1 - start_factor_) * progress);
}

}  // namespace tl::optim
