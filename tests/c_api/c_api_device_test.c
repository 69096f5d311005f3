/* The C API's device option (tl_load_options), from a program compiled as C11, on the MLP
 * artifact that c_api_make_artifact wrote into argv[1]: the options' defaults and versioning,
 * device names that are refused, the CPU, and CUDA. Built twice: plain, where CUDA must be
 * refused as unavailable (or, on a GPU, run), and linked with the emulated CUDA device
 * (tests/runtime/cuda_emulation.h) and run with --emulated, where the program must load on CUDA
 * and compute the eager model's output through the host buffers. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_api_checks.h"
#include "tl_runtime.h"

enum { N = 4, IN = 16, OUT = 3 };

/* Runs `program` on x into y; 1 when y is within `tolerance` (relative, and absolute near 0) of `expected`. */
static int runs_close(tl_program* program, const float* x, const float* expected, float tolerance) {
  const int64_t x_shape[2] = {N, IN}, y_shape[2] = {N, OUT};
  float y[N * OUT];
  tl_tensor_desc in, out;
  size_t i;
  int close = 1;
  in = float_matrix((void*)x, x_shape);
  out = float_matrix(y, y_shape);
  memset(y, 0, sizeof y);
  if (tl_program_run(program, &in, 1, &out, 1) != TL_OK) {
    fprintf(stderr, "tl_program_run: %s\n", tl_last_error());
    return 0;
  }
  for (i = 0; i < N * OUT; ++i) {
    if (fabsf(y[i] - expected[i]) > tolerance * (1.0f + fabsf(expected[i]))) {
      fprintf(stderr, "element %zu: %g, want %g\n", i, (double)y[i], (double)expected[i]);
      close = 0;
    }
  }
  return close;
}

int main(int argc, char** argv) {
  static char bytes[1 << 20];
  char path[4096];
  float x[N * IN], expected[N * OUT];
  tl_program* program = NULL;
  tl_load_options options;
  size_t size;
  FILE* f;
  int emulated;

  if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--emulated") != 0)) {
    fprintf(stderr, "usage: %s ARTIFACT_FOLDER [--emulated]\n", argv[0]);
    return 2;
  }
  emulated = argc == 3;
  if (!read_floats(argv[1], "input.f32", x, N * IN) || !read_floats(argv[1], "expected.f32", expected, N * OUT))
    return 1;
  snprintf(path, sizeof path, "%s/mlp.tlart", argv[1]);
  f = fopen(path, "rb");
  if (f == NULL) return 1;
  size = fread(bytes, 1, sizeof bytes, f);
  fclose(f);

  /* The defaults: the artifact's own device (this one's is the CPU). */
  memset(&options, 0xab, sizeof options);
  tl_load_options_init(&options);
  CHECK(options.struct_size == sizeof options && options.device == NULL);
  tl_load_options_init(NULL);
  CHECK(tl_program_load_with_options(path, &options, &program) == TL_OK);
  CHECK(program != NULL && strcmp(tl_program_device(program), "cpu") == 0);
  CHECK(runs_close(program, x, expected, 0.0f));
  tl_program_free(program);
  CHECK(tl_program_load_with_options(path, NULL, &program) == TL_OK);
  CHECK(strcmp(tl_program_device(program), "cpu") == 0);
  tl_program_free(program);
  CHECK(tl_program_device(NULL) == NULL);

  /* The CPU by name: the eager output bit for bit. */
  options.device = "cpu";
  CHECK(tl_program_load_with_options(path, &options, &program) == TL_OK);
  CHECK(runs_close(program, x, expected, 0.0f));
  tl_program_free(program);

  /* Names that are not devices, and options this library cannot read; nothing is loaded. */
  {
    const char* bad[] = {"tpu", "CUDA", "cuda:", "cuda:x", "cuda:99999", "", "cpu "};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
      program = (tl_program*)&options;
      options.device = bad[i];
      CHECK_FAILS(tl_program_load_with_options(path, &options, &program), TL_ERROR_INVALID_ARGUMENT,
                  "is not a device tl knows: \"cpu\", \"cuda\" or \"cuda:N\"");
      CHECK(program == NULL);
      CHECK(strstr(tl_last_error(), "tl_program_load_with_options") != NULL);
    }
    options.device = "tpu";
    CHECK_FAILS(tl_program_load_memory_with_options(bytes, size, "mlp", &options, &program), TL_ERROR_INVALID_ARGUMENT,
                "options->device 'tpu'");
  }
  {
    /* A caller built with a later header: what this library lacks must be left at 0. */
    struct {
      tl_load_options known;
      int64_t later;
    } longer;
    memset(&longer, 0, sizeof longer);
    tl_load_options_init(&longer.known);
    longer.known.struct_size = sizeof longer;
    CHECK(tl_program_load_with_options(path, &longer.known, &program) == TL_OK);
    tl_program_free(program);
    longer.later = 1;
    CHECK_FAILS(tl_program_load_with_options(path, &longer.known, &program), TL_ERROR_INVALID_ARGUMENT,
                "options set fields this library does not have");
    CHECK(program == NULL);
    tl_load_options_init(&options);
    options.struct_size = 0;
    CHECK_FAILS(tl_program_load_with_options(path, &options, &program), TL_ERROR_INVALID_ARGUMENT,
                "options->struct_size is 0");
    options.struct_size = (size_t)1 << 40;
    CHECK_FAILS(tl_program_load_with_options(path, &options, &program), TL_ERROR_INVALID_ARGUMENT,
                "set it up with tl_load_options_init");
    tl_load_options_init(&options);
    CHECK_FAILS(tl_program_load_with_options(NULL, &options, &program), TL_ERROR_INVALID_ARGUMENT, "path is NULL");
    CHECK_FAILS(tl_program_load_with_options(path, &options, NULL), TL_ERROR_INVALID_ARGUMENT, "out is NULL");
  }

  /* CUDA: loaded and run through host buffers where there is a device (emulated here, or a
   * GPU), else refused as unavailable once the artifact is verified. */
  {
    const char* names[] = {"cuda", "cuda:0"};
    size_t i;
    for (i = 0; i < 2; ++i) {
      tl_status status;
      tl_load_options_init(&options);
      options.device = names[i];
      program = (tl_program*)&options;
      status = tl_program_load_with_options(path, &options, &program);
      if (status == TL_OK) {
        CHECK(strcmp(tl_program_device(program), "cuda:0") == 0);
        /* Another summation order than the CPU's (the device's matrix product). */
        CHECK(runs_close(program, x, expected, 1e-5f));
        CHECK(runs_close(program, x, expected, 1e-5f));
        tl_program_free(program);
      } else {
        CHECK(!emulated);
        CHECK_FAILS(status, TL_ERROR_DEVICE, "not available");
        CHECK(strstr(tl_last_error(), "mlp.tlart") != NULL && strstr(tl_last_error(), "cuda") != NULL);
        CHECK(program == NULL);
      }
    }
    {
      tl_status status = tl_program_load_memory_with_options(bytes, size, "mlp in memory", &options, &program);
      if (status == TL_OK) {
        CHECK(runs_close(program, x, expected, 1e-5f));
        tl_program_free(program);
      } else {
        CHECK(!emulated);
        CHECK_FAILS(status, TL_ERROR_DEVICE, "mlp in memory");
      }
    }
  }
  CHECK(strcmp(tl_status_name(TL_ERROR_DEVICE), "TL_ERROR_DEVICE") == 0);

  return report(emulated ? "c_api_device_test (emulated CUDA device)" : "c_api_device_test");
}
