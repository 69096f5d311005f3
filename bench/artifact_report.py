#!/usr/bin/python3
"""Side-by-side table for bench/artifact_run.sh: tl's compiled artifacts against the best
PyTorch variant (eager, TorchScript frozen, torch.compile) at its best thread count.

    artifact_report.py RESULTS_FILE
"""
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^(\S+) (\S+) (.*)$")


def parse(path):
    rows = []
    for line in open(path):
        m = LINE.match(line.strip())
        if not m:
            continue
        side, model, rest = m.groups()
        fields = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
        rows.append((side, model, fields))
    return rows


def main():
    rows = parse(sys.argv[1])
    best = defaultdict(dict)  # (model, batch) -> side -> (ms, threads)
    peak = {}
    program_gflops, matmul_gflops = {}, {}
    for side, model, f in rows:
        if model == "peak":
            peak[int(f["threads"])] = float(f["fma_gflops"])
            continue
        if "program_gflops" in f:
            program_gflops[int(f["threads"])] = float(f["program_gflops"])
            continue
        if "matmul_gflops" in f:
            matmul_gflops[int(f["threads"])] = float(f["matmul_gflops"])
            continue
        if "ms" not in f:
            continue
        key = (model, int(f["batch"]))
        group = "tl" if side == "artifact" else side
        ms = float(f["ms"])
        if group not in best[key] or ms < best[key][group][0]:
            best[key][group] = (ms, int(f["threads"]))
    print(f"{'model':<5} {'batch':>5} {'tl ms':>9} {'peer':<28} {'peer ms':>9} {'tl/peer':>8}  target")
    for (model, batch), sides in sorted(best.items()):
        if "tl" not in sides:
            continue
        tl_ms, tl_t = sides["tl"]
        peers = {s: v for s, v in sides.items() if s != "tl"}
        for version in sorted({s.split("-", 1)[1] for s in peers}):
            mine = {s: v for s, v in peers.items() if s.endswith(version)}
            name, (ms, t) = min(mine.items(), key=lambda kv: kv[1][0])
            ratio = tl_ms / ms
            target = "latency <= 0.3x" if batch == 1 else "throughput >= 1.2x (time <= 0.83x)"
            ok = ratio <= 0.3 if batch == 1 else ratio <= 1 / 1.2
            print(f"{model:<5} {batch:>5} {tl_ms:>9.4f} {name + f' ({t}t)':<28} {ms:>9.4f} {ratio:>8.2f}  "
                  f"{target}: {'met' if ok else 'NOT met'}")
    for t in sorted(program_gflops):
        if t in peak:
            print(f"MLP batch 64, {t} thread(s): whole program {program_gflops[t]:.1f} GFLOP/s, matmuls alone "
                  f"{matmul_gflops.get(t, 0):.1f} GFLOP/s; FMA peak {peak[t]:.1f} GFLOP/s -> "
                  f"{100 * program_gflops[t] / peak[t]:.0f}% / {100 * matmul_gflops.get(t, 0) / peak[t]:.0f}% "
                  f"of peak (target >= 85%)")


if __name__ == "__main__":
    main()
