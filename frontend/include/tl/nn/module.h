// tl::nn::Module, the base of every layer and model, and the containers Sequential,
// ModuleList and ModuleDict. See tl/nn.h for the ownership model (modules are handles to shared state).
#pragma once

#include <cstdint>
#include <functional>
#include <cstddef>
#include <iosfwd>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tl/tensor.h"

namespace tl::nn {

class Module;

// Parameters and buffers by dotted name ("0.weight", "fc1.bias").
using StateDict = std::map<std::string, Tensor>;

// What load_state_dict(strict = false) skipped.
struct LoadStateDictResult {
  std::vector<std::string> missing_keys;     // in the module, not in the state dict
  std::vector<std::string> unexpected_keys;  // in the state dict, not in the module
};

// Runs after forward with the module, its inputs and its output; a returned tensor
// replaces the output (return std::nullopt to keep it).
using ForwardHook = std::function<std::optional<Tensor>(Module& module, const std::vector<Tensor>& inputs,
                                                        const Tensor& output)>;
// Runs during backward once the gradients w.r.t. the module's inputs are known, with those
// (undefined for inputs that need no grad) and the gradients w.r.t. its output.
using BackwardHook = std::function<void(Module& module, const std::vector<Tensor>& grad_inputs,
                                        const std::vector<Tensor>& grad_outputs)>;

template <class M>
concept ModuleType = std::is_base_of_v<Module, std::decay_t<M>>;

class Module {
 public:
  Module();
  // Copies are handles to the same layer (shared parameters, children, mode and hooks).
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;
  virtual ~Module() = default;

  // The computation. Subclasses taking one tensor override this; the default throws.
  virtual Tensor forward(const Tensor& input);
  // Runs forward with this module's hooks; what users call: `model(x)`.
  Tensor operator()(const Tensor& input, Site site = Site::here());
  // Runs `forward_fn(inputs)` with this module's hooks, for modules whose forward takes
  // several tensors: `Tensor operator()(a, b) { return call({a, b}, [&](auto& in) {...}); }`.
  Tensor call(const std::vector<Tensor>& inputs,
              const std::function<Tensor(const std::vector<Tensor>&)>& forward_fn,
              Site site = Site::here());

  // ---- registration (names are non-empty and contain no '.') ----
  // Adds a trainable tensor (a leaf; requires_grad is set) and returns it, so that
  // `weight = register_parameter("weight", tl::empty({out, in}));` keeps a handle.
  // Registering an existing parameter name replaces it.
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true,
                            Site site = Site::here());
  // Adds state that is saved and moved with the module but not trained (running stats).
  Tensor register_buffer(const std::string& name, Tensor tensor, Site site = Site::here());
  // Adds a child layer and returns a handle to it: `register_module("fc1", fc1);` in a
  // constructor, or `auto fc = register_module("fc", Linear(4, 2));`.
  template <ModuleType M>
  std::decay_t<M> register_module(const std::string& name, M&& module, Site site = Site::here()) {
    auto child = std::make_shared<std::decay_t<M>>(std::forward<M>(module));
    register_module_ptr(name, child, site);
    return *child;
  }
  void register_module_ptr(const std::string& name, std::shared_ptr<Module> module,
                           Site site = Site::here());

  // ---- traversal (registration order; shared tensors appear once, under the first name
  // that reaches them, as in PyTorch) ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // Calls `fn` on every descendant (children first) and then on this module.
  void apply(const std::function<void(Module&)>& fn);
  // The number of parameter elements (only those requiring grad when `only_trainable`).
  int64_t num_parameters(bool only_trainable = false) const;

  // ---- mode (recursive) ----
  Module& train(bool on = true);
  Module& eval() { return train(false); }
  bool is_training() const;

  // ---- conversion, in place: tensors keep their identity, so handles held by users and
  // optimizers stay valid. to(DType) converts floating-point parameters, buffers and grads
  // only (integer buffers such as counters keep their type). Copies the data once.
  Module& to(Device device, Site site = Site::here());
  Module& to(DType dtype, Site site = Site::here());
  // Drops (set_to_none) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true);

  // ---- checkpoints ----
  // Parameters and buffers by dotted name; the tensors share storage with the module. As in
  // PyTorch, a shared (tied) tensor appears under every name that reaches it, and
  // load_state_dict expects all of those names.
  StateDict state_dict() const;
  // Copies values into the module's tensors (converting dtype and device). On any problem
  // (with `strict`: a missing or unexpected key; always: a shape mismatch) throws one
  // ValueError listing all of them and changes nothing.
  LoadStateDictResult load_state_dict(const StateDict& state, bool strict = true,
                                      Site site = Site::here());

  // ---- hooks; each register returns a handle for remove_hook ----
  int register_forward_hook(ForwardHook hook);
  // Gradients are observed through identity autograd nodes placed around forward's inputs
  // and output (only when grad mode is on).
  int register_full_backward_hook(BackwardHook hook);
  void remove_hook(int handle);

  // ---- printing ----
  // The class name ("Linear"); by default the demangled type without namespaces.
  virtual std::string type_name() const;
  // The configuration shown in parentheses ("in_features=4, out_features=16, bias=true").
  virtual std::string extra_repr() const { return ""; }

