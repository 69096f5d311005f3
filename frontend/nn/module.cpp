// nn::Module: registration, traversal, mode, in-place conversion, state dicts, hooks and
// printing. A Module is a handle: everything here lives in the shared State.
#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <sstream>
#include <unordered_set>

#include "frontend/trace/tracer.h"
#include "tl/autograd.h"
#include "tl/nn/module.h"
#include "tl/ops.h"

namespace tl::nn {

struct Module::State {
  std::vector<std::pair<std::string, Tensor>> parameters;
  std::vector<std::pair<std::string, Tensor>> buffers;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children;
  bool training = true;
  std::vector<std::pair<int, ForwardHook>> forward_hooks;
  std::vector<std::pair<int, BackwardHook>> backward_hooks;
};

namespace {

thread_local Site g_call_site{};

int next_hook_id() {
  static int next = 1;
  return next++;
}

std::string describe(const Tensor& t) {
  return t.shape().str() + " " + dtype_name(t.dtype());
}

template <class V>
auto find_named(V& entries, const std::string& name) {
  return std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == name; });
}

// Replaces what `t` refers to with `converted`, keeping the TensorImpl (and so every handle
// to it, including optimizers' parameter lists) and its autograd state.
void assign_in_place(const Tensor& t, const Tensor& converted) {
  if (converted.impl() == t.impl()) return;
  TensorImpl& dst = *t.impl();
  const TensorImpl& src = *converted.impl();
  dst.storage = src.storage;
  dst.shape = src.shape;
  dst.strides = src.strides;
  dst.offset = src.offset;
  dst.dtype = src.dtype;
  dst.device = src.device;
  dst.is_contiguous = src.is_contiguous;
}

// Sets the call site for the duration of a module call, restoring the outer one after.
class CallSiteScope {
 public:
  explicit CallSiteScope(Site site) : previous_(g_call_site) { g_call_site = site; }
  ~CallSiteScope() { g_call_site = previous_; }
  CallSiteScope(const CallSiteScope&) = delete;
  CallSiteScope& operator=(const CallSiteScope&) = delete;

 private:
  Site previous_;
};

// The gradients one module call collects for its full backward hooks.
struct BackwardHookCall {
  Module* module = nullptr;
  std::vector<BackwardHook> hooks;
  std::vector<Tensor> grad_inputs;
  std::vector<Tensor> grad_outputs;
  int pending_inputs = 0;  // inputs that need grad and whose gradient has not arrived
  bool output_seen = false;
  bool fired = false;

  void maybe_fire() {
    if (fired || !output_seen || pending_inputs > 0) return;
    fired = true;
    for (const auto& hook : hooks) hook(*module, grad_inputs, grad_outputs);
  }
};

Tensor identity_forward(const std::vector<Tensor>& in) { return in[0].detach(); }

}  // namespace

Module::Module() : state_(std::make_shared<State>()) {}

Site Module::call_site() { return g_call_site; }

Tensor Module::forward(const Tensor&) {
  throw ValueError("tl::nn::" + type_name() + ": forward(const Tensor&) is not defined; override "
                   "it, or call the module's own multi-input operator() (at " + call_site().str() + ")");
}

Tensor Module::operator()(const Tensor& input, Site site) {
  return call({input}, [this](const std::vector<Tensor>& in) { return forward(in[0]); }, site);
}

Tensor Module::call(const std::vector<Tensor>& inputs,
                    const std::function<Tensor(const std::vector<Tensor>&)>& forward_fn, Site site) {
  CallSiteScope scope(site);
  State& s = *state_;
  std::vector<Tensor> args = inputs;
  std::shared_ptr<BackwardHookCall> bw;
  if (!s.backward_hooks.empty() && is_grad_enabled()) {
    bw = std::make_shared<BackwardHookCall>();
    bw->module = this;
    for (const auto& [id, hook] : s.backward_hooks) bw->hooks.push_back(hook);
    bw->grad_inputs.resize(args.size());
    bw->grad_outputs.resize(1);
    for (size_t i = 0; i < args.size(); ++i) {
      if (!args[i].defined() || !args[i].requires_grad()) continue;
      ++bw->pending_inputs;
      args[i] = custom_op("backward_hook", {args[i]}, identity_forward,
                          [bw, i](const std::vector<Tensor>&, const Tensor&, const Tensor& dout) {
                            bw->grad_inputs[i] = dout;
                            --bw->pending_inputs;
                            bw->maybe_fire();
                            return std::vector<Tensor>{dout};
                          }, site);
    }
  }
  Tensor output = forward_fn(args);
  if (!s.forward_hooks.empty()) {
    auto hooks = s.forward_hooks;  // a hook may add or remove hooks
    for (const auto& [id, hook] : hooks) {
      std::optional<Tensor> replaced = hook(*this, inputs, output);
      if (replaced && replaced->defined()) output = *replaced;
    }
  }
  if (bw && output.defined() && output.requires_grad()) {
    output = custom_op("backward_hook", {output}, identity_forward,
                       [bw](const std::vector<Tensor>&, const Tensor&, const Tensor& dout) {
                         bw->grad_outputs[0] = dout;
                         bw->output_seen = true;
                         bw->maybe_fire();
                         return std::vector<Tensor>{dout};
                       }, site);
  }
  return output;
}

