#!/usr/bin/python3
"""PyTorch side of bench/attention_bench.cpp: attention forward + backward at one sequence
length, float32, B * heads = 8, E = 64, written out as softmax(q k^T / sqrt(E)) v (PyTorch 1.13
has no scaled_dot_product_attention). Prints one line, as the C++ side:
    <L> <median seconds> <forward median seconds> <peak RSS MiB> <peak RSS growth MiB>

    attention_peer.py <L> [reps]
"""
import math
import statistics
import sys
import time

import torch


def status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return float(line.split()[1]) / 1024.0
    return -1.0


def median_seconds(fn, reps):
    fn()
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    L = int(sys.argv[1])
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    B, E = 8, 64
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, L, E, requires_grad=True) for _ in range(3))
    dout = torch.randn(B, L, E)
    scale = 1.0 / math.sqrt(E)

    def attention():
        return torch.softmax(torch.matmul(q * scale, k.transpose(-2, -1)), dim=-1).matmul(v)

    def step():
        torch.autograd.grad(attention(), (q, k, v), dout)

    def forward():
        with torch.no_grad():
            attention()

    before = status_mib("VmRSS:")
    seconds = median_seconds(step, reps)
    fwd = median_seconds(forward, reps)
    peak = status_mib("VmHWM:")
    print(f"{L} {seconds:.6g} {fwd:.6g} {peak:.1f} {peak - before:.1f}")


if __name__ == "__main__":
    main()
