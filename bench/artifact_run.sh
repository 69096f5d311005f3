#!/usr/bin/env bash
# Inference from compiled artifacts, side by side with PyTorch 1.13 (python3-torch) and, when
# bench/setup_peers.sh has installed it, the newest PyTorch with torch.compile. One run; the
# report prints the ratios against the targets (docs/benchmarks.md, "Compiled artifacts").
#
#   bench/artifact_run.sh           # build dir: build-bench (TL_BENCH_BUILD_DIR overrides)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TL_BENCH_BUILD_DIR:-$root/build-bench}
budget=${TL_BENCH_BUDGET_S:-3}
threads=$(echo "1 $(nproc)" | tr ' ' '\n' | sort -un | tr '\n' ' ')
venv=${TL_BENCH_VENV:-$HOME/.cache/tl-bench-venv}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTL_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" artifact_bench tl_compiler >/dev/null
results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, flags: $(grep -o -w 'avx512f\|avx2\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in $threads; do
  OMP_WAIT_POLICY=passive "$build/bench/artifact_bench" --threads "$t" --budget-s "$budget" | tee -a "$results"
done
torch_env=(env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000)
# shellcheck disable=SC2086
"${torch_env[@]}" /usr/bin/python3 "$root/bench/artifact_peer.py" --threads $threads --budget-s "$budget" | tee -a "$results"
if [ -x "$venv/bin/python" ]; then
  # shellcheck disable=SC2086
  "${torch_env[@]}" "$venv/bin/python" "$root/bench/artifact_peer.py" --threads $threads --budget-s "$budget" --compile \
    | tee -a "$results"
else
  echo "(newest PyTorch not installed: bench/setup_peers.sh installs it)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
/usr/bin/python3 "$root/bench/artifact_report.py" "$results"