// ---------------- registration ----------------

namespace {
void check_name(const std::string& name, const char* what, const std::string& owner, Site site) {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw ValueError(std::string("tl::nn::") + owner + "::" + what + ": the name \"" + name +
                     "\" must be non-empty and contain no '.' (dots join the names of nested "
                     "modules) at " + site.str());
  }
}
}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad, Site site) {
  check_name(name, "register_parameter", type_name(), site);
  State& s = *state_;
  if (!tensor.defined()) {
    throw ValueError("tl::nn::" + type_name() + "::register_parameter: \"" + name +
                     "\" is an undefined tensor; leave optional parameters unregistered, at " + site.str());
  }
  if (!tensor.is_leaf()) {
    throw ValueError("tl::nn::" + type_name() + "::register_parameter: \"" + name + "\" " +
                     describe(tensor) + " is the result of an op (" + tensor.grad_fn_name() +
                     "); parameters are leaves: register tensor.detach() at " + site.str());
  }
  if (find_named(s.buffers, name) != s.buffers.end() || find_named(s.children, name) != s.children.end()) {
    throw ValueError("tl::nn::" + type_name() + "::register_parameter: \"" + name +
                     "\" is already a buffer or child module at " + site.str());
  }
  tensor.requires_grad_(requires_grad, site);
  auto it = find_named(s.parameters, name);
  if (it != s.parameters.end()) it->second = tensor;
  else s.parameters.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor, Site site) {
  check_name(name, "register_buffer", type_name(), site);
  State& s = *state_;
  if (!tensor.defined()) {
    throw ValueError("tl::nn::" + type_name() + "::register_buffer: \"" + name + "\" is an undefined tensor at " +
                     site.str());
  }
  if (find_named(s.parameters, name) != s.parameters.end() || find_named(s.children, name) != s.children.end()) {
    throw ValueError("tl::nn::" + type_name() + "::register_buffer: \"" + name +
                     "\" is already a parameter or child module at " + site.str());
  }
  auto it = find_named(s.buffers, name);
  if (it != s.buffers.end()) it->second = tensor;
  else s.buffers.emplace_back(name, tensor);
  return tensor;
}

void Module::register_module_ptr(const std::string& name, std::shared_ptr<Module> module, Site site) {
  check_name(name, "register_module", type_name(), site);
  State& s = *state_;
  if (!module) {
    throw ValueError("tl::nn::" + type_name() + "::register_module: \"" + name + "\" is null at " + site.str());
  }
  if (module->state_ == state_) {
    throw ValueError("tl::nn::" + type_name() + "::register_module: a module cannot be its own child (\"" +
                     name + "\") at " + site.str());
  }
  if (find_named(s.parameters, name) != s.parameters.end() || find_named(s.buffers, name) != s.buffers.end()) {
    throw ValueError("tl::nn::" + type_name() + "::register_module: \"" + name +
                     "\" is already a parameter or buffer at " + site.str());
  }
  auto it = find_named(s.children, name);
  if (it != s.children.end()) it->second = std::move(module);
  else s.children.emplace_back(name, std::move(module));
}

// ---------------- traversal ----------------

namespace {
using Named = std::vector<std::pair<std::string, Tensor>>;
}  // namespace

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  Named out;
  std::unordered_set<const TensorImpl*> seen;
  for (const auto& [name, t] : state_->parameters)
    if (seen.insert(t.impl()).second) out.emplace_back(name, t);
  if (recurse) {
    for (const auto& [name, child] : state_->children) {
      for (auto& [sub, t] : child->named_parameters(true))
        if (seen.insert(t.impl()).second) out.emplace_back(name + "." + sub, t);
    }
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  Named out;
  std::unordered_set<const TensorImpl*> seen;
  for (const auto& [name, t] : state_->buffers)
    if (seen.insert(t.impl()).second) out.emplace_back(name, t);
  if (recurse) {
    for (const auto& [name, child] : state_->children) {
      for (auto& [sub, t] : child->named_buffers(true))
        if (seen.insert(t.impl()).second) out.emplace_back(name + "." + sub, t);
    }
  }
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [name, child] : state_->children) out.push_back(child);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return state_->children;
}

