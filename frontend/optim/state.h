// Saving and restoring optimizer state (Optimizer::state / load_state), shared by all
// optimizers: the map layout, and the checks that refuse another optimizer's state before
// anything is changed.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "tl/optim.h"

namespace tl::optim::detail {

// One kind of per-parameter buffer ("exp_avg"). `is_kept` is false when this optimizer's
// configuration never creates it (momentum_buffer with momentum 0); loading state that
// holds it is then refused.
template <class Buffers>
struct BasicStateSlot {
  const char* name;
  Buffers* buffers;  // one per parameter, undefined until created
  bool is_kept = true;
};
using StateSlot = BasicStateSlot<std::vector<Tensor>>;
using ConstStateSlot = BasicStateSlot<const std::vector<Tensor>>;

// All parameters of all groups, in state-index order.
std::vector<Tensor> flat_params(const std::vector<ParamGroup>& groups);

// Builds the map documented in optim.h from the buffers themselves (no copies); `steps` (per
// parameter, may be null) are written as "<i>.step" for parameters that have taken a step.
std::map<std::string, Tensor> save_state(const std::string& optimizer, size_t num_params,
                                         const std::vector<ConstStateSlot>& slots,
                                         const std::vector<int64_t>* steps);

// Validates `state` against this optimizer and its parameters, then replaces the buffers
// (and steps) with copies in each parameter's dtype and device; with `adopt`, a tensor that
// needs no conversion is taken as it is. Per parameter, the kept buffers (and the step, when
// `steps` is given) must be all present or all absent.
void load_state(const std::map<std::string, Tensor>& state, const std::string& optimizer,
                const std::vector<Tensor>& params, const std::vector<StateSlot>& slots,
                std::vector<int64_t>* steps, bool adopt, Site site);

// Throws ValueError naming `optimizer` for an empty parameter list or a non-leaf or
// non-floating parameter; returns the parameters as one group. The hyper-parameters are
// checked by each optimizer's own rules (check_group_options and its own).
std::vector<ParamGroup> make_groups(const std::string& optimizer, std::vector<Tensor> params,
                                    double lr, double weight_decay, Site site);

// The rules every optimizer applies to a group: lr >= 0 and weight_decay >= 0.
void check_group_options(const std::string& optimizer, double lr, double weight_decay, Site site);

// Throws ValueError "tl::optim::<optimizer>: <what> must be <rule>, got <value>" unless `ok`.
void check_option(bool ok, const std::string& optimizer, const char* what, const char* rule,
                  double value, Site site);

// The grad of params[i], checked against the parameter's shape and device (undefined when
// the parameter has none).
Tensor grad_of(const Tensor& param, size_t index, const std::string& optimizer, Site site);

// An optimizer step's walk over its parameters: calls `update(group_index, index, param,
// grad)` for each parameter that has a gradient, `index` numbering parameters across groups
// as the state vectors do. First every vector in `state` (and `counters`, when given) grows to
// hold the parameter's entry, so state stays aligned with the parameter list.
template <class Update>
void for_each_param_with_grad(std::vector<ParamGroup>& groups, std::initializer_list<std::vector<Tensor>*> state,
                              std::vector<int64_t>* counters, const std::string& optimizer, Site site,
                              Update&& update) {
  size_t index = 0;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    for (Tensor& p : groups[gi].params) {
      const size_t i = index++;
      for (std::vector<Tensor>* v : state)
        if (v->size() <= i) v->resize(i + 1);
      if (counters != nullptr && counters->size() <= i) counters->resize(i + 1);
      Tensor g = grad_of(p, i, optimizer, site);
      if (g.defined()) update(gi, i, p, g);
    }
  }
}

}  // namespace tl::optim::detail
