"""Reference runs for interop_attention_test: torch.nn.MultiheadAttention and the transformer
encoder and decoder layers (PyTorch 1.13), in float64, with their masks.

Usage: /usr/bin/python3 attention_reference.py DIR

Seeds torch, builds each model of CASES (model.double(), eval mode, dropout 0) and writes to DIR:
  <case>.keys.txt          the state dict's keys, one a line, in order
  <case>.param.<key>.npy   every state-dict tensor
  <case>.in.<name>.npy     every input (float64) and mask (bool or float64)
  <case>.r.npy             the fixed random weighting r of the loss sum(output * r)
  <case>.out.npy           the output
  <case>.grad.<key>.npy    d loss / d parameter, for every parameter
  <case>.ingrad.<name>.npy d loss / d input, for every floating input that is not a mask
For MultiheadAttention cases (need_weights=True, weights averaged over heads) also
  <case>.rw.npy, <case>.weights.npy; the loss is then sum(output * r) + sum(weights * rw).
No mask leaves a query row with every key masked (PyTorch gives NaN there; tl gives zeros).
Keep CASES in sync with the C++ test (tests/interop/attention_parity_test.cpp).
"""
import sys

import torch
from torch import nn

from reference_util import save, save_model

N, L, S = 2, 5, 6


def key_padding(n, s):
    # Batch 0 ignores its last key, batch 1 two in the middle. Key 0 stays, so that every query
    # row keeps a key even under a causal mask.
    m = torch.zeros(n, s, dtype=torch.bool)
    m[0, -1] = True
    m[1, 2:4] = True
    return m


def mha_bool():
    model = nn.MultiheadAttention(16, 4, batch_first=True)
    inputs = {"query": torch.randn(N, L, 16), "key": torch.randn(N, S, 16), "value": torch.randn(N, S, 16),
              # True = not allowed: query l may not see keys beyond l + 2.
              "attn_mask": torch.arange(S)[None, :] > torch.arange(L)[:, None] + 2,
              "key_padding_mask": key_padding(N, S)}
    return model, inputs


def mha_float():
    model = nn.MultiheadAttention(16, 4, batch_first=True)
    inputs = {"query": torch.randn(N, L, 16), "key": torch.randn(N, S, 16), "value": torch.randn(N, S, 16),
              "attn_mask": torch.randn(N * 4, L, S),  # additive, per batch and head
              "key_padding_mask": key_padding(N, S)}
    return model, inputs


def mha_kv():
    model = nn.MultiheadAttention(16, 2, batch_first=True, kdim=12, vdim=10)
    inputs = {"query": torch.randn(N, L, 16), "key": torch.randn(N, S, 12), "value": torch.randn(N, S, 10),
              "key_padding_mask": key_padding(N, S)}
    return model, inputs


def encoder(norm_first):
    def make():
        model = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True,
                                           norm_first=norm_first)
        inputs = {"src": torch.randn(N, 7, 32), "src_key_padding_mask": key_padding(N, 7)}
        if norm_first:
            inputs["src_mask"] = nn.Transformer.generate_square_subsequent_mask(7)
        return model, inputs
    return make


def decoder(norm_first):
    def make():
        model = nn.TransformerDecoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True,
                                           norm_first=norm_first, activation="gelu" if norm_first else "relu")
        inputs = {"tgt": torch.randn(N, L, 32), "memory": torch.randn(N, S, 32),
                  "tgt_mask": nn.Transformer.generate_square_subsequent_mask(L),
                  "memory_key_padding_mask": key_padding(N, S)}
        return model, inputs
    return make


CASES = {"mha_bool": mha_bool, "mha_float": mha_float, "mha_kv": mha_kv,
         "enc_post": encoder(False), "enc_pre": encoder(True),
         "dec_post": decoder(False), "dec_pre": decoder(True)}


def run(directory, name, make):
    model, inputs = make()
    model = model.double().eval()
    for key, value in inputs.items():
        if value.is_floating_point():
            inputs[key] = value.double()
            if "mask" not in key:
                inputs[key].requires_grad_(True)
    if isinstance(model, nn.MultiheadAttention):
        out, weights = model(inputs["query"], inputs["key"], inputs["value"],
                             key_padding_mask=inputs.get("key_padding_mask"), attn_mask=inputs.get("attn_mask"),
                             need_weights=True)
    elif isinstance(model, nn.TransformerEncoderLayer):
        out, weights = model(inputs["src"], src_mask=inputs.get("src_mask"),
                             src_key_padding_mask=inputs.get("src_key_padding_mask")), None
    else:
        out, weights = model(inputs["tgt"], inputs["memory"], tgt_mask=inputs.get("tgt_mask"),
                             memory_key_padding_mask=inputs.get("memory_key_padding_mask")), None
    r = torch.randn(out.shape, dtype=torch.float64)
    loss = (out * r).sum()
    save(f"{directory}/{name}.r.npy", r)
    if weights is not None:
        rw = torch.randn(weights.shape, dtype=torch.float64)
        loss = loss + (weights * rw).sum()
        save(f"{directory}/{name}.rw.npy", rw)
        save(f"{directory}/{name}.weights.npy", weights)
    loss.backward()
    save(f"{directory}/{name}.out.npy", out)
    save_model(directory, name, model, inputs)


def main():
    directory = sys.argv[1]
    torch.manual_seed(0)
    for name, make in CASES.items():
        run(directory, name, make)


if __name__ == "__main__":
    main()
