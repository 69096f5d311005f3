// ONNX TensorProto <-> tl::Tensor, with every size checked against the data before anything
// is allocated, and external data read only from inside the model's folder.
#pragma once

#include <optional>
#include <string>

#include "tl/tensor.h"

namespace onnx {
class TensorProto;
}

namespace tl::onnx_import {

// The tl dtype of an ONNX element type (TensorProto.DataType), or nullopt when tl has none.
std::optional<DType> dtype_from_onnx(int32_t elem_type);
int32_t dtype_to_onnx(DType dtype);
// "uint8", "string", ... for messages.
const char* onnx_type_name(int32_t elem_type);

// Reads `proto` into a new contiguous CPU tensor. `what` names it for messages ("initializer
// 'conv1.weight' of 'model.onnx'"). External data is read from `folder` (empty: refused).
Tensor tensor_from_proto(const ::onnx::TensorProto& proto, const std::string& folder, const std::string& what);

// Writes `t` into `proto` (dims, data_type, raw_data little-endian).
void tensor_to_proto(const Tensor& t, ::onnx::TensorProto& proto);

}  // namespace tl::onnx_import
