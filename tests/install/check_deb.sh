#!/usr/bin/env bash
# Builds the Debian package (cpack -G DEB), checks that it declares the Debian packages tl
# needs at run time, unpacks it into a folder (as apt would into /, without touching the
# system) and builds and runs tests/install/consumer against the unpacked /usr.
# Usage: check_deb.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 source=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" >/dev/null)
deb=$(ls "$work"/tracelight_*_amd64.deb)
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
# (libllvm15 comes with libmlir-15, which depends on it; dpkg-shlibdeps may list it or not.)
for needed in libdnnl2 libmlir-15 libprotobuf-lite32 libspdlog libfmt libgomp1 libstdc++6; do
  if [[ "$depends" != *"$needed"* ]]; then
    echo "the package does not depend on $needed" >&2
    exit 1
  fi
done
dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/tlc" --version
cmake -S "$source/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/root/usr" >/dev/null
cmake --build "$work/consumer" >/dev/null
cd "$work/consumer"
./train
./serve
echo "package check passed: $(basename "$deb")"
