#!/usr/bin/env bash
# Attention forward + backward, time and peak memory side by side (docs/benchmarks.md,
# "Attention: fused kernel against materialized scores"): B * heads = 8, E = 64, float32, L = S
# at each length, tl's scaled_dot_product_attention (the fused op, bench/attention_bench.cpp)
# against PyTorch 1.13's softmax(q k^T / sqrt(E)) v (bench/attention_peer.py). Every length and
# side runs in a process of its own, so each peak RSS is its own; "growth" is the peak over the
# resident size just before the first attention call (the inputs are already allocated), the
# part that grows with L: linearly for tl, quadratically for the materialized scores. Times
# are medians of N forward + backward calls after two warm-up calls; ratios are PyTorch / tl.
#
#   bench/attention_memory.sh    # build dir: build (TL_BENCH_BUILD_DIR overrides); about 2 minutes
#
# Environment: TL_BENCH_ITERS (timed calls, default 5), TL_BENCH_LENGTHS (default
# "1024 2048 4096"), TL_BENCH_PYTHON (default /usr/bin/python3, whose torch is 1.13),
# TL_BUILD_LOCK (a file to flock around the build when others share the build folder),
# TL_BENCH_NO_BUILD=1 (use the binary as it is).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TL_BENCH_BUILD_DIR:-$root/build}
iters=${TL_BENCH_ITERS:-5}
lengths=${TL_BENCH_LENGTHS:-1024 2048 4096}
python=${TL_BENCH_PYTHON:-/usr/bin/python3}
torch_env=(env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000)  # as bench/train_models.sh

if [ "${TL_BENCH_NO_BUILD:-0}" != 1 ]; then
  build_cmd=(cmake --build "$build" --target bench_attention)
  if [ -n "${TL_BUILD_LOCK:-}" ]; then build_cmd=(flock "$TL_BUILD_LOCK" "${build_cmd[@]}"); fi
  "${build_cmd[@]}" >/dev/null
fi

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, flags: $(grep -o -w 'avx512f\|avx2\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), torch $("$python" -c 'import torch; print(torch.__version__)')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "attention forward + backward, B * heads = 8, E = 64, float32, median of $iters calls"
echo
printf '%6s | %9s %9s %6s | %9s %9s %6s | %10s %10s %6s | %10s %10s\n' \
  L "tl s" "torch s" ratio "tl fwd s" "torch fwd" ratio "tl RSS MiB" "torch RSS" ratio "tl growth" "torch grow"
for L in $lengths; do
  # Each side prints: L, median seconds, forward median seconds, peak RSS MiB, growth MiB.
  read -r _ t_s t_f t_rss t_grow < <("$build/bench/bench_attention" "$L" "$iters")
  read -r _ p_s p_f p_rss p_grow < <("${torch_env[@]}" "$python" "$root/bench/attention_peer.py" "$L" "$iters")
  awk -v L="$L" -v ts="$t_s" -v ps="$p_s" -v tf="$t_f" -v pf="$p_f" -v tr="$t_rss" -v pr="$p_rss" \
      -v tg="$t_grow" -v pg="$p_grow" 'BEGIN {
    printf "%6d | %9.3f %9.3f %6.2f | %9.3f %9.3f %6.2f | %10.0f %10.0f %6.1f | %10.0f %10.0f\n",
      L, ts, ps, ps / ts, tf, pf, pf / tf, tr, pr, pr / tr, tg, pg }'
done
