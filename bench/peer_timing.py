"""Timing shared by the PyTorch peers of the benchmarks (artifact_peer.py, onnx_peer.py)."""
import statistics
import time


def median_seconds(fn, budget_s, warmup=2, min_reps=20, max_reps=20000):
    """Median seconds of fn() over about budget_s (after `warmup` untimed calls)."""
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    reps = int(min(max(budget_s / once, min_reps), max_reps))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
