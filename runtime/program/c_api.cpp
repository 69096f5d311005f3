// The C API of tl_runtime.h: tl::load_program and tl::Program behind an opaque handle. Every
// descriptor is checked against the signature before anything runs, and every exception
// becomes a tl_status plus a thread-local message here, before it can reach C.
#include "tl_runtime.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "runtime/artifact/artifact.h"
#include "runtime/device_backend.h"
#include "runtime/ops/pointwise/pointwise.h"
#include "tl/program.h"

struct tl_program {
  tl_program(tl::Program p, std::string artifact_path)
      : program(std::move(p)), path(std::move(artifact_path)), device(program.device().str()) {}
  tl::Program program;  // thread-safe: concurrent runs each use an execution context of their own
  std::string path;
  std::string device;  // "cpu", "cuda:0"
};

namespace {

static_assert(TL_FLOAT32 == static_cast<int>(tl::kFloat32) && TL_FLOAT64 == static_cast<int>(tl::kFloat64) &&
                  TL_FLOAT16 == static_cast<int>(tl::kFloat16) && TL_BFLOAT16 == static_cast<int>(tl::kBFloat16) &&
                  TL_INT32 == static_cast<int>(tl::kInt32) && TL_INT64 == static_cast<int>(tl::kInt64) &&
                  TL_BOOL == static_cast<int>(tl::kBool) && tl::kNumDTypes == 7,
              "tl_dtype must list tl::DType's values in order");
static_assert(sizeof(tl_dtype) == sizeof(int), "tl_dtype is an int in C; descriptors must agree on its size");

thread_local std::string last_error;
// Set when the message itself could not be stored (out of memory): the status still tells.
thread_local bool last_error_lost = false;

tl_status fail(tl_status status, const char* who, const char* what, const char* detail = "") noexcept {
  try {
    last_error = std::string(who) + ": " + what + detail;
    last_error_lost = false;
  } catch (...) {
    last_error_lost = true;
  }
  return status;
}

// Runs `body`, turning whatever it throws into a status and the message tl's error carried,
// prefixed with `who` (the C function's name). Nothing it does outside the try can throw.
template <class F>
tl_status guarded(const char* who, F&& body) noexcept {
  try {
    return body();
  } catch (const tl::rt::ArtifactError& e) {
    return fail(TL_ERROR_BAD_ARTIFACT, who, e.what());
  } catch (const tl::IoError& e) {
    return fail(TL_ERROR_IO, who, e.what());
  } catch (const tl::ShapeError& e) {
    return fail(TL_ERROR_SHAPE, who, e.what());
  } catch (const tl::DTypeError& e) {
    return fail(TL_ERROR_DTYPE, who, e.what());
  } catch (const tl::DeviceError& e) {
    return fail(TL_ERROR_DEVICE, who, e.what());
  } catch (const tl::ValueError& e) {
    return fail(TL_ERROR_INVALID_ARGUMENT, who, e.what());
  } catch (const tl::Error& e) {
    // TL_ASSERT throws a plain tl::Error with this prefix (runtime/base/base.cpp).
    static constexpr char kAssertPrefix[] = "internal error in Tracelight";
    const bool is_assert = std::strncmp(e.what(), kAssertPrefix, sizeof(kAssertPrefix) - 1) == 0;
    return fail(is_assert ? TL_ERROR_INTERNAL : TL_ERROR_RUNTIME, who, e.what());
  } catch (const std::bad_alloc&) {
    return fail(TL_ERROR_OUT_OF_MEMORY, who, "out of memory");
  } catch (const std::exception& e) {
    return fail(TL_ERROR_INTERNAL, who, "internal error in Tracelight (please report it): ", e.what());
  } catch (...) {
    return fail(TL_ERROR_INTERNAL, who, "internal error in Tracelight (please report it): an unknown exception");
  }
}

// The int a C caller stored in `d.dtype`. C lets a tl_dtype hold any int, but in C++ reading
// the field as a tl_dtype is undefined unless the value is in the enum's range (0..7 here), so
// the bytes are read as the int they are (same size: static_assert above).
int raw_dtype(const tl_tensor_desc& d) {
  int value;
  std::memcpy(&value, &d.dtype, sizeof value);
  return value;
}

bool is_valid_dtype(int d) { return d >= 0 && d < tl::kNumDTypes; }

std::string dtype_str(int d) {
  if (!is_valid_dtype(d)) return "dtype " + std::to_string(d) + " (not a tl_dtype)";
  return tl::dtype_name(static_cast<tl::DType>(d));
}

// "[4, 16]" from a caller's descriptor, read only as far as is safe.
std::string shape_str(const int64_t* shape, int32_t rank) {
  if (rank < 0 || rank > tl::kMaxRank) return "rank " + std::to_string(rank);
  std::string s = "[";
  for (int32_t i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The batch size the inputs' descriptors carry: the batch dim of the first input that has one
// (0 for a program of fixed shapes, or when that descriptor cannot be read; check_desc then
// names the problem).
int64_t batch_of(const tl::Program& program, const tl_tensor_desc* inputs, size_t n) {
  if (program.max_batch() == 0) return 0;
  for (size_t i = 0; i < n && i < program.inputs().size(); ++i) {
    const tl::TensorSignature& s = program.inputs()[i];
    if (s.batch_axis < 0) continue;
    const tl_tensor_desc& d = inputs[i];
    if (d.shape == nullptr || d.rank != static_cast<int32_t>(s.shape.size())) return 0;
    const int64_t b = d.shape[s.batch_axis];
    if (b < 1 || b > program.max_batch())
      throw tl::ShapeError("input " + std::to_string(i) + " ('" + s.name + "') has batch size " + std::to_string(b) +
                           " (dim " + std::to_string(s.batch_axis) + "); this program runs batches of 1 to " +
                           std::to_string(program.max_batch()));
    return b;
  }
  return 0;
}

// Throws ValueError / ShapeError / DTypeError when `d` does not describe a tensor `want` is
// at batch size `batch`.
void check_desc(const tl_tensor_desc& d, const tl::TensorSignature& signature, int64_t batch, const std::string& which) {
  tl::TensorSignature want = signature;
  want.shape = signature.shape_at(batch);
  const int32_t want_rank = static_cast<int32_t>(want.shape.size());
  if (d.shape == nullptr && d.rank != 0)
    throw tl::ValueError(which + ": shape is NULL with rank " + std::to_string(d.rank) + "; it must be " +
                         want.shape.str() + " " + tl::dtype_name(want.dtype));
  const bool same_shape = d.rank == want_rank && std::equal(want.shape.begin(), want.shape.end(), d.shape);
  const int dtype = raw_dtype(d);
  if (!same_shape || dtype != static_cast<int>(want.dtype)) {
    const std::string msg = which + " must be " + want.shape.str() + " " + tl::dtype_name(want.dtype) + ", got " +
                            shape_str(d.shape, d.rank) + " " + dtype_str(dtype);
    if (!same_shape) throw tl::ShapeError(msg);
    if (!is_valid_dtype(dtype)) throw tl::ValueError(msg);
    throw tl::DTypeError(msg);
  }
  if (d.data == nullptr && want.shape.numel() > 0)
    throw tl::ValueError(which + ": data is NULL for a " + want.shape.str() + " " + tl::dtype_name(want.dtype) +
                         " tensor");
}

std::string describe_slot(const char* kind, size_t i, const tl::TensorSignature& s) {
  return std::string(kind) + " " + std::to_string(i) + " ('" + s.name + "')";
}

// A device name from C: "cpu", "cuda" or "cuda:N".
tl::Device parse_device(const char* name) {
  const std::string_view n(name, strnlen(name, 64));
  if (n == "cpu") return tl::kCPU;
  if (n == "cuda") return tl::kCUDA;
  if (n.starts_with("cuda:") && n.size() > 5 && n.size() <= 9 &&
      std::all_of(n.begin() + 5, n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const int index = std::stoi(std::string(n.substr(5)));
    if (index <= INT16_MAX) return tl::cuda(index);
  }
  throw tl::ValueError("options->device '" + std::string(n.substr(0, 32)) +
                       "' is not a device tl knows: \"cpu\", \"cuda\" or \"cuda:N\"");
}

// The bytes of a tl_load_options this library reads; a caller's struct may be longer (built
// with a later header) if what it adds is 0, and is never read past this cap.
constexpr size_t kMaxLoadOptionsBytes = 4096;

// What a C caller's `options` ask (NULL: the defaults), read no further than its struct_size.
tl::ProgramLoadOptions load_options_from(const tl_load_options* options) {
  tl::ProgramLoadOptions o;
  if (options == nullptr) return o;
  const size_t size = options->struct_size;
  constexpr size_t first = offsetof(tl_load_options, device) + sizeof(options->device);
  if (size < first || size > kMaxLoadOptionsBytes)
    throw tl::ValueError("options->struct_size is " + std::to_string(size) + "; this library reads a " +
                         std::to_string(sizeof(tl_load_options)) +
                         "-byte tl_load_options (set it up with tl_load_options_init)");
  const auto* bytes = reinterpret_cast<const unsigned char*>(options);
  if (std::any_of(bytes + std::min(size, sizeof(tl_load_options)), bytes + size, [](unsigned char b) { return b != 0; }))
    throw tl::ValueError("options set fields this library does not have (struct_size " + std::to_string(size) +
                         ", this library reads " + std::to_string(sizeof(tl_load_options)) +
                         " bytes): the program was built with a later tl_runtime.h; link a later tl_runtime");
  if (options->device != nullptr) o.device = parse_device(options->device);
  return o;
}

tl_status signature_entry(const tl_program* program, size_t index, bool is_input, const char** name,
                          const int64_t** shape, int32_t* rank, tl_dtype* dtype) {
  const char* who = is_input ? "tl_program_input" : "tl_program_output";
  return guarded(who, [&] {
    if (program == nullptr) throw tl::ValueError("program is NULL");
    const std::vector<tl::TensorSignature>& sig = is_input ? program->program.inputs() : program->program.outputs();
    if (index >= sig.size())
      throw tl::ValueError(std::string(is_input ? "input" : "output") + " index " + std::to_string(index) +
                           " is out of range; the program has " + std::to_string(sig.size()));
    const tl::TensorSignature& s = sig[index];
    if (name) *name = s.name.c_str();
    if (shape) *shape = s.shape.data();
    if (rank) *rank = static_cast<int32_t>(s.shape.size());
    if (dtype) *dtype = static_cast<tl_dtype>(s.dtype);
    return TL_OK;
  });
}

tl_status load_file(const char* who, const char* path, const tl_load_options* options, tl_program** out) {
  return guarded(who, [&] {
    if (out == nullptr) throw tl::ValueError("out is NULL");
    *out = nullptr;
    if (path == nullptr) throw tl::ValueError("path is NULL");
    *out = new tl_program(tl::load_program(path, load_options_from(options)), path);
    return TL_OK;
  });
}

tl_status load_memory(const char* who, const void* data, size_t size, const char* name, const tl_load_options* options,
                      tl_program** out) {
  return guarded(who, [&] {
    if (out == nullptr) throw tl::ValueError("out is NULL");
    *out = nullptr;
    if (data == nullptr && size > 0) throw tl::ValueError("data is NULL");
    const std::string label = name != nullptr ? name : "<memory>";
    *out = new tl_program(tl::load_program_bytes(std::string_view(static_cast<const char*>(data), size), label,
                                                 load_options_from(options)),
                          label);
    return TL_OK;
  });
}

}  // namespace

extern "C" {

TL_RUNTIME_API tl_status tl_program_load(const char* path, tl_program** out) {
  return load_file("tl_program_load", path, nullptr, out);
}

TL_RUNTIME_API tl_status tl_program_load_memory(const void* data, size_t size, const char* name, tl_program** out) {
  return load_memory("tl_program_load_memory", data, size, name, nullptr, out);
}

TL_RUNTIME_API void tl_load_options_init(tl_load_options* options) {
  if (options == nullptr) return;
  std::memset(options, 0, sizeof *options);
  options->struct_size = sizeof *options;
}

TL_RUNTIME_API tl_status tl_program_load_with_options(const char* path, const tl_load_options* options,
                                                      tl_program** out) {
  return load_file("tl_program_load_with_options", path, options, out);
}

TL_RUNTIME_API tl_status tl_program_load_memory_with_options(const void* data, size_t size, const char* name,
                                                             const tl_load_options* options, tl_program** out) {
  return load_memory("tl_program_load_memory_with_options", data, size, name, options, out);
}

TL_RUNTIME_API const char* tl_program_device(const tl_program* program) {
  return program == nullptr ? nullptr : program->device.c_str();
}

TL_RUNTIME_API void tl_program_free(tl_program* program) { delete program; }

TL_RUNTIME_API int64_t tl_program_max_batch(const tl_program* program) {
  return program == nullptr ? 0 : program->program.max_batch();
}

TL_RUNTIME_API int32_t tl_program_batch_axis(const tl_program* program, int is_output, size_t index) {
  if (program == nullptr) return -1;
  const std::vector<tl::TensorSignature>& sig = is_output ? program->program.outputs() : program->program.inputs();
  return index < sig.size() ? sig[index].batch_axis : -1;
}

TL_RUNTIME_API const char* tl_last_error(void) {
  return last_error_lost ? "out of memory while recording the error message" : last_error.c_str();
}

TL_RUNTIME_API const char* tl_status_name(tl_status status) {
  switch (status) {
    case TL_OK: return "TL_OK";
    case TL_ERROR_INVALID_ARGUMENT: return "TL_ERROR_INVALID_ARGUMENT";
    case TL_ERROR_BAD_ARTIFACT: return "TL_ERROR_BAD_ARTIFACT";
    case TL_ERROR_IO: return "TL_ERROR_IO";
    case TL_ERROR_SHAPE: return "TL_ERROR_SHAPE";
    case TL_ERROR_DTYPE: return "TL_ERROR_DTYPE";
    case TL_ERROR_OUT_OF_MEMORY: return "TL_ERROR_OUT_OF_MEMORY";
    case TL_ERROR_RUNTIME: return "TL_ERROR_RUNTIME";
    case TL_ERROR_INTERNAL: return "TL_ERROR_INTERNAL";
    case TL_ERROR_DEVICE: return "TL_ERROR_DEVICE";
  }
  return "unknown tl_status";
}

TL_RUNTIME_API size_t tl_program_num_inputs(const tl_program* program) {
  return program ? program->program.inputs().size() : 0;
}

TL_RUNTIME_API size_t tl_program_num_outputs(const tl_program* program) {
  return program ? program->program.outputs().size() : 0;
}

TL_RUNTIME_API tl_status tl_program_input(const tl_program* program, size_t index, const char** name,
                                          const int64_t** shape, int32_t* rank, tl_dtype* dtype) {
  return signature_entry(program, index, true, name, shape, rank, dtype);
}

TL_RUNTIME_API tl_status tl_program_output(const tl_program* program, size_t index, const char** name,
                                           const int64_t** shape, int32_t* rank, tl_dtype* dtype) {
  return signature_entry(program, index, false, name, shape, rank, dtype);
}

TL_RUNTIME_API tl_status tl_program_run(tl_program* program, const tl_tensor_desc* inputs, size_t n_inputs,
                                        tl_tensor_desc* outputs, size_t n_outputs) {
  return guarded("tl_program_run", [&] {
    if (program == nullptr) throw tl::ValueError("program is NULL");
    const std::string who = "program '" + program->path + "': ";
    const std::vector<tl::TensorSignature>& in_sig = program->program.inputs();
    const std::vector<tl::TensorSignature>& out_sig = program->program.outputs();
    if (n_inputs != in_sig.size() || n_outputs != out_sig.size())
      throw tl::ValueError(who + "takes " + std::to_string(in_sig.size()) + " inputs and " +
                           std::to_string(out_sig.size()) + " outputs, got " + std::to_string(n_inputs) + " and " +
                           std::to_string(n_outputs));
    if (inputs == nullptr && n_inputs > 0) throw tl::ValueError(who + "inputs is NULL");
    if (outputs == nullptr && n_outputs > 0) throw tl::ValueError(who + "outputs is NULL");
    int64_t batch = 0;
    try {
      batch = batch_of(program->program, inputs, n_inputs);
    } catch (const tl::ShapeError& e) {
      throw tl::ShapeError(who + e.what());
    }
    std::vector<tl::Tensor> args, results;
    args.reserve(n_inputs);
    results.reserve(n_outputs);
    // Wrapped, not copied: the program reads its inputs and writes its outputs in place, the
    // outputs only once every result is ready (tl::Program::run).
    for (size_t i = 0; i < n_inputs; ++i) {
      check_desc(inputs[i], in_sig[i], batch, who + describe_slot("input", i, in_sig[i]));
      args.push_back(tl::from_blob(inputs[i].data, in_sig[i].shape_at(batch), in_sig[i].dtype));
    }
    for (size_t i = 0; i < n_outputs; ++i) {
      check_desc(outputs[i], out_sig[i], batch, who + describe_slot("output", i, out_sig[i]));
      results.push_back(tl::from_blob(outputs[i].data, out_sig[i].shape_at(batch), out_sig[i].dtype));
    }
    if (program->program.device().type == tl::DeviceType::kCPU) {
      program->program.run(std::span<const tl::Tensor>(args), std::span<tl::Tensor>(results));
      return TL_OK;
    }
    // On a GPU the inputs are copied there and the results back, each into host memory of its
    // own first, so a run that fails writes none of the caller's buffers.
    std::vector<tl::Tensor> got = program->program(std::span<const tl::Tensor>(args));
    tl::rt::DeviceBackend& device = tl::rt::backend_for(program->program.device(), "tl_program_run");
    std::vector<std::vector<char>> host(got.size());
    for (size_t i = 0; i < got.size(); ++i) {
      tl::Tensor t = got[i];
      if (!t.is_contiguous()) {
        t = tl::ops::empty_tensor(got[i].shape(), got[i].dtype(), got[i].device());
        tl::ops::strided_copy(got[i], t);
      }
      host[i].resize(t.nbytes());
      if (t.nbytes() > 0) device.copy(host[i].data(), tl::kCPU, t.data_ptr(), t.device(), t.nbytes());
    }
    for (size_t i = 0; i < n_outputs; ++i)
      if (!host[i].empty()) std::memcpy(results[i].data_ptr(), host[i].data(), host[i].size());
    return TL_OK;
  });
}

}  // extern "C"