 protected:
  // The user's call site of the module call in progress (set by operator() and call()),
  // for layers' error messages and for ops they run.
  static Site call_site();
  // The children by name in registration order, without a copy, for containers' iterators.
  // Registering a child invalidates iterators into it.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& child_entries() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Prints the module tree, PyTorch style:
//   Sequential(
//     (0): Linear(in_features=4, out_features=16, bias=true)
//     (1): Tanh()
//   )
std::ostream& operator<<(std::ostream& os, const Module& module);
std::string to_string(const Module& module);

// Runs its children in order, feeding each one's output to the next. Children are named
// "0", "1", ...; they are handles, so `model[0]` is the layer itself.
class Sequential : public Module {
 public:
  Sequential() = default;
  template <ModuleType... Ms>
    requires(sizeof...(Ms) > 1 || !(std::is_same_v<std::decay_t<Ms>, Sequential> && ...))
  explicit Sequential(Ms&&... modules) {
    (push_back(std::forward<Ms>(modules)), ...);
  }
  template <ModuleType M> void push_back(M&& module) {
    register_module_ptr(std::to_string(size()), std::make_shared<std::decay_t<M>>(std::forward<M>(module)));
  }
  Tensor forward(const Tensor& input) override;
  size_t size() const { return children().size(); }
  // The i-th layer; throws ValueError when out of range.
  Module& operator[](size_t index) const;
  // The i-th layer as its concrete type; throws ValueError when it is not an M.
  template <ModuleType M> M& at(size_t index) const {
    auto* m = dynamic_cast<M*>(&(*this)[index]);
    if (!m) throw_wrong_type(index);
    return *m;
  }

 private:
  [[noreturn]] void throw_wrong_type(size_t index) const;
};

// Holds layers (registered as "0", "1", ...) without defining a forward; iterate it in
// your own forward: `for (nn::Module& layer : list) x = layer(x);`. Parameters, state dicts,
// train()/eval() and printing see the layers as children of the list.
class ModuleList : public Module {
 public:
  ModuleList() = default;
  template <ModuleType... Ms>
    requires(sizeof...(Ms) > 1 || !(std::is_same_v<std::decay_t<Ms>, ModuleList> && ...))
  explicit ModuleList(Ms&&... modules) {
    (push_back(std::forward<Ms>(modules)), ...);
  }
  // Adds a layer at the end (named by its index) and returns the list, so appends chain.
  template <ModuleType M> ModuleList& push_back(M&& module) {
    register_module_ptr(std::to_string(size()), std::make_shared<std::decay_t<M>>(std::forward<M>(module)));
    return *this;
  }
  // The same as push_back, with PyTorch's name.
  template <ModuleType M> ModuleList& append(M&& module) { return push_back(std::forward<M>(module)); }
  size_t size() const { return child_entries().size(); }
  // The i-th layer; throws ValueError when out of range.
  Module& operator[](size_t index) const;
  // The i-th layer as its concrete type; throws ValueError when it is not an M.
  template <ModuleType M> M& at(size_t index) const {
    auto* m = dynamic_cast<M*>(&(*this)[index]);
    if (!m) throw_wrong_type(index);
    return *m;
  }
  // The layers in order as handles.
  std::vector<std::shared_ptr<Module>> modules() const { return children(); }

  // Iterates the layers as Module&. Adding a layer invalidates iterators.
  class Iterator {
   public:
    using Entries = std::vector<std::pair<std::string, std::shared_ptr<Module>>>;
    using iterator_category = std::forward_iterator_tag;
    using value_type = Module;
    using difference_type = std::ptrdiff_t;
    using pointer = Module*;
    using reference = Module&;
    Iterator() = default;
    explicit Iterator(Entries::const_iterator it) : it_(it) {}
    Module& operator*() const { return *it_->second; }
    Module* operator->() const { return it_->second.get(); }
    Iterator& operator++() {
      ++it_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++it_;
      return old;
    }
    bool operator==(const Iterator& other) const { return it_ == other.it_; }

   private:
    Entries::const_iterator it_;
  };
  Iterator begin() const { return Iterator(child_entries().begin()); }
  Iterator end() const { return Iterator(child_entries().end()); }

 private:
  [[noreturn]] void throw_wrong_type(size_t index) const;
};

// Holds layers by name (registered under their keys) in insertion order, without defining
// a forward. Keys are non-empty and contain no '.'. Iterating yields (key, module handle)
// pairs: `for (const auto& [key, layer] : heads) out[key] = (*layer)(x);`. Parameters
// ("<key>.weight"), state dicts, train()/eval() and printing see the layers as children.
class ModuleDict : public Module {
 public:
  using Entries = std::vector<std::pair<std::string, std::shared_ptr<Module>>>;
  ModuleDict() = default;
  // Adds `module` under `key` and returns a handle to it; an existing key is replaced in
  // place (keeping its position). Throws ValueError for a bad key.
  template <ModuleType M> std::decay_t<M> insert(const std::string& key, M&& module, Site site = Site::here()) {
    return register_module(key, std::forward<M>(module), site);
  }
  size_t size() const { return child_entries().size(); }
  bool contains(const std::string& key) const;
  // The keys in insertion order.
  std::vector<std::string> keys() const;
  // The layer under `key`; throws ValueError naming the key and the keys it holds.
  Module& operator[](const std::string& key) const;
  // The layer under `key` as its concrete type; throws ValueError when it is not an M.
  template <ModuleType M> M& at(const std::string& key) const {
    auto* m = dynamic_cast<M*>(&(*this)[key]);
    if (!m) throw_wrong_type(key);
    return *m;
  }
  // Adding a layer invalidates iterators.
  Entries::const_iterator begin() const { return child_entries().begin(); }
  Entries::const_iterator end() const { return child_entries().end(); }

 private:
  [[noreturn]] void throw_wrong_type(const std::string& key) const;
};

}  // namespace tl::nn
