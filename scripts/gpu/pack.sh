#!/usr/bin/env bash
# Packs the GPU checks for a machine that has a GPU but none of this machine's packages: the
# test and bench binaries plus every shared library they load (but the C library, the loader
# and the CUDA driver, which the GPU machine has), compressed into gpu-bundle/bundle.tar.zst
# (ignored by git; carried to the GPU machine, where scripts/gpu/run.sh unpacks and runs it).
#
#   scripts/gpu/pack.sh [--eager-only] [BUILD_DIR]   # default build/; build the binaries first
#
# --eager-only leaves out the compiler library and its MLIR/LLVM dependencies (compiled
# programs then run eagerly, as tl::compile does without the library): about 12 MB instead of
# 54. Either fits, with the working tree, in the 64 MiB a GPU run carries.
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
# ICU's data library (31 MB, 9 MB compressed) comes in through LLVM -> libxml2, which tl never
# asks to convert an encoding: it is replaced by an empty ICU data package, as ICU's own
# "stubdata" library does, so the bundle and the working tree fit what a GPU run carries.
for data in "$stage"/lib/libicudata.so.*; do
  [ -e "$data" ] || continue
  symbol=$(nm -D --defined-only "$data" | awk '/ icudt[0-9]+_dat$/ {print $3}')
  [ -n "$symbol" ] || continue
  cat > "$stage/icu_stub.c" <<STUB
/* An ICU common data package with no entries: a 32-byte header (its 20-byte info: "ToCP"
   format, this machine's byte order, the ASCII charset family, 2-byte UChar; then padding),
   and a table of contents that counts 0 entries. */
struct package {
  unsigned short header_size;
  unsigned char magic1, magic2;
  unsigned short info_size, reserved;
  unsigned char big_endian, charset_family, char_size, reserved_byte;
  unsigned char format[4], format_version[4], data_version[4];
  unsigned char padding[8];
  unsigned int count, reserved_count;
  unsigned int empty_entry[4];
};
__attribute__((visibility("default"))) const struct package ${symbol} = {
    32, 0xda, 0x27, 20, 0, __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__, 0, 2, 0,
    {0x54, 0x6f, 0x43, 0x50}, {1, 0, 0, 0}, {0, 0, 0, 0}, {0}, 0, 0, {0}};
STUB
  gcc -shared -fPIC -O2 -Wl,-soname,"$(basename "$data")" -o "$data" "$stage/icu_stub.c"
  rm "$stage/icu_stub.c"
done
# Symbols are not needed to run (the libraries keep their dynamic symbol tables).
strip --strip-unneeded "$stage"/bin/* "$stage"/lib/* 2>/dev/null || true
tar -C "$stage" -cf - . | zstd -q -19 --long -T0 -f -o "$out/bundle.tar.zst"
echo "wrote $out/bundle.tar.zst ($(du -h "$out/bundle.tar.zst" | cut -f1)): $(ls "$stage/bin" | tr '\n' ' ')"
