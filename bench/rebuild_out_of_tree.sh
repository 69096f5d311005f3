#!/usr/bin/env bash
# Edit-rebuild-run time of a user's own project (bench/out_of_tree, find_package(Tracelight)
# against a fresh install, precompiled <tl/tl.h>) side by side with the in-tree example's
# (bench_iter_example), in one run: the same one-line edit, ninja, one run of the program.
#
#   bench/rebuild_out_of_tree.sh            # build dir: build-bench (TL_BENCH_BUILD_DIR overrides)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TL_BENCH_BUILD_DIR:-$root/build-bench}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTL_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" >/dev/null
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cp "$root/bench/out_of_tree/CMakeLists.txt" "$work/"
cp "$root/bench/tiny_program.cpp" "$work/main.cpp"
cmake -S "$work" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
python3 "$root/bench/process_bench.py" rebuild --build-dir "$build" --target bench_iter_example \
  --source "$build/bench/iter_example.cpp" --runs 5 --label rebuild_run_in_tree
python3 "$root/bench/process_bench.py" rebuild --build-dir "$work/build" --target iter \
  --source "$work/main.cpp" --program "$work/build/iter" --runs 5 --label rebuild_run_out_of_tree
