// Optimizers and learning-rate schedules. Optimizers update parameters in place under
// NoGradGuard and keep their state (momentum buffers, Adam moments, step counts) as
// tensors so it can be saved, restored and moved between devices.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tl/tensor.h"

namespace tl::optim {

// One group of parameters sharing hyper-parameters (lr can be changed by schedulers).
struct ParamGroup {
  std::vector<Tensor> params;
  double lr = 1e-3;
  double weight_decay = 0.0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Applies one update from the parameters' .grad (parameters without a grad are skipped).
  virtual void step(Site site = Site::here()) = 0;
  // Sets every parameter's .grad to undefined (set_to_none, the default) or to zeros.
  void zero_grad(bool set_to_none = true);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  double lr() const { return groups_.empty() ? 0.0 : groups_[0].lr; }
  void set_lr(double lr);

  // Named state tensors ("<param index>.<name>", e.g. "3.exp_avg") and scalar counters,
  // for checkpoints. load_state refuses state for a different parameter set or optimizer.
  virtual std::map<std::string, Tensor> state() const = 0;
  virtual void load_state(const std::map<std::string, Tensor>& state, Site site = Site::here()) = 0;
  virtual std::string name() const = 0;

 protected:
  std::vector<ParamGroup> groups_;
};

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {}, Site site = Site::here());
  void step(Site site = Site::here()) override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state, Site site = Site::here()) override;
  std::string name() const override { return "SGD"; }

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_;  // per parameter, undefined until first step
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient (Adam) or decoupled (AdamW)
  bool amsgrad = false;
};
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {}, Site site = Site::here());
  void step(Site site = Site::here()) override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state, Site site = Site::here()) override;
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }

 protected:
  Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled, Site site);
  AdamOptions options_;
  bool decoupled_ = false;
  int64_t step_count_ = 0;
  std::vector<Tensor> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
};
// Adam with decoupled weight decay (Loshchilov & Hutter); default weight_decay 1e-2.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamOptions options = {.weight_decay = 1e-2}, Site site = Site::here());
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions options = {}, Site site = Site::here());
  void step(Site site = Site::here()) override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state, Site site = Site::here()) override;
  std::string name() const override { return "RMSprop"; }

 private:
  RMSpropOptions options_;
  std::vector<Tensor> square_avg_, momentum_, grad_avg_;
};

// Scales gradients in place so their global L2 norm is at most `max_norm`; returns the
// norm before clipping (a float32 scalar tensor).
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, Site site = Site::here());

// ---------------- learning-rate schedules ----------------
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  // Advances one step (call after optimizer.step()) and sets the optimizer's lr.
  void step();
  int64_t last_step() const { return step_; }
  double base_lr() const { return base_lr_; }
  // The lr at schedule step `step`.
  virtual double lr_at(int64_t step) const = 0;

 protected:
  Optimizer& optimizer_;
  double base_lr_;
  int64_t step_ = 0;
};

// lr = base * gamma^(step / step_size).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t step) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// Cosine annealing from base to eta_min over t_max steps.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min = 0.0);
  double lr_at(int64_t step) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// Linear warm-up from start_factor * base to base over warmup_steps, then constant.
class LinearWarmupLR : public LRScheduler {
 public:
  LinearWarmupLR(Optimizer& optimizer, int64_t warmup_steps, double start_factor = 0.0);
  double lr_at(int64_t step) const override;

 private:
  int64_t warmup_steps_;
  double start_factor_;
};

}  // namespace tl::optim
