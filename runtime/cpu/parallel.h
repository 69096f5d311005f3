// Parallel loops on the OpenMP runtime that oneDNN also uses, so the two never
// oversubscribe the cores. Work is split into chunks whose boundaries depend only on the
// problem size and `grain`, never on the thread count: reductions that combine per-chunk
// partial results in chunk order are bitwise identical at any number of threads.
#pragma once

#include <omp.h>

#include <cstdint>

namespace tl::rt {

// Calls f(begin, end) over [0, n) in chunks of at least `grain` elements, in parallel when
// there is more than one chunk and we are not already inside a parallel region.
template <class F>
void parallel_for(int64_t n, int64_t grain, const F& f) {
  if (n <= 0) return;
  if (n <= grain || omp_get_max_threads() == 1 || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
  int64_t chunks = (n + grain - 1) / grain;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t begin = c * grain;
    int64_t end = begin + grain < n ? begin + grain : n;
    f(begin, end);
  }
}

// Elements per chunk for elementwise loops: below this, threading costs more than it saves.
inline constexpr int64_t kElementwiseGrain = 32768;

}  // namespace tl::rt
