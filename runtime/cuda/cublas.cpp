// The cuBLASLt entry points tl uses, looked up by name. The declarations and constants mirror
// cublasLt.h, cublas_api.h and library_types.h of CUDA 13.0 (stable since CUDA 11), so that
// building tl needs no CUDA header.
#include "runtime/cuda/cublas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

#include "runtime/cuda/launch.h"
#include "tl/error.h"

namespace tl::rt::cuda {

namespace {

// C enums are passed as int; handles and descriptors are pointers to opaque structs.
using Status = int;  // cublasStatus_t
constexpr Status kSuccess = 0;        // CUBLAS_STATUS_SUCCESS
constexpr Status kNotSupported = 15;  // CUBLAS_STATUS_NOT_SUPPORTED

// cudaDataType_t (library_types.h)
constexpr int kCudaR32F = 0;   // CUDA_R_32F
constexpr int kCudaR64F = 1;   // CUDA_R_64F
constexpr int kCudaR16F = 2;   // CUDA_R_16F
constexpr int kCudaR16BF = 14;  // CUDA_R_16BF
// cublasComputeType_t (cublas_api.h)
constexpr int kCompute32F = 68;  // CUBLAS_COMPUTE_32F: IEEE float, no TF32 down-conversion
constexpr int kCompute64F = 70;  // CUBLAS_COMPUTE_64F
// cublasOperation_t
constexpr int32_t kOpN = 0;  // CUBLAS_OP_N
constexpr int32_t kOpT = 1;  // CUBLAS_OP_T
// cublasLtMatmulDescAttributes_t
constexpr int kDescTransA = 3;       // CUBLASLT_MATMUL_DESC_TRANSA, int32_t
constexpr int kDescTransB = 4;       // CUBLASLT_MATMUL_DESC_TRANSB, int32_t
constexpr int kDescEpilogue = 7;     // CUBLASLT_MATMUL_DESC_EPILOGUE, uint32_t
constexpr int kDescBiasPointer = 8;  // CUBLASLT_MATMUL_DESC_BIAS_POINTER, const void*
// cublasLtEpilogue_t
constexpr uint32_t kEpilogueDefault = 1;   // CUBLASLT_EPILOGUE_DEFAULT
constexpr uint32_t kEpilogueRelu = 2;      // CUBLASLT_EPILOGUE_RELU
constexpr uint32_t kEpilogueBias = 4;      // CUBLASLT_EPILOGUE_BIAS: a vector along D's rows
constexpr uint32_t kEpilogueReluBias = 6;  // CUBLASLT_EPILOGUE_RELU_BIAS: bias, then relu
// cublasLtMatrixLayoutAttribute_t
constexpr int kLayoutBatchCount = 5;   // CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, int32_t
constexpr int kLayoutBatchStride = 6;  // CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, int64_t
// cublasLtMatmulPreferenceAttributes_t
constexpr int kPrefMaxWorkspace = 1;     // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t
constexpr int kPrefReductionMask = 3;    // CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, uint32_t
constexpr int kPrefAlignmentA = 5;       // CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, uint32_t (B, C, D: 6, 7, 8)
constexpr uint32_t kReductionInComputeType = 2;  // CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE
constexpr uint32_t kReductionInOutputType = 4;   // CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE

// What NVIDIA suggests for Hopper: enough for split-K and the larger tiles.
constexpr uint64_t kMaxWorkspaceBytes = 32ull << 20;

// cublasLtMatmulAlgo_t and cublasLtMatmulHeuristicResult_t, as laid out in cublasLt.h.
struct Algo {
  uint64_t data[8];
};
struct HeuristicResult {
  Algo algo;
  size_t workspace_size;
  Status state;
  float waves_count;
  int reserved[4];
};
static_assert(sizeof(HeuristicResult) == 96, "cublasLtMatmulHeuristicResult_t is 96 bytes");

using CreateFn = Status (*)(void**);
using DestroyFn = Status (*)(void*);
using VersionFn = size_t (*)();
using StatusTextFn = const char* (*)(Status);
using DescCreateFn = Status (*)(void**, int compute_type, int scale_type);
using SetAttributeFn = Status (*)(void*, int attr, const void* value, size_t bytes);
using LayoutCreateFn = Status (*)(void**, int type, uint64_t rows, uint64_t cols, int64_t ld);
using HeuristicFn = Status (*)(void* handle, void* desc, void* a, void* b, void* c, void* d, void* preference,
                               int requested, HeuristicResult* results, int* returned);
using MatmulFn = Status (*)(void* handle, void* desc, const void* alpha, const void* a, void* a_layout, const void* b,
                            void* b_layout, const void* beta, const void* c, void* c_layout, void* d, void* d_layout,
                            const Algo* algo, void* workspace, size_t workspace_bytes, void* stream);

template <class F>
F symbol(void* library, const char* name) {
  return reinterpret_cast<F>(::dlsym(library, name));
}

constexpr const char* kSymbols[] = {
    "cublasLtCreate", "cublasLtGetVersion", "cublasLtGetStatusName", "cublasLtGetStatusString",
    "cublasLtMatmulDescCreate", "cublasLtMatmulDescDestroy", "cublasLtMatmulDescSetAttribute",
    "cublasLtMatrixLayoutCreate", "cublasLtMatrixLayoutDestroy", "cublasLtMatrixLayoutSetAttribute",
    "cublasLtMatmulPreferenceCreate", "cublasLtMatmulPreferenceDestroy", "cublasLtMatmulPreferenceSetAttribute",
    "cublasLtMatmulAlgoGetHeuristic", "cublasLtMatmul"};

std::string status_text(void* library, Status s) {
  const char* name = symbol<StatusTextFn>(library, "cublasLtGetStatusName")(s);
  const char* text = symbol<StatusTextFn>(library, "cublasLtGetStatusString")(s);
  return std::string(name ? name : "status " + std::to_string(s)) + (text ? std::string(" (") + text + ")" : "");
}

std::string version_text(void* library) {
  const size_t v = symbol<VersionFn>(library, "cublasLtGetVersion")();  // major * 10000 + minor * 100 + patch
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

// The largest power of two (up to 256, cuBLASLt's default demand) dividing `p`: what the
// heuristic may assume of a buffer's alignment.
uint32_t alignment_of(DevicePtr p) {
  uint32_t a = 256;
  while (a > 1 && p % a != 0) a /= 2;
  return a;
}

// Descriptors destroyed on every path out of matmul().
class Descriptors {
 public:
  explicit Descriptors(void* library) : library_(library) {}
  ~Descriptors() {
    for (void* l : layouts_) symbol<DestroyFn>(library_, "cublasLtMatrixLayoutDestroy")(l);
    if (desc_) symbol<DestroyFn>(library_, "cublasLtMatmulDescDestroy")(desc_);
    if (preference_) symbol<DestroyFn>(library_, "cublasLtMatmulPreferenceDestroy")(preference_);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;

  void* layout(int type, int64_t rows, int64_t cols, int64_t ld, int64_t batch, int64_t batch_stride) {
    void* l = nullptr;
    check(symbol<LayoutCreateFn>(library_, "cublasLtMatrixLayoutCreate")(&l, type, static_cast<uint64_t>(rows),
                                                                          static_cast<uint64_t>(cols), ld),
          "cublasLtMatrixLayoutCreate");
    layouts_.push_back(l);
    if (batch > 1) {
      const auto count = static_cast<int32_t>(batch);
      set(l, "cublasLtMatrixLayoutSetAttribute", kLayoutBatchCount, count);
      set(l, "cublasLtMatrixLayoutSetAttribute", kLayoutBatchStride, batch_stride);
    }
    return l;
  }
  void* desc(int compute_type, int scale_type) {
    check(symbol<DescCreateFn>(library_, "cublasLtMatmulDescCreate")(&desc_, compute_type, scale_type),
          "cublasLtMatmulDescCreate");
    return desc_;
  }
  void* preference() {
    check(symbol<CreateFn>(library_, "cublasLtMatmulPreferenceCreate")(&preference_), "cublasLtMatmulPreferenceCreate");
    return preference_;
  }
  template <class V>
  void set(void* object, const char* setter, int attr, const V& value) {
    check(symbol<SetAttributeFn>(library_, setter)(object, attr, &value, sizeof(V)), setter);
  }
  void check(Status s, const char* what) const {
    if (s != kSuccess) throw DeviceError(std::string("tl: ") + what + " failed: " + status_text(library_, s));
  }

 private:
  void* library_;
  std::vector<void*> layouts_;
  void* desc_ = nullptr;
  void* preference_ = nullptr;
};

}  // namespace

const CublasLt* CublasLt::get(std::string* why) {
  static std::string reason;
  static const CublasLt* instance = []() -> const CublasLt* {
    std::vector<std::string> candidates{"libcublasLt.so.13", "libcublasLt.so.12"};
    std::vector<std::string> roots;
    if (const char* home = std::getenv("CUDA_HOME")) roots.push_back(home);
    roots.push_back("/usr/local/cuda");
    for (const std::string& root : roots)
      for (const char* lib : {"libcublasLt.so.13", "libcublasLt.so.12"}) candidates.push_back(root + "/lib64/" + lib);
    void* library = nullptr;
    std::string path;
    for (const std::string& c : candidates) {
      if ((library = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL)) != nullptr) {
        path = c;
        break;
      }
    }
    if (library == nullptr) {
      reason = "no cuBLASLt library (libcublasLt.so.13 or .so.12) on the loader's path or under $CUDA_HOME/lib64 or "
               "/usr/local/cuda/lib64";
      return nullptr;
    }
    for (const char* name : kSymbols) {
      if (::dlsym(library, name) == nullptr) {
        reason = "the cuBLASLt library " + path + " lacks " + name;
        return nullptr;
      }
    }
    // A handle belongs to the device current when it is made: device 0's primary context,
    // the one tl's kernels run in.
    std::string no_device;
    if (Driver::get(&no_device) == nullptr) {
      reason = "cuBLASLt " + version_text(library) + " (" + path + ") is loaded, but a handle needs a CUDA device: " +
               no_device;
      return nullptr;
    }
    void* handle = nullptr;
    if (const Status s = symbol<CreateFn>(library, "cublasLtCreate")(&handle); s != kSuccess) {
      reason = "cuBLASLt " + version_text(library) + " (" + path + "): cublasLtCreate failed: " + status_text(library, s);
      return nullptr;
    }
    auto* lt = new CublasLt();  // lives for the process, as the context does
    lt->library_ = library;
    lt->handle_ = handle;
    return lt;
  }();
  if (instance == nullptr) {
    if (why != nullptr) *why = reason;
    return nullptr;
  }
  Driver::get();  // the primary context current on this thread, for the calls that follow
  return instance;
}

std::string CublasLt::version() const { return version_text(library_); }

bool CublasLt::matmul(const LtProblem& p, const std::function<DevicePtr(size_t)>& workspace, std::string* why) const {
  // Element type; 16-bit and float32 products accumulate and scale in float, float64 in double.
  int type = kCudaR32F, compute = kCompute32F, scale = kCudaR32F;
  switch (p.dtype) {
    case kFloat32: break;
    case kFloat64:
      type = scale = kCudaR64F;
      compute = kCompute64F;
      break;
    case kFloat16: type = kCudaR16F; break;
    case kBFloat16: type = kCudaR16BF; break;
    default:
      if (why) *why = std::string("cuBLASLt has no ") + dtype_name(p.dtype) + " product";
      return false;
  }
  // cuBLASLt is column-major: the row-major out (M, N) is the column-major (N, M) matrix
  // out^T = b^T a^T, so b is its first operand and a its second. A row-major operand (column
  // stride 1) is its own transpose read column-major; a transposed view (row stride 1) is
  // read as it is and transposed by the op.
  Descriptors d(library_);
  const bool b_rows = p.b.col_stride == 1, a_rows = p.a.col_stride == 1;
  void* b_layout = b_rows ? d.layout(type, p.N, p.K, p.b.row_stride, p.batch, p.b.batch_stride)
                          : d.layout(type, p.K, p.N, p.b.col_stride, p.batch, p.b.batch_stride);
  void* a_layout = a_rows ? d.layout(type, p.K, p.M, p.a.row_stride, p.batch, p.a.batch_stride)
                          : d.layout(type, p.M, p.K, p.a.col_stride, p.batch, p.a.batch_stride);
  void* out_layout = d.layout(type, p.N, p.M, p.N, p.batch, p.M * p.N);
  void* desc = d.desc(compute, scale);
  d.set(desc, "cublasLtMatmulDescSetAttribute", kDescTransA, b_rows ? kOpN : kOpT);
  d.set(desc, "cublasLtMatmulDescSetAttribute", kDescTransB, a_rows ? kOpN : kOpT);
  // The bias runs along out's last dim: the rows of the column-major out^T, as the epilogue adds it.
  const uint32_t epilogue = p.bias != 0 ? (p.relu ? kEpilogueReluBias : kEpilogueBias)
                                        : (p.relu ? kEpilogueRelu : kEpilogueDefault);
  d.set(desc, "cublasLtMatmulDescSetAttribute", kDescEpilogue, epilogue);
  if (p.bias != 0) {
    const void* bias = reinterpret_cast<const void*>(p.bias);
    d.set(desc, "cublasLtMatmulDescSetAttribute", kDescBiasPointer, bias);
  }
  void* preference = d.preference();
  d.set(preference, "cublasLtMatmulPreferenceSetAttribute", kPrefMaxWorkspace, kMaxWorkspaceBytes);
  const DevicePtr buffers[4] = {p.b.data, p.a.data, p.out, p.out};  // cuBLASLt's A, B, C, D
  for (int i = 0; i < 4; ++i)
    d.set(preference, "cublasLtMatmulPreferenceSetAttribute", kPrefAlignmentA + i, alignment_of(buffers[i]));
  // Split-K partial sums are reduced by a separate pass over the workspace, in a fixed order,
  // never in place in the output (CUBLASLT_REDUCTION_SCHEME_INPLACE adds with atomics, so its
  // results vary run to run); those of 16-bit products in float, not rounded to 16 bits first.
  const uint32_t reductions = p.dtype == kFloat16 || p.dtype == kBFloat16 ? kReductionInComputeType
                                                                          : kReductionInComputeType | kReductionInOutputType;
  d.set(preference, "cublasLtMatmulPreferenceSetAttribute", kPrefReductionMask, reductions);

  HeuristicResult result{};
  int found = 0;
  const Status s = symbol<HeuristicFn>(library_, "cublasLtMatmulAlgoGetHeuristic")(
      handle_, desc, b_layout, a_layout, out_layout, out_layout, preference, 1, &result, &found);
  if (s != kSuccess || found < 1 || result.state != kSuccess) {
    if (why) {
      *why = std::string("cuBLASLt has no algorithm for a ") + dtype_name(p.dtype) + " product of " + std::to_string(p.batch) +
             " x (" + std::to_string(p.M) + ", " + std::to_string(p.K) + ") @ (" + std::to_string(p.K) + ", " +
             std::to_string(p.N) + ")" + (s != kSuccess ? ": " + status_text(library_, s) : "");
    }
    return false;
  }
  const DevicePtr scratch = result.workspace_size > 0 ? workspace(result.workspace_size) : 0;
  const float alpha32 = 1, beta32 = 0;
  const double alpha64 = 1, beta64 = 0;
  const bool in_double = scale == kCudaR64F;
  const void* alpha = in_double ? static_cast<const void*>(&alpha64) : &alpha32;
  const void* beta = in_double ? static_cast<const void*>(&beta64) : &beta32;
  auto* out = reinterpret_cast<void*>(p.out);
  const Status run = symbol<MatmulFn>(library_, "cublasLtMatmul")(
      handle_, desc, alpha, reinterpret_cast<const void*>(p.b.data), b_layout, reinterpret_cast<const void*>(p.a.data),
      a_layout, beta, out, out_layout, out, out_layout, &result.algo, reinterpret_cast<void*>(scratch),
      result.workspace_size, current_stream());  // the stream tl's kernels run on
  // An algorithm the heuristic offered may still refuse the problem; nothing was written then.
  if (run == kNotSupported) {
    if (why) *why = "cublasLtMatmul refused the algorithm its heuristic picked: " + status_text(library_, run);
    return false;
  }
  d.check(run, "cublasLtMatmul");
  return true;
}

}  // namespace tl::rt::cuda
