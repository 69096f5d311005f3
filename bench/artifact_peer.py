#!/usr/bin/python3
"""The artifact_bench models in PyTorch: eager (no_grad, eval) and TorchScript frozen, and,
with a PyTorch that has it, torch.compile. Prints lines in artifact_bench's format, one per
variant, thread count and batch size:

    artifact_peer.py --threads 1 2 [--budget-s S] [--compile]

Run under /usr/bin/python3 for PyTorch 1.13 (python3-torch), or under the benchmark venv
(bench/setup_peers.sh) for the newest PyTorch with --compile.
"""
import argparse
import statistics
import time

import torch
from peer_timing import median_seconds  # bench/peer_timing.py (the script's folder is on sys.path)


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                               torch.nn.ReLU(), torch.nn.Linear(512, 10))


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 10))


def variants(model, x, use_compile):
    model.eval()
    yield "torch_eager", model
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(model, x))
    yield "torchscript_frozen", frozen
    if use_compile and hasattr(torch, "compile"):
        yield "torch_compile", torch.compile(model)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--budget-s", type=float, default=3.0)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    version = torch.__version__.split("+")[0]
    for name, make, item in (("mlp", mlp, (784,)), ("cnn", cnn, (1, 28, 28))):
        model = make()
        for batch in (1, 64):
            x = torch.randn(batch, *item)
            for variant, fn in variants(model, x, args.compile):
                for t in args.threads:
                    torch.set_num_threads(t)
                    with torch.no_grad():
                        s = median_seconds(lambda: fn(x), args.budget_s)
                    print(f"{variant}-{version} {name} batch={batch} threads={t} ms={s * 1e3:.4f} "
                          f"items_per_s={batch / s:.1f}", flush=True)


if __name__ == "__main__":
    main()
