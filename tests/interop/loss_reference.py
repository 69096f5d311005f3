"""Reference values for interop_loss_test: torch.nn.functional's losses with class weights,
label smoothing, ignore_index, pos_weight, delta/beta, log_target and every reduction.

Usage: /usr/bin/python3 loss_reference.py DIR

Reads the operands DIR/<operand>.npy (float64, class indices int64) and, for each case of
CASES, DIR/<case>.r.npy (a weighting of the loss's shape). Writes DIR/<case>.y.npy (the loss)
and DIR/<case>.g.npy (the gradient of sum(r * loss) with respect to the case's first operand),
computed in float64. Keep CASES in sync with the C++ test (loss_parity_test.cpp).
"""
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

# name -> (first operand, which gets the gradient; the loss of it and the operands dict o)
CASES = {
    "ce_weight_mean": ("x", lambda x, o: F.cross_entropy(x, o["t"], weight=o["w5"])),
    "ce_weight_sum": ("x", lambda x, o: F.cross_entropy(x, o["t"], weight=o["w5"], reduction="sum")),
    "ce_weight_none": ("x", lambda x, o: F.cross_entropy(x, o["t"], weight=o["w5"], reduction="none")),
    "ce_weight_ignore3_mean": ("x", lambda x, o: F.cross_entropy(x, o["ti"], weight=o["w5"], ignore_index=3)),
    "ce_smooth_mean": ("x", lambda x, o: F.cross_entropy(x, o["t"], label_smoothing=0.15)),
    "ce_smooth_weight_mean": ("x", lambda x, o: F.cross_entropy(x, o["t"], weight=o["w5"], label_smoothing=0.15)),
    "ce_smooth_weight_sum": (
        "x", lambda x, o: F.cross_entropy(x, o["t"], weight=o["w5"], label_smoothing=0.15, reduction="sum")),
    "ce_smooth_weight_none": (
        "x", lambda x, o: F.cross_entropy(x, o["t"], weight=o["w5"], label_smoothing=0.15, reduction="none")),
    "ce_smooth_weight_ignore3_mean": (
        "x", lambda x, o: F.cross_entropy(x, o["ti"], weight=o["w5"], label_smoothing=0.4, ignore_index=3)),
    "ce_smooth_weight_3d_mean": (
        "x3", lambda x, o: F.cross_entropy(x, o["t3"], weight=o["w4"], label_smoothing=0.25)),
    "ce_weight_3d_none": ("x3", lambda x, o: F.cross_entropy(x, o["t3"], weight=o["w4"], reduction="none")),
    "ce_prob_weight_mean": ("x", lambda x, o: F.cross_entropy(x, o["p"], weight=o["w5"])),
    "ce_prob_weight_none": ("x", lambda x, o: F.cross_entropy(x, o["p"], weight=o["w5"], reduction="none")),
    "ce_prob_smooth_weight_sum": (
        "x", lambda x, o: F.cross_entropy(x, o["p"], weight=o["w5"], label_smoothing=0.2, reduction="sum")),
    "nll_weight_mean": ("x", lambda x, o: F.nll_loss(x, o["t"], weight=o["w5"])),
    "nll_weight_sum": ("x", lambda x, o: F.nll_loss(x, o["t"], weight=o["w5"], reduction="sum")),
    "nll_weight_none": ("x", lambda x, o: F.nll_loss(x, o["t"], weight=o["w5"], reduction="none")),
    "nll_ignore3_mean": ("x", lambda x, o: F.nll_loss(x, o["ti"], ignore_index=3)),
    "nll_weight_3d_mean": ("x3", lambda x, o: F.nll_loss(x, o["t3"], weight=o["w4"])),
    "bce_weight_mean": ("bx", lambda x, o: F.binary_cross_entropy_with_logits(x, o["by"], weight=o["bw"])),
    "bce_pos_weight_weight_mean": (
        "bx", lambda x, o: F.binary_cross_entropy_with_logits(x, o["by"], weight=o["bw"], pos_weight=o["pw"])),
    "bce_pos_weight_weight_sum": (
        "bx", lambda x, o: F.binary_cross_entropy_with_logits(x, o["by"], weight=o["bw"], pos_weight=o["pw"],
                                                              reduction="sum")),
    "bce_pos_weight_weight_none": (
        "bx", lambda x, o: F.binary_cross_entropy_with_logits(x, o["by"], weight=o["bw"], pos_weight=o["pw"],
                                                              reduction="none")),
    "huber_mean": ("hx", lambda x, o: F.huber_loss(x, o["hy"])),
    "huber_delta2.5_none": ("hx", lambda x, o: F.huber_loss(x, o["hy"], delta=2.5, reduction="none")),
    "huber_delta0.5_sum": ("hx", lambda x, o: F.huber_loss(x, o["hy"], delta=0.5, reduction="sum")),
    "smooth_l1_mean": ("hx", lambda x, o: F.smooth_l1_loss(x, o["hy"])),
    "smooth_l1_beta0.5_none": ("hx", lambda x, o: F.smooth_l1_loss(x, o["hy"], beta=0.5, reduction="none")),
    "smooth_l1_beta0_sum": ("hx", lambda x, o: F.smooth_l1_loss(x, o["hy"], beta=0.0, reduction="sum")),
    "kl_mean": ("kx", lambda x, o: F.kl_div(x, o["kt"], reduction="mean")),
    "kl_batchmean": ("kx", lambda x, o: F.kl_div(x, o["kt"], reduction="batchmean")),
    "kl_sum": ("kx", lambda x, o: F.kl_div(x, o["kt"], reduction="sum")),
    "kl_none": ("kx", lambda x, o: F.kl_div(x, o["kt"], reduction="none")),
    "kl_log_target_batchmean": ("kx", lambda x, o: F.kl_div(x, o["klt"], reduction="batchmean", log_target=True)),
    "kl_log_target_none": ("kx", lambda x, o: F.kl_div(x, o["klt"], reduction="none", log_target=True)),
    "kl_target_grad_batchmean": ("kt", lambda t, o: F.kl_div(o["kx"], t, reduction="batchmean")),
}

OPERANDS = ["x", "t", "ti", "w5", "x3", "t3", "w4", "p", "bx", "by", "bw", "pw", "hx", "hy", "kx", "kt", "klt"]


def main():
    # kl_div's 'mean' is tested on purpose; PyTorch warns that it differs from 'batchmean'.
    warnings.filterwarnings("ignore", message="reduction: 'mean' divides")
    folder = sys.argv[1]
    operands = {name: torch.from_numpy(np.load(f"{folder}/{name}.npy")) for name in OPERANDS}
    for name, (first, fn) in CASES.items():
        x = operands[first].clone().requires_grad_(True)
        y = fn(x, operands)
        r = torch.from_numpy(np.load(f"{folder}/{name}.r.npy"))
        (r * y).sum().backward()
        np.save(f"{folder}/{name}.y.npy", y.detach().numpy())
        np.save(f"{folder}/{name}.g.npy", x.grad.numpy())


if __name__ == "__main__":
    main()
