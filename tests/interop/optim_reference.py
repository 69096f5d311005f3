"""Reference trajectories for interop_optim_test, computed with PyTorch's optimizers.

Usage: /usr/bin/python3 optim_reference.py OUT_DIR

Writes raw little-endian float64 files to OUT_DIR:
  init.bin           the initial parameters: a (5, 4) matrix, then a (7,) vector
  grads.bin          STEPS gradient sets, each laid out like init.bin
  final_<case>.bin   the parameters after STEPS steps of each case below
The C++ test defines the same cases by name; keep the two lists in sync.
"""
import sys

import torch

STEPS = 10
SHAPES = [(5, 4), (7,)]


def make_cases():
    sgd = torch.optim.SGD
    return {
        "sgd_nesterov": (lambda p: sgd(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), {}),
        "sgd_dampening": (lambda p: sgd(p, lr=0.05, momentum=0.8, dampening=0.3), {}),
        "sgd_cosine": (lambda p: sgd(p, lr=0.1, momentum=0.5), {"cosine": (10, 0.001)}),
        "adam": (lambda p: torch.optim.Adam(p, lr=0.01), {}),
        "adam_amsgrad_wd": (lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.05, amsgrad=True), {}),
        "adam_clipped": (lambda p: torch.optim.Adam(p, lr=0.01), {"clip": 1.0}),
        "adamw": (lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1), {}),
        "adamw_amsgrad": (lambda p: torch.optim.AdamW(p, lr=0.02, betas=(0.8, 0.99), weight_decay=0.2, amsgrad=True), {}),
        "rmsprop": (lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.95), {}),
        "rmsprop_centered_momentum": (
            lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.9, centered=True, weight_decay=0.01), {}),
    }


def write(path, tensors):
    flat = torch.cat([t.detach().reshape(-1) for t in tensors]).to(torch.float64)
    flat.numpy().astype("<f8").tofile(path)


def main():
    out = sys.argv[1]
    gen = torch.Generator().manual_seed(1234)
    init = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
    # Gradient scale varies by step so the moments see more than one magnitude.
    grads = [[torch.randn(s, generator=gen, dtype=torch.float64) * (0.5 + 0.25 * (k % 3)) for s in SHAPES]
             for k in range(STEPS)]
    write(f"{out}/init.bin", init)
    write(f"{out}/grads.bin", [g for step in grads for g in step])
    for name, (make, extra) in make_cases().items():
        params = [t.clone().requires_grad_() for t in init]
        opt = make(params)
        schedule = None
        if "cosine" in extra:
            t_max, eta_min = extra["cosine"]
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
        for k in range(STEPS):
            for p, g in zip(params, grads[k]):
                p.grad = g.clone()
            if "clip" in extra:
                torch.nn.utils.clip_grad_norm_(params, extra["clip"])
            opt.step()
            if schedule is not None:
                schedule.step()
        write(f"{out}/final_{name}.bin", params)


if __name__ == "__main__":
    main()
