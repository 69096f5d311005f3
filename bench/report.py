#!/usr/bin/env python3
"""Prints bench/run.sh's side-by-side table from the JSON lines of eager_bench,
torch_peer.py and process_bench.py. Where a side ran at several thread counts, the best
median counts."""
import json
import sys

# workload -> (label, unit, higher is better, target kind, target value[, PyTorch workload])
#   "ratio": tl/PyTorch of the median must be <= value (>= when higher is better); compiled
#            workloads compare with PyTorch's eager run of the same workload
#   "abs": tl's median must be <= value
ROWS = [
    ("add", "(a) add, 2 x 8 float32", "us/op", False, "ratio", 0.5),
    ("mlp_tiny", "(b) MLP 4-16-3 tanh, B=32, Adam, train step", "us/step", False, "ratio", 0.3),
    ("mlp_784", "(c) MLP 784-512-512-10 ReLU, B=128, SGD-m, train step", "ms/step", False, "ratio", 0.9),
    ("sgemm", "(d) sgemm 1024^3", "GFLOP/s", True, "ratio", 1.5),
    ("rebuild_run", "(e) one-line edit: rebuild + relink + run", "s", False, "abs", 2.0),
    ("startup_time", "(f) tiny program, start to exit", "s", False, "abs", 0.1),
    ("startup_rss", "(f) tiny program, peak RSS", "MB", False, "abs", 30.0),
    # Compiled training steps (tl::compile), targets of the CPU code generation work.
    ("mlp_784_compiled", "compiled: MLP 784-512-512-10, SGD-m, train step", "ms/step", False, "ratio", 0.6, "mlp_784"),
    ("mlp_tiny_compiled", "compiled: MLP 4-16-3, Adam, train step", "us/step", False, "ratio", 0.1, "mlp_tiny"),
    ("cnn", "small CNN 1x28x28, B=64, SGD-m, train step (eager)", "ms/step", False, "ratio", 1.0),
    ("cnn_compiled", "compiled: small CNN, train step", "ms/step", False, "ratio", 0.8, "cnn"),
    ("compile_time", "compiled: MLP 784 step, trace to first run (cold)", "s", False, "abs", 3.0),
    ("compile_time_warm", "compiled: MLP 784 step, trace to first run (warm disk cache)", "s", False, "abs", 0.3),
]


def best(lines, higher):
    pick = max if higher else min
    return pick(lines, key=lambda r: r["median"]) if lines else None


def fmt(x):
    return f"{x:.4g}" if x is not None else "-"


def main():
    results = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
    header = ["workload", "unit", "tl (threads)", "PyTorch (threads)", "tl/PyTorch", "target", "met?"]
    table = []
    for key, label, unit, higher, kind, target, *peer in ROWS:
        tl = best([r for r in results if r["workload"] == key and r["side"] == "tl"], higher)
        peer_key = peer[0] if peer else key
        pt = best([r for r in results if r["workload"] == peer_key and r["side"] == "torch"], higher)
        if tl is None:
            continue
        ratio = tl["median"] / pt["median"] if pt else None
        if kind == "ratio":
            target_text = f"{'>=' if higher else '<='} {target}x PyTorch"
            met = ratio is not None and (ratio >= target if higher else ratio <= target)
        else:
            target_text = f"<= {target} {unit}"
            met = tl["median"] <= target
        threaded = kind == "ratio"
        tl_text = fmt(tl["median"]) + (f" ({tl['threads']})" if threaded else "")
        pt_text = "-" if pt is None else fmt(pt["median"]) + (f" ({pt['threads']})" if threaded else "")
        table.append([label, unit, tl_text, pt_text, fmt(ratio), target_text, "yes" if met else "NO"])
    widths = [max(len(str(row[i])) for row in [header] + table) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table:
        print(line(row))
    print()
    for r in results:
        if r.get("note"):
            print(f"  {r['side']:>5} {r['workload']:<12} threads={r['threads']:<2} {r['note']}")


if __name__ == "__main__":
    main()
