// The argument handling shared by the export_program functions (tl::export_program in
// tl/export.h, tl::onnx::export_program in tl/onnx.h): `fn, example_args..., path[, options]`
// split into a body of a tensor span, the example tensors, the path and the options.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tl/tensor.h"

namespace tl::detail {

using ExportBody = std::function<std::vector<Tensor>(std::span<const Tensor>)>;
inline std::vector<Tensor> as_outputs(Tensor t) { return {std::move(t)}; }
inline std::vector<Tensor> as_outputs(std::vector<Tensor> v) { return v; }

// Whether the last of `Rest` is an `Options`, and how many example tensors precede the path.
template <class Options, class... Rest>
struct ExportArgs {
  static_assert(sizeof...(Rest) >= 1, "export_program(fn, example_args..., path[, options])");
  using Last = std::decay_t<std::tuple_element_t<sizeof...(Rest) - 1, std::tuple<Rest...>>>;
  static constexpr bool kHasOptions = std::is_same_v<Last, Options>;
  static_assert(!kHasOptions || sizeof...(Rest) >= 2, "export_program(fn, example_args..., path, options)");
  static constexpr size_t kExamples = sizeof...(Rest) - (kHasOptions ? 2 : 1);
};

// Calls sink(body, examples, path, options) for export_program(fn, rest...).
template <class Options, class F, class Sink, class... Rest>
void dispatch_export(F& fn, const Sink& sink, Rest&&... rest) {
  using Args = ExportArgs<Options, Rest...>;
  auto all = std::forward_as_tuple(std::forward<Rest>(rest)...);
  [&]<size_t... I>(std::index_sequence<I...>) {
    static_assert((std::is_same_v<std::decay_t<std::tuple_element_t<I, std::tuple<Rest...>>>, Tensor> && ...),
                  "export_program: the example arguments must be tl::Tensor");
    const Tensor examples[] = {std::get<I>(all)..., Tensor()};
    Options options;
    if constexpr (Args::kHasOptions) options = std::get<sizeof...(Rest) - 1>(all);
    sink([&](std::span<const Tensor> a) { return as_outputs(fn(a[I]...)); },
         std::span<const Tensor>(examples, sizeof...(I)), std::string(std::get<Args::kExamples>(all)), options);
  }(std::make_index_sequence<Args::kExamples>{});
}

}  // namespace tl::detail
