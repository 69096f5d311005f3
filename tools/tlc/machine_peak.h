// What this machine can do at most, measured now: the fp32 FMA rate and the memory copy
// rate, for `tl-model-runner --profile` to say how far each kernel is from them.
#pragma once

namespace tl::tlc {

// fp32 GFLOP/s of independent 8-wide FMA chains on `threads` threads (AVX2 + FMA: the
// instruction set tl is built for) over about `seconds`.
double fma_peak_gflops(int threads, double seconds = 0.2);

// GB/s moved (read + written) copying a buffer far larger than the caches on `threads`
// threads over about `seconds`.
double copy_bandwidth_gbs(int threads, double seconds = 0.2);

}  // namespace tl::tlc
