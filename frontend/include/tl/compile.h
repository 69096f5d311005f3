// tl::compile: run a function eagerly once, trace it into the IR, and run the optimized
// program on later calls.
//
//   auto step = tl::compile([&](tl::Tensor x, tl::Tensor y) {
//     auto loss = tl::nn::cross_entropy(model(x), y);
//     opt.zero_grad();
//     loss.backward();
//     opt.step();
//     return loss;
//   });
//   for (auto [x, y] : loader) run.log("loss", step(x, y));
//
// Semantics (docs/compile.md has the details and a worked example):
// - The first call runs eagerly (it creates optimizer state and gradients); the second call
//   runs eagerly while recording every op; later calls run the compiled program.
// - Tensors the function reads but did not create (parameters, buffers, optimizer state,
//   .grad) are inputs read at each call; in-place updates to them are written back after
//   the call. loss.backward() becomes a gradient the autodiff pass computes.
// - Host values are constants of the trace, except those tl knows change between calls
//   (optimizer learning rates and step counts, module train/eval mode): those are re-read.
// - A compiled program is reused while its guards hold: argument shapes, dtypes, devices and
//   requires_grad, grad mode, module modes, and every value read on the host with .item().
//   A failed guard re-traces (logged once with the reason). TL_COMPILE=0 runs everything
//   eagerly. TL_DUMP_IR=<dir> writes the IR before and after every pass.
// - Constructs that cannot be compiled faithfully (gradient hooks, tl::grad, randperm,
//   custom backward functions, reading a stale view) throw tl::CompileError naming the line.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tl/tensor.h"

namespace tl {

struct CompileOptions {
  std::string name = {};  // for logs, dumps and errors; defaults to "file:line" of the call
  int warmup_calls = 1;   // eager calls before tracing
  int cache_limit = 8;    // compiled variants kept; more re-traces warn about thrashing
  // Pass pipeline (tl-opt pass names, comma-separated); empty: the default. "none" runs the
  // traced graph as recorded, without the IR compiler (no autodiff: backward() runs eagerly).
  std::string pipeline = {};
  // On CUDA, a program that runs without autograd is captured as a CUDA graph after its first
  // compiled call and replayed with one launch per call (docs/cuda.md says what that changes).
  // False: its kernels are launched one by one.
  bool cuda_graphs = true;
};

namespace detail {

// The type-erased engine behind tl::compile (frontend/compile/compile.cpp).
class CompiledFunction {
 public:
  using Body = std::function<std::vector<Tensor>(std::span<const Tensor>)>;
  CompiledFunction(Body body, CompileOptions options, Site site);
  ~CompiledFunction();
  std::vector<Tensor> call(std::span<const Tensor> args);
  std::string explain(std::span<const Tensor> args) const;
  struct Stats {
    int64_t calls = 0, eager_calls = 0, compiled_calls = 0, traces = 0, guard_failures = 0;
    int64_t graph_calls = 0;  // compiled calls replayed as a CUDA graph
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

template <class T> struct is_tensor_tuple : std::false_type {};
template <class... Ts>
struct is_tensor_tuple<std::tuple<Ts...>> : std::bool_constant<(std::is_same_v<Ts, Tensor> && ...)> {};
template <class A, class B>
struct is_tensor_tuple<std::pair<A, B>> : std::bool_constant<std::is_same_v<A, Tensor> && std::is_same_v<B, Tensor>> {};

template <class R> std::vector<Tensor> flatten_result(R&& r) {
  using T = std::decay_t<R>;
  if constexpr (std::is_same_v<T, Tensor>) {
    return {std::forward<R>(r)};
  } else if constexpr (std::is_same_v<T, std::vector<Tensor>>) {
    return std::forward<R>(r);
  } else {
    static_assert(is_tensor_tuple<T>::value,
                  "tl::compile: the function must return void, Tensor, std::vector<Tensor>, or a "
                  "std::pair/std::tuple of Tensors");
    return std::apply([](auto&&... t) { return std::vector<Tensor>{t...}; }, std::forward<R>(r));
  }
}

// What a compiled function may return.
template <class R>
inline constexpr bool is_compile_result = std::is_void_v<R> || std::is_same_v<R, Tensor> ||
                                          std::is_same_v<R, std::vector<Tensor>> || is_tensor_tuple<R>::value;

template <class R> R unflatten_result(std::vector<Tensor>&& v) {
  if constexpr (std::is_void_v<R>) {
    return;
  } else if constexpr (std::is_same_v<R, Tensor>) {
    return std::move(v.at(0));
  } else if constexpr (std::is_same_v<R, std::vector<Tensor>>) {
    return std::move(v);
  } else if constexpr (is_tensor_tuple<R>::value) {
    return [&]<size_t... I>(std::index_sequence<I...>) {
      return R{std::move(v.at(I))...};
    }(std::make_index_sequence<std::tuple_size_v<R>>{});
  } else {
    return R{};  // not reached: Compiled::operator() refuses R first (is_compile_result)
  }
}

// Functions over a runtime number of tensors: fn(std::vector<Tensor>) or fn(std::span<const Tensor>).
template <class F>
inline constexpr bool takes_tensor_list =
    std::is_invocable_v<F&, const std::vector<Tensor>&> || std::is_invocable_v<F&, std::span<const Tensor>>;

}  // namespace detail

// The callable tl::compile returns. Arguments must be Tensors (capture other values in the
// lambda: they are constants of the trace): up to 8 of them, or a function of a
// std::vector<Tensor> / std::span<const Tensor> for any number, called with a vector.
template <class F>
class Compiled {
 public:
  static constexpr size_t max_arity = 8;

