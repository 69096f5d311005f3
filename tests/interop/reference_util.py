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
