"""torchvision's side of the test interop_resnet_example: writes a torchvision resnet18 (random
init with a fixed seed, no download) as a plain safetensors file, an input batch and the
model's output for it in eval mode as .npy files, then runs examples/12_resnet with those three
paths (it loads the weights by torchvision's names and must give the same output).

Before saving, the batch norms get random affine parameters and running statistics from a few
forward passes in training mode, so eval mode's normalization is not the identity and every
kind of state in the file matters.

The `safetensors` package is not in Debian 12: the file is written by hand, following the
format (u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}},
the tensors' bytes), as safetensors_reference.py does.

Usage: resnet_reference.py EXAMPLE [DIR]   (DIR: a temporary folder, removed afterwards, by
default). Exits 77 (ctest's skip code for this test) when this Python cannot import torch and
torchvision, saying so.
"""
import os
import subprocess
import sys
import tempfile

SKIP = 77
try:
    import numpy as np
    import torch
    import torchvision

    from reference_util import save_safetensors
except ImportError as e:
    print(f"skipped: {sys.executable} cannot import torch, torchvision and numpy ({e}); "
          "install python3-torch and python3-torchvision to compare against torchvision")
    sys.exit(SKIP)


def write(folder):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        model.train()
        for _ in range(3):
            model(torch.randn(4, 3, 112, 112))
        model.eval()
        x = torch.randn(2, 3, 224, 224)
        y = model(x)
    paths = [os.path.join(folder, name) for name in ("resnet18.safetensors", "input.npy", "expected.npy")]
    save_safetensors(paths[0], model.state_dict())
    np.save(paths[1], x.numpy())
    np.save(paths[2], y.numpy())
    return paths


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    example = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="tl_resnet_") as scratch:
        folder = sys.argv[2] if len(sys.argv) == 3 else scratch
        paths = write(folder)
        print(f"torch {torch.__version__}, torchvision {torchvision.__version__}: wrote {', '.join(paths)}", flush=True)
        sys.exit(subprocess.run([example] + paths).returncode)


if __name__ == "__main__":
    main()
