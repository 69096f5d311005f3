#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite. Tests tagged
# [slow] run in their bounded mode here (TL_SLOW_BOUNDED=1). Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
cd build
# Two test processes share the cores: OpenMP threads that spin while idle would steal them
# from each other, so idle threads sleep instead.
export OMP_WAIT_POLICY=passive
TL_SLOW_BOUNDED=1 ctest --output-on-failure -j2
