#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang-15 (ASan + UBSan; tl instrumented for
# coverage, MLIR not) in build-fuzz/, then runs each for SECONDS (default 60) from its seed
# corpus and past crash inputs, with a fixed seed and fixed limits. New inputs go to
# build-fuzz/fuzz-out/<target>/corpus, never into tests/fuzz/corpus; a crash, leak, timeout
# or out-of-memory input is written to build-fuzz/fuzz-out/<target>/ and fails the script.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: checkpoint npy csv run_files ir artifact onnx)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(checkpoint npy csv run_files ir artifact onnx); fi

cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang-15 -DCMAKE_CXX_COMPILER=clang++-15 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
  -DTL_FUZZ=ON -DTL_BUILD_BENCH=OFF > /dev/null
cmake --build build-fuzz --target "${targets[@]/#/fuzz_}"

# Kernels compiled by the IR target stay in the build folder.
export TL_CACHE_DIR="$PWD/build-fuzz/test-cache" TL_LOG_LEVEL=off OMP_NUM_THREADS=1
failed=()
for t in "${targets[@]}"; do
  out="build-fuzz/fuzz-out/$t"
  rm -rf "$out" && mkdir -p "$out/corpus"
  inputs=("tests/fuzz/corpus/$t")
  if [ -d "tests/fuzz/regressions/$t" ]; then inputs+=("tests/fuzz/regressions/$t"); fi
  set +e
  "build-fuzz/tests/fuzz/fuzz_$t" "$out/corpus" "${inputs[@]}" -max_total_time="$seconds" -seed=1 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$out/" > "$out/log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
  echo "fuzz_$t: ${execs:-?} executions in ${seconds} s, exit $rc (log: $out/log)"
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    grep -m1 -A25 "ERROR\|fuzz oracle failed\|deadly signal" "$out/log" || tail -30 "$out/log"
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "crashes in: ${failed[*]} (inputs in build-fuzz/fuzz-out/<target>/)"
  exit 1
fi
