/* The C API of tl_runtime.h, from a program compiled as C11: loads the MLP artifact that
 * c_api_make_artifact wrote into argv[1], checks its signature, runs it into buffers of its
 * own and compares with the eager model's output bit for bit, then checks that each misuse
 * returns its status and leaves a message naming the problem, that messages are per thread,
 * and that two threads can run one program at once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef __STDC_NO_THREADS__
#include <threads.h>
#endif

#include "c_api_checks.h"
#include "tl_runtime.h"

enum { N = 4, IN = 16, OUT = 3, RUNS_PER_THREAD = 50 };

/* What a second thread works on. */
typedef struct {
  tl_program* program;
  const float* x;
  const float* expected;
  int saw_no_message; /* tl_last_error() was "" before this thread failed a call */
  int saw_own_message;
  int runs_matching;
} thread_work;

/* Runs the program RUNS_PER_THREAD times, and fails one call of its own. */
static int second_thread(void* arg) {
  thread_work* w = (thread_work*)arg;
  const int64_t x_shape[2] = {N, IN}, y_shape[2] = {N, OUT};
  float y[N * OUT];
  tl_tensor_desc in, out;
  int k;
  w->saw_no_message = strcmp(tl_last_error(), "") == 0;
  w->saw_own_message = tl_program_input(w->program, 7, NULL, NULL, NULL, NULL) == TL_ERROR_INVALID_ARGUMENT &&
                       strstr(tl_last_error(), "input index 7") != NULL;
  in = float_matrix((void*)w->x, x_shape);
  out = float_matrix(y, y_shape);
  for (k = 0; k < RUNS_PER_THREAD; ++k) {
    memset(y, 0, sizeof y);
    w->runs_matching += tl_program_run(w->program, &in, 1, &out, 1) == TL_OK && memcmp(y, w->expected, sizeof y) == 0;
  }
  return 0;
}

