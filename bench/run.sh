#!/usr/bin/env bash
# Builds the benchmarks (Release) and runs tl and PyTorch 1.13 side by side on this machine,
# then prints the table documented in docs/benchmarks.md.
#
#   bench/run.sh            # build dir: build-bench (TL_BENCH_BUILD_DIR overrides)
#
# Environment: TL_BENCH_THREADS (thread counts tried on both sides, default "1 <nproc>"),
# TL_BENCH_BUDGET_S (seconds per workload and variant, default 10), TL_BENCH_JOBS (ninja -j).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${TL_BENCH_BUILD_DIR:-$root/build-bench}
threads=${TL_BENCH_THREADS:-"1 $(nproc)"}
threads=$(echo "$threads" | tr ' ' '\n' | sort -un | tr '\n' ' ')
budget=${TL_BENCH_BUDGET_S:-10}
jobs=${TL_BENCH_JOBS:-2}
torch_python=/usr/bin/python3  # the interpreter with torch (plain python3 may lack it)

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTL_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" -j"$jobs" eager_bench bench_tiny_program bench_iter_example csv_bench bench_compile_gelu >/dev/null

results=$(mktemp)
trap 'rm -f "$results"' EXIT

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; blas: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# PyTorch at its best: glibc keeps freed memory instead of unmapping it.
torch_env=(env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000)

for workload in add mlp_tiny mlp_784 sgemm cnn; do
  for t in $threads; do
    "$build/bench/eager_bench" --workload "$workload" --threads "$t" --budget-s "$budget" | tee -a "$results"
  done
  # shellcheck disable=SC2086
  "${torch_env[@]}" "$torch_python" "$root/bench/torch_peer.py" --workload "$workload" \
    --threads $threads --budget-s "$budget" | tee -a "$results"
done

# The same train steps under tl::compile (compared with PyTorch's eager runs above).
for workload in mlp_tiny_compiled mlp_784_compiled cnn_compiled; do
  for t in $threads; do
    "$build/bench/eager_bench" --workload "$workload" --threads "$t" --budget-s "$budget" | tee -a "$results"
  done
done
"$build/bench/eager_bench" --workload compile_time | tee -a "$results"

"$torch_python" "$root/bench/process_bench.py" startup --side tl --runs 20 -- \
  "$build/bench/bench_tiny_program" | tee -a "$results"
"${torch_env[@]}" "$torch_python" "$root/bench/process_bench.py" startup --side torch --runs 10 -- \
  "$torch_python" -c 'import torch; a = torch.ones(8); b = torch.full((8,), 2.0); print((a + b).sum().item())' \
  | tee -a "$results"
"$torch_python" "$root/bench/process_bench.py" rebuild --build-dir "$build" --target bench_iter_example \
  --source "$build/bench/iter_example.cpp" --runs 3 | tee -a "$results"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$torch_python" "$root/bench/report.py" "$results"

# CSV parsing against pandas (docs/benchmarks.md, "CSV parsing"); not part of the table above.
echo
"$build/bench/csv_bench" --python "$torch_python"

# Generated code against eager and the memory bandwidth (docs/benchmarks.md, "Compiled
# elementwise code"); not part of the table above.
echo
"$build/bench/bench_compile_gelu" --python "$torch_python"
