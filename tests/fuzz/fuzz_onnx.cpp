// Fuzzes ONNX import: tl::onnx::load_bytes (onnx/import.cpp): the protobuf parse, the opset
// and IR version checks, the graph build with every initializer's size checked against its
// data (onnx/model_graph.cpp, onnx/proto_tensor.cpp), the ONNX library's checker and strict
// shape inference, the operator table and the load-time folding (onnx/optimize.cpp); then,
// for a model that loads and whose inputs have small fixed shapes, one eager run on zeros.
//
// Oracle: every refusal, at load and at run time, is a tl::Error; nothing else may be thrown.
// A model that loads describes itself (plan()), and a run returns one tensor per declared
// output, of its declared dtype and fixed dims.
//
// The bytes are loaded without a folder, so external data is refused (the path checks are
// tests/onnx/import_test.cpp's). Runs are eager: tl::compile would spend each input in LLVM.
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "tl/onnx.h"
#include "tl/tl.h"

namespace {

// Inputs above this many elements in all are not run (libFuzzer's -malloc_limit_mb).
constexpr int64_t kMaxInputElements = int64_t{1} << 16;

// Zeros of every declared input, or nothing when a shape is symbolic, unknown or large.
bool zero_inputs(const tl::onnx::Model& model, std::vector<tl::Tensor>& inputs) {
  int64_t total = 0;
  for (const tl::onnx::ValueInfo& in : model.inputs()) {
    tl::Shape shape;
    for (int64_t d : in.dims) {
      if (d < 0 || d > kMaxInputElements) return false;
      shape.push_back(d);
    }
    total += shape.numel();
    if (total > kMaxInputElements) return false;
    inputs.push_back(tl::zeros(shape, {.dtype = in.dtype}));
  }
  return true;
}

void check(std::string_view bytes) {
  tl::onnx::Model model;
  try {
    model = tl::onnx::load_bytes(bytes, "", tl::onnx::LoadOptions{.compile = 0});
  } catch (const tl::Error&) {
    return;
  }
  if (model.plan().empty()) tl::fuzz::fail("a loaded model has an empty plan");
  std::vector<tl::Tensor> inputs;
  if (!zero_inputs(model, inputs)) return;
  std::vector<tl::Tensor> outputs;
  try {
    outputs = model.run_eager(inputs);
  } catch (const tl::Error&) {
    return;  // a model may be valid ONNX that tl cannot run on zeros (a division, a bad index)
  }
  if (outputs.size() != model.outputs().size()) {
    tl::fuzz::fail("a model declaring " + std::to_string(model.outputs().size()) + " outputs returned " +
                   std::to_string(outputs.size()));
  }
  // The checker's strict shape inference has agreed with the declared outputs, so tl's
  // results must have their dtypes and every fixed dim.
  for (size_t i = 0; i < outputs.size(); ++i) {
    const tl::onnx::ValueInfo& declared = model.outputs()[i];
    if (!outputs[i].defined()) tl::fuzz::fail("output '" + declared.name + "' is undefined");
    bool same = outputs[i].dtype() == declared.dtype &&
                (declared.dims.empty() || static_cast<int64_t>(declared.dims.size()) == outputs[i].dim());
    for (size_t k = 0; same && !declared.dims.empty() && k < declared.dims.size(); ++k) {
      same = declared.dims[k] < 0 || declared.dims[k] == outputs[i].shape()[static_cast<int64_t>(k)];
    }
    if (!same) {
      tl::fuzz::fail("output " + declared.str() + " came out as " + outputs[i].shape().str() + " " +
                     tl::dtype_name(outputs[i].dtype()));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