int main(int argc, char** argv) {
  char path[4096];
  tl_program* program = NULL;
  float x[N * IN], expected[N * OUT], y[N * OUT], y2[N * OUT];
  double x64[N * IN];
  const int64_t x_shape[2] = {N, IN}, y_shape[2] = {N, OUT}, bad_shape[2] = {N, IN - 1}, rank3_shape[3] = {N, IN, 1};
  tl_tensor_desc in, out, bad;
  const char* name = NULL;
  const int64_t* shape = NULL;
  int32_t rank = -1;
  tl_dtype dtype = TL_BOOL;
  size_t i;

  if (argc != 2) {
    fprintf(stderr, "usage: %s ARTIFACT_FOLDER\n", argv[0]);
    return 2;
  }
  if (!read_floats(argv[1], "input.f32", x, N * IN) || !read_floats(argv[1], "expected.f32", expected, N * OUT))
    return 1;
  CHECK(strcmp(tl_last_error(), "") == 0);

  /* Load, and the signature. */
  snprintf(path, sizeof path, "%s/mlp.tlart", argv[1]);
  if (tl_program_load(path, &program) != TL_OK) {
    fprintf(stderr, "tl_program_load failed: %s\n", tl_last_error());
    return 1;
  }
  CHECK(program != NULL);
  CHECK(tl_program_num_inputs(program) == 1);
  CHECK(tl_program_num_outputs(program) == 1);
  CHECK(tl_program_input(program, 0, &name, &shape, &rank, &dtype) == TL_OK);
  CHECK(strcmp(name, "x") == 0 && rank == 2 && shape[0] == N && shape[1] == IN && dtype == TL_FLOAT32);
  CHECK(tl_program_output(program, 0, &name, &shape, &rank, &dtype) == TL_OK);
  CHECK(strcmp(name, "logits") == 0 && rank == 2 && shape[0] == N && shape[1] == OUT && dtype == TL_FLOAT32);
  /* Fields one does not want may be NULL. */
  rank = -1;
  CHECK(tl_program_input(program, 0, NULL, NULL, &rank, NULL) == TL_OK && rank == 2);

  /* Run into our own buffers: the eager model's output, bit for bit, on every call. */
  in = float_matrix(x, x_shape);
  out = float_matrix(y, y_shape);
  memset(y, 0, sizeof y);
  if (tl_program_run(program, &in, 1, &out, 1) != TL_OK) fprintf(stderr, "tl_program_run: %s\n", tl_last_error());
  CHECK(memcmp(y, expected, sizeof y) == 0);
  out.data = y2;
  CHECK(tl_program_run(program, &in, 1, &out, 1) == TL_OK);
  CHECK(memcmp(y2, expected, sizeof y2) == 0);
  for (i = 0; i < N * OUT; ++i) CHECK(y[i] == expected[i]);

  /* Fixed shapes: no batch size to choose. */
  CHECK(tl_program_max_batch(program) == 0);
  CHECK(tl_program_batch_axis(program, 0, 0) == -1 && tl_program_batch_axis(program, 1, 0) == -1);
  CHECK(tl_program_batch_axis(NULL, 0, 0) == -1 && tl_program_max_batch(NULL) == 0);

  /* The same artifact from memory: the same outputs; bad bytes are named by the given name. */
  {
    static char bytes[1 << 20];
    size_t size;
    FILE* f;
    tl_program* from_memory = NULL;
    snprintf(path, sizeof path, "%s/mlp.tlart", argv[1]);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    size = f ? fread(bytes, 1, sizeof bytes, f) : 0;
    if (f) fclose(f);
    CHECK(size > 0 && size < sizeof bytes);
    CHECK(tl_program_load_memory(bytes, size, "mlp in memory", &from_memory) == TL_OK);
    out.data = y2;
    memset(y2, 0, sizeof y2);
    CHECK(tl_program_run(from_memory, &in, 1, &out, 1) == TL_OK);
    CHECK(memcmp(y2, expected, sizeof y2) == 0);
    tl_program_free(from_memory);
    from_memory = program;
    CHECK_FAILS(tl_program_load_memory(bytes, size / 2, "half an mlp", &from_memory), TL_ERROR_BAD_ARTIFACT, "half an mlp");
    CHECK(from_memory == NULL);
    CHECK_FAILS(tl_program_load_memory(NULL, 10, "x", &from_memory), TL_ERROR_INVALID_ARGUMENT, "data is NULL");
  }

  /* Loading: a missing file, a file that is not an artifact, NULL arguments. */
  {
    tl_program* other = program;
    snprintf(path, sizeof path, "%s/missing.tlart", argv[1]);
    CHECK_FAILS(tl_program_load(path, &other), TL_ERROR_IO, "missing.tlart");
    CHECK(other == NULL);
    other = program;
    snprintf(path, sizeof path, "%s/expected.f32", argv[1]);
    CHECK_FAILS(tl_program_load(path, &other), TL_ERROR_BAD_ARTIFACT, "not a valid tl artifact");
    CHECK(strstr(tl_last_error(), "expected.f32") != NULL && strstr(tl_last_error(), "tl_program_load") != NULL);
    CHECK(other == NULL);
    CHECK_FAILS(tl_program_load(NULL, &other), TL_ERROR_INVALID_ARGUMENT, "path is NULL");
    CHECK_FAILS(tl_program_load(path, NULL), TL_ERROR_INVALID_ARGUMENT, "out is NULL");
  }

  /* A successful call leaves the last message alone. */
  CHECK(tl_program_run(program, &in, 1, &out, 1) == TL_OK);
  CHECK(strstr(tl_last_error(), "out is NULL") != NULL);

  /* Running: every descriptor is checked, and a refused call writes no output. */
  for (i = 0; i < N * OUT; ++i) y[i] = -1.0f;
  out.data = y;
  bad = in;
  bad.shape = bad_shape;
  CHECK_FAILS(tl_program_run(program, &bad, 1, &out, 1), TL_ERROR_SHAPE,
              "must be [4, 16] float32, got [4, 15] float32");
  CHECK(strstr(tl_last_error(), "input 0 ('x')") != NULL && strstr(tl_last_error(), "mlp.tlart") != NULL);
  bad = in;
  bad.shape = rank3_shape;
  bad.rank = 3;
  CHECK_FAILS(tl_program_run(program, &bad, 1, &out, 1), TL_ERROR_SHAPE, "got [4, 16, 1] float32");
  bad = in;
  bad.rank = 1000;
  CHECK_FAILS(tl_program_run(program, &bad, 1, &out, 1), TL_ERROR_SHAPE, "got rank 1000");
  bad = in;
  bad.dtype = TL_FLOAT64;
  bad.data = x64;
  CHECK_FAILS(tl_program_run(program, &bad, 1, &out, 1), TL_ERROR_DTYPE, "got [4, 16] float64");
  bad = in;
  bad.dtype = (tl_dtype)42;
  CHECK_FAILS(tl_program_run(program, &bad, 1, &out, 1), TL_ERROR_INVALID_ARGUMENT, "dtype 42 (not a tl_dtype)");
  bad = in;
  bad.data = NULL;
  CHECK_FAILS(tl_program_run(program, &bad, 1, &out, 1), TL_ERROR_INVALID_ARGUMENT, "data is NULL");
  bad = in;
  bad.shape = NULL;
  CHECK_FAILS(tl_program_run(program, &bad, 1, &out, 1), TL_ERROR_INVALID_ARGUMENT, "shape is NULL");
  bad = out;
  bad.shape = x_shape;
  CHECK_FAILS(tl_program_run(program, &in, 1, &bad, 1), TL_ERROR_SHAPE, "output 0 ('logits') must be [4, 3] float32");
  bad = out;
  bad.data = NULL;
  CHECK_FAILS(tl_program_run(program, &in, 1, &bad, 1), TL_ERROR_INVALID_ARGUMENT, "data is NULL");
  CHECK_FAILS(tl_program_run(program, NULL, 1, &out, 1), TL_ERROR_INVALID_ARGUMENT, "inputs is NULL");
  CHECK_FAILS(tl_program_run(program, &in, 1, NULL, 1), TL_ERROR_INVALID_ARGUMENT, "outputs is NULL");
  CHECK_FAILS(tl_program_run(program, &in, 2, &out, 1), TL_ERROR_INVALID_ARGUMENT, "takes 1 inputs and 1 outputs");
  CHECK_FAILS(tl_program_run(NULL, &in, 1, &out, 1), TL_ERROR_INVALID_ARGUMENT, "program is NULL");
  for (i = 0; i < N * OUT; ++i) CHECK(y[i] == -1.0f);

  /* Signature queries out of range. */
  CHECK_FAILS(tl_program_input(program, 1, &name, &shape, &rank, &dtype), TL_ERROR_INVALID_ARGUMENT,
              "input index 1 is out of range");
  CHECK_FAILS(tl_program_output(NULL, 0, &name, &shape, &rank, &dtype), TL_ERROR_INVALID_ARGUMENT, "program is NULL");
  CHECK(tl_program_num_inputs(NULL) == 0);

#ifndef __STDC_NO_THREADS__
  /* Messages are per thread, and two threads may run one program at once (the calls wait
   * for each other). */
  {
    thrd_t thread;
    thread_work work;
    int k, runs_matching = 0;
    memset(&work, 0, sizeof work);
    work.program = program;
    work.x = x;
    work.expected = expected;
    CHECK(thrd_create(&thread, second_thread, &work) == thrd_success);
    for (k = 0; k < RUNS_PER_THREAD; ++k) {
      float yk[N * OUT];
      out.data = yk;
      runs_matching += tl_program_run(program, &in, 1, &out, 1) == TL_OK && memcmp(yk, expected, sizeof yk) == 0;
    }
    out.data = y;
    CHECK(thrd_join(thread, NULL) == thrd_success);
    CHECK(work.saw_no_message && work.saw_own_message);
    CHECK(work.runs_matching == RUNS_PER_THREAD && runs_matching == RUNS_PER_THREAD);
    CHECK(strstr(tl_last_error(), "tl_program_output: program is NULL") != NULL); /* this thread's last failure */
  }
#endif

  CHECK(strcmp(tl_status_name(TL_ERROR_SHAPE), "TL_ERROR_SHAPE") == 0);
  CHECK(strcmp(tl_status_name((tl_status)99), "unknown tl_status") == 0);

  /* The program still runs after all that. */
  CHECK(tl_program_run(program, &in, 1, &out, 1) == TL_OK);
  CHECK(memcmp(y, expected, sizeof y) == 0);
  tl_program_free(program);
  tl_program_free(NULL);

  return report("c_api_test");
}
