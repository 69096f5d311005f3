#include "tools/tlc/machine_peak.h"

#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace tl::tlc {
namespace {

using Clock = std::chrono::steady_clock;

// Runs body(thread index) on `threads` threads at once; returns the wall time.
template <class Body>
double run_on_threads(int threads, const Body& body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load()) {
      }
      body(t);
    });
  }
  while (ready.load() < threads) {
  }
  const Clock::time_point start = Clock::now();
  go.store(true);
  for (std::thread& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// 12 independent chains hide the FMA latency (4-5 cycles) behind two ports.
__attribute__((target("avx2,fma"))) float fma_chains(int64_t iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t k = 0; k < iterations; ++k) {
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

}  // namespace

double fma_peak_gflops(int threads, double seconds) {
  if (threads < 1) threads = 1;
  int64_t iterations = 1 << 20;
  volatile float sink = 0;
  // Grow the work until one round takes long enough to time.
  for (;;) {
    const double t = run_on_threads(threads, [&](int) { sink = sink + fma_chains(iterations); });
    if (t >= seconds) return static_cast<double>(threads) * static_cast<double>(iterations) * 12 * 8 * 2 / t / 1e9;
    iterations *= t > 0 ? std::max(2.0, seconds / t * 1.2) : 2;
  }
}

double copy_bandwidth_gbs(int threads, double seconds) {
  if (threads < 1) threads = 1;
  const size_t bytes = size_t{256} << 20;  // far past any cache
  std::vector<char> from(bytes, 1), to(bytes, 0);
  const size_t chunk = bytes / static_cast<size_t>(threads);
  double best = 0;
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  do {
    const double t = run_on_threads(threads, [&](int i) {
      std::memcpy(to.data() + chunk * static_cast<size_t>(i), from.data() + chunk * static_cast<size_t>(i), chunk);
    });
    best = std::max(best, 2.0 * static_cast<double>(chunk * static_cast<size_t>(threads)) / t / 1e9);
  } while (Clock::now() < until);
  return best;
}

}  // namespace tl::tlc
