// y = gelu(x * a + b) on 4M float32 elements (a, b: 0-d tensors): tl eager (three passes over
// memory), tl::compile (one generated loop), PyTorch 1.13 eager (bench/compile_gelu_peer.py),
// and the time the bytes take to stream at this machine's memory bandwidth, measured here
// as the faster of a scale-and-shift loop and a memcpy that read x and write y once (the
// least any version can do).
//
//   compile_gelu [--threads N] [--reps R] [--python /usr/bin/python3]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "tl/autograd.h"
#include "tl/compile.h"
#include "bench/timing.h"
#include "tl/ops.h"
#include "tl/random.h"
#include "tl/threading.h"

namespace {



}  // namespace

int main(int argc, char** argv) {
  int threads = tl::get_num_threads();
  int reps = 30;
  std::string python = "/usr/bin/python3";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else if (a == "--python") python = argv[i + 1];
  }
  tl::set_num_threads(threads);
  constexpr int64_t n = int64_t{1} << 22;  // 4M elements, 16 MB per tensor
  tl::manual_seed(0);
  tl::NoGradGuard no_grad;
  tl::Tensor x = tl::randn({n});
  tl::Tensor a = tl::full({}, 1.3);
  tl::Tensor b = tl::full({}, -0.2);

  // Memory bandwidth: y = x * s + t over the same bytes (16 MB read, 16 MB written).
  std::vector<float> bx(n, 1.0f), by(n, 0.0f);
  const float* px = bx.data();
  float* py = by.data();
  double stream_s = tl::bench::median_seconds(reps, [&] {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; ++i) py[i] = px[i] * 1.3f - 0.2f;
  });
  // The faster of that loop and a plain memcpy of the same bytes counts as the bandwidth.
  stream_s = std::min(stream_s, tl::bench::median_seconds(reps, [&] { std::memcpy(py, px, n * sizeof(float)); }));
  const double bytes = 2.0 * n * sizeof(float);

  tl::Tensor y_eager;
  double eager_s = tl::bench::median_seconds(reps, [&] { y_eager = tl::gelu(x * a + b); });

  auto fn = tl::compile([](tl::Tensor x, tl::Tensor a, tl::Tensor b) { return tl::gelu(x * a + b); },
                        {.name = "compile_gelu"});
  tl::Tensor y_compiled;
  for (int i = 0; i < 3; ++i) y_compiled = fn(x, a, b);  // warm-up, trace, first compiled call
  double compiled_s = tl::bench::median_seconds(reps, [&] { y_compiled = fn(x, a, b); });
  const bool fused = tl::explain(fn, x, a, b).find("fused = ") != std::string::npos;
  const double max_diff = tl::amax(tl::abs(y_compiled - y_eager)).item<float>();

  std::string cmd = python + " " + TL_BENCH_DIR + "/compile_gelu_peer.py " + std::to_string(reps);
  cmd = "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 " + cmd;
  double torch_s = 0;
  int torch_threads = 0;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    if (std::fscanf(p, "%lf %d", &torch_s, &torch_threads) != 2) torch_s = 0;
    pclose(p);
  }

  std::printf("gelu(x * a + b), %lld float32 elements, tl at %d threads\n", static_cast<long long>(n), threads);
  std::printf("  memory bandwidth     %8.3f ms  %6.1f GB/s (read x, write y: %.0f MB)\n", stream_s * 1e3,
              bytes / stream_s / 1e9, bytes / 1e6);
  std::printf("  tl eager             %8.3f ms  %5.2fx bandwidth time\n", eager_s * 1e3, eager_s / stream_s);
  std::printf("  tl compiled          %8.3f ms  %5.2fx bandwidth time  %5.2fx faster than tl eager%s\n",
              compiled_s * 1e3, compiled_s / stream_s, eager_s / compiled_s, fused ? "" : "  (NOT FUSED)");
  if (torch_s > 0) {
    std::printf("  PyTorch 1.13 eager   %8.3f ms  %5.2fx bandwidth time  (%d threads); tl compiled is %.2fx faster\n",
                torch_s * 1e3, torch_s / stream_s, torch_threads, torch_s / compiled_s);
  } else {
    std::printf("  PyTorch 1.13 eager   (not run: %s failed)\n", cmd.c_str());
  }
  std::printf("  max |compiled - eager| = %.3g\n", max_diff);
  std::printf("  targets: compiled >= 3x faster than eager: %s; within 1.5x of bandwidth time: %s\n",
              eager_s / compiled_s >= 3 ? "yes" : "NO", compiled_s / stream_s <= 1.5 ? "yes" : "NO");
  return 0;
}
