"""Reference values for interop_activation_test's functional cases: torch.nn.functional's
normalizations, similarities, cumsum and sort in float64.

Usage: /usr/bin/python3 functional_reference.py DIR

Reads DIR/x.npy [4, 6, 5], DIR/x2.npy (same shape), DIR/w.npy [6], DIR/b.npy [6],
DIR/lw.npy [5], DIR/lb.npy [5], DIR/rm.npy [6], DIR/rv.npy [6]; for each case of CASES writes
DIR/<case>.y.npy and DIR/<case>.g.npy (the gradient of sum(y * r) with respect to x, where r
is DIR/<case>.r.npy, written by the test with y's shape). Keep CASES in sync with the C++ test.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F


def main():
    d = sys.argv[1]
    load = lambda name: torch.from_numpy(np.load(f"{d}/{name}.npy"))
    x0, x2, w, b, lw, lb = (load(n) for n in ["x", "x2", "w", "b", "lw", "lb"])
    rm, rv = load("rm"), load("rv")
    cases = {
        "layer_norm": lambda x: F.layer_norm(x, (5,), lw, lb),
        "layer_norm_2d": lambda x: F.layer_norm(x, (6, 5)),
        "batch_norm_train": lambda x: F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=True),
        "batch_norm_eval": lambda x: F.batch_norm(x, rm, rv, w, b, training=False),
        "group_norm": lambda x: F.group_norm(x, 3, w, b),
        "normalize": lambda x: F.normalize(x, dim=1),
        "normalize_p1": lambda x: F.normalize(x, p=1.0, dim=-1),
        "cosine_similarity": lambda x: F.cosine_similarity(x, x2, dim=1),
        "cumsum": lambda x: torch.cumsum(x, dim=1),
        "sort": lambda x: torch.sort(x, dim=-1, descending=True).values,
        "topk": lambda x: torch.topk(x, 2, dim=1).values,
    }
    for name, fn in cases.items():
        x = x0.clone().requires_grad_(True)
        y = fn(x)
        r = load(f"{name}.r")
        (y * r).sum().backward()
        np.save(f"{d}/{name}.y.npy", y.detach().numpy())
        np.save(f"{d}/{name}.g.npy", x.grad.numpy())


if __name__ == "__main__":
    main()
