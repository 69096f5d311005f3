/* A plain C API for running compiled artifacts (tl::export_program) from C or any language
 * with a C FFI. Implemented in runtime/program/c_api.cpp over tl::load_program; link
 * libtl_runtime (libtl brings it too).
 * Compiles as C11 and as C++; see docs/c_api.md for a complete example. */
#ifndef TL_RUNTIME_H_
#define TL_RUNTIME_H_

#include <stddef.h>
#include <stdint.h>

/* Exported from libtl_runtime even when it is built with hidden visibility. */
#if defined(__GNUC__)
#define TL_RUNTIME_API __attribute__((visibility("default")))
#else
#define TL_RUNTIME_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* What a call returns. On anything but TL_OK, tl_last_error() says what went wrong. */
typedef enum tl_status {
  TL_OK = 0,
  TL_ERROR_INVALID_ARGUMENT = 1, /* a null pointer, an index out of range, a count or enum value that is wrong */
  TL_ERROR_BAD_ARTIFACT = 2,     /* not a valid artifact for this build (corrupt, truncated, newer tl, other CPU) */
  TL_ERROR_IO = 3,               /* the file could not be opened or read */
  TL_ERROR_SHAPE = 4,            /* a tensor's rank or shape differs from the program's signature */
  TL_ERROR_DTYPE = 5,            /* a tensor's dtype differs from the program's signature */
  TL_ERROR_OUT_OF_MEMORY = 6,
  TL_ERROR_RUNTIME = 7,          /* the program failed while running; the message is tl's */
  TL_ERROR_INTERNAL = 8,         /* a bug in Tracelight; please report the message */
  TL_ERROR_DEVICE = 9            /* the device asked for is not available here (no GPU, no driver), the
                                    program cannot run on it, or it failed */
} tl_status;

/* Element types, in the order of tl::DType. float16 and bfloat16 are 16-bit storage
 * (IEEE binary16, and the top half of a float32); bool is one byte, 0 or 1. */
typedef enum tl_dtype {
  TL_FLOAT32 = 0,
  TL_FLOAT64 = 1,
  TL_FLOAT16 = 2,
  TL_BFLOAT16 = 3,
  TL_INT32 = 4,
  TL_INT64 = 5,
  TL_BOOL = 6
} tl_dtype;

/* A tensor in caller-owned memory: `rank` dims `shape[0..rank)`, row-major and contiguous
 * (the last dim varies fastest), `dtype` elements starting at `data`. `shape` may be NULL
 * when `rank` is 0 (a scalar, one element). The library never keeps these pointers past the
 * call that receives them. */
typedef struct tl_tensor_desc {
  void* data;
  const int64_t* shape;
  int32_t rank;
  tl_dtype dtype;
} tl_tensor_desc;

/* A loaded, verified program. Opaque; create with tl_program_load, free with tl_program_free. */
typedef struct tl_program tl_program;

/* Opens and verifies the artifact at `path` (structure, checksums, version, CPU features,
 * every op) and allocates its weights and working memory once. On success stores a new
 * program in `*out`; on failure stores NULL there (when `out` is not NULL) and returns
 * TL_ERROR_IO (cannot read the file), TL_ERROR_BAD_ARTIFACT (not a valid artifact; the
 * message names the file and the problem), TL_ERROR_OUT_OF_MEMORY,
 * TL_ERROR_INVALID_ARGUMENT (`path` or `out` is NULL) or TL_ERROR_DEVICE (the artifact runs on
 * CUDA by default, written by `tlc --target cuda`, and there is no GPU: see
 * tl_program_load_with_options to choose the device). */
TL_RUNTIME_API tl_status tl_program_load(const char* path, tl_program** out);

/* As tl_program_load, for an artifact's `size` bytes at `data` (embedded in a program or a
 * library, received over a network). The bytes are copied; `data` need not outlive the call.
 * `name` (may be NULL) stands for the artifact in messages. */
TL_RUNTIME_API tl_status tl_program_load_memory(const void* data, size_t size, const char* name, tl_program** out);

/* How to load a program (tl_program_load_with_options). Set it up with tl_load_options_init,
 * which fills in `struct_size` and the defaults, then set the fields you need. Versioned by
 * `struct_size`: fields are only ever added at the end, with 0 (or NULL) meaning their default,
 * so a program built against this header works with later libraries, and a later program's
 * options work with this library as long as it leaves the fields this one lacks at 0. */
typedef struct tl_load_options {
  size_t struct_size; /* sizeof(tl_load_options) as the caller was compiled */
  /* Where the program runs: "cpu", "cuda" (GPU 0) or "cuda:N". On a GPU its weights are
   * copied there once at load and each run copies the inputs there and the results back into
   * the caller's buffers. NULL: the artifact's default device (CUDA for an artifact written by
   * `tlc --target cuda`, else the CPU). */
  const char* device;
} tl_load_options;

