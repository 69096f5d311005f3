"""Reference runs for interop_model_test: the same models in torch.nn, from tl's weights.

Usage: /usr/bin/python3 model_reference.py DIR NAME

For the model NAME (a key of MODELS), reads from DIR the .npy files the C++ test wrote:
  NAME.init.<key>.npy       every entry of the model's state dict (parameters and the
                            BatchNorm running statistics), keyed as in torch ("0.weight")
  NAME.x<k>.npy, NAME.t<k>.npy   input and int64 class targets of step k, k < STEPS
and writes, once computed in float32 and once in float64 (suffix f32 / f64):
  NAME.<f>.loss.npy         the STEPS losses, [STEPS]
  NAME.<f>.grad.<key>.npy   every parameter's gradient from the first step's backward
  NAME.<f>.final.<key>.npy  every state-dict entry after STEPS steps of SGD with momentum
The float32 run is the reference the test compares with; the float64 run only tells the
test how far float32 rounding alone moves PyTorch's own results (its noise floor).
A step is: zero grads, forward, cross entropy (mean), backward, optimizer step. The model
is in training mode, so BatchNorm normalizes with batch statistics and updates its
running statistics. Keep the models, STEPS and the SGD options in sync with the C++ test.
"""
import sys

import numpy as np
import torch
from torch import nn

STEPS = 3
SGD_OPTIONS = dict(lr=0.1, momentum=0.9, weight_decay=0.01)


def make_mlp():
    return nn.Sequential(
        nn.Linear(20, 64), nn.ReLU(),
        nn.Linear(64, 64), nn.Tanh(),
        nn.Linear(64, 5))


def make_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),  # 12x12 -> 6x6
        nn.Conv2d(8, 16, 3), nn.ReLU(), nn.AvgPool2d(2),                               # 6x6 -> 4x4 -> 2x2
        nn.Flatten(), nn.LayerNorm(64), nn.GELU(),
        nn.Linear(64, 10))


MODELS = {"mlp": make_mlp, "cnn": make_cnn}


def save(path, tensor):
    np.save(path, tensor.detach().cpu().numpy())


def run(directory, name, make, dtype, tag):
    model = make().to(dtype)
    state = model.state_dict()
    with torch.no_grad():
        for key, value in state.items():
            value.copy_(torch.from_numpy(np.load(f"{directory}/{name}.init.{key}.npy")))
    model.train()
    batches = [(torch.from_numpy(np.load(f"{directory}/{name}.x{k}.npy")).to(dtype),
                torch.from_numpy(np.load(f"{directory}/{name}.t{k}.npy")).to(torch.int64))
               for k in range(STEPS)]
    opt = torch.optim.SGD(model.parameters(), **SGD_OPTIONS)
    losses = []
    for k, (x, t) in enumerate(batches):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), t)
        loss.backward()
        losses.append(loss.detach())
        if k == 0:
            for key, p in model.named_parameters():
                save(f"{directory}/{name}.{tag}.grad.{key}.npy", p.grad)
        opt.step()
    save(f"{directory}/{name}.{tag}.loss.npy", torch.stack(losses))
    for key, value in model.state_dict().items():
        save(f"{directory}/{name}.{tag}.final.{key}.npy", value)


def main():
    directory, name = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)  # one summation order, run to run
    run(directory, name, MODELS[name], torch.float32, "f32")
    run(directory, name, MODELS[name], torch.float64, "f64")


if __name__ == "__main__":
    main()
