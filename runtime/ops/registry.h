// The op table: one OpDef per op. The runtime defines each op (define_op, next to its
// kernel): its attributes, shape/dtype rule, kernel per device or view, and for elementwise
// ops the scalar math that code generation lowers. The frontend then adds (extend_op) what
// only it needs: the derivative, written with Tensor ops, and the samples the generic tests
// sweep. One entry per op, filled by two libraries: a program that only runs compiled
// artifacts links the runtime alone and never sees a derivative. Eager calls run through
// ops::call (frontend/ops/registry.h).
#pragma once

#include <functional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "runtime/ops/pointwise/scalar_builder.h"
#include "tl/tensor.h"

namespace tl::ops {

// An op's attribute values as its kernels store them. The fields are storage only: what each
// means for an op (its name, type and doc, as the IR, tl-opt, the docs and compiled
// artifacts show it) is declared once by the op's OpDef::attrs. A field an op does not
// declare must keep its default (the tracer checks it).
struct Attrs {
  Shape dims = {};      // axes (reductions, permute) or sizes (view, expand)
  Shape stride = {};    // conv/pool/slice
  Shape padding = {};   // conv/pool
  Shape dilation = {};  // conv
  int64_t axis = 0;
  int64_t count = 0;   // groups, num_classes, start index, ...
  int64_t count2 = 0;  // a second integer (slice: end)
  int64_t step = 1;    // slice
  double scalar = 0;
  double scalar2 = 0;
  bool keepdim = false;
  bool flag = false;
  bool flag2 = false;
  DType dtype = kFloat32;
};

// The storage fields of Attrs, so that an attribute declaration can name one.
enum class AttrField : uint8_t {
  kNone,
  kDims, kStride, kPadding, kDilation,  // Shape -> an i64 array
  kAxis, kCount, kCount2, kStep,        // int64_t -> an i64
  kScalar, kScalar2,                    // double -> an f64
  kKeepdim, kFlag, kFlag2,              // bool -> a unit attribute (present = true)
  kDtype,                               // DType -> an element type
};
enum class AttrType : uint8_t { kInts, kInt, kFloat, kBool, kDType };
AttrType attr_type(AttrField field);
// "i64 array", "i64", "f64", "unit", "element type"
const char* attr_type_name(AttrType type);

// One named, typed attribute of an op: `tl.clamp {min = 0.0 : f64}` is
// {"min", AttrField::kScalar, "lower bound", AttrField::kFlag}.
struct AttrSpec {
  std::string name;                      // snake_case, as the IR spells it
  AttrField field = AttrField::kNone;    // where Attrs stores the value (its type follows)
  std::string doc;
  // For a value that may be absent (clamp's bounds): the bool field that says it is given.
  // Such a value is written whenever it is given, even when it equals the default.
  AttrField present = AttrField::kNone;
  // Written even when it equals the default, and required when read back (a guard's value).
  bool required = false;
};

// A field's value, for code that handles attributes generically (the IR bridge, artifacts).
using AttrValue = std::variant<Shape, int64_t, double, bool, DType>;
AttrValue get_attr(const Attrs& attrs, AttrField field);
void set_attr(Attrs& attrs, AttrField field, const AttrValue& value);  // the value's type must match
bool is_default(const Attrs& attrs, AttrField field);
// Whether `spec`'s value is written out for `attrs` (given, or different from the default).
bool is_written(const Attrs& attrs, const AttrSpec& spec);
// The first field that is set in `attrs` (not at its default) but declared by none of
// `specs`: AttrField::kNone when there is none. Such a value would be lost in the IR.
AttrField undeclared_field(const Attrs& attrs, std::span<const AttrSpec> specs);
const char* field_name(AttrField field);  // "dims", "scalar2", ... (for messages)

// OpDef::arity for ops that take any number of operands (cat).
inline constexpr int kVariadic = -1;

struct OutputMeta {
  Shape shape;
  DType dtype;
};

struct GradContext {
  std::span<const Tensor> inputs;  // as saved at forward time (detached)
  const Tensor& saved_output;      // forward result (detached); read it through output()
  const Tensor& dout;              // gradient w.r.t. output
  const Attrs& attrs;
  std::span<const bool> needs_grad;  // per input
  Site site;
  // Called when the derivative reads the forward result: eager autograd checks there that
  // the result was not modified in place since it was saved. Only derivatives that read it
  // can be wrong because of such a write, so only they refuse it.
  void (*on_output_read)(const void* arg) = nullptr;
  const void* on_output_read_arg = nullptr;