/* Sets `*options` to the defaults (and its struct_size). NULL is ignored. */
TL_RUNTIME_API void tl_load_options_init(tl_load_options* options);

/* As tl_program_load and tl_program_load_memory, with `options` (NULL: the defaults). Besides
 * their statuses: TL_ERROR_INVALID_ARGUMENT for a device name that is not one of the above or
 * a struct_size this library cannot read (the message says which), and TL_ERROR_DEVICE when
 * that device is not available here or the program cannot run on it, said after the whole
 * artifact has been verified. */
TL_RUNTIME_API tl_status tl_program_load_with_options(const char* path, const tl_load_options* options,
                                                      tl_program** out);
TL_RUNTIME_API tl_status tl_program_load_memory_with_options(const void* data, size_t size, const char* name,
                                                             const tl_load_options* options, tl_program** out);

/* Where `program` runs: "cpu" or "cuda:0" (NULL when `program` is NULL). Valid until
 * tl_program_free. */
TL_RUNTIME_API const char* tl_program_device(const tl_program* program);

/* Releases `program` and everything it holds. NULL is accepted and ignored. Must not run
 * while another thread uses the same program. */
TL_RUNTIME_API void tl_program_free(tl_program* program);

/* The message of the last call that failed on this thread ("" when none has). A successful
 * call leaves it unchanged. The pointer stays valid until the next failing call on this
 * thread; copy the text to keep it. */
TL_RUNTIME_API const char* tl_last_error(void);

/* "TL_OK", "TL_ERROR_SHAPE", ...; "unknown tl_status" for a value not listed above. */
TL_RUNTIME_API const char* tl_status_name(tl_status status);

/* The number of inputs and outputs of the program's signature (0 when `program` is NULL). */
TL_RUNTIME_API size_t tl_program_num_inputs(const tl_program* program);
TL_RUNTIME_API size_t tl_program_num_outputs(const tl_program* program);

/* The name, shape, rank and dtype input (or output) `index` must have. Any of the result
 * pointers may be NULL to skip that field. `*name` and `*shape` point into the program and
 * stay valid until tl_program_free. Returns TL_ERROR_INVALID_ARGUMENT when `program` is NULL
 * or `index` is out of range. */
TL_RUNTIME_API tl_status tl_program_input(const tl_program* program, size_t index, const char** name,
                                          const int64_t** shape, int32_t* rank, tl_dtype* dtype);
TL_RUNTIME_API tl_status tl_program_output(const tl_program* program, size_t index, const char** name,
                                           const int64_t** shape, int32_t* rank, tl_dtype* dtype);

/* The largest batch size the program runs at, or 0 when its shapes are fixed. A batched
 * program takes any batch size from 1 to that in the batch dim of each input and output that
 * has one (tl_program_batch_axis; the signature's shapes are at the maximum). */
TL_RUNTIME_API int64_t tl_program_max_batch(const tl_program* program);
/* The batch dim of input (is_output == 0) or output `index`, or -1 when it has none or the
 * arguments are out of range. */
TL_RUNTIME_API int32_t tl_program_batch_axis(const tl_program* program, int is_output, size_t index);

/* Runs the program on `inputs[0..n_inputs)` and writes its results into the caller's buffers
 * `outputs[0..n_outputs)`. Every descriptor is checked before anything runs: the counts must
 * equal the signature's (TL_ERROR_INVALID_ARGUMENT), the array pointers and each `data`
 * must not be NULL (TL_ERROR_INVALID_ARGUMENT; `data` may be NULL only for a tensor with no
 * elements), each rank and shape must equal the signature's (TL_ERROR_SHAPE; for a batched
 * program the batch dims may hold any one batch size up to the maximum), each dtype
 * too (TL_ERROR_DTYPE). Inputs are read, never written. The results are computed into the
 * program's own memory and copied into `outputs` only once all of them are ready, so on
 * failure the output buffers are untouched. Output buffers must not overlap the inputs or
 * each other.
 * Thread-safe: concurrent calls on one program run in parallel, each with working memory of
 * its own (allocated on a thread's first call), sharing the weights. On a GPU the buffers stay
 * host memory: the inputs are copied to the device, and the results back once all are ready. */
TL_RUNTIME_API tl_status tl_program_run(tl_program* program, const tl_tensor_desc* inputs, size_t n_inputs,
                                        tl_tensor_desc* outputs, size_t n_outputs);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TL_RUNTIME_H_ */
