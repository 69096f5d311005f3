#!/usr/bin/env bash
# Installs the newest PyTorch (CPU build, with torch.compile) into a virtual environment for
# the benchmarks only: the test suite never uses it. Idempotent.
#
#   bench/setup_peers.sh            # venv: ${TL_BENCH_VENV:-$HOME/.cache/tl-bench-venv}
set -euo pipefail
venv=${TL_BENCH_VENV:-$HOME/.cache/tl-bench-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
# PyTorch's own CPU index first (a small wheel); PyPI's wheel otherwise, which brings its CUDA
# libraries (several GB: `import torch` loads them even on a machine without a GPU).
if ! "$venv/bin/python" -m pip install --quiet --upgrade --index-url https://download.pytorch.org/whl/cpu torch; then
  "$venv/bin/python" -m pip install --quiet --upgrade torch
fi
"$venv/bin/python" -m pip install --quiet --upgrade numpy
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "in", "'"$venv"'")'
