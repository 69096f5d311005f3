"""PyTorch side of interop_safetensors_test, with Debian's python3-torch. The `safetensors`
package is not in Debian 12, so the files are read and written here by hand, following the
format: u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}},
the tensors' bytes.

Usage:
  safetensors_reference.py write DIR   torch's MLP state dict under "net." keys as
                                       DIR/torch_mlp.safetensors, an input and the model's
                                       output as DIR/io.safetensors
  safetensors_reference.py check DIR   reads DIR/tl_mlp.safetensors (written by tl) and checks
                                       it equals the state dict written before, bit for bit
"""
import json
import struct
import sys

import torch

from reference_util import save_safetensors

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
BACK = {v: k for k, v in DTYPES.items()}


def save(path, tensors):
    save_safetensors(path, tensors)


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + end]), dtype=BACK[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    return out


def model():
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    m = model()
    state = {"net." + k: v for k, v in m.state_dict().items()}
    if mode == "write":
        save(f"{folder}/torch_mlp.safetensors", state)
        x = torch.randn(5, 4)
        save(f"{folder}/io.safetensors", {"x": x, "y": m(x)})
    else:
        got = load(f"{folder}/tl_mlp.safetensors")
        want = {k[len("net."):]: v for k, v in state.items()}
        assert sorted(got) == sorted(want), (sorted(got), sorted(want))
        for k in want:
            assert torch.equal(got[k], want[k]), k
        print("tl's file matches torch's state dict")


if __name__ == "__main__":
    main()
