// Saving an inference function as a compiled artifact, and running one.
//
//   model.eval();
//   tl::export_program([&](const tl::Tensor& x) { return model.forward(x); }, example_x, "mlp.tlart");
//   ...
//   tl::Program mlp = tl::load_program("mlp.tlart");     // verified before anything runs
//   tl::Tensor y = mlp(x)[0];
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
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tl/device.h"
#include "tl/tensor.h"

namespace tl {

// The artifact path, remembering the caller's line for error messages.
struct ProgramPath {
  std::string path;
  Site site;
  ProgramPath(std::string p, Site s = Site::here()) : path(std::move(p)), site(s) {}  // NOLINT: implicit on purpose
  ProgramPath(const char* p, Site s = Site::here()) : path(p), site(s) {}            // NOLINT
};

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
using ExportBody = std::function<std::vector<Tensor>(std::span<const Tensor>)>;
void export_traced(const ExportBody& body, std::span<const Tensor> args, const ProgramPath& path,
                   const ExportOptions& options);
inline std::vector<Tensor> as_outputs(Tensor t) { return {std::move(t)}; }
inline std::vector<Tensor> as_outputs(std::vector<Tensor> v) { return v; }
}  // namespace detail

// export_program(fn, example_args..., path[, options]): `fn` takes the example arguments
// (Tensors) and returns a Tensor or a std::vector<Tensor>. A class only so that the caller's
// line can follow a parameter pack (a deduction guide fixes the pack, and the constructor's
// defaulted Site is then evaluated where the user wrote the call); use it like a function.
template <class F, class... Rest>
struct export_program {
  export_program(F&& fn, Rest&&... rest, Site site = Site::here()) {
    static_assert(sizeof...(Rest) >= 1, "tl::export_program(fn, example_args..., path)");
    auto all = std::forward_as_tuple(std::forward<Rest>(rest)...);
    using Last = std::decay_t<std::tuple_element_t<sizeof...(Rest) - 1, std::tuple<Rest...>>>;
    constexpr bool kHasOptions = std::is_same_v<Last, ExportOptions>;
    constexpr size_t kArgs = sizeof...(Rest) - (kHasOptions ? 2 : 1);
    static_assert(!kHasOptions || sizeof...(Rest) >= 2, "tl::export_program(fn, example_args..., path, options)");
    [&]<size_t... I>(std::index_sequence<I...>) {
      static_assert((std::is_same_v<std::decay_t<std::tuple_element_t<I, std::tuple<Rest...>>>, Tensor> && ...),
                    "tl::export_program: the example arguments must be tl::Tensor");
      const Tensor args[] = {std::get<I>(all)..., Tensor()};
      ExportOptions options;
      if constexpr (kHasOptions) options = std::get<sizeof...(Rest) - 1>(all);
      detail::export_traced([&](std::span<const Tensor> a) { return detail::as_outputs(fn(a[I]...)); },
                            std::span<const Tensor>(args, sizeof...(I)),
                            ProgramPath(std::string(std::get<kArgs>(all)), site), options);
    }(std::make_index_sequence<kArgs>{});
  }
};
template <class F, class... Rest>
export_program(F&&, Rest&&...) -> export_program<F, Rest...>;

struct ProgramLoadOptions {
  // When > 0: refuse a program whose weights, arena and outputs (at its maximum batch size)
  // need more bytes than this, before its arena is allocated.
  int64_t max_memory = 0;
};

struct TensorSignature {
  std::string name;
  Shape shape;  // at the maximum batch size when batch_axis >= 0
  DType dtype = kFloat32;
  int batch_axis = -1;  // the dim that is the batch size, or -1
};

// A program loaded from an artifact: verified at load (structure, checksums, CPU features,
// version, and every op against the op table), its weights and arena allocated once.
class Program {
 public:
  Program(Program&&) noexcept;
  Program& operator=(Program&&) noexcept;
  ~Program();

  // Runs the program on CPU tensors matching the signature (shape and dtype, with any batch
  // size up to max_batch() in the batch dim; any strides) and returns new output tensors. Thread-safe: concurrent calls each use an execution context
  // of their own (an arena), sharing the weights.
  std::vector<Tensor> operator()(std::span<const Tensor> inputs, Site site = Site::here()) const;
  // As above, into `outputs` (CPU tensors of the signature's shapes and dtypes, allocated by
  // the caller). Once each calling thread has made one call, this allocates nothing.
  void run(std::span<const Tensor> inputs, std::span<Tensor> outputs, Site site = Site::here()) const;
  std::vector<Tensor> operator()(std::initializer_list<Tensor> inputs, Site site = Site::here()) const {
    return (*this)(std::span<const Tensor>(inputs.begin(), inputs.size()), site);
  }
  const std::vector<TensorSignature>& inputs() const;
  const std::vector<TensorSignature>& outputs() const;
  // The largest batch size the program runs at (0: its shapes are fixed).
  int64_t max_batch() const;
  // The arena bytes a call at batch size `batch` uses (each batch size has its own plan).
  int64_t planned_bytes(int64_t batch) const;
  // Everything the artifact holds, as `tlc --inspect` prints it.
  std::string describe() const;

  struct Impl;

 private:
  explicit Program(std::unique_ptr<Impl> impl);
  friend Program load_program(const ProgramPath& path, const ProgramLoadOptions& options);
  std::unique_ptr<Impl> impl_;
};

// Opens and verifies `path`. Throws tl::rt::ArtifactError-derived tl::Error naming the file
// and the problem (truncated, corrupt, hostile, from a newer tl, for a CPU this one is not);
// nothing runs before the whole file is verified. ValueError when it needs more memory than
// `options.max_memory`.
Program load_program(const ProgramPath& path, const ProgramLoadOptions& options = {});

}  // namespace tl
