// Marks calls into libraries tl does not control (oneDNN's primitive execution), so that a
// test counting heap allocations during a run can tell tl's own (there must be none) from
// theirs (oneDNN 2.6 builds an argument map inside every execute; an OpenMP worker thread
// running part of a primitive counts as inside the call). Not a public header.
#pragma once

namespace tl::rt {

// Whether this thread is inside a ForeignCallScope. Reads a thread_local int: no allocation,
// safe to call from an interposed malloc.
bool in_foreign_call() noexcept;

class ForeignCallScope {
 public:
  ForeignCallScope() noexcept;
  ~ForeignCallScope();
  ForeignCallScope(const ForeignCallScope&) = delete;
  ForeignCallScope& operator=(const ForeignCallScope&) = delete;
};

}  // namespace tl::rt
