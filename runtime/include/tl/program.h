// Running a compiled artifact (written by tl::export_program, tl/export.h, or by tlc):
//
//   tl::Program mlp = tl::load_program("mlp.tlart");     // verified before anything runs
//   tl::Tensor y = mlp(x)[0];
//
// This is the runtime's C++ API (libtl_runtime): a program that only runs artifacts links it
// alone, without the frontend or the compiler. The C API is tl_runtime.h. See docs/runtime.md.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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

struct ProgramLoadOptions {
  // When > 0: refuse a program whose weights, arena and outputs (at its maximum batch size)
  // need more bytes than this, before its arena is allocated.
  int64_t max_memory = 0;
  // Where the program runs: its weights are copied there once at load, its arena lives there,
  // and each fused group runs as one CUDA kernel from the steps the artifact records. Unset:
  // the artifact's default device (CUDA for one written by `tlc --target cuda`, else the CPU).
  std::optional<Device> device = std::nullopt;
};

// Where a program's time goes (Program::profile): one entry per op the program runs (kernels
// and views; constants run nothing and have none).
struct NodeProfile {
  std::string op;     // the op with its flags: "conv2d+relu"
  std::string site;   // the user's line that issued it ("model.onnx:12" for ONNX nodes)
  Shape shape;        // the result's
  double seconds = 0; // summed over the profiled runs
  double flops = 0;   // per run: 2 x the multiply-adds of a convolution or matrix product, else 0
  double bytes = 0;   // per run: the operands read and the result written, once each (0 for a view)
};

struct ProgramProfile {
  int runs = 0;
  double seconds = 0;  // wall time of the runs
  std::vector<NodeProfile> nodes;
};

struct TensorSignature {
  std::string name;
  Shape shape;  // at the maximum batch size when batch_axis >= 0
  DType dtype = kFloat32;
  int batch_axis = -1;  // the dim that is the batch size, or -1
  // The shape at batch size `batch` (0, or no batch axis: `shape` itself).
  Shape shape_at(int64_t batch) const {
    Shape s = shape;
    if (batch_axis >= 0 && batch > 0) s[batch_axis] = batch;
    return s;
  }
};

// A program loaded from an artifact: verified at load (structure, checksums, CPU features,
// version, and every op against the op table), its weights and arena allocated once.
class Program {
 public:
  Program(Program&&) noexcept;
  Program& operator=(Program&&) noexcept;
  ~Program();

  // Runs the program on tensors matching the signature (shape and dtype, with any batch
  // size up to max_batch() in the batch dim; any strides) and returns new output tensors, on
  // the program's device(). Inputs are on that device or on the CPU; a CUDA program copies CPU
  // inputs to the device each call (pass device tensors to avoid it). Thread-safe: concurrent
  // calls each use an execution context of their own (an arena), sharing the weights.
  std::vector<Tensor> operator()(std::span<const Tensor> inputs, Site site = Site::here()) const;
  // As above, into `outputs` (tensors on the program's device of the signature's shapes and
  // dtypes, allocated by the caller). Once each calling thread has made one call, a CPU
  // program allocates nothing.
  void run(std::span<const Tensor> inputs, std::span<Tensor> outputs, Site site = Site::here()) const;
  std::vector<Tensor> operator()(std::initializer_list<Tensor> inputs, Site site = Site::here()) const {
    return (*this)(std::span<const Tensor>(inputs.begin(), inputs.size()), site);
  }
  const std::vector<TensorSignature>& inputs() const;
  const std::vector<TensorSignature>& outputs() const;
  // The largest batch size the program runs at (0: its shapes are fixed).
  int64_t max_batch() const;
  // Where the program runs (ProgramLoadOptions::device).
  Device device() const;
  // The arena bytes a call at batch size `batch` uses (each batch size has its own plan).
  int64_t planned_bytes(int64_t batch) const;
  // Everything the artifact holds, as `tlc --inspect` prints it.
  std::string describe() const;
  // Runs the program `runs` times on `inputs` (after one untimed run) and times every
  // kernel call: what dominates, and at what rate (FLOP/s, bytes/s) it runs.
  ProgramProfile profile(std::span<const Tensor> inputs, int runs, Site site = Site::here()) const;

  struct Impl;

 private:
  explicit Program(std::unique_ptr<Impl> impl);
  friend Program load_program(const ProgramPath& path, const ProgramLoadOptions& options);
  std::unique_ptr<Impl> impl_;
};

// Opens and verifies `path`. Throws tl::rt::ArtifactError-derived tl::Error naming the file
// and the problem (truncated, corrupt, hostile, from a newer tl, for a CPU this one is not);
// nothing runs before the whole file is verified. ValueError when it needs more memory than
// `options.max_memory`. On CUDA: DeviceError when a fused group has no CUDA form (naming it)
// or when the device is not available, said after the whole file is verified.
Program load_program(const ProgramPath& path, const ProgramLoadOptions& options = {});

// As load_program, for an artifact's bytes already in memory. Errors name `name` in place of
// a path. The bytes are copied; they need not outlive the call.
Program load_program_bytes(std::string_view bytes, const std::string& name, const ProgramLoadOptions& options = {});

}  // namespace tl
