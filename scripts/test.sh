#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite. Tests tagged
# [slow] run in their bounded mode here (TL_SLOW_BOUNDED=1). Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
cd build
TL_SLOW_BOUNDED=1 ctest --output-on-failure -j2
