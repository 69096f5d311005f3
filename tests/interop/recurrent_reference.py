"""Reference runs for interop_recurrent_test: torch.nn.RNN (tanh and relu), LSTM (also with
proj_size) and GRU (PyTorch 1.13), in float64: stacked, bidirectional, batch-first or not, with
initial states, and over variable-length sequences through pack_padded_sequence
(enforce_sorted=False) and pad_packed_sequence(total_length=L).

Usage: /usr/bin/python3 recurrent_reference.py DIR

Seeds torch, builds each model of CASES (model.double(), eval mode) and writes to DIR:
  <case>.keys.txt          the state dict's keys, one a line, in order
  <case>.param.<key>.npy   every state-dict tensor
  <case>.in.<name>.npy     the inputs x, h0 and c0 (those the case has), float64
  <case>.lengths.npy       the sequence lengths (int64), for cases with lengths
  <case>.r.npy, .rh.npy, .rc.npy  fixed random weightings of the loss
                           sum(output * r) + sum(h_n * rh) (+ sum(c_n * rc) for LSTM)
  <case>.out.npy, .h_n.npy, .c_n.npy  the results (output padded to L with zeros)
  <case>.grad.<key>.npy    d loss / d parameter, for every parameter
  <case>.ingrad.<name>.npy d loss / d input, for x, h0 and c0
Keep CASES in sync with the C++ test (tests/interop/recurrent_parity_test.cpp).
"""
import sys

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from reference_util import save, save_model

L, N, H_IN = 6, 4, 5
# Unsorted, with one full-length sequence and one of length 1.
LENGTHS = [6, 3, 1, 5]
# All shorter than L: pad_packed_sequence needs total_length to give L steps back.
SHORT_LENGTHS = [4, 2, 1, 3]

# name: (class, constructor arguments, lengths or None, whether h0 (and c0) are given, unbatched)
CASES = {
    "rnn_tanh": (nn.RNN, dict(hidden_size=7, num_layers=2), None, True, False),
    "rnn_relu_lengths": (nn.RNN, dict(hidden_size=7, nonlinearity="relu", bidirectional=True, batch_first=True),
                         LENGTHS, True, False),
    "lstm": (nn.LSTM, dict(hidden_size=7, num_layers=2, bidirectional=True), None, True, False),
    "lstm_lengths": (nn.LSTM, dict(hidden_size=7, num_layers=2, bidirectional=True, batch_first=True), LENGTHS,
                     True, False),
    "lstm_short": (nn.LSTM, dict(hidden_size=6, num_layers=2), SHORT_LENGTHS, False, False),
    "lstm_proj": (nn.LSTM, dict(hidden_size=8, proj_size=3, num_layers=2, bidirectional=True), LENGTHS, True, False),
    "lstm_unbatched": (nn.LSTM, dict(hidden_size=7, bidirectional=True), None, True, True),
    "gru": (nn.GRU, dict(hidden_size=7, num_layers=2, batch_first=True), None, True, False),
    "gru_lengths": (nn.GRU, dict(hidden_size=7, num_layers=2, bidirectional=True), LENGTHS, True, False),
    "gru_nobias": (nn.GRU, dict(hidden_size=7, bias=False, bidirectional=True, batch_first=True), SHORT_LENGTHS,
                   False, False),
}


def run(directory, name, case):
    cls, kwargs, lengths, with_state, unbatched = case
    model = cls(H_IN, **kwargs).double().eval()
    batch_first = kwargs.get("batch_first", False)
    d = 2 if kwargs.get("bidirectional", False) else 1
    layers = kwargs.get("num_layers", 1)
    hidden = kwargs["hidden_size"]
    h_out = kwargs.get("proj_size", 0) or hidden
    is_lstm = cls is nn.LSTM

    if unbatched:
        inputs = {"x": torch.randn(L, H_IN, dtype=torch.float64)}
        state_shape = lambda f: (layers * d, f)
    else:
        inputs = {"x": torch.randn((N, L, H_IN) if batch_first else (L, N, H_IN), dtype=torch.float64)}
        state_shape = lambda f: (layers * d, N, f)
    if with_state:
        inputs["h0"] = torch.randn(state_shape(h_out), dtype=torch.float64)
        if is_lstm:
            inputs["c0"] = torch.randn(state_shape(hidden), dtype=torch.float64)
    for value in inputs.values():
        value.requires_grad_(True)
    hx = None
    if with_state:
        hx = (inputs["h0"], inputs["c0"]) if is_lstm else inputs["h0"]

    x = inputs["x"]
    if lengths is not None:
        packed = pack_padded_sequence(x, torch.tensor(lengths, dtype=torch.int64), batch_first=batch_first,
                                      enforce_sorted=False)
        out, hidden_state = model(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=L)
        save(f"{directory}/{name}.lengths.npy", torch.tensor(lengths, dtype=torch.int64))
    else:
        out, hidden_state = model(x, hx)
    h_n, c_n = hidden_state if is_lstm else (hidden_state, None)

    r = torch.randn(out.shape, dtype=torch.float64)
    rh = torch.randn(h_n.shape, dtype=torch.float64)
    loss = (out * r).sum() + (h_n * rh).sum()
    save(f"{directory}/{name}.r.npy", r)
    save(f"{directory}/{name}.rh.npy", rh)
    if c_n is not None:
        rc = torch.randn(c_n.shape, dtype=torch.float64)
        loss = loss + (c_n * rc).sum()
        save(f"{directory}/{name}.rc.npy", rc)
        save(f"{directory}/{name}.c_n.npy", c_n)
    loss.backward()
    save(f"{directory}/{name}.out.npy", out)
    save(f"{directory}/{name}.h_n.npy", h_n)

    save_model(directory, name, model, inputs)


def main():
    directory = sys.argv[1]
    torch.manual_seed(0)
    for name, case in CASES.items():
        run(directory, name, case)


if __name__ == "__main__":
    main()