const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& Module::child_entries() const {
  return state_->children;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (const auto& [name, child] : state_->children) child->apply(fn);
  fn(*this);
}

int64_t Module::num_parameters(bool only_trainable) const {
  int64_t n = 0;
  for (const Tensor& p : parameters())
    if (!only_trainable || p.requires_grad()) n += p.numel();
  return n;
}

// ---------------- mode, conversion, grads ----------------

Module& Module::train(bool on) {
  state_->training = on;
  for (const auto& [name, child] : state_->children) child->train(on);
  return *this;
}

bool Module::is_training() const {
  if (trace::is_tracing()) {
    // Compiled calls re-check the mode and re-trace when it changed (train() vs eval()).
    trace::guard_host_value("training mode", [state = state_] { return state->training ? 1.0 : 0.0; },
                            state_->training ? 1.0 : 0.0);
  }
  return state_->training;
}

namespace {
// Converts each distinct parameter and buffer (and each parameter's grad) in place.
void convert_all(Module& m, const std::function<bool(const Tensor&)>& applies,
                 const std::function<Tensor(const Tensor&)>& convert) {
  NoGradGuard no_grad;
  for (const Tensor& p : m.parameters()) {
    if (!applies(p)) continue;
    assign_in_place(p, convert(p));
    Tensor g = p.grad();
    if (g.defined()) assign_in_place(g, convert(g));
  }
  for (const Tensor& b : m.buffers())
    if (applies(b)) assign_in_place(b, convert(b));
}
}  // namespace

Module& Module::to(Device device, Site site) {
  convert_all(*this, [&](const Tensor& t) { return t.device() != device; },
              [&](const Tensor& t) { return t.to(device, site); });
  return *this;
}

Module& Module::to(DType dtype, Site site) {
  if (!is_floating(dtype)) {
    throw DTypeError(std::string("tl::nn::") + type_name() + "::to: modules convert only to floating dtypes, got " +
                     dtype_name(dtype) + " at " + site.str());
  }
  convert_all(*this, [&](const Tensor& t) { return t.is_floating_point() && t.dtype() != dtype; },
              [&](const Tensor& t) { return t.to(dtype, site).contiguous(site); });
  return *this;
}

void Module::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (Tensor& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) p.set_grad(Tensor());
    else g.zero_();
  }
}

// ---------------- state dicts ----------------

namespace {
// Every parameter and buffer under every dotted name that reaches it: unlike
// named_parameters(), a tensor shared by two modules (tied weights) is listed twice, as in
// PyTorch's state_dict.
void collect_state(const Module& m, const std::string& prefix, Named& out) {
  for (auto& [name, t] : m.named_parameters(false)) out.emplace_back(prefix + name, t);
  for (auto& [name, t] : m.named_buffers(false)) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : m.named_children()) collect_state(*child, prefix + name + ".", out);
}
}  // namespace

StateDict Module::state_dict() const {
  Named all;
  collect_state(*this, "", all);
  StateDict out;
  for (auto& [name, t] : all) out[name] = t.detach();
  return out;
}

LoadStateDictResult Module::load_state_dict(const StateDict& state, bool strict, Site site) {
  Named own;
  collect_state(*this, "", own);

  LoadStateDictResult result;
  std::vector<std::string> mismatches;
  std::unordered_set<std::string> own_names;
  for (const auto& [name, t] : own) {
    own_names.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      result.missing_keys.push_back(name);
    } else if (!it->second.defined()) {
      mismatches.push_back(name + " is " + describe(t) + " in the module but undefined in the state dict");
    } else if (it->second.shape() != t.shape()) {
      mismatches.push_back(name + " is " + describe(t) + " in the module but " + describe(it->second) +
                           " in the state dict");
    }
  }
  for (const auto& [name, t] : state)
    if (!own_names.count(name)) result.unexpected_keys.push_back(name);

  bool key_problems = strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty());
  if (key_problems || !mismatches.empty()) {
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    std::string msg = "tl::nn::" + type_name() + "::load_state_dict: the state dict does not fit the module";
    if (strict && !result.missing_keys.empty()) msg += "\n  missing keys: " + join(result.missing_keys);
    if (strict && !result.unexpected_keys.empty()) msg += "\n  unexpected keys: " + join(result.unexpected_keys);
    for (const auto& m : mismatches) msg += "\n  shape mismatch: " + m;
    msg += "\nnothing was loaded (at " + site.str() + ")";
    throw ValueError(msg);
  }

  NoGradGuard no_grad;
  for (auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end() || it->second.is_same(t)) continue;
    Tensor dst = t;
    dst.copy_(it->second, site);
  }
  return result;
}

