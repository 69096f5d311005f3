"""The workloads of bench/cuda_bench.cpp in PyTorch on the same GPU (eager, and the gelu
chain and MLP step under torch.compile too). One JSON object per line."""
import json
import statistics
import time

import torch


def gpu_median(reps, body):
    body()
    body()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        body()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def emit(name, seconds, **extra):
    print(json.dumps({"side": "torch", "workload": name, "ms": seconds * 1e3, **extra}), flush=True)


def main():
    if not torch.cuda.is_available():
        print(json.dumps({"side": "torch", "skipped": "no CUDA device"}))
        return
    print(json.dumps({"side": "torch", "version": torch.__version__, "device": torch.cuda.get_device_name()}))
    torch.manual_seed(0)
    n = 8192
    x = torch.randn(n, n, device="cuda")
    nbytes = x.numel() * 4
    s = gpu_median(20, lambda: x.clone())
    emit("copy_8192x8192_f32", s, tb_per_s=2 * nbytes / s / 1e12)
    a = torch.full((n,), 0.5, device="cuda")
    b = torch.full((n,), 0.25, device="cuda")
    gelu = torch.nn.functional.gelu
    s = gpu_median(20, lambda: gelu(x * a + b))
    emit("gelu_chain_eager", s, tb_per_s_min_traffic=2 * nbytes / s / 1e12)
    compiled = torch.compile(lambda x, a, b: gelu(x * a + b))
    s = gpu_median(20, lambda: compiled(x, a, b))
    emit("gelu_chain_compiled", s, tb_per_s_min_traffic=2 * nbytes / s / 1e12)
    small = torch.ones(16, device="cuda")

    def tiny_adds():
        y = small
        for _ in range(1000):
            y = y + small

    emit("eager_op_overhead", gpu_median(5, tiny_adds) / 1000)
    mlp = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
                              torch.nn.Linear(512, 10)).cuda()
    opt = torch.optim.SGD(mlp.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(128, 784, device="cuda")
    labels = torch.randint(0, 10, (128,), device="cuda")

    def step():
        loss = torch.nn.functional.cross_entropy(mlp(images), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    emit("mlp_train_step_eager", gpu_median(50, step))
    compiled_step = torch.compile(step)
    emit("mlp_train_step_compiled", gpu_median(50, compiled_step))
    try:
        import torchvision
    except ImportError:
        print(json.dumps({"side": "torch", "skipped": "resnet18: no torchvision"}))
        return
    net = torchvision.models.resnet18().cuda().eval()
    images = torch.randn(32, 3, 224, 224, device="cuda")
    with torch.no_grad():
        for _ in range(3):
            net(images)
        emit("resnet18_b32_eager", gpu_median(20, lambda: net(images)))


if __name__ == "__main__":
    main()
