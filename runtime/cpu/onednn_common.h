// The process-wide oneDNN CPU engine (internal to runtime/cpu).
#pragma once

#include <omp.h>

#include <cstdint>
#include <unordered_map>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "runtime/base/foreign_calls.h"
#include "runtime/cpu/parallel.h"

namespace tl::rt::cpu {

inline dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// Primitives are built with a user-managed scratchpad: the library-managed one is shared
// between primitives and unsafe when two threads execute at once (our jobs do).
inline dnnl::primitive_attr scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// This thread's scratchpad buffer, grown to at least `bytes` (a thread runs one primitive at
// a time, so every primitive it runs shares it). Growing moves it: take the pointer per call.
inline void* thread_scratchpad(size_t bytes) {
  thread_local std::vector<char> buffer;
  if (buffer.size() < bytes) buffer.resize(bytes);
  return buffer.data();
}

// Runs `p` on `s` with `args` through oneDNN's C entry point, from an argument array this
// thread keeps: the C++ wrapper's execute() builds a new std::vector on every call. (oneDNN
// 2.6 still builds its own argument map inside every execute: see docs/runtime.md.)
inline void execute_primitive(const dnnl::primitive& p, dnnl::stream& s,
                              const std::unordered_map<int, dnnl::memory>& args) {
  thread_local std::vector<dnnl_exec_arg_t> array;
  array.clear();
  for (const auto& [arg, mem] : args) array.push_back({arg, mem.get()});
  ForeignCallScope foreign;
  dnnl::error::wrap_c_api(dnnl_primitive_execute(p.get(), s.get(), static_cast<int>(array.size()), array.data()),
                          "could not execute a primitive");
}

// The scratchpad `primitive` needs (empty when none).
inline dnnl::memory::desc scratchpad_desc(const dnnl::primitive& primitive) {
  const dnnl_memory_desc_t* md =
      dnnl_primitive_desc_query_md(primitive.get_primitive_desc(), dnnl_query_scratchpad_md, 0);
  return md ? dnnl::memory::desc(*md) : dnnl::memory::desc();
}

// This thread's scratchpad for executing `primitive`.
inline dnnl::memory scratchpad_for(const dnnl::primitive& primitive) {
  dnnl::memory::desc desc = scratchpad_desc(primitive);
  return dnnl::memory(desc, engine(), thread_scratchpad(desc.get_size()));
}

// Limits oneDNN to the calling thread for the life of the scope (omp_set_num_threads sets
// this thread's value only). oneDNN fixes a primitive's split of work among threads when it
// creates the primitive, from the thread count at that moment, and expects the same count
// when it executes: a primitive created with 2 threads and run with 1 skips half its work
// (or waits forever at a barrier). Create and run every primitive inside such a scope.
class SingleThreadedScope {
 public:
  SingleThreadedScope() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreadedScope() { omp_set_num_threads(previous_); }
  SingleThreadedScope(const SingleThreadedScope&) = delete;
  SingleThreadedScope& operator=(const SingleThreadedScope&) = delete;

 private:
  int previous_;
};

// Runs `jobs` independent oneDNN calls job(i), each on one thread, spread over the OpenMP
// pool. oneDNN's own threading may split a reduction differently for each thread count; a
// primitive run on one thread always computes the same way. Callers cut work into jobs by
// problem size only, so results are bitwise identical at any thread count.
template <class Job>
void run_jobs_single_threaded(int64_t jobs, const Job& job) {
  if (jobs <= 0) return;
  if (jobs == 1 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    SingleThreadedScope single_threaded;
    for (int64_t i = 0; i < jobs; ++i) job(i);
    return;
  }
  // Jobs are handed out one at a time: when the OS deschedules one thread (other work on
  // the cores), the others take its share instead of waiting at the end. Which thread runs
  // a job never changes what the job computes.
#pragma omp parallel
  {
    SingleThreadedScope single_threaded;
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < jobs; ++i) job(i);
  }
}

}  // namespace tl::rt::cpu
