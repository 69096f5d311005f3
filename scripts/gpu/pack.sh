#!/usr/bin/env bash
# Packs the GPU checks for a machine that has a GPU but none of this machine's packages: the
# test and bench binaries plus every shared library they load (but the C library, the loader
# and the CUDA driver, which the GPU machine has), compressed into gpu-bundle/bundle.tar.zst
# (ignored by git; carried to the GPU machine, where scripts/gpu/run.sh unpacks and runs it).
#
#   scripts/gpu/pack.sh [--eager-only] [BUILD_DIR]   # default build/; build the binaries first
#
# --eager-only leaves out the compiler library and its MLIR/LLVM dependencies (compiled
# programs then run eagerly, as tl::compile does without the library): a few MB instead of
# about 60, for when the bundle and the working tree must fit the 64 MiB a GPU run carries.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
eager_only=0
if [ "${1:-}" = "--eager-only" ]; then eager_only=1; shift; fi
build=${1:-$root/build}
bins=("$build/tests/runtime/cuda_host_test" "$build/tests/frontend/ops/ops_cuda_test" "$build/tests/frontend/ops/cuda_ops_host_test"
      "$build/tests/frontend/data/data_test" "$build/examples/11_gpu_or_cpu" "$build/examples/01_fit_line" "$build/examples/03_csv_classifier"
      "$build/examples/04_digits_mlp" "$build/bench/bench_cuda_compile"
      "$build/bench/bench_cuda" "$build/tests/runtime/artifact_cuda_test")
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "pack.sh: $b is missing: build it first (ninja -C $build cuda_host_test ops_cuda_test cuda_ops_host_test data_test 11_gpu_or_cpu 01_fit_line 03_csv_classifier 04_digits_mlp bench_cuda_compile bench_cuda artifact_cuda_test)" >&2; exit 1; }
done
out=$root/gpu-bundle
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$out"
# Compiled programs (tl::compile) load the compiler library at run time, from libtl's folder:
# it travels with its own dependencies (MLIR/LLVM/oneDNN), the bulk of the bundle.
extra=()
if [ $eager_only = 0 ]; then
  compiler=$build/driver/libtl_compiler.so
  [ -f "$compiler" ] || { echo "pack.sh: $compiler is missing: build tl_compiler first" >&2; exit 1; }
  extra=("$compiler")
fi
for b in "${bins[@]}" "${extra[@]}"; do
  case "$b" in *.so) cp -L "$b" "$stage/lib/" ;; *) cp "$b" "$stage/bin/" ;; esac
  ldd "$b" | awk '/=> \// {print $3}' |
    grep -v -E '/(libc|libm|libmvec|libpthread|libdl|librt|libcuda)\.so' |
    while read -r lib; do cp -L -n "$lib" "$stage/lib/"; done
done
# Symbols are not needed to run (the libraries keep their dynamic symbol tables).
strip --strip-unneeded "$stage"/bin/* "$stage"/lib/* 2>/dev/null || true
tar -C "$stage" -cf - . | zstd -q -19 --long -T0 -f -o "$out/bundle.tar.zst"
echo "wrote $out/bundle.tar.zst ($(du -h "$out/bundle.tar.zst" | cut -f1)): $(ls "$stage/bin" | tr '\n' ' ')"
