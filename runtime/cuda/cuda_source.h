// CUDA C for elementwise ops, derived from the same scalar math as their eager CPU kernels and
// their LLVM lowering (OpDef::pointwise, runtime/ops/pointwise/scalar_builder.h): a
// ScalarBuilder that writes CUDA C statements instead of computing or building MLIR. No op's
// math is written a third time; adding an elementwise op to the table gives it a CUDA kernel.
// Plain C++: the source is compiled by NVRTC (nvrtc.h) at run time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/ops/registry.h"

namespace tl::rt::cuda {

// The most dims a kernel indexes (tl's kMaxRank).
inline constexpr int kMaxKernelRank = 8;

// The CUDA type an element of `dtype` is stored as ("float", "__half", "long long", ...), and
// the type it is computed in (half and bfloat16: float).
const char* storage_type(DType dtype);
const char* compute_type(DType dtype);

// The preamble every kernel source starts with: the shape and stride structs the kernels take
// by value, and the fp16/bf16 headers when asked (parsing them is most of a small kernel's
// compile time, so sources of other dtypes leave them out):
//   struct TlShape { int rank; long long size[8]; };
//   struct TlStrides { long long stride[8]; };   // in elements; 0 along broadcast dims
std::string kernel_preamble(bool half = true, bool bfloat16 = true);
// The preamble a kernel of `dtype` needs.
std::string kernel_preamble_for(DType dtype);

// The source of `extern "C" __global__ void <name>(const In0* in0, ..., Out* out, TlShape shape,
// TlStrides s0, ..., TlStrides s_out, long long n)`: each thread (grid-stride) computes output
// element i of the n in `shape` from its operands at their strides, with `op`'s math on
// operands of `input_dtype` (the first operand of a three-operand op is bool) and `attrs`.
// nullopt when `op` is not elementwise or does not take `input_dtype` (its shape rule refuses it).
// Operand k whose bit is set in `by_value` is a value parameter (`const In_k in_k`) instead of a
// pointer: a C++ scalar (a 0-d host tensor) passed with the launch, with no copy to the device.
std::optional<std::string> elementwise_kernel(const ops::OpDef& op, DType input_dtype, const ops::Attrs& attrs,
                                              const std::string& name, unsigned by_value = 0);

// A fused group of elementwise ops (what tl-fuse-elementwise outlines), as one kernel: its
// inputs broadcast to the result's shape, each step an op of the table (or a constant) on
// inputs and earlier steps. Every step's result is rounded to its dtype, as the eager op's
// result is, so a fused group computes what its ops compute one by one.
struct FusedStep {
  const ops::OpDef* op = nullptr;  // an elementwise op; null: the constant below
  ops::Attrs attrs;
  std::vector<int> args;  // k >= 0: step k's result (k below this step); k < 0: input -k-1
  double constant = 0;
  DType dtype = kFloat32;  // the step's result
};
struct FusedGroup {
  std::vector<DType> inputs;
  std::vector<FusedStep> steps;  // the last one is the group's result (or what it reduces)
  // A group ending in a sum: the dims of the iteration space (the last step's shape, of
  // `space_rank` dims) it sums over, ascending, and whether it is a mean. Empty: elementwise.
  std::vector<int64_t> reduce_dims;
  int space_rank = 0;
  bool mean = false;
};
// The complete source (its preamble included) of `extern "C" __global__ void <name>(const
// In0* in0, ..., Out* out, TlShape shape, TlStrides s0, ..., long long n)`: a grid-stride
// loop over the n elements of the contiguous result, input k read at its strides s<k> (0
// along broadcast dims). Throws ValueError for a step that is not elementwise or reads ahead.
// A group ending in a sum instead takes `(ins..., out, TlShape kept, TlShape reduced,
// TlStrides kept_k..., TlStrides reduced_k..., long long n, long long per_output, double
// scale)`: one thread per output element (kept dims inner, so neighbouring threads read
// neighbouring elements) evaluates the steps at each reduced coordinate in order and adds
// them in the compute type, as the CPU's generated loop does: deterministic, no atomics.
std::string fused_kernel_source(const FusedGroup& group, const std::string& name);
// The second form of a group ending in a sum (fused_reduction.h says when it runs): two
// kernels, `<name>(ins..., Out* out, Acc* partial, TlShape kept, TlShape reduced, TlStrides
// kept_k..., TlStrides reduced_k..., long long rows, long long per_output, long long chunk,
// double scale)` and `<name>_combine(const Acc* partial, Out* out, long long rows, long long
// splits, double scale)`, Acc the compute type. A block of x outputs by y threads (y a power
// of two): the y threads of an output take its reduced coordinates in turn (neighbours on
// neighbouring coordinates), each adds its share in the compute type, and a fixed-order tree in
// shared memory adds the shares; with gridDim.y > 1 each block row sums one chunk of `chunk`
// coordinates into partial [gridDim.y, rows], and the combine kernel adds the chunks in order.
// Deterministic, no atomics. Throws as fused_kernel_source, and ValueError for a group that
// reduces nothing.
std::string fused_block_reduction_source(const FusedGroup& group, const std::string& name);

// The text of runtime/cpu/philox.h: Philox 4x32-10 and the maps from its words to uniform,
// normal, Bernoulli and integer draws, one source for the CPU and for CUDA.
const char* philox_header_text();

// What random kernels need after kernel_preamble(): the integer types and that text, with its
// functions made device functions.
std::string random_preamble();

// The source of `extern "C" __global__ void <name>(T* out, long long n, unsigned long long seed,
// unsigned long long offset, double a, double b)`: element i is draw `kind` (RandomKind: 0
// uniform, 1 normal, 2 Bernoulli, 3 integer in [a, b)) from Philox counter offset + i under
// `seed`, as random_from_key computes it on the CPU. Needs kernel_preamble() and
// random_preamble() before it. nullopt for a dtype the draw does not make (integers: int64
// only; the rest: floating types).
// With `key_in_memory`, the kernel takes `(T* out, long long n, const long long* key, long long
// delta, double a, double b)` instead: the seed is key[0] and the offset key[1] + delta, read
// from device memory, so a CUDA graph that captured it draws new numbers after its key is
// refilled.
std::optional<std::string> random_kernel(int kind, DType dtype, const std::string& name, bool key_in_memory = false);

// Every elementwise op of the table with every dtype it takes, at default attributes: what the
// CUDA backend may compile (an op's attributes enter its source as constants).
struct KernelSource {
  std::string op;
  DType dtype;
  std::string name;    // the kernel's symbol
  std::string source;  // without the preamble
};
std::vector<KernelSource> all_elementwise_kernels();
// Every random kernel: each draw with each dtype it makes (op: "random_<kind>").
std::vector<KernelSource> all_random_kernels();

}  // namespace tl::rt::cuda
