#!/usr/bin/python3
"""The table of bench/onnx_models.sh: tlc-compiled ONNX models against PyTorch 1.13 at its best
and the newest PyTorch at its best, per thread count, with peak RSS, the FMA peak and the
targets (checked at the largest thread count).

    onnx_report.py RESULTS_FILE

Reads lines "<side> <model> key=value ...": sides `tl`, `torch-<version>` (bench/onnx_peer.py)
and `artifact peak threads=T fma_gflops=G` (bench/artifact_bench).
"""
import sys
from collections import defaultdict

# resnet18's forward at 224x224: 1.814 G multiply-adds per image, 3.628 GFLOP (an FMA is two
# FLOPs, as the FMA peak counts them); tl's --profile counts the same per convolution.
RESNET18_FLOP = 3.628e9

# (model, batch) -> (what is compared, the largest tl/PyTorch 1.13 time ratio that meets it).
TARGETS = {("resnet18", 1): ("latency", 0.8), ("resnet18", 32): ("total time", 0.9),
           ("transformer", 8): ("latency", 0.8)}
RSS_TARGET = 0.6
PEAK_TARGET = 0.85


def parse(path):
    rows = []
    for line in open(path):
        parts = line.split()
        if len(parts) < 3 or "=" in parts[0] or "=" in parts[1]:
            continue
        fields = dict(kv.split("=", 1) for kv in parts[2:] if "=" in kv)
        rows.append((parts[0], parts[1], fields))
    return rows


def version_key(side):
    return tuple(int(p) if p.isdigit() else 0 for p in side.split("-", 1)[1].replace("a", ".").split("."))


def fmt(v, digits=4):
    return "-" if v is None else f"{v:.{digits}g}"


def main():
    rows = parse(sys.argv[1])
    times = defaultdict(dict)  # (model, batch, threads) -> side -> {variant: ms}
    rss = defaultdict(dict)    # (model, batch, threads) -> side -> {variant: MB}
    peak = {}
    for side, model, f in rows:
        if side == "artifact" and model == "peak":
            peak[int(f["threads"])] = float(f["fma_gflops"])
            continue
        if "batch" not in f:
            continue
        key = (model, int(f["batch"]), int(f["threads"]))
        table = times if "ms" in f else rss if "rss_mb" in f else None
        if table is not None:
            table[key].setdefault(side, {})[f.get("variant", "")] = float(f.get("ms") or f["rss_mb"])
    sides = sorted({s for per in times.values() for s in per if s.startswith("torch-")}, key=version_key)
    if not sides:
        sys.exit("onnx_report.py: no PyTorch results")
    old, new = sides[0], sides[-1] if len(sides) > 1 else None
    # "torch-1.13.0a0" -> "1.13"
    name = {s: ".".join(s[6:].split(".")[:2]) for s in sides}

    def best(key, side):
        per = times[key].get(side)
        if not per:
            return None, None
        variant = min(per, key=per.get)
        return per[variant], variant

    def smallest_rss(key, side):
        per = rss[key].get(side)
        return min(per.values()) if per else None

    def ratio(a, b):
        return a / b if a is not None and b else None

    print(f"| model | batch | threads | tl ms | PyTorch {name[old]} best ms (mode) | PyTorch {name[new] if new else '-'} best ms "
          f"(mode) | tl/{name[old]} | tl/{name[new] if new else '-'} | peak RSS tl MB | PyTorch {name[old]} MB | RSS tl/{name[old]} |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(times):
        model, batch, t = key
        tl_ms, _ = best(key, "tl")
        old_ms, old_v = best(key, old)
        new_ms, new_v = best(key, new) if new else (None, None)
        tl_rss, old_rss = smallest_rss(key, "tl"), smallest_rss(key, old)
        print(f"| {model} | {batch} | {t} | {fmt(tl_ms)} | {fmt(old_ms)} ({old_v}) | "
              f"{fmt(new_ms)}{f' ({new_v})' if new_v else ''} | {fmt(ratio(tl_ms, old_ms), 3)} | "
              f"{fmt(ratio(tl_ms, new_ms), 3)} | {fmt(tl_rss)} | {fmt(old_rss)} | {fmt(ratio(tl_rss, old_rss), 3)} |")

    print()
    print("Each side at its fastest thread count (for context; the targets use the same count):")
    for model, batch in sorted({(k[0], k[1]) for k in times}):
        line = []
        for side in ["tl", old] + ([new] if new else []):
            cands = [(best((model, batch, t), side), t) for t in sorted({k[2] for k in times if k[:2] == (model, batch)})]
            cands = [((ms, v), t) for (ms, v), t in cands if ms is not None]
            if cands:
                (ms, v), t = min(cands)
                line.append((side, ms, v, t))
        tl_ms = line[0][1] if line and line[0][0] == "tl" else None
        text = ", ".join(f"{s if s == 'tl' else 'PyTorch ' + name[s]} {fmt(ms)} ms ({'' if s == 'tl' else v + ', '}{t}t)"
                         for s, ms, v, t in line)
        ratios = ", ".join(f"tl/{name[s]} {fmt(ratio(tl_ms, ms), 3)}" for s, ms, _, _ in line if s != "tl")
        print(f"- {model} batch {batch}: {text}: {ratios}")

    print()
    for t in sorted(peak):
        key = ("resnet18", 32, t)
        tl_ms, _ = best(key, "tl")
        old_ms, old_v = best(key, old)
        if tl_ms is None:
            continue
        tl_gflops = RESNET18_FLOP * 32 / (tl_ms / 1e3) / 1e9
        old_text = ""
        if old_ms is not None:
            old_gflops = RESNET18_FLOP * 32 / (old_ms / 1e3) / 1e9
            old_text = f"; PyTorch {name[old]} ({old_v}) {old_gflops:.1f} GFLOP/s ({100 * old_gflops / peak[t]:.0f}%)"
        print(f"resnet18 batch 32, {t} thread(s): tl {tl_gflops:.1f} GFLOP/s of a {peak[t]:.1f} GFLOP/s FMA peak = "
              f"{100 * tl_gflops / peak[t]:.0f}%{old_text} (whole-model time: a lower bound of the convolutions' rate)")

    t = max(k[2] for k in times)
    print()
    print(f"Targets (at {t} threads, against PyTorch {name[old]}'s best mode):")
    for (model, batch), (what, limit) in TARGETS.items():
        key = (model, batch, t)
        r = ratio(best(key, "tl")[0], best(key, old)[0])
        verdict = "no result" if r is None else "met" if r <= limit else "NOT met"
        print(f"- {model} batch {batch} {what} <= {limit}x: {fmt(r, 3)}x: {verdict}")
        if (model, batch) == ("resnet18", 32) and t in peak and best(key, "tl")[0] is not None:
            share = RESNET18_FLOP * 32 / (best(key, "tl")[0] / 1e3) / 1e9 / peak[t]
            print(f"- {model} batch {batch} >= {PEAK_TARGET:.0%} of the FMA peak: {share:.0%}: "
                  f"{'met' if share >= PEAK_TARGET else 'NOT met'}")
    for (model, batch) in TARGETS:
        key = (model, batch, t)
        r = ratio(smallest_rss(key, "tl"), smallest_rss(key, old))
        verdict = "no result" if r is None else "met" if r <= RSS_TARGET else "NOT met"
        print(f"- {model} batch {batch} peak RSS <= {RSS_TARGET}x: {fmt(r, 3)}x: {verdict}")
    print(f"(PyTorch's RSS: the smallest over its modes, each a process that loads one model and runs it.)")


if __name__ == "__main__":
    main()
