#!/usr/bin/env bash
# Training steps side by side (docs/benchmarks.md, "Training steps: transformer layer and
# resnet18"): a TransformerEncoderLayer(256, 4, 1024) at batch 8 x 128 tokens (forward and Adam
# training step) and resnet18 at batch 16 x 224 x 224 (SGD-momentum training step), tl eager and
# tl::compile against PyTorch 1.13 (/usr/bin/python3) and, when bench/setup_peers.sh has
# installed it, the newest PyTorch with torch.compile. Each side runs at 1 and `nproc` threads;
# figures are medians of N calls after warm-up; the table compares each side's fastest variant
# and thread count, and gives tl's achieved GFLOP/s against the FMA peak measured in the same run.
#
#   bench/train_models.sh        # build dir: build (TL_BENCH_BUILD_DIR overrides); about 10 minutes
#
# Environment: TL_BENCH_ITERS (timed calls: transformer, default 20; resnet18 a quarter of it,
# at least 3), TL_BENCH_THREADS (default "1 <nproc>"), TL_BENCH_MODELS (default "transformer
# resnet"), TL_BENCH_VENV (the newest PyTorch), TL_BUILD_LOCK (a file to flock around the build
# when others share the build folder), TL_BENCH_NO_BUILD=1 (use the binaries as they are),
# TL_BENCH_OMP_WAIT_POLICY (default passive, for both sides; empty leaves OpenMP's default:
# spinning threads make 2-thread runs several times slower whenever anything else runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TL_BENCH_BUILD_DIR:-$root/build}
iters=${TL_BENCH_ITERS:-20}
resnet_iters=$((iters / 4 > 3 ? iters / 4 : 3))
threads=$(echo "${TL_BENCH_THREADS:-1 $(nproc)}" | tr ' ' '\n' | sort -un | tr '\n' ' ')
venv=${TL_BENCH_VENV:-$HOME/.cache/tl-bench-venv}
torch_env=(env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000)  # PyTorch at its best (TOOLCHAIN.md)
wait_policy=${TL_BENCH_OMP_WAIT_POLICY-passive}
if [ -n "$wait_policy" ]; then export OMP_WAIT_POLICY=$wait_policy; fi

