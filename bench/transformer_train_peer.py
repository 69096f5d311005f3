"""PyTorch's side of bench/transformer_train.cpp (run by bench/train_models.sh): the same
TransformerEncoderLayer(256, 4, 1024, dropout 0, batch_first) on x (8, 128, 256) float32, at one
thread count per process, in each variant that can make it faster:

  forward  eval mode: `eager` under inference_mode (PyTorch's fused fast path for this layer),
           `torchscript` (traced, frozen, optimize_for_inference; under no_grad) and, with
           --compile, `compile` (torch.compile; compiling is untimed)
  train    mse_loss, zero_grad(set_to_none), backward, Adam: `eager` with foreach off and on,
           and with --compile `compile` (the whole step under torch.compile; if that fails, the
           layer alone: the variant's name says which)

Run with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 (docs/benchmarks.md).

    transformer_train_peer.py --threads T [--iters N] [--compile] [--phases forward,train]

Prints, as bench/train_models.sh reads them:
    torch-<version> transformer <phase> variant=<V> threads=<T> ms=<median> iters=<N>
"""
import argparse
import sys
import warnings

import torch
import torch.nn.functional as F
from peer_timing import compiled_step, median_seconds  # bench/peer_timing.py (the script's folder is on sys.path)

B, T, E, H, FF = 8, 128, 256, 4, 1024
VERSION = torch.__version__.split("+")[0]


def report(phase, variant, threads, seconds, iters):
    print(f"torch-{VERSION} transformer {phase} variant={variant} threads={threads} ms={seconds * 1e3:.4f} "
          f"iters={iters}", flush=True)


def timed(fn, iters):
    """Median seconds of `iters` calls after three untimed ones (as tl::bench::median_seconds plus one)."""
    return median_seconds(fn, 0, warmup=3, min_reps=iters, max_reps=iters)


def make_layer():
    torch.manual_seed(0)
    return torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True)


def bench_forward(args):
    layer = make_layer().eval()
    x = torch.randn(B, T, E)
    with torch.inference_mode():
        report("forward", "eager", args.threads, timed(lambda: layer(x), args.iters), args.iters)
    if args.compile:
        compiled = torch.compile(layer)
        with torch.no_grad():
            report("forward", "compile", args.threads, timed(lambda: compiled(x), args.iters), args.iters)
    else:
        with torch.no_grad():
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(layer, x)))
            report("forward", "torchscript", args.threads, timed(lambda: frozen(x), args.iters), args.iters)


def train_step(layer, opt, x, target):
    loss = F.mse_loss(layer(x), target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def bench_train(args):
    x, target = torch.randn(B, T, E), torch.randn(B, T, E)
    for foreach in (False, True):
        layer = make_layer().train()
        opt = torch.optim.Adam(layer.parameters(), lr=1e-4, foreach=foreach)
        report("train", f"eager-foreach={foreach}", args.threads,
               timed(lambda: train_step(layer, opt, x, target), args.iters), args.iters)
    if args.compile:
        layer = make_layer().train()
        opt = torch.optim.Adam(layer.parameters(), lr=1e-4)
        step, variant = compiled_step(torch, train_step, layer, (opt, x, target), "transformer_train_peer.py")
        report("train", variant, args.threads, timed(lambda: step(layer, opt, x, target), args.iters), args.iters)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--phases", default="forward,train")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    # One thread count per process: inductor fixes its thread count when it compiles.
    torch.set_num_threads(args.threads)
    if "forward" in args.phases:
        bench_forward(args)
    if "train" in args.phases:
        bench_train(args)


if __name__ == "__main__":
    main()
