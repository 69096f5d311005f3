// Saving an inference function as a compiled artifact (run it with tl/program.h):
//
//   model.eval();
//   tl::export_program([&](const tl::Tensor& x) { return model.forward(x); }, example_x, "mlp.tlart");
//
// export_program traces `fn` once on the example arguments (under no-grad, like tl::compile),
// optimizes the program and writes it with its weights (every tensor the function read but
// did not receive as an argument), its memory plan and its signature (the example arguments'
// shapes and dtypes). The file is replaced atomically. The function must be a pure inference
// function: no backward, no random draws, no host reads of tensor values (`item()`, branches
// on tensor values), no in-place updates of captured tensors; anything else is refused with
// the line that did it. See docs/artifact.md for the format and its guarantees.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tl/detail/export_call.h"
#include "tl/program.h"
#include "tl/tensor.h"

namespace tl {

struct ExportOptions {
  // Names for the signature ("input_0", "output_0", ... when empty or short).
  std::vector<std::string> input_names = {};
  std::vector<std::string> output_names = {};
  // 0: the program runs at the example arguments' shapes only. N > 0: dim 0 of every
  // argument is the batch size, and the program runs at any batch size from 1 to N. Export
  // then traces the function at two batch sizes and keeps what changes with it (shapes, and
  // attributes such as a reshape's leading size); anything else that changes is refused.
  int64_t max_batch = 0;
};

namespace detail {
void export_traced(const ExportBody& body, std::span<const Tensor> args, const ProgramPath& path,
                   const ExportOptions& options);
}  // namespace detail

// export_program(fn, example_args..., path[, options]): `fn` takes the example arguments
// (Tensors) and returns a Tensor or a std::vector<Tensor>. A class only so that the caller's
// line can follow a parameter pack (a deduction guide fixes the pack, and the constructor's
// defaulted Site is then evaluated where the user wrote the call); use it like a function.
template <class F, class... Rest>
struct export_program {
  export_program(F&& fn, Rest&&... rest, Site site = Site::here()) {
    detail::dispatch_export<ExportOptions>(
        fn,
        [&](const detail::ExportBody& body, std::span<const Tensor> examples, std::string path,
            const ExportOptions& options) {
          detail::export_traced(body, examples, ProgramPath(std::move(path), site), options);
        },
        std::forward<Rest>(rest)...);
  }
};
template <class F, class... Rest>
export_program(F&&, Rest&&...) -> export_program<F, Rest...>;

}  // namespace tl
