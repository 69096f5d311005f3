"""PyTorch's side of bench/resnet_train.cpp (run by bench/train_models.sh): one resnet18 training
step (batch norm in training mode, 1000 classes) on 16 random 224x224 images: cross_entropy,
zero_grad(set_to_none), backward, SGD with momentum 0.9. One thread count per process; variants
`eager` (NCHW), `channels_last` and, with --compile, `compile` (the whole step under
torch.compile; if that fails, the model alone: `compile-model`). The model is torchvision's
resnet18, or where torchvision is missing (the venv) bench/onnx_peer.py's copy of it, which that
script checks against torchvision in every run of bench/onnx_models.sh.

Run with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 (docs/benchmarks.md).

    resnet_train_peer.py --threads T [--iters N] [--batch 16] [--size 224] [--compile]

Prints, as bench/train_models.sh reads them:
    torch-<version> resnet18 train variant=<V> threads=<T> ms=<median> iters=<N>
"""
import argparse
import sys
import warnings

import torch
import torch.nn.functional as F
from peer_timing import compiled_step, median_seconds  # bench/peer_timing.py (the script's folder is on sys.path)

VERSION = torch.__version__.split("+")[0]


def make_model(channels_last):
    torch.manual_seed(0)
    try:
        import torchvision
        model = torchvision.models.resnet18()
    except ImportError:
        from onnx_peer import ResNet18
        model = ResNet18()
    model = model.train()
    return model.to(memory_format=torch.channels_last) if channels_last else model


def train_step(model, opt, x, y):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    # One thread count per process: inductor fixes its thread count when it compiles.
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, 1000, (args.batch,))

    def sgd(model):
        return torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def run(variant, model, step, images, opt=None):
        opt = opt or sgd(model)
        # Three untimed calls: momentum buffers, allocator caches, and compiling.
        s = median_seconds(lambda: step(model, opt, images, y), 0, warmup=3, min_reps=args.iters, max_reps=args.iters)
        print(f"torch-{VERSION} resnet18 train variant={variant} threads={args.threads} ms={s * 1e3:.4f} "
              f"iters={args.iters}", flush=True)

    run("eager", make_model(False), train_step, x)
    run("channels_last", make_model(True), train_step, x.contiguous(memory_format=torch.channels_last))
    if args.compile:
        model = make_model(False)
        opt = sgd(model)
        step, variant = compiled_step(torch, train_step, model, (opt, x, y), "resnet_train_peer.py")
        run(variant, model, step, x, opt)


if __name__ == "__main__":
    main()
