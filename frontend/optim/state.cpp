// Optimizer state maps and the checks shared by every optimizer's constructor and step.
#include "frontend/optim/state.h"

#include <charconv>
#include <cstring>
#include <sstream>

#include "tl/ops.h"

namespace tl::optim::detail {
namespace {

const char kOptimizerPrefix[] = "optimizer.";

std::string format_value(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

[[noreturn]] void refuse(const std::string& optimizer, const std::string& why, Site site) {
  throw ValueError("tl::optim::" + optimizer + "::load_state: " + why + "; nothing was loaded, at " +
                   site.str());
}

// Splits "12.exp_avg" into 12 and "exp_avg"; false when the key has another form.
bool parse_key(const std::string& key, size_t& index, std::string& name) {
  size_t dot = key.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()) return false;
  auto [end, ec] = std::from_chars(key.data(), key.data() + dot, index);
  if (ec != std::errc() || end != key.data() + dot) return false;
  name = key.substr(dot + 1);
  return true;
}

}  // namespace

std::vector<Tensor> flat_params(const std::vector<ParamGroup>& groups) {
  std::vector<Tensor> params;
  for (const auto& g : groups) params.insert(params.end(), g.params.begin(), g.params.end());
  return params;
}

std::map<std::string, Tensor> save_state(const std::string& optimizer, size_t num_params,
                                         const std::vector<ConstStateSlot>& slots,
                                         const std::vector<int64_t>* steps) {
  NoGradGuard no_grad;
  std::map<std::string, Tensor> state;
  state[kOptimizerPrefix + optimizer] =
      scalar_tensor(static_cast<double>(num_params), {.dtype = kInt64});
  for (const auto& slot : slots) {
    for (size_t i = 0; i < slot.buffers->size(); ++i) {
      const Tensor& b = (*slot.buffers)[i];
      if (b.defined()) state[std::to_string(i) + "." + slot.name] = b;
    }
  }
  if (steps) {
    for (size_t i = 0; i < steps->size(); ++i) {
      if ((*steps)[i] > 0) {
        state[std::to_string(i) + ".step"] =
            scalar_tensor(static_cast<double>((*steps)[i]), {.dtype = kInt64});
      }
    }
  }
  return state;
}

void load_state(const std::map<std::string, Tensor>& state, const std::string& optimizer,
                const std::vector<Tensor>& params, const std::vector<StateSlot>& slots,
                std::vector<int64_t>* steps, bool adopt, Site site) {
  NoGradGuard no_grad;
  // Which optimizer wrote this, and for how many parameters.
  auto tag = state.find(kOptimizerPrefix + optimizer);
  if (tag == state.end()) {
    std::string found;
    for (const auto& [key, value] : state) {
      if (key.rfind(kOptimizerPrefix, 0) == 0) found = key.substr(std::strlen(kOptimizerPrefix));
    }
    refuse(optimizer, found.empty()
                          ? "the state has no 'optimizer." + optimizer + "' entry (it is not an optimizer state)"
                          : "the state was saved by " + found + ", not " + optimizer,
           site);
  }
  if (!tag->second.defined() || tag->second.numel() != 1) {
    refuse(optimizer, "entry '" + tag->first + "' must be a scalar parameter count", site);
  }
  if (int64_t count = tag->second.item<int64_t>(); count != static_cast<int64_t>(params.size())) {
    refuse(optimizer, "the state is for " + std::to_string(count) + " parameters, this optimizer has " +
                          std::to_string(params.size()), site);
  }

  // Validate every entry and stage the copies; the optimizer changes only after all pass.
  std::vector<std::vector<Tensor>> staged(slots.size(), std::vector<Tensor>(params.size()));
  std::vector<int64_t> staged_steps(params.size(), 0);
  for (const auto& [key, value] : state) {
    if (key == tag->first) continue;
    size_t index = 0;
    std::string name;
    if (!parse_key(key, index, name)) refuse(optimizer, "unexpected entry '" + key + "'", site);
    if (index >= params.size()) {
      refuse(optimizer, "entry '" + key + "' names parameter " + std::to_string(index) + " of " +
                            std::to_string(params.size()), site);
    }
    if (!value.defined()) refuse(optimizer, "entry '" + key + "' is an undefined tensor", site);
    if (name == "step" && steps) {
      if (value.numel() != 1 || value.item<double>() < 1) {
        refuse(optimizer, "entry '" + key + "' must be a positive scalar step count, got " +
                              value.shape().str() + " " + dtype_name(value.dtype()), site);
      }
      staged_steps[index] = static_cast<int64_t>(value.item<double>());
      continue;
    }
    size_t s = 0;
    while (s < slots.size() && name != slots[s].name) ++s;
    if (s == slots.size()) refuse(optimizer, "unexpected entry '" + key + "' (" + optimizer + " keeps no '" + name + "')", site);
    if (!slots[s].is_kept) {
      refuse(optimizer, "entry '" + key + "' is a buffer this " + optimizer +
                            " configuration does not keep (was it saved with other options?)", site);
    }
    const Tensor& p = params[index];
    if (value.shape() != p.shape()) {
      refuse(optimizer, "entry '" + key + "' has shape " + value.shape().str() + " but parameter " +
                            std::to_string(index) + " has shape " + p.shape().str(), site);
    }
    if (!value.is_floating_point()) {
      refuse(optimizer, "entry '" + key + "' is " + dtype_name(value.dtype()) + ", expected a floating dtype", site);
    }
    Tensor copy = value.to(p.device(), p.dtype()).contiguous();
    staged[s][index] = copy.is_same(value) && !adopt ? copy.clone() : copy;
  }

  // A parameter's kept buffers (and step) come together or not at all.
  for (size_t i = 0; i < params.size(); ++i) {
    std::string present, missing;
    auto note = [&](bool has, const std::string& name) {
      std::string& list = has ? present : missing;
      list += (list.empty() ? "" : ", ") + std::to_string(i) + "." + name;
    };
    for (size_t s = 0; s < slots.size(); ++s) {
      if (slots[s].is_kept) note(staged[s][i].defined(), slots[s].name);
    }
    if (steps) note(staged_steps[i] > 0, "step");
    if (!present.empty() && !missing.empty()) {
      refuse(optimizer, "the state has " + present + " but lacks " + missing, site);
    }
  }

  for (size_t s = 0; s < slots.size(); ++s) *slots[s].buffers = std::move(staged[s]);
  if (steps) *steps = std::move(staged_steps);
}

std::vector<ParamGroup> make_groups(const std::string& optimizer, std::vector<Tensor> params,
                                    double lr, double weight_decay, Site site) {
  if (params.empty()) {
    throw ValueError("tl::optim::" + optimizer + ": got an empty parameter list at " + site.str());
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (!p.defined()) {
      throw ValueError("tl::optim::" + optimizer + ": parameter " + std::to_string(i) +
                       " is an undefined tensor at " + site.str());
    }
    if (!p.is_floating_point()) {
      throw ValueError("tl::optim::" + optimizer + ": parameter " + std::to_string(i) + " " +
                       p.shape().str() + " is " + dtype_name(p.dtype()) +
                       "; only floating-point tensors can be optimized, at " + site.str());
    }
    if (!p.is_leaf()) {
      throw ValueError("tl::optim::" + optimizer + ": parameter " + std::to_string(i) + " " +
                       p.shape().str() + " is not a leaf (it was computed by '" + p.grad_fn_name() +
                       "'); optimize the tensor it came from, or detach() it, at " + site.str());
    }
  }
  return {ParamGroup{std::move(params), lr, weight_decay}};
}

void check_group_options(const std::string& optimizer, double lr, double weight_decay, Site site) {
  check_option(lr >= 0, optimizer, "lr", ">= 0", lr, site);
  check_option(weight_decay >= 0, optimizer, "weight_decay", ">= 0", weight_decay, site);
}

void check_option(bool ok, const std::string& optimizer, const char* what, const char* rule,
                  double value, Site site) {
  if (!ok) {
    throw ValueError("tl::optim::" + optimizer + ": " + what + " must be " + rule + ", got " +
                     format_value(value) + " at " + site.str());
  }
}

Tensor grad_of(const Tensor& param, size_t index, const std::string& optimizer, Site site) {
  Tensor g = param.grad();
  if (!g.defined()) return g;
  if (g.shape() != param.shape()) {
    throw ShapeError("tl::optim::" + optimizer + "::step: the grad of parameter " + std::to_string(index) +
                     " has shape " + g.shape().str() + " but the parameter has shape " +
                     param.shape().str() + " at " + site.str());
  }
  if (g.device() != param.device()) {
    throw DeviceError("tl::optim::" + optimizer + "::step: the grad of parameter " + std::to_string(index) +
                      " is on " + g.device().str() + " but the parameter is on " +
                      param.device().str() + " at " + site.str());
  }
  return g;
}

}  // namespace tl::optim::detail
