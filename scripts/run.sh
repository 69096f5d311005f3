#!/usr/bin/env bash
# The main job: install dependencies, build, and run the quick-start example.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
./build/examples/01_fit_line
