// Attention forward + backward at one sequence length, float32, B * heads = 8, E = 64, through
// tl::nn::functional::scaled_dot_product_attention (the fused op). Prints one line:
//   <L> <median seconds> <forward median seconds> <peak RSS MiB> <peak RSS growth MiB>
// where the growth is the peak over the resident size just before the first attention call.
// Run one length per process, so each peak is its own; bench/attention_memory.sh runs the
// lengths and the PyTorch peer (bench/attention_peer.py) and prints them side by side.
//
//   bench_attention <L> [reps]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "bench/timing.h"
#include "tl/tl.h"

namespace {

// A field of /proc/self/status in MiB ("VmRSS:" now, "VmHWM:" the peak).
double status_mib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::string(field).size())) / 1024.0;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_attention <L> [reps]\n");
    return 2;
  }
  const int64_t L = std::atoll(argv[1]), B = 8, E = 64;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  namespace F = tl::nn::functional;
  tl::manual_seed(0);
  tl::Tensor q = tl::randn({B, L, E}).requires_grad_(), k = tl::randn({B, L, E}).requires_grad_(),
             v = tl::randn({B, L, E}).requires_grad_();
  const tl::Tensor dout = tl::randn({B, L, E});
  const double before = status_mib("VmRSS:");
  auto step = [&] {
    tl::Tensor out = F::scaled_dot_product_attention(q, k, v);
    tl::grad(out, {q, k, v}, dout);
  };
  const double seconds = tl::bench::median_seconds(reps, step);
  const double forward = tl::bench::median_seconds(reps, [&] {
    tl::NoGradGuard no_grad;
    F::scaled_dot_product_attention(q, k, v);
  });
  const double peak = status_mib("VmHWM:");
  std::printf("%lld %.6g %.6g %.1f %.1f\n", static_cast<long long>(L), seconds, forward, peak, peak - before);
  return 0;
}
