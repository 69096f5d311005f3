#!/usr/bin/env bash
# ONNX models compiled by tlc, side by side with PyTorch 1.13 (python3-torch) and, when
# bench/setup_peers.sh has installed it, the newest PyTorch with torch.compile. One run: exports
# torchvision's resnet18 and a TransformerEncoderLayer(256, 4, 1024) from PyTorch 1.13, compiles
# them with tlc, times each executable's --bench and its peak RSS, times PyTorch at its best
# (bench/onnx_peer.py), measures the fp32 FMA peak, and prints the table of
# bench/onnx_report.py (docs/benchmarks.md, "ONNX models through tlc").
#
#   bench/onnx_models.sh            # uses build/ (TL_BENCH_BUILD_DIR overrides); builds nothing
#
# The build folder must hold tools/tlc/tlc, tools/tlc/tl-onnx-import and bench/artifact_bench
# (its FMA peak measurement is reused). TL_BENCH_BUDGET_S (default 2) is the time each PyTorch
# configuration is timed for; the tl executables run fixed iteration counts of about that long.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TL_BENCH_BUILD_DIR:-$root/build}
budget=${TL_BENCH_BUDGET_S:-2}
threads=$(echo "1 $(nproc)" | tr ' ' '\n' | sort -un | tr '\n' ' ')
venv=${TL_BENCH_VENV:-$HOME/.cache/tl-bench-venv}
for tool in "$build/tools/tlc/tlc" "$build/tools/tlc/tl-onnx-import" "$build/bench/artifact_bench"; do
  [ -x "$tool" ] || { echo "onnx_models.sh: $tool is missing: build it first (ninja -C $build tlc tl-onnx-import artifact_bench)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/results.txt
start=$(date +%s)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, flags: $(grep -o -w 'avx512f\|avx2\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Export (PyTorch 1.13) and compile.
/usr/bin/python3 "$root/bench/onnx_peer.py" export "$work"
"$build/tools/tlc/tlc" "$work/resnet18.onnx" -o "$work/resnet18_b1" >/dev/null
"$build/tools/tlc/tlc" "$work/resnet18.onnx" -o "$work/resnet18_b32" --batch 32 >/dev/null
"$build/tools/tlc/tlc" "$work/transformer.onnx" -o "$work/transformer_b8" --batch 8 >/dev/null

# 2. The fp32 FMA peak, from artifact_bench (its other lines are not used here).
for t in $threads; do
  "$build/bench/artifact_bench" --threads "$t" --budget-s 0.01 | grep '^artifact peak ' | tee -a "$results"
done

# 3. The tl executables: median latency of --bench, peak RSS of the same process.
# (model, batch, timed iterations, warm-up iterations): about $budget seconds each at ~1.5 s per
# resnet18 batch-32 run, ~50 ms per batch-1 run and ~30 ms per transformer run.
scale() { awk -v n="$1" -v b="$budget" 'BEGIN { v = int(n * b / 2 + 0.5); print (v < 3 ? 3 : v) }'; }
for spec in "resnet18 1 $(scale 40) 3" "resnet18 32 $(scale 2) 1" "transformer 8 $(scale 60) 3"; do
  read -r model batch iters warmup <<<"$spec"
  for t in $threads; do
    out=$(OMP_WAIT_POLICY=passive /usr/bin/time -f 'rss_kb=%M' -o "$work/time.txt" \
      "$work/${model}_b$batch" --bench --iters "$iters" --warmup "$warmup" --threads "$t")
    p50=$(sed -n 's/^latency: p50 \([0-9.]*\) ms.*/\1/p' <<<"$out")
    rss_kb=$(sed -n 's/^rss_kb=//p' "$work/time.txt")
    echo "tl $model batch=$batch threads=$t variant=tlc ms=$p50 iters=$iters" | tee -a "$results"
    echo "tl $model batch=$batch threads=$t variant=tlc rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')" \
      | tee -a "$results"
  done
done

echo "load average after tl: $(cut -d' ' -f1-3 /proc/loadavg)"

# 4. PyTorch at its best, with the allocator settings of docs/benchmarks.md.
torch_env=(env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000)
# shellcheck disable=SC2086
"${torch_env[@]}" /usr/bin/python3 "$root/bench/onnx_peer.py" bench "$work" --threads $threads --budget-s "$budget" | tee -a "$results"
echo "load average after PyTorch 1.13: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -x "$venv/bin/python" ]; then
  # shellcheck disable=SC2086
  "${torch_env[@]}" "$venv/bin/python" "$root/bench/onnx_peer.py" bench "$work" --threads $threads --budget-s "$budget" --compile \
    | tee -a "$results"
else
  echo "(newest PyTorch not installed: bench/setup_peers.sh installs it)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run time: $(($(date +%s) - start)) s"
echo
/usr/bin/python3 "$root/bench/onnx_report.py" "$results"
