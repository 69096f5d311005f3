#!/usr/bin/python3
"""The eager_bench workloads in PyTorch 1.13, at PyTorch's best settings.

Each workload runs at 1 and 2 intra-op threads (and, for Adam, with and without foreach);
the fastest variant is printed as one JSON line in eager_bench's format. Run under
/usr/bin/python3 with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 (bench/run.sh
does this): glibc returning large blocks to the OS costs PyTorch a lot here.

    torch_peer.py --workload add|mlp_tiny|mlp_784|sgemm|cnn [--reps N] [--budget-s S]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def time_per_call(warmup, reps, budget_s, body):
    """Median seconds per call; same repetition sizing as eager_bench's time_per_call."""
    t0 = time.perf_counter()
    body()
    first = time.perf_counter() - t0
    if first > budget_s / 2:
        return first, 1
    i = 1
    while i < warmup and time.perf_counter() - t0 < budget_s / 4:
        body()
        i += 1
    t0 = time.perf_counter()
    body()
    one = max(time.perf_counter() - t0, 1e-9)
    inner = max(1, int(0.2 / one))
    reps = max(1, min(reps, int(budget_s / (inner * one))))
    if reps == 1 and inner == 1:
        return min(one, first), 1
    per_call = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            body()
        per_call.append((time.perf_counter() - t0) / inner)
    return statistics.median(per_call), reps


def bench_add(reps, budget_s):
    del budget_s
    a, b = torch.rand(8), torch.rand(8)
    adds = 10000
    with torch.no_grad():
        for _ in range(adds):
            torch.add(a, b)
        per_add = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(adds):
                torch.add(a, b)
            per_add.append((time.perf_counter() - t0) / adds)
    return statistics.median(per_add) * 1e6, reps


def mlp(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(act())
    return torch.nn.Sequential(*layers)


def train_step(model, opt, x, y):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def bench_mlp_tiny(reps, budget_s, foreach):
    torch.manual_seed(0)
    model = mlp([4, 16, 3], torch.nn.Tanh)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=foreach)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    s, done = time_per_call(50, reps, budget_s, lambda: train_step(model, opt, x, y))
    return s * 1e6, done


def bench_mlp_784(reps, budget_s, foreach):
    torch.manual_seed(0)
    model = mlp([784, 512, 512, 10], torch.nn.ReLU)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, foreach=foreach)
    x, y = torch.randn(128, 784), torch.randint(0, 10, (128,))
    s, done = time_per_call(5, reps, budget_s, lambda: train_step(model, opt, x, y))
    return s * 1e3, done


def cnn():
    # conv32-relu-pool-conv64-relu-pool-linear10 on 1x28x28 (as eager_bench's cnn).
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 10))


def bench_cnn(reps, budget_s, channels_last):
    torch.manual_seed(0)
    model = cnn()
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    s, done = time_per_call(3, reps, budget_s, lambda: train_step(model, opt, x, y))
    return s * 1e3, done


def bench_sgemm(reps, budget_s):
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    with torch.no_grad():
        s, done = time_per_call(3, reps, budget_s, lambda: torch.matmul(a, b))
    return 2.0 * n**3 / s / 1e9, done


# workload -> (metric, higher is better, [(variant name, fn(reps, budget_s))])
WORKLOADS = {
    "add": ("us_per_op", False, [("", bench_add)]),
    "mlp_tiny": ("us_per_step", False, [
        ("foreach=False", lambda r, b: bench_mlp_tiny(r, b, False)),
        ("foreach=True", lambda r, b: bench_mlp_tiny(r, b, True)),
    ]),
    "mlp_784": ("ms_per_step", False, [
        ("foreach=False", lambda r, b: bench_mlp_784(r, b, False)),
        ("foreach=True", lambda r, b: bench_mlp_784(r, b, True)),
    ]),
    "sgemm": ("gflops", True, [("", bench_sgemm)]),
    "cnn": ("ms_per_step", False, [
        ("", lambda r, b: bench_cnn(r, b, False)),
        ("channels_last", lambda r, b: bench_cnn(r, b, True)),
    ]),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--budget-s", type=float, default=10.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    metric, higher_is_better, variants = WORKLOADS[args.workload]
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, fn in variants:
            value, done = fn(args.reps, args.budget_s)
            results.append((value, threads, name, done))
    pick = max if higher_is_better else min
    value, threads, name, done = pick(results, key=lambda r: r[0])
    tried = "; ".join(f"{t} threads{' ' + n if n else ''}: {v:.4g}" for v, t, n, _ in results)
    print(json.dumps({
        "side": "torch", "workload": args.workload, "metric": metric, "median": value,
        "reps": done, "threads": str(threads),
        "note": f"torch {torch.__version__}{', ' + name if name else ''}; tried {tried}",
    }), flush=True)


if __name__ == "__main__":
    main()
