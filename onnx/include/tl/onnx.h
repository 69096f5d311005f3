// ONNX in and out (libtl_onnx; link tl::onnx).
//
//   auto model = tl::onnx::load("resnet18.onnx");        // verified, optimized, ready to run
//   tl::Tensor y = model(x);                                // compiled (TL_COMPILE=0: eager)
//   tl::onnx::export_program([&](const tl::Tensor& x) { return net.forward(x); }, x, "net.onnx");
//
// Import: the ONNX project's own library parses the file, runs its checker and its shape
// inference; every node then becomes the tl ops it stands for, so a loaded model is an
// ordinary tl function: it runs eagerly op by op, or tl::compile traces it into the same
// program a C++ model gives (all passes, code generation, artifacts and tlc apply). Load-time
// optimizations: constant folding of weight-only subgraphs, batch norm folded into the
// preceding convolution, unused nodes dropped (Model::plan() shows the result).
//
// Supported: the default domain at opsets 1 to 17 (each node read at the model's declared
// opset); docs/onnx.md lists the operators and their limits. Unsupported nodes are all
// reported at once, each with its name, op type, opset and what is missing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tl/detail/export_call.h"
#include "tl/tensor.h"

namespace tl::onnx {

// The newest default-domain opset the importer reads, and the one the exporter writes.
inline constexpr int kMaxOpset = 17;

// A graph input or output as the model declares it. A dim of -1 is symbolic (its name, when
// the model gives one, is in dim_names: "batch", "N", ...).
struct ValueInfo {
  std::string name;
  DType dtype = kFloat32;
  std::vector<int64_t> dims;
  std::vector<std::string> dim_names;
  std::string str() const;  // "x: float32[N, 3, 224, 224]"
};

struct LoadOptions {
  // Run through tl::compile (true) or op by op (false). Default: compiled unless the
  // environment sets TL_COMPILE=0.
  int compile = -1;
  // Constant folding and batch-norm folding at load time.
  bool optimize = true;
};

class Model {
 public:
  Model();
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  // Runs the model on tensors given in the order of inputs(); returns outputs() in order.
  // Inputs are checked against the declared dtypes and fixed dims, naming the input.
  std::vector<Tensor> run(std::span<const Tensor> inputs, Site site = Site::here()) const;
  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs, Site site = Site::here()) const {
    return run(std::span<const Tensor>(inputs), site);
  }
  // A model with one input and one output.
  Tensor operator()(const Tensor& x, Site site = Site::here()) const;

  const std::vector<ValueInfo>& inputs() const;
  const std::vector<ValueInfo>& outputs() const;
  int opset() const;                 // the default-domain opset the model declares
  const std::string& producer() const;  // "pytorch 1.13.0", ...
  // The imported graph after load-time optimizations, one node per line, with the counts of
  // what was folded.
  std::string plan() const;
  // Runs the model op by op without tl::compile, whatever LoadOptions said (for comparisons).
  std::vector<Tensor> run_eager(std::span<const Tensor> inputs, Site site = Site::here()) const;

  // The function of the model's inputs the tracer sees (what tl::compile and
  // tl::export_program trace); for tools such as tlc.
  std::vector<Tensor> trace_body(std::span<const Tensor> inputs) const;

  struct Impl;
  explicit Model(std::shared_ptr<Impl> impl);  // made by load / load_bytes

 private:
  std::shared_ptr<Impl> impl_;
};

// Loads `path`. External data files are read from the model's folder only (no absolute
// paths, no "..", no symbolic or hard links). Throws IoError for unreadable, truncated or corrupt
// files and ValueError for invalid or unsupported graphs; both name the file.
Model load(const std::string& path, LoadOptions options = {}, Site site = Site::here());
// The same from bytes in memory; `folder` is where external data is looked for (empty: the
// model may not use external data).
Model load_bytes(std::string_view bytes, const std::string& folder = {}, LoadOptions options = {},
                 Site site = Site::here());

// ---------------------------------------------------------------- export

struct ExportOptions {
  // Names of the graph's inputs and outputs ("input_0", "output_0", ... when empty or short).
  std::vector<std::string> input_names = {};
  std::vector<std::string> output_names = {};
  // Dim 0 of every input and output is a symbolic "batch" dim when true.
  bool dynamic_batch = false;
  std::string graph_name = "tl_program";
};

namespace detail {
void export_traced(const tl::detail::ExportBody& body, std::span<const Tensor> args, const std::string& path,
                   const ExportOptions& options, Site site);
}  // namespace detail

// export_program(fn, example_args..., path[, options]) writes `fn` (an inference function of
// Tensors returning a Tensor or std::vector<Tensor>), traced on the example arguments, as an
// ONNX model at opset 17. Weights become initializers. The file passes the ONNX checker and
// full shape inference; it is replaced atomically. An op with no ONNX equivalent is refused
// with its name and the line that issued it. Used like a function (a class only so that the
// caller's line can follow the parameter pack).
template <class F, class... Rest>
struct export_program {
  export_program(F&& fn, Rest&&... rest, Site site = Site::here()) {
    tl::detail::dispatch_export<ExportOptions>(
        fn,
        [&](const tl::detail::ExportBody& body, std::span<const Tensor> examples, const std::string& path,
            const ExportOptions& options) { detail::export_traced(body, examples, path, options, site); },
        std::forward<Rest>(rest)...);
  }
};
template <class F, class... Rest>
export_program(F&&, Rest&&...) -> export_program<F, Rest...>;

}  // namespace tl::onnx
