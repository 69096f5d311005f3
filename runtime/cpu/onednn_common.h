// The process-wide oneDNN CPU engine (internal to runtime/cpu).
#pragma once

#include <omp.h>

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>

#include "runtime/cpu/parallel.h"

namespace tl::rt::cpu {

inline dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// Runs `jobs` independent oneDNN calls job(i), each on one thread, spread over the OpenMP
// pool. oneDNN's own threading may split a reduction differently for each thread count; a
// primitive run on one thread always computes the same way. Callers cut work into jobs by
// problem size only, so results are bitwise identical at any thread count.
template <class Job>
void run_jobs_single_threaded(int64_t jobs, const Job& job) {
  parallel_for(jobs, 1, [&](int64_t begin, int64_t end) {
    int previous = omp_get_max_threads();
    omp_set_num_threads(1);  // this thread's setting only: oneDNN reads it per call
    for (int64_t i = begin; i < end; ++i) job(i);
    omp_set_num_threads(previous);
  });
}

}  // namespace tl::rt::cpu