  const Tensor& input(int i) const { return inputs[i]; }
  const Tensor& output() const {
    if (on_output_read) on_output_read(on_output_read_arg);
    return saved_output;
  }
  bool needs_input_grad(int i) const { return needs_grad[i]; }
};

// Index of the CPU kernel in OpDef::kernels.
inline constexpr int kCpu = static_cast<int>(DeviceType::kCPU);

using InferFn = OutputMeta (*)(std::span<const Tensor> inputs, const Attrs& attrs, Site site);
using KernelFn = void (*)(std::span<const Tensor> inputs, Tensor& out, const Attrs& attrs);
// View ops build an aliasing result instead of running a kernel.
using ViewFn = Tensor (*)(const Tensor& input, const Attrs& attrs, Site site);
using GradFn = std::vector<Tensor> (*)(const GradContext& ctx);

// A sample for the generic sweeps: input shapes, value range, and how to call the op
// (with a fixed set of attributes) on inputs of those shapes.
struct Sample {
  std::vector<Shape> shapes;
  std::function<Tensor(const std::vector<Tensor>&)> call;
  double low = -2.0;
  double high = 2.0;
  // Inputs that are integer/index tensors rather than differentiable floats.
  std::vector<int> integer_inputs = {};
  std::vector<int64_t> integer_high = {};  // exclusive bound per integer input
};

// What code generation may fuse an op into (tl-fuse-elementwise reads it through ir/).
enum class OpKind {
  kOther,
  kElementwise,  // out[i] depends on in[k][i] only; OpDef::pointwise holds the math
  kSum,          // sum over attrs.dims (attrs.flag: mean); a fused group may end in one
};

struct OpDef {
  std::string name;
  std::string doc;
  // The number of tensor operands (kVariadic: any number), and the attributes the op reads,
  // by name and type. define_op refuses an op that leaves arity undeclared.
  int arity = kUnsetArity;
  std::vector<AttrSpec> attrs;
  InferFn infer = nullptr;
  KernelFn kernels[kNumDeviceTypes] = {};
  ViewFn view = nullptr;
  GradFn grad = nullptr;
  std::string not_differentiable;  // reason, when grad is null on purpose
  // Inputs that may be undefined tensors (an absent bias); call() refuses any other.
  std::vector<int> optional_inputs;
  std::vector<Sample> samples;
  OpKind kind = OpKind::kOther;
  // An elementwise op's scalar math for code generation, built from the same expression as
  // its eager kernel (pointwise/pointwise_op.h); it takes `arity` operands. Set exactly
  // when kind is kElementwise (the registry test checks it).
  struct {
    PointwiseLowering lower = nullptr;
  } pointwise;

