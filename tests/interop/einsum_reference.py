"""Reference values for interop_einsum_test: torch.einsum in float64.

Usage: /usr/bin/python3 einsum_reference.py DIR

For each case of CASES (an equation and its operands' shapes) writes DIR/<k>.in<i>.npy (operand
i, random float64), DIR/<k>.r.npy (a random weighting of the output), DIR/<k>.y.npy (the
output) and DIR/<k>.g<i>.npy (the gradient of sum(r * y) with respect to operand i), where k is
the case's index. DIR/cases.txt lists "equation;operand count" per line, in order, so the C++
test reads the equations from here. Keep CASES covering what the C++ test documents.
"""
import sys

import numpy as np
import torch

CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("i,j->ij", [(4,), (3,)]),
    ("ii->", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("bii->bi", [(2, 3, 3)]),
    ("ijk->", [(2, 3, 4)]),
    ("bn,anm,bm->ba", [(5, 3), (2, 3, 4), (5, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("i...j,j->...i", [(3, 2, 4), (4,)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("ij,ij->j", [(1, 3), (4, 3)]),
    ("iji,jk,kl->l", [(3, 2, 3), (2, 4), (4, 2)]),
    ("...i->i", [(2, 3, 4)]),
]


def main():
    folder = sys.argv[1]
    rng = np.random.default_rng(20)
    with open(f"{folder}/cases.txt", "w") as listing:
        for k, (equation, shapes) in enumerate(CASES):
            listing.write(f"{equation};{len(shapes)}\n")
            operands = [torch.from_numpy(rng.standard_normal(s)).requires_grad_(True) for s in shapes]
            y = torch.einsum(equation, *operands)
            r = torch.from_numpy(rng.standard_normal(tuple(y.shape)))
            (r * y).sum().backward()
            for i, t in enumerate(operands):
                np.save(f"{folder}/{k}.in{i}.npy", t.detach().numpy())
                np.save(f"{folder}/{k}.g{i}.npy", t.grad.numpy())
            np.save(f"{folder}/{k}.r.npy", r.numpy())
            np.save(f"{folder}/{k}.y.npy", y.detach().numpy())


if __name__ == "__main__":
    main()
