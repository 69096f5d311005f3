#!/usr/bin/env python3
"""Whole-process benchmarks for bench/run.sh, printed as JSON lines like eager_bench's.

  process_bench.py startup --side tl|torch --runs N -- CMD...
      Start-to-exit wall time (median) and peak RSS (max over runs) of CMD.
  process_bench.py rebuild --build-dir DIR --target T --source FILE --runs N [--program P]
                           [--label L]
      Edit-rebuild-run loop: rewrite the `full({8}, <constant>)` line of FILE to a new value
      (so neither ninja nor ccache can skip the compile), then time `ninja -C DIR T` plus
      one run of the program (DIR/bench/T, or P: an out-of-tree project's program).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time


def run_measured(cmd, **kwargs):
    """Runs cmd; returns (wall seconds, peak RSS in MB (10^6 bytes), stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"process_bench: {' '.join(cmd)} failed ({proc.returncode}):\n{out.decode()}")
    return wall, usage.ru_maxrss * 1024 / 1e6, out.decode()


def emit(side, workload, metric, value, runs, note):
    print(json.dumps({"side": side, "workload": workload, "metric": metric, "median": value,
                      "reps": runs, "threads": "1", "note": note}), flush=True)


def startup(args):
    run_measured(args.cmd)  # warm the page cache
    walls, rss = [], []
    for _ in range(args.runs):
        wall, peak, _ = run_measured(args.cmd)
        walls.append(wall)
        rss.append(peak)
    emit(args.side, "startup_time", "s", statistics.median(walls), args.runs, " ".join(args.cmd))
    emit(args.side, "startup_rss", "MB", max(rss), args.runs, "peak RSS, max over runs")


def rebuild(args):
    program = args.program or os.path.join(args.build_dir, "bench", args.target)
    pattern = re.compile(r"full\(\{8\}, [0-9.]+\)")
    with open(args.source) as f:
        text = f.read()
    if not pattern.search(text):
        sys.exit(f"process_bench: {args.source} has no `full({{8}}, <constant>)` line to edit")
    # Build once so the loop measures only what the edit forces.
    subprocess.run(["ninja", "-C", args.build_dir, args.target], check=True,
                   stdout=subprocess.DEVNULL)
    walls = []
    for i in range(args.runs):
        # A value this process has not used before: a fresh compile, never a ccache hit.
        value = f"{time.time_ns() % 1000000}.{i + 1}"
        with open(args.source, "w") as f:
            f.write(pattern.sub(f"full({{8}}, {value})", text))
        t0 = time.perf_counter()
        run_measured(["ninja", "-C", args.build_dir, args.target])
        _, _, out = run_measured([program])
        walls.append(time.perf_counter() - t0)
        expected = 8 * (1 + float(value))
        if abs(float(out.split()[-1]) - expected) > 1e-3 * expected:
            sys.exit(f"process_bench: rebuilt program printed {out.strip()}, expected {expected}")
    with open(args.source, "w") as f:
        f.write(text)
    emit("tl", args.label, "s", statistics.median(walls), args.runs,
         f"one-line edit, ninja {args.target}, run")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("startup")
    p.add_argument("--side", required=True)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("cmd", nargs="+")
    p = sub.add_parser("rebuild")
    p.add_argument("--build-dir", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--program", default=None)
    p.add_argument("--label", default="rebuild_run")
    args = parser.parse_args()
    startup(args) if args.command == "startup" else rebuild(args)


if __name__ == "__main__":
    main()
