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
  // State is indexed by a parameter's position in the groups, so optimizers do not copy.
  Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  // Applies one update from the parameters' .grad (parameters without a grad are skipped).
  virtual void step(Site site = Site::here()) = 0;
  // Sets every parameter's .grad to undefined (set_to_none, the default) or to zeros.
  void zero_grad(bool set_to_none = true);

  // Groups may be edited (lr, weight_decay); state is indexed by a parameter's position
  // across all groups, so adding or reordering parameters invalidates it.
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  double lr() const { return groups_.empty() ? 0.0 : groups_[0].lr; }
  // Sets the lr of every group.
  void set_lr(double lr);

  // A copy of the state for checkpoints: "optimizer.<name>" (int64 scalar: the number of
  // parameters), per-parameter buffers "<param index>.<buffer>" (e.g. "3.exp_avg"), and
  // per-parameter int64 scalar counters ("3.step"). Buffers not created yet are absent.
  // Copies every buffer; later steps do not change the result.
  std::map<std::string, Tensor> state() const;
  // The same map without copying: the buffers themselves, which step() updates in place.
  // tl::save streams a checkpoint from it without a second copy of the state.
  virtual std::map<std::string, Tensor> state_view() const = 0;
  // Copies `state` in (converted to each parameter's dtype and device). Throws ValueError,
  // before changing anything, when it is for another optimizer, another number of
  // parameters, a buffer of the wrong shape, or buffers this configuration does not keep.
  void load_state(const std::map<std::string, Tensor>& state, Site site = Site::here());
  // As load_state, but a tensor of `state` that already has its parameter's dtype and device
  // and is contiguous becomes the buffer itself, without a copy: the caller hands it over and
  // must not write to it afterwards (tl::load passes the tensors it has just read).
  void adopt_state(const std::map<std::string, Tensor>& state, Site site = Site::here());
  // Throws ValueError, with the message the constructor gives, unless a parameter group with
  // this `lr` and `weight_decay` (and this optimizer's other options) is valid: construction
  // and tl::load, for the groups a checkpoint holds, apply the same rules.
  virtual void check_group(double lr, double weight_decay, Site site = Site::here()) const = 0;
  virtual std::string name() const = 0;

 protected:
  // load_state and adopt_state: `adopt` says whether tensors may be taken without a copy.
  virtual void restore_state(const std::map<std::string, Tensor>& state, bool adopt, Site site) = 0;
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
  std::map<std::string, Tensor> state_view() const override;
  void check_group(double lr, double weight_decay, Site site = Site::here()) const override;
  std::string name() const override { return "SGD"; }

 private:
  void restore_state(const std::map<std::string, Tensor>& state, bool adopt, Site site) override;
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
  std::map<std::string, Tensor> state_view() const override;
  void check_group(double lr, double weight_decay, Site site = Site::here()) const override;
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }

 protected:
  Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled, Site site);
  void restore_state(const std::map<std::string, Tensor>& state, bool adopt, Site site) override;
  AdamOptions options_;
  bool decoupled_ = false;
  // Per parameter, as in PyTorch: a parameter without a grad skips the step and its bias
  // correction does not advance.
  std::vector<int64_t> steps_;
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
  std::map<std::string, Tensor> state_view() const override;
  void check_group(double lr, double weight_decay, Site site = Site::here()) const override;
  std::string name() const override { return "RMSprop"; }

 private:
  void restore_state(const std::map<std::string, Tensor>& state, bool adopt, Site site) override;
  RMSpropOptions options_;
  std::vector<Tensor> square_avg_, momentum_, grad_avg_;
};

// Scales gradients in place so their global L2 norm is at most `max_norm` (by
// max_norm / (norm + 1e-6), as PyTorch does); parameters without a grad are skipped.
// Returns the norm before clipping as a scalar tensor: float64 when any grad is float64,
// else float32. The norm is accumulated in double. Throws ValueError for a negative `max_norm`.
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, Site site = Site::here());
// Clamps every gradient in place, element by element, to [-clip_value, clip_value]
// (PyTorch's clip_grad_value_); parameters without a grad are skipped. Throws ValueError
// unless `clip_value` >= 0.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value, Site site = Site::here());

// ---------------- learning-rate schedules ----------------
// A schedule sets every group's lr from that group's lr at construction (its base lr).
// Constructing one applies the step-0 lr, as PyTorch does.
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  // Advances one step (call after optimizer.step()) and sets the optimizer's lr.
  void step();
  int64_t last_step() const { return step_; }
  double base_lr() const { return base_lrs_.empty() ? 0.0 : base_lrs_[0]; }
  // The first group's lr at schedule step `step`.
  double lr_at(int64_t step) const { return lr_from(base_lr(), step); }

 protected:
  // The lr at `step` for a group whose base lr is `base_lr`.
  virtual double lr_from(double base_lr, int64_t step) const = 0;
  // Sets each group's lr for the current step; derived constructors call it last.
  void apply();
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;  // per group
  int64_t step_ = 0;
};

// lr = base * gamma^floor(step / step_size). Throws ValueError unless step_size > 0.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1, Site site = Site::here());

 protected:
  double lr_from(double base_lr, int64_t step) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// Cosine annealing from base to eta_min over t_max steps:
// lr = eta_min + (base - eta_min) * (1 + cos(pi * step / t_max)) / 2 (PyTorch's closed form;
// past t_max it rises again). Throws ValueError unless t_max > 0.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min = 0.0,
                    Site site = Site::here());

 protected:
  double lr_from(double base_lr, int64_t step) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// Linear warm-up from start_factor * base to base over warmup_steps, then constant (PyTorch's
// LinearLR with end_factor 1). Throws ValueError unless warmup_steps >= 0 and
// 0 <= start_factor <= 1.
class LinearWarmupLR : public LRScheduler {
 public:
  LinearWarmupLR(Optimizer& optimizer, int64_t warmup_steps, double start_factor = 0.0,
                 Site site = Site::here());

 protected:
  double lr_from(double base_lr, int64_t step) const override;

 private:
  int64_t warmup_steps_;
  double start_factor_;
};

}  // namespace tl::optim
