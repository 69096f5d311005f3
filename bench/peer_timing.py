"""Timing shared by the PyTorch peers of the benchmarks (artifact_peer.py, onnx_peer.py, the
training peers)."""
import statistics
import sys
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


def compiled_step(torch, train_step, model, first_args, script):
    """torch.compile of the whole training step train_step(model, *args), tried once on
    first_args; an inductor without optimizer support gets the model compiled alone instead.
    Returns (step, variant): step takes (model, *args) as train_step does."""
    step = torch.compile(train_step)
    try:
        step(model, *first_args)
        return step, "compile"
    except Exception as e:  # noqa: BLE001 (any failure of the whole-step compile)
        print(f"{script}: torch.compile of the whole step failed ({type(e).__name__}: {e}); compiling the model alone",
              file=sys.stderr, flush=True)
        torch._dynamo.reset()
        compiled_model = torch.compile(model)
        return (lambda m, *a: train_step(compiled_model, *a)), "compile-model"
