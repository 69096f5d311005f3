// The tiny eager program bench/run.sh measures: start-to-exit time and peak RSS (as
// bench_tiny_program), and edit-rebuild-run time (a copy in the build folder, bench_iter_example).
#include <cstdio>

#include "tl/tl.h"

int main() {
  auto a = tl::ones({8});
  auto b = tl::full({8}, 2.0);  // run.sh rewrites this constant to force a rebuild
  std::printf("%g\n", (a + b).sum().item<float>());
  return 0;
}
