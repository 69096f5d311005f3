#include "runtime/base/foreign_calls.h"

#include <omp.h>

#include <atomic>

namespace tl::rt {
namespace {
thread_local int depth = 0;
// Foreign calls in progress on any thread: a oneDNN primitive that splits its work over the
// OpenMP team runs part of it on worker threads, which are inside the call too.
std::atomic<int> active{0};
}  // namespace

bool in_foreign_call() noexcept {
  return depth > 0 || (active.load(std::memory_order_relaxed) > 0 && omp_in_parallel() && omp_get_thread_num() > 0);
}
ForeignCallScope::ForeignCallScope() noexcept {
  ++depth;
  active.fetch_add(1, std::memory_order_relaxed);
}
ForeignCallScope::~ForeignCallScope() {
  --depth;
  active.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace tl::rt
