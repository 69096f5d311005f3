"""Helpers shared by the interop reference scripts that write a model's results for a C++ test
(tests/interop/interop_util.h's Reference reads them back)."""
import numpy as np


def save(path, tensor):
    np.save(path, tensor.detach().cpu().numpy())


def save_model(directory, name, model, inputs):
    """Writes <name>.keys.txt (the state dict's keys in order), <name>.param.<key>.npy for every
    state-dict entry, <name>.grad.<key>.npy for every parameter, and <name>.in.<key>.npy (and
    <name>.ingrad.<key>.npy when it has a gradient) for every input, after backward ran."""
    state = model.state_dict()
    with open(f"{directory}/{name}.keys.txt", "w") as f:
        f.write("".join(key + "\n" for key in state))
    for key, value in state.items():
        save(f"{directory}/{name}.param.{key}.npy", value)
    for key, param in model.named_parameters():
        save(f"{directory}/{name}.grad.{key}.npy", param.grad)
    for key, value in inputs.items():
        save(f"{directory}/{name}.in.{key}.npy", value)
        if value.requires_grad and value.grad is not None:
            save(f"{directory}/{name}.ingrad.{key}.npy", value.grad)


def save_safetensors(path, tensors):
    """Writes `tensors` (name -> float32, float64 or int64 torch tensor) as a safetensors file,
    by hand: the Python safetensors package is not a dependency."""
    import json
    import struct

    import torch
    dtypes = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