  static constexpr int kUnsetArity = -2;
};

// Registers an op at static-initialization time: `static const OpDef& op = define_op(...)`.
// Throws tl::ValueError for a definition that cannot be right (a name that is not snake_case,
// arity undeclared, an attribute
// name that is not snake_case or repeats, two attributes in one field, an elementwise op
// whose math takes another number of operands than its arity).
const OpDef& define_op(const char* name, const std::function<void(OpDef&)>& build);
// Adds to the op `name` defined by define_op (the frontend's derivative, samples); throws
// ValueError when there is none. Runs at static initialization, after the runtime's
// definitions (libtl loads after libtl_runtime).
const OpDef& extend_op(const char* name, const std::function<void(OpDef&)>& build);
const std::vector<const OpDef*>& all_ops();
const OpDef* find_op(const std::string& name);


// Whether `op` runs on devices of `type`: a kernel in OpDef::kernels, or on CUDA, for an
// elementwise op, the kernel generated from its scalar math.
bool has_kernel(const OpDef& op, DeviceType type);
// Runs that kernel into `out` (allocated on the device, the op's result shape and dtype).
// The op must have one (has_kernel).
void run_kernel(const OpDef& op, DeviceType type, std::span<const Tensor> inputs, Tensor& out, const Attrs& attrs);

// Whether `op` takes `n` operands: its arity, or fewer by trailing optional inputs.
bool accepts_operand_count(const OpDef& op, size_t n);
// The operand counts `op` takes, for messages: "2", "2 to 3" or "any number of".
std::string operand_count_text(const OpDef& op);
// The result `op` computes for `inputs` (meta tensors are fine: shape rules read no data):
// its shape rule, or for a view op the geometry of the view. Throws what the rule throws.
// The dialect's verifier and the artifact loader check a call with it.
OutputMeta infer_result(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Site site);

// ---- helpers for op definitions ----
// "add: a is [2, 3] float32, b is [4] float32"
std::string describe(std::span<const Tensor> inputs, std::initializer_list<const char*> names = {});
int64_t normalize_dim(int64_t dim, int64_t rank, const char* op, Site site);
Shape normalize_dims(const Shape& dims, int64_t rank, const char* op, Site site);
// Throws DTypeError unless `t` is floating point.
void require_floating(const Tensor& t, const char* op, const char* what, Site site);

// ---- checks for shape rules ----
// A rule sees its operands and attributes exactly as the IR carries them (the verifier of
// every tl.<op> runs it on the operand types), so it checks whatever the public function
// validated or normalized before `call`; kernels then trust the attributes. Each check
// throws naming the op, the bad value and `site`.

// ValueError unless there are exactly `n` operands, all defined.
void check_arity(std::span<const Tensor> inputs, size_t n, const char* op, Site site);
// ShapeError unless `axis` lies in [0, rank) (normalized, as the public functions pass it).
void check_axis(int64_t axis, int64_t rank, const char* op, Site site);
// ShapeError unless every dim lies in [0, rank) and none repeats.
void check_dims(const Shape& dims, int64_t rank, const char* op, Site site);
// ShapeError unless every size in `sizes` (attribute `what`) is >= 0 and their product fits.
void check_sizes(const Shape& sizes, const char* op, const char* what, Site site);
// ValueError("tl::<op>: <what> is an undefined tensor ... at <site>") when `t` is undefined
// (default-constructed or moved-from). Ops call it on their operands before touching them.
void require_defined(const Tensor& t, const char* op, const char* what, Site site);
// DTypeError unless all operands share one dtype.
void require_same_dtype(std::span<const Tensor> inputs, const char* op, Site site);
// DTypeError for bool operands (the numeric kernels have no bool arithmetic).
void require_numeric(const Tensor& t, const char* op, const char* what, Site site);
// DTypeError unless `t` is an int32 or int64 index tensor.
void require_index_dtype(const Tensor& t, const char* op, const char* what, Site site);
// Fresh contiguous tensor on `device`; does not initialize memory. Errors (a shape too large,
// out of memory) name `op` and `site` when given.
Tensor empty_tensor(const Shape& shape, DType dtype, Device device, const char* op = nullptr, Site site = Site{});
// Called with every tensor empty_tensor makes (the tracer tells a tensor the traced function
// created from one it captured). One observer per process; null: none.
using AllocationObserver = void (*)(const Tensor& t);
void set_allocation_observer(AllocationObserver observer);
// A tensor sharing x's storage with new geometry (for view ops).
Tensor make_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset);
// Computes whether shape/strides describe a row-major dense layout.
bool compute_contiguous(const Shape& shape, const Shape& strides);

}  // namespace tl::ops
