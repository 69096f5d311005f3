"""Side by side: bench/cuda_bench.cpp's lines (tl) and bench/cuda_peer.py's (PyTorch), with the
ratios the targets of docs/benchmarks.md ("CUDA") are stated in.
Usage: cuda_report.py TL_JSONL TORCH_JSONL"""
import json
import sys


def load(path):
    rows = {}
    meta = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "workload" in r:
                rows[r["workload"]] = r
            else:
                meta.update(r)
    return rows, meta


def main():
    tl, tl_meta = load(sys.argv[1])
    torch, torch_meta = load(sys.argv[2])
    print(f"device: {tl_meta.get('device', '?')} ({tl_meta.get('arch', '?')}); PyTorch {torch_meta.get('version', '?')}")
    if "skipped" in tl_meta:
        print("tl:", tl_meta["skipped"])
        return
    print(f"{'workload':28} {'tl ms':>10} {'torch ms':>10} {'tl/torch':>9}")
    for name in sorted(set(tl) | set(torch)):
        a = tl.get(name, {}).get("ms")
        b = torch.get(name, {}).get("ms")
        ratio = f"{a / b:9.2f}" if a and b else f"{'':9}"
        print(f"{name:28} {a if a is not None else float('nan'):10.4f} {b if b is not None else float('nan'):10.4f} {ratio}")
    copy = tl.get("copy_8192x8192_f32", {}).get("tb_per_s")
    if copy:
        print(f"tl copy bandwidth {copy:.2f} TB/s (read + write)")
        for name in ("gelu_chain_eager", "gelu_chain_compiled"):
            if name in tl:
                print(f"{name}: {tl[name]['tb_per_s_min_traffic']:.2f} TB/s of one read + one write: "
                      f"{100 * tl[name]['tb_per_s_min_traffic'] / copy:.0f}% of the copy (target >= 80% when fused)")
    if "eager_op_overhead" in tl and "eager_op_overhead" in torch:
        r = tl["eager_op_overhead"]["ms"] / torch["eager_op_overhead"]["ms"]
        print(f"eager per-op overhead: {1000 * tl['eager_op_overhead']['ms']:.2f} us vs "
              f"{1000 * torch['eager_op_overhead']['ms']:.2f} us: {r:.2f}x (target <= 0.5x)")


    compiled, eager = tl.get("mlp_train_step_compiled", {}).get("ms"), torch.get("mlp_train_step_eager", {}).get("ms")
    if compiled and eager:
        print(f"compiled MLP step (CUDA graph): {compiled:.4f} ms vs PyTorch eager {eager:.4f} ms: "
              f"{compiled / eager:.2f}x (target <= 0.25x)")
    artifact, torch_resnet = tl.get("resnet18_b32_artifact", {}).get("ms"), torch.get("resnet18_b32_eager", {}).get("ms")
    if artifact and torch_resnet:
        print(f"resnet18 batch 32 from an artifact on CUDA: {artifact:.3f} ms vs PyTorch eager {torch_resnet:.3f} ms: "
              f"{artifact / torch_resnet:.2f}x (target <= 1.0x)")


if __name__ == "__main__":
    main()
