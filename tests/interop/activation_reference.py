"""Reference values for interop_activation_test: torch.nn.functional's activations.

Usage: /usr/bin/python3 activation_reference.py DIR

Reads DIR/x.npy and DIR/w.npy (float64, the same shape) and, for each case of CASES, writes
DIR/<case>.y.npy (the activation of x) and DIR/<case>.g.npy (the gradient of sum(w * y) with
respect to x), computed in float64. Keep CASES in sync with the C++ test.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

CASES = {
    "elu": lambda x: F.elu(x),
    "elu_0.5": lambda x: F.elu(x, alpha=0.5),
    "selu": lambda x: F.selu(x),
    "leaky_relu": lambda x: F.leaky_relu(x),
    "leaky_relu_0.2": lambda x: F.leaky_relu(x, negative_slope=0.2),
    "softplus": lambda x: F.softplus(x),
    "softplus_2_3": lambda x: F.softplus(x, beta=2.0, threshold=3.0),
    "hardtanh": lambda x: F.hardtanh(x),
    "hardtanh_-0.5_2": lambda x: F.hardtanh(x, min_val=-0.5, max_val=2.0),
    "hardswish": lambda x: F.hardswish(x),
    "mish": lambda x: F.mish(x),
    "logsigmoid": lambda x: F.logsigmoid(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


def main():
    folder = sys.argv[1]
    x0 = torch.from_numpy(np.load(f"{folder}/x.npy"))
    w = torch.from_numpy(np.load(f"{folder}/w.npy"))
    for name, fn in CASES.items():
        x = x0.clone().requires_grad_(True)
        y = fn(x)
        (w * y).sum().backward()
        np.save(f"{folder}/{name}.y.npy", y.detach().numpy())
        np.save(f"{folder}/{name}.g.npy", x.grad.numpy())


if __name__ == "__main__":
    main()
