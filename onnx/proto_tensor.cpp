#include "onnx/proto_tensor.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <onnx/onnx_pb.h>

#include "onnx/model_graph.h"
#include "runtime/base/file_io.h"
#include "runtime/base/little_endian.h"
#include "tl/ops.h"

namespace tl::onnx_import {
namespace {

// ONNX stores raw_data little-endian; tensors are copied to and from it byte for byte.
static_assert(std::endian::native == std::endian::little, "the ONNX tensor codec assumes a little-endian machine");

using TP = ::onnx::TensorProto;

[[noreturn]] void fail(const std::string& what, const std::string& why) { throw IoError(what + ": " + why); }

// Resolves an external-data location inside `folder`, refusing anything that could leave it:
// absolute paths, "..", and symbolic links anywhere on the way.
std::string confined_path(const std::string& folder, const std::string& location, const std::string& what) {
  namespace fs = std::filesystem;
  if (folder.empty()) fail(what, "uses external data ('" + location + "') but the model was not loaded from a file");
  if (location.empty()) fail(what, "external data without a location");
  if (location.find('\0') != std::string::npos) fail(what, "external data location contains a NUL byte");
  fs::path rel(location);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory()) {
    fail(what, "external data location '" + location + "' is absolute; it must be relative to the model's folder");
  }
  // Every ".." is refused before any file is looked at, so the message does not depend on
  // what exists on the way.
  for (const fs::path& part : rel) {
    if (part == "..") fail(what, "external data location '" + location + "' leaves the model's folder ('..')");
  }
  fs::path at(folder);
  for (const fs::path& part : rel) {
    if (part == "." || part.empty()) continue;
    at /= part;
    struct stat st {};
    if (::lstat(at.c_str(), &st) != 0) fail(what, "external data file '" + at.string() + "' does not exist");
    if (S_ISLNK(st.st_mode)) {
      fail(what, "external data location '" + location + "' goes through a symbolic link ('" + at.string() +
                     "'); links could leave the model's folder and are refused");
    }
    // A hard link is a second name for a file that may live anywhere on the filesystem (an
    // archive can create one): refused like a symbolic link.
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      fail(what, "external data file '" + at.string() + "' has " + std::to_string(st.st_nlink) +
                     " hard links; a linked file could be one outside the model's folder and is refused");
    }
  }
  return at.string();
}

template <class Field>
void copy_typed(const Field& field, Tensor& t, const std::string& what, const char* field_name) {
  const int64_t n = t.numel();
  if (static_cast<int64_t>(field.size()) != n) {
    fail(what, std::string(field_name) + " holds " + std::to_string(field.size()) + " values but the dims say " +
                   std::to_string(n));
  }
  switch (t.dtype()) {
    case kFloat32: {
      auto* p = static_cast<float*>(t.data_ptr());
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(field.Get(static_cast<int>(i)));
      break;
    }
    case kFloat64: {
      auto* p = static_cast<double*>(t.data_ptr());
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<double>(field.Get(static_cast<int>(i)));
      break;
    }
    case kInt32: {
      auto* p = static_cast<int32_t*>(t.data_ptr());
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(field.Get(static_cast<int>(i)));
      break;
    }
    case kInt64: {
      auto* p = static_cast<int64_t*>(t.data_ptr());
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(field.Get(static_cast<int>(i)));
      break;
    }
    case kBool: {
      auto* p = static_cast<bool*>(t.data_ptr());
      for (int64_t i = 0; i < n; ++i) p[i] = field.Get(static_cast<int>(i)) != 0;
      break;
    }
    case kFloat16:
    case kBFloat16: {  // int32_data holds the 16-bit patterns
      auto* p = static_cast<uint16_t*>(t.data_ptr());
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<uint16_t>(field.Get(static_cast<int>(i)));
      break;
    }
  }
}

// Bool bytes are normalized to 0/1, so a stray byte value cannot make an invalid bool.
void normalize_bools(Tensor& t) {
  if (t.dtype() != kBool) return;
  auto* p = static_cast<uint8_t*>(t.data_ptr());
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
}

}  // namespace

std::optional<DType> dtype_from_onnx(int32_t elem_type) {
  switch (elem_type) {
    case TP::FLOAT: return kFloat32;
    case TP::DOUBLE: return kFloat64;
    case TP::FLOAT16: return kFloat16;
    case TP::BFLOAT16: return kBFloat16;
    case TP::INT32: return kInt32;
    case TP::INT64: return kInt64;
    case TP::BOOL: return kBool;
    default: return std::nullopt;
  }
}

int32_t dtype_to_onnx(DType dtype) {
  switch (dtype) {
    case kFloat32: return TP::FLOAT;
    case kFloat64: return TP::DOUBLE;
    case kFloat16: return TP::FLOAT16;
    case kBFloat16: return TP::BFLOAT16;
    case kInt32: return TP::INT32;
    case kInt64: return TP::INT64;
    case kBool: return TP::BOOL;
  }
  return TP::UNDEFINED;
}

const char* onnx_type_name(int32_t elem_type) {
  switch (elem_type) {
    case TP::FLOAT: return "float";
    case TP::UINT8: return "uint8";
    case TP::INT8: return "int8";
    case TP::UINT16: return "uint16";
    case TP::INT16: return "int16";
    case TP::INT32: return "int32";
    case TP::INT64: return "int64";
    case TP::STRING: return "string";
    case TP::BOOL: return "bool";
    case TP::FLOAT16: return "float16";
    case TP::DOUBLE: return "double";
    case TP::UINT32: return "uint32";
    case TP::UINT64: return "uint64";
    case TP::COMPLEX64: return "complex64";
    case TP::COMPLEX128: return "complex128";
    case TP::BFLOAT16: return "bfloat16";
    default: return "an unknown element type";
  }
}

