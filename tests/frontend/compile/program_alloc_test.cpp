// A program loaded from an artifact allocates nothing on the heap while it runs: this binary
// replaces malloc and its relatives (they take precedence over the C library's for the whole
// process, oneDNN and OpenMP included) with counting versions, and counts across 1,000 runs.
// Allocations made inside oneDNN's primitive execution (it builds an argument map on every
// call; rt::ForeignCallScope marks those calls) are counted apart and must stay constant per
// run; tl's own must be zero.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "runtime/base/foreign_calls.h"
#include "tl/tl.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
std::atomic<long> foreign_allocations{0};
inline void count() {
  if (!counting.load(std::memory_order_relaxed)) return;
  if (tl::rt::in_foreign_call())
    foreign_allocations.fetch_add(1, std::memory_order_relaxed);
  else
    allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t m) {
  count();
  return __libc_calloc(n, m);
}
void* realloc(void* p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
void* memalign(size_t a, size_t n) {
  count();
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) {
  count();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  count();
  *out = __libc_memalign(a, n);
  return *out ? 0 : 12;  // ENOMEM
}
}

using namespace tl;
namespace fs = std::filesystem;

namespace {

struct Net : nn::Module {
  nn::Conv2d conv{1, 4, 3};
  nn::Linear fc1{4 * 13 * 13, 32}, fc2{32, 10};
  Net() {
    register_module("conv", conv);
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) {
    Tensor h = max_pool2d(relu(conv.forward(x)), {2, 2});
    // The tanh chain fuses into generated code, which runs without allocating too.
    return fc2.forward(tanh(gelu(fc1.forward(h.reshape({x.shape()[0], -1}))) * 0.5 + 0.25));
  }
};

fs::path artifact() {
  static fs::path file = [] {
    manual_seed(11);
    Net model;
    model.eval();
    fs::path f = fs::temp_directory_path() / ("tl_alloc_test_" + std::to_string(::getpid()) + ".tlart");
    export_program([&](const Tensor& x) { return model.forward(x); }, randn({4, 1, 28, 28}), f.string());
    return f;
  }();
  return file;
}

}  // namespace

TEST_CASE("running a loaded program 1000 times allocates nothing on the heap", "[program][alloc]") {
  Program p = load_program(artifact().string());
  Tensor x = randn({4, 1, 28, 28});
  Tensor y = zeros({4, 10});
  Tensor expected = p({x})[0];
  const Tensor in[] = {x};
  Tensor out[] = {y};
  p.run(in, out);  // the calling thread's first call may size what it keeps
  allocations = 0;
  foreign_allocations = 0;
  counting = true;
  p.run(in, out);
  counting = false;
  const long foreign_per_run = foreign_allocations.load();
  counting = true;
  for (int i = 0; i < 999; ++i) p.run(in, out);
  counting = false;
  CHECK(allocations.load() == 0);
  // oneDNN's own: the same every run (nothing grows), reported for docs/runtime.md.
  CHECK(foreign_allocations.load() == 1000 * foreign_per_run);
  WARN("oneDNN 2.6 allocated " << foreign_per_run << " times per run inside primitive execution (tl: 0)");
  CHECK(allclose(y, expected, 0, 0));
  CHECK_THAT(p.describe(), Catch::Contains("= fused["));
}

TEST_CASE("concurrent calls on one program share its weights and give the same outputs", "[program][threads]") {
  Program p = load_program(artifact().string());
  Tensor x = randn({4, 1, 28, 28});
  Tensor expected = p({x})[0];
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Tensor y = zeros({4, 10});
      const Tensor in[] = {x};
      Tensor out[] = {y};
      for (int i = 0; i < 50; ++i) {
        p.run(in, out);
        if (!allclose(y, expected, 0, 0)) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches.load() == 0);
}
