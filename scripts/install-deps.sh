#!/usr/bin/env bash
# Installs every Debian package the build, tests and benches need. Idempotent:
# apt-get skips what is already installed. Run as root (or with sudo available).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  # build
  cmake ninja-build ccache g++ pkg-config
  # cpack -G DEB: dpkg-shlibdeps computes the package's dependencies, `file` finds its binaries
  dpkg-dev file
  # compiler stack
  llvm-15-dev libmlir-15-dev mlir-15-tools
  # kernels and SIMD
  libdnnl-dev libhwy-dev libsleef-dev
  # formats and utilities
  libprotobuf-dev protobuf-compiler libonnx-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libfast-float-dev libxxhash-dev libzstd-dev
  # tests
  catch2
  # fuzzing and sanitizers (scripts/fuzz.sh: clang-15 with libFuzzer and its OpenMP runtime)
  clang-15 libfuzzer-15-dev libomp-15-dev
  # peer for benches and interop tests (never a runtime dependency)
  python3-torch python3-torchvision python3-numpy python3-pandas libopenblas0-pthread
)

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}"
