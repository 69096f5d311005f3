// Timing shared by the C++ benches: the median of repeated calls, after warm-up.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace tl::bench {

// Median seconds of `reps` calls of `body`, after two warm-up calls.
inline double median_seconds(int reps, const std::function<void()>& body) {
  body();
  body();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    body();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace tl::bench