Tensor tensor_from_proto(const TP& proto, const std::string& folder, const std::string& what) {
  std::optional<DType> dtype = dtype_from_onnx(proto.data_type());
  if (!dtype) {
    throw ValueError(what + ": element type " + std::string(onnx_type_name(proto.data_type())) + " (" +
                     std::to_string(proto.data_type()) +
                     ") is not supported (tl has float32/64, float16, bfloat16, int32, int64 and bool)");
  }
  if (proto.has_segment()) fail(what, "segmented tensors are not supported");
  if (proto.dims_size() > kMaxRank) {
    fail(what, "rank " + std::to_string(proto.dims_size()) + " is above tl's maximum of " + std::to_string(kMaxRank));
  }
  Shape shape;
  std::string dims_text;
  for (int64_t d : proto.dims()) dims_text += (dims_text.empty() ? "" : ", ") + std::to_string(d);
  dims_text = "[" + dims_text + "]";
  uint64_t numel = 1;
  for (int64_t d : proto.dims()) {
    if (d < 0) fail(what, "negative dim " + std::to_string(d) + " in dims " + dims_text);
    if (d > 0 && numel > (uint64_t{1} << 62) / static_cast<uint64_t>(d)) {
      fail(what, "its dims " + dims_text + " multiply to more than 2^62 elements");
    }
    numel *= static_cast<uint64_t>(d);
    shape.push_back(d);
  }
  // Checked in elements first: numel * 8 can wrap past 2^64 (dims [2^61] of float64 would
  // need 0 bytes).
  if (numel > kMaxTensorBytes / dtype_size(*dtype)) {
    fail(what, "its dims " + dims_text + " of " + dtype_name(*dtype) + " need more than " +
                   std::to_string(kMaxTensorBytes) + " bytes, the most one tensor may hold");
  }
  const uint64_t nbytes = numel * dtype_size(*dtype);

  const bool external = proto.data_location() == TP::EXTERNAL;
  int sources = (proto.has_raw_data() ? 1 : 0) + (external ? 1 : 0) + (proto.float_data_size() ? 1 : 0) +
                (proto.int32_data_size() ? 1 : 0) + (proto.int64_data_size() ? 1 : 0) +
                (proto.double_data_size() ? 1 : 0) + (proto.uint64_data_size() ? 1 : 0);
  if (sources > 1) fail(what, "its data is given in more than one field");

  if (external) {
    std::string location;
    uint64_t offset = 0, length = nbytes;
    bool has_length = false;
    for (const auto& kv : proto.external_data()) {
      auto parse = [&](const std::string& v) -> uint64_t {
        if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) {
          fail(what, "external data field '" + kv.key() + "' is not a non-negative integer: '" + v + "'");
        }
        return std::stoull(v);
      };
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = parse(kv.value());
      else if (kv.key() == "length") length = parse(kv.value()), has_length = true;
    }
    if (has_length && length != nbytes) {
      fail(what, "external data length " + std::to_string(length) + " does not match the dims (" +
                     std::to_string(nbytes) + " bytes)");
    }
    const std::string path = confined_path(folder, location, what);
    detail::FileReader file(path, what + " (external data)", Site());
    if (offset > file.size() || nbytes > file.size() - offset) {
      fail(what, "external data [" + std::to_string(offset) + ", " + std::to_string(offset + nbytes) + ") of '" +
                     path + "' is past its end (" + std::to_string(file.size()) + " bytes)");
    }
    Tensor t = empty(shape, {.dtype = *dtype});
    file.read_at(offset, t.data_ptr(), nbytes);
    normalize_bools(t);
    return t;
  }

  Tensor t = empty(shape, {.dtype = *dtype});
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != nbytes) {
      fail(what, "raw_data holds " + std::to_string(proto.raw_data().size()) + " bytes but the dims and type need " +
                     std::to_string(nbytes));
    }
    std::memcpy(t.data_ptr(), proto.raw_data().data(), nbytes);  // little-endian, as this machine
    normalize_bools(t);
  } else if (proto.float_data_size()) {
    copy_typed(proto.float_data(), t, what, "float_data");
  } else if (proto.int32_data_size()) {
    copy_typed(proto.int32_data(), t, what, "int32_data");
  } else if (proto.int64_data_size()) {
    copy_typed(proto.int64_data(), t, what, "int64_data");
  } else if (proto.double_data_size()) {
    copy_typed(proto.double_data(), t, what, "double_data");
  } else if (proto.uint64_data_size()) {
    copy_typed(proto.uint64_data(), t, what, "uint64_data");
  } else if (numel != 0) {
    fail(what, "has " + std::to_string(numel) + " elements but no data");
  }
  return t;
}

void tensor_to_proto(const Tensor& t, TP& proto) {
  Tensor c = t.contiguous();
  proto.clear_dims();
  for (int64_t d : c.shape()) proto.add_dims(d);
  proto.set_data_type(dtype_to_onnx(c.dtype()));
  proto.set_raw_data(std::string(static_cast<const char*>(c.data_ptr()), c.nbytes()));
}

}  // namespace tl::onnx_import
