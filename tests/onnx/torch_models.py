"""Exports PyTorch models to ONNX with inputs and PyTorch's outputs, for onnx_interop_test.

usage: torch_models.py OUT_DIR [NAME ...]
Writes OUT_DIR/<name>.onnx, <name>.input.npy, <name>.output.npy (float32, eval mode, seeded).
"""
import sys

import numpy as np
import torch
import torchvision


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.GELU(),
                               torch.nn.Linear(64, 10)), torch.randn(4, 32)


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 10)), torch.randn(2, 3, 32, 32)


def resnet18():
    return torchvision.models.resnet18(), torch.randn(1, 3, 224, 224)


def mobilenet_v2():
    return torchvision.models.mobilenet_v2(), torch.randn(1, 3, 224, 224)


def transformer_layer():
    return torch.nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True), torch.randn(2, 16, 256)


MODELS = {f.__name__: f for f in (mlp, cnn, resnet18, mobilenet_v2, transformer_layer)}


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    torch.manual_seed(0)
    for name in names:
        torch.manual_seed(0)
        model, x = MODELS[name]()
        model.eval()
        # Non-trivial batch-norm statistics, so that folding them is tested.
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.5, 0.5)
            y = model(x)
        torch.onnx.export(model, (x,), f"{out}/{name}.onnx", opset_version=17, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        np.save(f"{out}/{name}.input.npy", x.numpy())
        np.save(f"{out}/{name}.output.npy", y.numpy())


if __name__ == "__main__":
    main()
