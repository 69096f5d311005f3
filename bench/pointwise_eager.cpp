// Eager pointwise kernels on 1M contiguous elements: median milliseconds per call of gelu,
// tanh, sigmoid, silu and add, in float32 and float64, at one thread and at the pool's size.
// Measures the kernels stated once as scalar expressions (frontend/ops/pointwise).
//
//   pointwise_eager [--reps R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "tl/autograd.h"
#include "bench/timing.h"
#include "tl/ops.h"
#include "tl/random.h"
#include "tl/threading.h"

namespace {

// Median milliseconds of `reps` calls after two warm-up calls.
double median_ms(int reps, const std::function<void()>& body) { return 1e3 * tl::bench::median_seconds(reps, body); }

}  // namespace

int main(int argc, char** argv) {
  int reps = 51;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--reps") reps = std::atoi(argv[i + 1]);
  constexpr int64_t n = int64_t{1} << 20;
  tl::manual_seed(0);
  tl::NoGradGuard no_grad;
  const int pool = tl::get_num_threads();
  for (int threads : {1, pool}) {
    tl::set_num_threads(threads);
    for (tl::DType dtype : {tl::kFloat32, tl::kFloat64}) {
      tl::Tensor x = tl::randn({n}, {.dtype = dtype});
      tl::Tensor y = tl::randn({n}, {.dtype = dtype});
      const char* dname = dtype == tl::kFloat32 ? "f32" : "f64";
      std::printf("threads %d %s  gelu %.3f  tanh %.3f  sigmoid %.3f  silu %.3f  add %.3f  (ms, median of %d)\n",
                  threads, dname, median_ms(reps, [&] { tl::gelu(x); }), median_ms(reps, [&] { tl::tanh(x); }),
                  median_ms(reps, [&] { tl::sigmoid(x); }), median_ms(reps, [&] { tl::silu(x); }),
                  median_ms(reps, [&] { tl::add(x, y); }), reps);
    }
  }
  return 0;
}
