#!/usr/bin/env bash
# Runs the GPU checks packed by scripts/gpu/pack.sh, on the GPU machine, from the repository
# root, writing each one's output under $OUT (or ./gpu-out): the emitted CUDA kernels against
# the eager CPU kernels on the GPU (cuda_host_test), the op table's samples on CUDA tensors
# (ops_cuda_test, forward and backward), the CUDA API and data loader on the device, example
# 11 training on the GPU, NVRTC's compile times, and the GPU bench beside PyTorch
# (bench/cuda_bench.cpp, bench/cuda_peer.py, bench/cuda_report.py). NVRTC comes
# from the machine's CUDA or PyTorch installation (nvidia-cuda-nvrtc), found below.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
dir=$(mktemp -d)
zstd -q -d --long=31 -c "$root/gpu-bundle/bundle.tar.zst" | tar -C "$dir" -xf -
nvrtc=$(find /usr/local/cuda*/lib64 / -maxdepth 6 -name 'libnvrtc.so.1[23]*' 2>/dev/null | head -1)
[ -z "$nvrtc" ] && nvrtc=$(python3 -c "import glob, site; print((glob.glob(site.getsitepackages()[0] + '/nvidia/*/lib/libnvrtc.so.1*') + [''])[0])" 2>/dev/null)
export LD_LIBRARY_PATH="$dir/lib${nvrtc:+:$(dirname "$nvrtc")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TL_CACHE_DIR="$dir/cache"
{
  echo "nvrtc: ${nvrtc:-none found}"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
} | tee "$out/machine.txt"
status=0
"$dir/bin/cuda_host_test" --durations yes 2>&1 | tee "$out/cuda_host_test.txt" || status=1
"$dir/bin/ops_cuda_test" --durations yes 2>&1 | tee "$out/ops_cuda_test.txt" || status=1
"$dir/bin/data_test" "*device*" 2>&1 | tee "$out/data_test.txt" || status=1
"$dir/bin/artifact_cuda_test" 2>&1 | tee "$out/artifact_cuda_test.txt" || status=1
"$dir/bin/11_gpu_or_cpu" --device cuda "$root/data/digits.csv" 2>&1 | tee "$out/example_11_cuda.txt" || status=1
"$dir/bin/01_fit_line" --device cuda 2>&1 | tee "$out/example_01_cuda.txt" || status=1
"$dir/bin/03_csv_classifier" --device cuda "$root/data/iris.csv" 2>&1 | tee "$out/example_03_cuda.txt" || status=1
"$dir/bin/04_digits_mlp" --device cuda "$root/data/digits.csv" 2>&1 | tee "$out/example_04_cuda.txt" || status=1
"$dir/bin/bench_cuda_compile" 2>&1 | tee "$out/bench_cuda_compile.txt" || status=1
"$dir/bin/bench_cuda" 2>&1 | tee "$out/bench_cuda_tl.jsonl" || status=1
python3 "$root/bench/cuda_peer.py" 2>&1 | tee "$out/bench_cuda_torch.jsonl" || status=1
python3 "$root/bench/cuda_report.py" "$out/bench_cuda_tl.jsonl" "$out/bench_cuda_torch.jsonl" 2>&1 | tee "$out/bench_cuda.txt"
exit $status
