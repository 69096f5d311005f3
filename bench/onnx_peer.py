#!/usr/bin/python3
"""The PyTorch side of bench/onnx_models.sh: exports the two ONNX models tlc compiles, and times
the same models in PyTorch at its best, each configuration in a process of its own so that its
peak RSS is that model's alone.

    onnx_peer.py export DIR                  # PyTorch 1.13: DIR/resnet18.onnx, DIR/transformer.onnx
    onnx_peer.py bench DIR --threads 1 2 [--budget-s S] [--compile]

`bench` prints one line per figure, in the format bench/onnx_report.py reads:

    torch-<version> <model> batch=<B> threads=<T> variant=<V> ms=<median>
    torch-<version> <model> batch=<B> threads=<T> variant=<V> rss_mb=<peak RSS of its process>

Variants: `eager` (inference_mode), `channels_last` (resnet18 only; inference_mode),
`torchscript` (traced at the batch size, frozen and saved to DIR by a preparing process; the
timed process loads the file and runs torch.jit.optimize_for_inference on it, under no_grad) and,
with --compile, `compile` (torch.compile, mode default; compiling and its warm-up are untimed; one
process per thread count, since inductor fixes its thread count when it compiles). Inputs are
zeros, as the tl executables' --bench uses.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings

import torch
from peer_timing import median_seconds  # bench/peer_timing.py (the script's folder is on sys.path)

# (model, batch): the configurations of bench/onnx_models.sh.
CONFIGS = (("resnet18", 1), ("resnet18", 32), ("transformer", 8))


class BasicBlock(torch.nn.Module):
    """torchvision 0.14's resnet BasicBlock, for a PyTorch without torchvision (the venv)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(cout)
        self.relu = torch.nn.ReLU(inplace=True)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                  torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(torch.nn.Module):
    """torchvision.models.resnet18() with the same modules and parameter names; `export` checks
    that torchvision's weights load into it and give the same output."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(64)
        self.relu = torch.nn.ReLU(inplace=True)
        self.maxpool = torch.nn.MaxPool2d(3, 2, 1)
        widths = (64, 128, 256, 512)
        for i, w in enumerate(widths):
            cin = widths[max(i - 1, 0)]
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", torch.nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
        self.avgpool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(512, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def make_model(name):
    torch.manual_seed(0)
    if name == "resnet18":
        try:
            import torchvision
            model = torchvision.models.resnet18()
        except ImportError:
            model = ResNet18()
    else:
        model = torch.nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True)
    return model.eval()


def input_shape(name, batch):
    return (batch, 3, 224, 224) if name == "resnet18" else (batch, 128, 256)


def export(out_dir):
    import torchvision
    # PyTorch 1.13's exporter warns about the transformer's fast-path branch it traces through.
    warnings.simplefilter("ignore")
    os.makedirs(out_dir, exist_ok=True)
    for name, batch in (("resnet18", 1), ("transformer", 8)):
        model = make_model(name)
        x = torch.randn(*input_shape(name, batch))
        torch.onnx.export(model, (x,), os.path.join(out_dir, f"{name}.onnx"), opset_version=17,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    # Keep the venv's copy of resnet18 honest: same parameters, same output.
    reference = torchvision.models.resnet18().eval()
    copy = ResNet18().eval()
    copy.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        diff = (copy(x) - reference(x)).abs().max().item()
    if diff > 1e-5:
        sys.exit(f"onnx_peer.py: ResNet18 differs from torchvision's resnet18 (max |diff| {diff})")


def torchscript_file(work_dir, name, batch):
    return os.path.join(work_dir, f"{name}_b{batch}_frozen_{torch.__version__.split('+')[0]}.pt")


def prepare(args):
    """Traces and freezes the model at its batch size and saves it, in a process of its own.
    optimize_for_inference's MKLDNN graphs cannot be saved (loading them fails), so the timed
    process applies it after loading."""
    model = make_model(args.model)
    x = torch.zeros(*input_shape(args.model, args.batch))
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(model, x))
    torch.jit.save(frozen, torchscript_file(args.work_dir, args.model, args.batch))


def child(args):
    """Loads one model in one variant and times it at each thread count."""
    version = torch.__version__.split("+")[0]
    x = torch.zeros(*input_shape(args.model, args.batch))
    torch.set_num_threads(args.threads[0])
    guard = torch.no_grad
    if args.variant == "torchscript":
        fn = torch.jit.optimize_for_inference(torch.jit.load(torchscript_file(args.work_dir, args.model, args.batch)))
        warmup = 3  # the profiling executor specializes the graph during the first runs
    else:
        model = make_model(args.model)
        warmup = 2
        if args.variant == "channels_last":
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        if args.variant == "compile":
            fn = torch.compile(model)
            with torch.no_grad():
                fn(x)  # compiles: untimed
        else:
            fn = model
            guard = torch.inference_mode
    for t in args.threads:
        torch.set_num_threads(t)
        with guard():
            s = median_seconds(lambda: fn(x), args.budget_s, warmup, min_reps=3, max_reps=2000)
        print(f"torch-{version} {args.model} batch={args.batch} threads={t} variant={args.variant} "
              f"ms={s * 1e3:.4f}", flush=True)


def run_measured(cmd):
    """Runs cmd, passing its output through; returns its peak RSS in MB (10^6 bytes)."""
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"onnx_peer.py: {' '.join(cmd)} failed ({code})", file=sys.stderr, flush=True)
        return None
    return usage.ru_maxrss * 1024 / 1e6


def bench(args):
    version = torch.__version__.split("+")[0]
    me = [sys.executable, os.path.abspath(__file__)]
    common = ["--work-dir", args.work_dir, "--budget-s", str(args.budget_s)]
    for name, batch in CONFIGS:
        conf = ["--model", name, "--batch", str(batch)]
        variants = ["eager"] + (["channels_last"] if name == "resnet18" else [])
        variants += ["compile"] if args.compile else ["torchscript"]
        if "torchscript" in variants and run_measured(me + ["prepare"] + common + conf) is None:
            variants.remove("torchscript")
        for variant in variants:
            # inductor reads the thread count when it compiles: one process per thread count.
            groups = [[t] for t in args.threads] if variant == "compile" else [args.threads]
            for threads in groups:
                rss = run_measured(me + ["child", "--variant", variant, "--threads", *map(str, threads)] + common + conf)
                if rss is None:
                    continue
                for t in threads:
                    print(f"torch-{version} {name} batch={batch} threads={t} variant={variant} rss_mb={rss:.1f}",
                          flush=True)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export")
    p.add_argument("out_dir")
    p = sub.add_parser("bench")
    p.add_argument("work_dir")
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--budget-s", type=float, default=2.0)
    p.add_argument("--compile", action="store_true")
    for name in ("prepare", "child"):
        p = sub.add_parser(name)
        p.add_argument("--work-dir", required=True)
        p.add_argument("--model", required=True)
        p.add_argument("--batch", type=int, required=True)
        p.add_argument("--variant")
        p.add_argument("--threads", type=int, nargs="+", default=[1])
        p.add_argument("--budget-s", type=float, default=2.0)
    args = parser.parse_args()
    if args.command == "export":
        export(args.out_dir)
    elif args.command == "bench":
        bench(args)
    elif args.command == "prepare":
        prepare(args)
    else:
        child(args)


if __name__ == "__main__":
    main()
