#!/usr/bin/python3
"""PyTorch side of bench/compile_gelu.cpp: y = gelu(x * a + b) on 4M float32 elements, eager,
at 1 and at 2 threads; prints the faster median (seconds) and its thread count.

    compile_gelu_peer.py [reps]
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    torch.manual_seed(0)
    x = torch.randn(1 << 22)
    a = torch.tensor(1.3)
    b = torch.tensor(-0.2)
    best = None
    with torch.no_grad():
        for threads in sorted({1, torch.get_num_interop_threads(), 2}):
            torch.set_num_threads(threads)
            for _ in range(2):
                F.gelu(x * a + b)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                F.gelu(x * a + b)
                times.append(time.perf_counter() - t0)
            median = statistics.median(times)
            if best is None or median < best[0]:
                best = (median, threads)
    print(f"{best[0]:.6g} {best[1]}")


if __name__ == "__main__":
    main()
