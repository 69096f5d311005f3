#!/usr/bin/env bash
# Installs the build into a fresh prefix, then builds and runs tests/install/consumer (a user's
# project using find_package(Tracelight)) against it, and a pkg-config build of the same code.
# Usage: check_install.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 source=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
# The user's project knows nothing of the source tree: only the prefix.
cmake -S "$source/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
cd "$work/consumer"
./train
./serve
# The runtime-only program needs no libtl.
if readelf -d ./serve | grep -q 'libtl\.so'; then
  echo "serve links libtl.so; it must need libtl_runtime.so only" >&2
  exit 1
fi
# pkg-config, for builds without CMake.
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" c++ -O1 "$source/tests/install/consumer/serve.cpp" -o serve_pc \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs tracelight-runtime)
./serve_pc
# An installed tlc finds its runner and the installed tl_runtime.h.
"$prefix/bin/tlc" line.tlart -o line_exe >/dev/null
"$prefix/bin/tlc" --version
echo "install check passed"
