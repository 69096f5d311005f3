// The traced program: a flat SSA graph of ops recorded while a tl::compile'd function ran
// eagerly. It is the exchange format between the tracer (frontend), the MLIR pipeline
// (ir/, passes/: loaded on demand, see compiler_api.h) and the reference executor, and it
// holds no MLIR type, so libtl never includes an MLIR header.
//
// Value ids index Graph::values. A node's `op` is either a registered op's name (def is set)
// or one of the structural kinds below.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/ops/factory/random.h"
#include "runtime/ops/registry.h"
#include "tl/tensor.h"

namespace tl::trace {

// Structural node kinds (everything else is a registry op). These names, with the
// attributes each reads, are stated here once (structural_ops() below); the IR bridge, the
// dialect's generator and its tests take them from here, and the hand-written ODS
// (ir/structural_ops.td) is checked against this table by tests/ir.
//
// constant: no inputs; outputs[0] holds `constant` (a tensor created on the host).
inline constexpr const char* kConstant = "constant";
// random: inputs [rng]; a draw (RandomKind in attrs.count) of shape attrs.dims and dtype
// attrs.dtype with parameters attrs.scalar/scalar2 = a, b (see RandomKind), attrs.axis = the
// Philox counter offset of this draw relative to the generator's offset when the call started.
inline constexpr const char* kRandom = "random";
// grad: inputs [loss, seed, wrt...]; outputs[i] = seed-weighted d loss / d wrt_i (a tensor
// of wrt_i's shape; zeros when loss does not depend on it). Expanded by the autodiff pass.
inline constexpr const char* kGrad = "grad";
// assign: inputs [target, value]; no outputs. From here on the graph input `target` holds
// `value` (attrs.flag: its .grad slot instead of its data). Removed by functionalization,
// which turns the last assign of each target into a Writeback.
inline constexpr const char* kAssign = "assign";
// guard: inputs [x] (one element); attrs.scalar = the value the host read at trace time.
// Executing it compares; a mismatch abandons the call (nothing is written back) and re-traces.
inline constexpr const char* kGuard = "guard";

struct StructuralOp {
  const char* name;
  int arity;  // operand count, or ops::kVariadic
  std::vector<ops::AttrSpec> attrs;
};
// constant, random, grad, assign, guard.
std::span<const StructuralOp> structural_ops();
const StructuralOp* find_structural(std::string_view name);
// The declared attributes of a node kind or registry op named `op` (without "tl."), or null
// when `op` is neither.
const std::vector<ops::AttrSpec>* attr_specs(std::string_view op);

// fused: inputs -> outputs[0], computed by `kernel` (generated code for a group of ops the
// fusion pass merged; attrs unused). The kernel owns what keeps its code alive.
inline constexpr const char* kFused = "fused";

// Generated code the executor calls. Implemented by the code generator (codegen/), which
// lives in the compiler library: this interface keeps libtl free of LLVM/MLIR types.
class CompiledKernel {
 public:
  virtual ~CompiledKernel() = default;
  // Computes `out` (allocated by the caller: contiguous, the node's shape and dtype) from
  // `inputs` (any strides; the kernel copies or handles them).
  virtual void run(std::span<const Tensor> inputs, Tensor& out) const = 0;
  // For dumps and tl::explain: the group's ops, e.g. "mul+add+gelu".
  virtual std::string describe() const = 0;
  // Whether each output element is computed from the input elements at its own index (or
  // broadcast ones) and nothing else: false for a group ending in a reduction. Only then may
  // the output overwrite an input of its shape (MemoryPlan::in_place_input).
  virtual bool is_elementwise() const { return true; }
};

struct Value {
  Shape shape;
  DType dtype = kFloat32;
};

struct Node {
  std::string op;
  const ops::OpDef* def = nullptr;  // registry ops only
  std::vector<int> inputs;
  std::vector<int> outputs;
  ops::Attrs attrs;
  Site site;        // the user's line that issued the op
  Tensor constant;  // kConstant only
  std::shared_ptr<const CompiledKernel> kernel;  // kFused only
};

enum class InputKind : uint8_t {
  kArgument,  // the function's i-th tensor argument
  kCapture,   // a tensor the function read but did not create (parameter, buffer, state)
  kGradOf,    // the .grad of `source` as it was when the call started
  kRng,       // int64[2]: the default generator's (seed, offset) when the call starts
};

struct Input {
  int value = -1;
  InputKind kind = InputKind::kArgument;
  int arg_index = -1;  // kArgument
  Tensor source;       // kCapture: the captured tensor; kGradOf: the leaf whose grad is read
  std::string name;    // for dumps and error messages ("arg0", "capture3", ...)
  Site site;           // kCapture: where the function first read it
};

// After a call: the tensor of inputs[input] (or its .grad when to_grad) receives `value`.
struct Writeback {
  int value = -1;
  int input = -1;
  bool to_grad = false;
};

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Input> inputs;
  std::vector<Node> nodes;
  std::vector<int> outputs;           // what the function returns, in order
  std::vector<Writeback> writebacks;  // filled by functionalization
  int64_t rng_advance = 0;            // Philox counters the call consumes
  // Where the program's values live and its kernels run (its inputs' device).
  Device device = kCPU;

  int add_value(const Shape& shape, DType dtype) {
    values.push_back({shape, dtype});
    return static_cast<int>(values.size()) - 1;
  }
  // Human-readable listing, one node per line (for logs and tl::explain).
  std::string str() const;
};

// Interns a file name so Sites rebuilt from IR locations stay valid for the process.
const char* intern_file(const std::string& file);

}  // namespace tl::trace

namespace tl::trace {
// A tensor with shape and dtype but no storage, for running shape rules (OpDef::infer) and
// derivative rules symbolically. Reading its data throws.
Tensor meta_tensor(const Shape& shape, DType dtype);
bool is_meta(const Tensor& t);
}  // namespace tl::trace
