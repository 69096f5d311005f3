#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (gcc, build-asan/) and
# runs the whole test suite under them (tests tagged [slow] in their bounded mode). First a
# canary must be reported: a heap overflow and a signed overflow built with the same flags;
# the script fails if the sanitizers stay silent. Ends with ctest's summary and the wall time.
# Usage: scripts/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
  -DTL_SANITIZE=ON -DTL_BUILD_BENCH=OFF
nice -n 10 cmake --build build-asan
built=$(date +%s)

# Leak reports from libraries tl does not build (each checked to be a one-time allocation
# kept until exit, not a per-call leak):
#  - libLLVM/libMLIR: registries, pass and dialect statics and the JIT's target machines;
#  - libdnnl: the primitive cache and JIT kernel code, kept for the process lifetime;
#  - libgomp: the thread pool's per-thread state.
cat > build-asan/lsan.supp <<'SUPP'
leak:libLLVM
leak:libMLIR
leak:libdnnl
leak:libgomp
SUPP
# detect_odr_violation=0: tl_ir and tl_passes are static libraries linked into
# libtl_compiler.so and also into test binaries (passes_test, ir_test) that load it through
# libtl, so their globals can exist twice in one process by design (passes/CMakeLists.txt).
# allocator_may_return_null=1: tests ask for absurd allocations on purpose (a tensor of 2^60
# elements must be a tl::Error naming the op and line); by default ASan aborts instead of
# letting the allocation fail.
export ASAN_OPTIONS="detect_odr_violation=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$PWD/build-asan/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# The canary: each case must stop with the sanitizer's report.
canary=build-asan/tests/fuzz/sanitizer_canary
for c in "heap:heap-buffer-overflow" "signed:signed integer overflow"; do
  arg=${c%%:*} expected=${c#*:}
  if "$canary" "$arg" > build-asan/canary.log 2>&1; then
    echo "sanitizer canary '$arg' ran without a report: the build is not sanitized" >&2
    exit 1
  fi
  if ! grep -q "$expected" build-asan/canary.log; then
    echo "sanitizer canary '$arg' failed without the expected report '$expected':" >&2
    cat build-asan/canary.log >&2
    exit 1
  fi
  echo "sanitizer canary '$arg': reported ($expected)"
done

cd build-asan
export OMP_WAIT_POLICY=passive
status=0
TL_SLOW_BOUNDED=1 ctest --output-on-failure -j2 || status=$?
end=$(date +%s)
echo "sanitized build: $((built - start)) s; tests: $((end - built)) s; total: $((end - start)) s"
exit $status