  Compiled(F fn, CompileOptions options, Site site)
      : fn_(std::make_shared<F>(std::move(fn))), engine_(std::make_shared<detail::CompiledFunction>(
                                                     make_body(fn_), std::move(options), site)) {}

  template <class... Args>
    requires(!detail::takes_tensor_list<F>)
  auto operator()(const Args&... args) {
    static_assert((std::is_same_v<Args, Tensor> && ...), "tl::compile: arguments must be tl::Tensor");
    static_assert(sizeof...(Args) <= max_arity,
                  "tl::compile: a compiled function takes at most 8 Tensor arguments; for more, take a "
                  "std::vector<Tensor> (or std::span<const Tensor>) and call it with a vector");
    static_assert(std::is_invocable_v<F&, const Args&...>,
                  "tl::compile: the function cannot be called with these Tensor arguments");
    using R = std::invoke_result_t<F&, const Args&...>;
    static_assert(detail::is_compile_result<R>,
                  "tl::compile: the function must return void, Tensor, std::vector<Tensor>, or a "
                  "std::pair/std::tuple of Tensors");
    const Tensor list[] = {args..., Tensor()};
    return detail::unflatten_result<R>(engine_->call(std::span<const Tensor>(list, sizeof...(Args))));
  }

  // For a function of a std::vector<Tensor> or std::span<const Tensor>: any number of tensors.
  auto operator()(const std::vector<Tensor>& args)
    requires detail::takes_tensor_list<F>
  {
    using R = decltype(call_list(std::declval<F&>(), std::span<const Tensor>()));
    static_assert(detail::is_compile_result<R>,
                  "tl::compile: the function must return void, Tensor, std::vector<Tensor>, or a "
                  "std::pair/std::tuple of Tensors");
    return detail::unflatten_result<R>(engine_->call(std::span<const Tensor>(args)));
  }

  std::string explain(std::span<const Tensor> args) const { return engine_->explain(args); }
  detail::CompiledFunction::Stats stats() const { return engine_->stats(); }

 private:
  static decltype(auto) call_list(F& fn, std::span<const Tensor> a) {
    if constexpr (std::is_invocable_v<F&, std::span<const Tensor>>) return fn(a);
    else return fn(std::vector<Tensor>(a.begin(), a.end()));
  }
  static detail::CompiledFunction::Body make_body(std::shared_ptr<F> fn) {
    if constexpr (detail::takes_tensor_list<F>) {
      return [fn](std::span<const Tensor> a) -> std::vector<Tensor> {
        using R = decltype(call_list(*fn, a));
        if constexpr (std::is_void_v<R>) {
          call_list(*fn, a);
          return {};
        } else if constexpr (detail::is_compile_result<R>) {
          return detail::flatten_result(call_list(*fn, a));
        } else {
          return {};  // refused by operator()'s static_assert
        }
      };
    } else {
      return [fn](std::span<const Tensor> a) -> std::vector<Tensor> { return dispatch_arity<0>(*fn, a); };
    }
  }
  template <size_t N>
  static std::vector<Tensor> dispatch_arity(F& fn, std::span<const Tensor> a) {
    if constexpr (N > max_arity) {
      throw ValueError("tl::compile: too many arguments");  // not reached: operator() refuses them
    } else {
      if (a.size() == N) {
        if constexpr (invocable_with_n<N>()) {
          return call_n(fn, a, std::make_index_sequence<N>{});
        }
      }
      return dispatch_arity<N + 1>(fn, a);
    }
  }
  template <size_t N> static constexpr bool invocable_with_n() {
    return []<size_t... I>(std::index_sequence<I...>) {
      return std::is_invocable_v<F&, decltype((void)I, std::declval<const Tensor&>())...>;
    }(std::make_index_sequence<N>{});
  }
  template <size_t... I>
  static std::vector<Tensor> call_n(F& fn, std::span<const Tensor> a, std::index_sequence<I...>) {
    using R = std::invoke_result_t<F&, decltype((void)I, std::declval<const Tensor&>())...>;
    if constexpr (std::is_void_v<R>) {
      fn(a[I]...);
      return {};
    } else if constexpr (detail::is_compile_result<R>) {
      return detail::flatten_result(fn(a[I]...));
    } else {
      return {};  // refused by operator()'s static_assert, which names the problem
    }
  }

  std::shared_ptr<F> fn_;
  std::shared_ptr<detail::CompiledFunction> engine_;
};

template <class F>
Compiled<F> compile(F fn, CompileOptions options = {}, Site site = Site::here()) {
  return Compiled<F>(std::move(fn), std::move(options), site);
}

// What tl::compile traced for `fn` and whether `args` would reuse it: the cached programs,
// their guards and sizes, and for each the reason it would not apply to these arguments.
template <class F, class... Args>
std::string explain(const Compiled<F>& fn, const Args&... args) {
  const Tensor list[] = {args..., Tensor()};
  return fn.explain(std::span<const Tensor>(list, sizeof...(Args)));
}

}  // namespace tl