// ---------------- hooks ----------------

int Module::register_forward_hook(ForwardHook hook) {
  int id = next_hook_id();
  state_->forward_hooks.emplace_back(id, std::move(hook));
  return id;
}

int Module::register_full_backward_hook(BackwardHook hook) {
  int id = next_hook_id();
  state_->backward_hooks.emplace_back(id, std::move(hook));
  return id;
}

void Module::remove_hook(int handle) {
  std::erase_if(state_->forward_hooks, [&](const auto& h) { return h.first == handle; });
  std::erase_if(state_->backward_hooks, [&](const auto& h) { return h.first == handle; });
}

// ---------------- printing ----------------

std::string Module::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  // Drop namespaces ("tl::nn::Linear", "(anonymous namespace)::Net") but not template args.
  size_t end = name.find('<');
  size_t cut = name.rfind("::", end == std::string::npos ? std::string::npos : end);
  return cut == std::string::npos ? name : name.substr(cut + 2);
}

namespace {
void print_module(std::ostream& os, const Module& m, int indent) {
  os << m.type_name() << "(";
  auto children = m.named_children();
  std::string extra = m.extra_repr();
  if (children.empty()) {
    os << extra << ")";
    return;
  }
  std::string pad(indent + 2, ' ');
  os << "\n";
  if (!extra.empty()) os << pad << extra << "\n";
  for (const auto& [name, child] : children) {
    os << pad << "(" << name << "): ";
    print_module(os, *child, indent + 2);
    os << "\n";
  }
  os << std::string(indent, ' ') << ")";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Module& module) {
  print_module(os, module, 0);
  return os;
}

std::string to_string(const Module& module) {
  std::ostringstream os;
  os << module;
  return os.str();
}

// ---------------- containers ----------------

namespace {
Module& child_at(const Module& owner, size_t index, const char* what) {
  auto children = owner.children();
  if (index >= children.size()) {
    throw ValueError(std::string("tl::nn::") + what + "[" + std::to_string(index) + "]: index out of range; it holds " +
                     std::to_string(children.size()) + " modules");
  }
  return *children[index];
}
}  // namespace

Tensor Sequential::forward(const Tensor& input) {
  Site site = call_site();
  Tensor x = input;
  for (const auto& child : children()) x = (*child)(x, site);
  return x;
}

Module& Sequential::operator[](size_t index) const { return child_at(*this, index, "Sequential"); }

void Sequential::throw_wrong_type(size_t index) const {
  throw ValueError("tl::nn::Sequential::at(" + std::to_string(index) + "): the layer is a " +
                   (*this)[index].type_name() + ", not the requested type");
}

Module& ModuleList::operator[](size_t index) const { return child_at(*this, index, "ModuleList"); }

void ModuleList::throw_wrong_type(size_t index) const {
  throw ValueError("tl::nn::ModuleList::at(" + std::to_string(index) + "): the layer is a " +
                   (*this)[index].type_name() + ", not the requested type");
}

namespace {
std::string join_keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "\"" : ", \"") + k + "\"";
  return out.empty() ? "no keys" : out;
}
}  // namespace

bool ModuleDict::contains(const std::string& key) const {
  const auto& entries = child_entries();
  return find_named(entries, key) != entries.end();
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [key, module] : child_entries()) out.push_back(key);
  return out;
}

Module& ModuleDict::operator[](const std::string& key) const {
  const auto& entries = child_entries();
  auto it = find_named(entries, key);
  if (it == entries.end()) {
    throw ValueError("tl::nn::ModuleDict[\"" + key + "\"]: no such key; it holds " + join_keys(keys()));
  }
  return *it->second;
}

void ModuleDict::throw_wrong_type(const std::string& key) const {
  throw ValueError("tl::nn::ModuleDict::at(\"" + key + "\"): the layer is a " + (*this)[key].type_name() +
                   ", not the requested type");
}

}  // namespace tl::nn