if [ "${TL_BENCH_NO_BUILD:-0}" != 1 ]; then
  build_cmd=(cmake --build "$build" --target bench_transformer_train bench_resnet_train)
  if [ -n "${TL_BUILD_LOCK:-}" ]; then build_cmd=(flock "$TL_BUILD_LOCK" "${build_cmd[@]}"); fi
  "${build_cmd[@]}" >/dev/null
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
start=$(date +%s)
{
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, flags: $(grep -o -w 'avx512f\|avx2\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)}; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$results"

# shellcheck disable=SC2086
for model in ${TL_BENCH_MODELS:-transformer resnet}; do
  n=$([ $model = resnet ] && echo "$resnet_iters" || echo "$iters")
  # A side that fails leaves its cells empty ("-") and the run goes on.
  "$build/bench/bench_${model}_train" --threads $threads --iters "$n" | tee -a "$results" || echo "bench_${model}_train failed"
  for t in $threads; do
    "${torch_env[@]}" /usr/bin/python3 "$root/bench/${model}_train_peer.py" --threads "$t" --iters "$n" \
      | tee -a "$results" || echo "${model}_train_peer.py (PyTorch 1.13, $t threads) failed"
  done
  if [ -x "$venv/bin/python" ]; then
    for t in $threads; do
      # Its inductor warns on stderr (W...) that this machine has no CUDA runtime.
      "${torch_env[@]}" "$venv/bin/python" "$root/bench/${model}_train_peer.py" --threads "$t" --iters "$n" --compile \
        2> >(grep -v '^W[0-9]' >&2) | tee -a "$results" || echo "${model}_train_peer.py (newest PyTorch, $t threads) failed"
    done
  else
    echo "(newest PyTorch not installed: bench/setup_peers.sh installs it)"
  fi
  echo "load average after $model: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results"
done
echo "run time: $(($(date +%s) - start)) s"
echo

/usr/bin/python3 - "$results" <<'EOF'
"""The table of docs/benchmarks.md from the lines above."""
import re
import sys

LINE = re.compile(r"^(tl|torch-\S+) (\w+) (\w+) variant=(\S+) threads=(\d+) ms=([\d.]+)")
times, gflop, peak = [], {}, {}
for line in open(sys.argv[1]):
    if m := LINE.match(line):
        side, model, phase, variant, threads, ms = m.groups()
        times.append((side, model, phase, variant, int(threads), float(ms)))
    elif m := re.match(r"^tl (\w+) (\w+) gflop=([\d.]+)", line):
        gflop[m.group(1), m.group(2)] = float(m.group(3))
    elif m := re.match(r"^tl peak threads=(\d+) fma_gflops=([\d.]+)", line):
        # Measured once per bench: the highest is the least disturbed by other load.
        peak[int(m.group(1))] = max(peak.get(int(m.group(1)), 0), float(m.group(2)))

TARGETS = {("transformer", "train"): 0.7, ("resnet18", "train"): 0.8}  # tl compiled / PyTorch 1.13's best
old = next((s for s, *_ in times if s.startswith("torch-1.")), None)
new = sorted({s for s, *_ in times if s.startswith("torch-") and s != old})


def name(side):
    return side.removeprefix("torch-") if side else "1.13 (did not run)"



def best(side, model, phase, pick=lambda v: True):
    rows = [r for r in times if r[0] == side and r[1] == model and r[2] == phase and pick(r[3])]
    return min(rows, key=lambda r: r[5]) if rows else None


def cell(row, with_variant=True):
    if not row:
        return "-"
    return f"{row[5]:.1f} ({row[4]}t{', ' + row[3] if with_variant else ''})"


def ratio(a, b):
    return f"{a[5] / b[5]:.2f}" if a and b else "-"


head = ["workload", "tl eager ms", "tl compiled ms", f"PyTorch {name(old)} best ms"]
for v in new:
    head += [f"PyTorch {name(v)} eager ms", f"PyTorch {name(v)} compile ms"]
head += ["tl compiled / 1.13"] + [f"tl compiled / {name(v)}" for v in new] + ["target", "met?"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
notes = []
for model, phase in sorted({(r[1], r[2]) for r in times}, key=lambda k: (k[0] != "transformer", k[1] != "forward")):
    eager, compiled = best("tl", model, phase, lambda v: v == "eager"), best("tl", model, phase, lambda v: v == "compiled")
    peer = best(old, model, phase) if old else None
    row = [f"{model} {phase}", cell(eager, False), cell(compiled, False), cell(peer)]
    newest = []
    for v in new:
        e, c = best(v, model, phase, lambda n: not n.startswith("compile")), best(v, model, phase, lambda n: n.startswith("compile"))
        row += [cell(e), cell(c)]
        newest.append(min([r for r in (e, c) if r], key=lambda r: r[5], default=None))
    row += [ratio(compiled, peer)] + [ratio(compiled, n) for n in newest]
    target = TARGETS.get((model, phase))
    if target and compiled and peer:
        row += [f"<= {target}x 1.13", "yes" if compiled[5] / peer[5] <= target else "NO"]
    else:
        row += ["-", "-"]
    print("| " + " | ".join(row) + " |")
    if (model, phase) in gflop and compiled:
        rate = gflop[model, phase] / (compiled[5] / 1e3)
        of_peak = f" = {100 * rate / peak[compiled[4]]:.0f}% of the {peak[compiled[4]]:.1f} GFLOP/s FMA peak at {compiled[4]} thread(s)" \
            if compiled[4] in peak else ""
        peer_rate = f"; PyTorch {name(old)}: {gflop[model, phase] / (peer[5] / 1e3):.1f} GFLOP/s" if peer else ""
        notes.append(f"- {model} {phase}: {gflop[model, phase]:.3f} GFLOP of matrix products and convolutions per call; "
                     f"tl compiled {rate:.1f} GFLOP/s{of_peak}{peer_rate}")
print()
print("\n".join(notes))
EOF
