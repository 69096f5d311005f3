// Threads used by tl's CPU kernels (and oneDNN, which shares the same OpenMP pool).
// Results do not depend on the thread count: work is split into fixed-size chunks.
#pragma once

namespace tl {

void set_num_threads(int threads);  // throws ValueError when threads < 1
int get_num_threads();

}  // namespace tl
