/* What the C API's test programs (C11) share: checks that count failures and go on, so one run
 * reports every broken check, and reading the files c_api_make_artifact writes. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tl_runtime.h"

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* A call that must fail with `want` and leave a message containing `part`. */
#define CHECK_FAILS(call, want, part)                                                                  \
  do {                                                                                                 \
    tl_status got_ = (call);                                                                           \
    if (got_ != (want) || strstr(tl_last_error(), (part)) == NULL) {                                   \
      fprintf(stderr, "%s:%d: %s returned %s (want %s), message \"%s\" (want it to mention \"%s\")\n", \
              __FILE__, __LINE__, #call, tl_status_name(got_), tl_status_name(want), tl_last_error(), (part)); \
      ++failures;                                                                                      \
    }                                                                                                  \
  } while (0)

/* Reads exactly `count` floats from `dir`/`name` (the host's byte order, little-endian). */
static int read_floats(const char* dir, const char* name, float* out, size_t count) {
  char path[4096];
  FILE* f;
  size_t got;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return 0;
  }
  got = fread(out, sizeof(float), count, f);
  fclose(f);
  if (got != count) fprintf(stderr, "%s: read %zu floats, want %zu\n", path, got, count);
  return got == count;
}

/* A float32 matrix of `shape` (2 dims) at `data`: how the MLP's input and output are described. */
static tl_tensor_desc float_matrix(void* data, const int64_t* shape) {
  tl_tensor_desc d;
  d.data = data;
  d.shape = shape;
  d.rank = 2;
  d.dtype = TL_FLOAT32;
  return d;
}

/* The program's exit status: 1 after counting the failed checks, else 0 after saying that
 * `name` passed. */
static int report(const char* name) {
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}
