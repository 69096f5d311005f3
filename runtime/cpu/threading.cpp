#include "tl/threading.h"

#include <omp.h>

#include <string>

#include "tl/error.h"

namespace tl {

void set_num_threads(int threads) {
  if (threads < 1) throw ValueError("tl::set_num_threads: need at least 1 thread, got " + std::to_string(threads));
  omp_set_num_threads(threads);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace tl
