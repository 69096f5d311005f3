"""Reference values for interop_conv_family_test: the convolution family in torch.nn.

Usage: /usr/bin/python3 conv_family_reference.py DIR

For each case of CASES, reads its inputs DIR/<case>.in<i>.npy and the output weighting
DIR/<case>.r.npy (float64), and writes DIR/<case>.y.npy (the output) and DIR/<case>.g<i>.npy
(the gradient of sum(r * y) with respect to input i), computed in float64. Keep CASES in sync
with the C++ test.
"""
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def with_parameters(layer, x, weight, bias=None):
    """Runs `layer` with `weight` and `bias` in place of its parameters (autograd flows to them)."""
    del layer.weight
    layer.weight = weight
    if bias is not None:
        del layer.bias
        layer.bias = bias
    return layer(x)


def conv2d_mode(mode, same):
    def run(x, w, b):
        if same:
            conv = nn.Conv2d(4, 6, (3, 4), padding="same", dilation=(2, 1), groups=2, padding_mode=mode)
        else:
            conv = nn.Conv2d(4, 6, (3, 4), padding=(2, 1), groups=2, padding_mode=mode)
        return with_parameters(conv.double(), x, w, b)
    return run


def conv1d_same_reflect(x, w):
    conv = nn.Conv1d(3, 2, 4, padding="same", bias=False, padding_mode="reflect").double()
    return with_parameters(conv, x, w)


def group_norm(x, w, b):
    return with_parameters(nn.GroupNorm(3, 6).double(), x, w, b)


def instance_norm(x, w, b):
    return with_parameters(nn.InstanceNorm2d(6, affine=True).double(), x, w, b)


CASES = {
    "conv_transpose2d": lambda x, w, b: F.conv_transpose2d(
        x, w, b, stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2, dilation=(1, 2)),
    "conv_transpose2d_dilated": lambda x, w: F.conv_transpose2d(
        x, w, None, stride=1, padding=1, output_padding=1, groups=1, dilation=2),
    "conv1d": lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
    "conv2d_reflect": conv2d_mode("reflect", False),
    "conv2d_replicate": conv2d_mode("replicate", False),
    "conv2d_circular": conv2d_mode("circular", False),
    "conv2d_same": conv2d_mode("zeros", True),
    "conv2d_same_circular": conv2d_mode("circular", True),
    "conv1d_same_reflect": conv1d_same_reflect,
    "adaptive_3x4": lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
    "adaptive_5x5": lambda x: F.adaptive_avg_pool2d(x, 5),
    "adaptive_7x3": lambda x: F.adaptive_avg_pool2d(x, (7, 3)),
    "adaptive_1x1": lambda x: F.adaptive_avg_pool2d(x, 1),
    "group_norm": group_norm,
    "instance_norm": instance_norm,
    "nearest_size": lambda x: F.interpolate(x, size=(5, 7)),
    "nearest_down": lambda x: F.interpolate(x, size=(3, 4)),
    "nearest_scale2": lambda x: F.interpolate(x, scale_factor=2),
    "nearest_scale_odd": lambda x: F.interpolate(x, scale_factor=(1.5, 2.3)),
    "bilinear": lambda x: F.interpolate(x, size=(5, 7), mode="bilinear"),
    "bilinear_align": lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True),
    "bilinear_down": lambda x: F.interpolate(x, size=(3, 4), mode="bilinear"),
    "bilinear_down_align": lambda x: F.interpolate(x, size=(3, 1), mode="bilinear", align_corners=True),
    "bilinear_scale": lambda x: F.interpolate(x, scale_factor=1.7, mode="bilinear"),
    "conv3d": lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 1), padding=(1, 0, 2), dilation=(2, 1, 1), groups=2),
    "conv3d_plain": lambda x, w: F.conv3d(x, w, None),
    "max_pool3d": lambda x: F.max_pool3d(x, (3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0)),
    "avg_pool3d": lambda x: F.avg_pool3d(x, (2, 3, 2), padding=(1, 1, 1)),
    "batch_norm3d": lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
}


def main():
    # torch notes that an even kernel with padding="same" copies the input; tl does too.
    warnings.filterwarnings("ignore", message="Using padding='same'")
    folder = sys.argv[1]
    for name, fn in CASES.items():
        inputs = []
        while os.path.exists(f"{folder}/{name}.in{len(inputs)}.npy"):
            inputs.append(torch.from_numpy(np.load(f"{folder}/{name}.in{len(inputs)}.npy")).requires_grad_(True))
        r = torch.from_numpy(np.load(f"{folder}/{name}.r.npy"))
        y = fn(*inputs)
        (r * y).sum().backward()
        np.save(f"{folder}/{name}.y.npy", y.detach().numpy())
        for i, t in enumerate(inputs):
            np.save(f"{folder}/{name}.g{i}.npy", t.grad.numpy())


if __name__ == "__main__":
    main()
