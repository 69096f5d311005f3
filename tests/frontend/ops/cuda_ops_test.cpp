// The op table on CUDA tensors: every op sample run on the GPU against its CPU result, and the
// list of ops that have no CUDA kernel yet. Without a GPU (CI) the sweep skips visibly and only
// the refusal is checked.
#include <catch2/catch.hpp>

#include <cstring>
#include <sstream>

#include "runtime/cuda/driver.h"
#include "tests/support/op_samples.h"
#include "tests/support/scratch_dir.h"
#include "tl/tl.h"

using namespace tl;

TEST_CASE("a CUDA tensor without a GPU is refused, naming why", "[cuda]") {
  if (cuda_device::is_available()) {
    SUCCEED();
    return;
  }
  CHECK_THROWS_AS(ones({2, 3}).to(kCUDA), DeviceError);
  CHECK_THROWS_WITH(ones({2, 3}).to(kCUDA), Catch::Contains("cuda:0") && Catch::Contains("not available"));
}

TEST_CASE("every op sample on CUDA gives its CPU result, and ops without a CUDA kernel are listed", "[cuda][gpu]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device");
    SUCCEED();
    return;
  }
  // Copies both ways keep every bit.
  Tensor x = randn({5, 7});
  CHECK(allclose(x.to(kCUDA).to(kCPU), x, 0, 0));
  std::ostringstream failures, missing, missing_backward;
  int compared = 0, compared_backward = 0;
  for (const ops::OpDef* op : ops::all_ops()) {
    for (size_t k = 0; k < op->samples.size(); ++k) {
      const ops::Sample& s = op->samples[k];
      std::vector<Tensor> in = test::make_inputs(s, test::seed_for(op->name, k), false);
      Tensor want;
      {
        NoGradGuard no_grad;
        want = s.call(in);
      }
      std::vector<Tensor> on_gpu;
      for (const Tensor& t : in) on_gpu.push_back(t.to(kCUDA));
      Tensor got;
      try {
        NoGradGuard no_grad;
        got = s.call(on_gpu).to(kCPU);
      } catch (const DeviceError& e) {
        if (k == 0) missing << " " << op->name;
        continue;
      }
      ++compared;
      const bool same = got.shape() == want.shape() && got.dtype() == want.dtype() &&
                        (is_floating(want.dtype()) ? allclose(got.to(kFloat64), want.to(kFloat64), 1e-5, 1e-6)
                                                    : allclose(got.to(kFloat64), want.to(kFloat64), 0, 0));
      if (!same) failures << op->name << " sample " << k << " differs from the CPU\n";
      // Backward: the gradients of sum(out * w) for a fixed w, on the GPU against the CPU.
      if (op->grad == nullptr || !is_floating(want.dtype())) continue;
      try {
        auto grads_on = [&](Device device) {
          std::vector<Tensor> leaves;
          for (size_t i = 0; i < in.size(); ++i) {
            Tensor t = in[i].to(device).detach();
            if (!test::is_integer_input(s, i) && is_floating(t.dtype())) t.requires_grad_(true);
            leaves.push_back(t);
          }
          Tensor out = s.call(leaves);
          Tensor w = linspace(-1.0, 1.0, out.numel(), {.dtype = out.dtype()}).reshape(out.shape()).to(device);
          sum(mul(out, w)).backward();
          std::vector<Tensor> grads;
          for (const Tensor& t : leaves)
            if (t.requires_grad() && t.grad().defined()) grads.push_back(t.grad().to(kCPU));
          return grads;
        };
        std::vector<Tensor> g_cpu = grads_on(kCPU), g_gpu = grads_on(kCUDA);
        bool grads_same = g_cpu.size() == g_gpu.size();
        for (size_t i = 0; grads_same && i < g_cpu.size(); ++i)
          grads_same = allclose(g_gpu[i].to(kFloat64), g_cpu[i].to(kFloat64), 1e-5, 1e-6);
        ++compared_backward;
        if (!grads_same) failures << op->name << " sample " << k << ": gradients differ from the CPU's\n";
      } catch (const DeviceError& e) {
        if (k == 0) missing_backward << " " << op->name;
      }
    }
  }
  WARN(compared_backward << " backward passes compared; ops whose backward needs an op without a CUDA kernel:"
                         << missing_backward.str());
  WARN(compared << " op samples compared on " << (rt::cuda::Driver::get() ? rt::cuda::Driver::get()->device_name() : "the emulated device") << "; ops without a CUDA kernel:"
                << missing.str());
  INFO(failures.str());
  CHECK(failures.str().empty());
  CHECK(compared > 0);
}

TEST_CASE("without a GPU the CUDA API says so, and with one it reports, waits and times", "[cuda]") {
  if (rt::cuda::Driver::get() == nullptr) {  // no driver (an emulated device has none either)
    CHECK(cuda_device::device_count() == 0);
    CHECK_THROWS_AS(cuda_device::synchronize(), DeviceError);
    CHECK_THROWS_WITH(cuda_device::memory_stats(), Catch::Contains("memory_stats") && Catch::Contains("CUDA"));
    CHECK_THROWS_AS(cuda_device::Stream(), DeviceError);
    CHECK_THROWS_AS(cuda_device::Event(), DeviceError);
    WARN("skipped: no CUDA device (the GPU half of this test)");
    return;
  }
  CHECK(cuda_device::device_count() == 1);
  CHECK_THAT(cuda_device::arch(), Catch::StartsWith("sm_"));
  const cuda_device::MemoryStats before = cuda_device::memory_stats();
  Tensor x = randn({1024, 1024}).to(kCUDA);
  const cuda_device::MemoryStats during = cuda_device::memory_stats();
  CHECK(during.in_use_bytes >= before.in_use_bytes + x.nbytes());
  CHECK(during.peak_in_use_bytes >= during.in_use_bytes);
  CHECK(during.device_total_bytes > 0);
  // Work on a stream, timed by events; the result equals the default stream's.
  Tensor want = mul(add(x, x), x).to(kCPU);
  cuda_device::Stream stream;
  cuda_device::Event start, end;
  Tensor got;
  {
    cuda_device::StreamGuard on(stream);
    start.record();
    got = mul(add(x, x), x);
    end.record();
  }
  end.synchronize();
  CHECK(end.done());
  CHECK(start.elapsed_ms(end) >= 0.0f);
  stream.synchronize();
  CHECK(stream.done());
  CHECK(allclose(got.to(kCPU), want, 0, 0));
  // Freed memory is kept, then returned on request.
  x = Tensor();
  got = Tensor();
  CHECK(cuda_device::memory_stats().cached_bytes > 0);
  cuda_device::empty_cache();
  CHECK(cuda_device::memory_stats().cached_bytes == 0);
  // More than the device has: an error naming the size, not a crash.
  CHECK_THROWS_WITH(empty({int64_t{1} << 40}, {.device = kCUDA}),
                    Catch::Contains("out of memory") && Catch::Contains("4398046511104 bytes"));
}

TEST_CASE("a checkpoint saved from the GPU loads on the CPU and back, with its optimizer", "[cuda][gpu][checkpoint]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device");
    SUCCEED();
    return;
  }
  testing::ScratchDir dir;
  const std::string path = (dir.path / "gpu.tlckpt").string();
  manual_seed(3);
  nn::Sequential gpu_model(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 2));
  gpu_model.to(kCUDA);
  optim::Adam gpu_opt(gpu_model.parameters(), {.lr = 1e-2});
  Tensor x = randn({16, 4}).to(kCUDA), y = randn({16, 2}).to(kCUDA);
  for (int i = 0; i < 3; ++i) {
    Tensor loss = nn::mse_loss(gpu_model(x), y);
    gpu_opt.zero_grad();
    loss.backward();
    gpu_opt.step();
  }
  save(path, gpu_model, &gpu_opt);
  nn::Sequential cpu_model(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 2));
  optim::Adam cpu_opt(cpu_model.parameters(), {.lr = 1e-2});
  load(path, cpu_model, &cpu_opt);
  auto gpu_params = gpu_model.parameters(), cpu_params = cpu_model.parameters();
  REQUIRE(gpu_params.size() == cpu_params.size());
  for (size_t i = 0; i < gpu_params.size(); ++i) {
    CHECK(cpu_params[i].device() == kCPU);
    CHECK(allclose(cpu_params[i], gpu_params[i].to(kCPU), 0, 0));
  }
  // And back onto a GPU model: one more step on each gives the same parameters.
  nn::Sequential again(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 2));
  again.to(kCUDA);
  optim::Adam again_opt(again.parameters(), {.lr = 1e-2});
  load(path, again, &again_opt);
  for (auto* pair : {&gpu_model, &again}) {
    nn::Sequential& m = *pair;
    optim::Adam& o = pair == &gpu_model ? gpu_opt : again_opt;
    Tensor loss = nn::mse_loss(m(x), y);
    o.zero_grad();
    loss.backward();
    o.step();
  }
  auto a = gpu_model.parameters(), b = again.parameters();
  for (size_t i = 0; i < a.size(); ++i) CHECK(allclose(a[i].to(kCPU), b[i].to(kCPU), 0, 0));
}

TEST_CASE("a compiled training step on CUDA gives the eager CUDA step's results", "[cuda][gpu][compile]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device");
    SUCCEED();
    return;
  }
  auto make = [] {
    manual_seed(21);
    auto m = std::make_shared<nn::Sequential>(nn::Linear(12, 16), nn::GELU(), nn::Linear(16, 4));
    m->to(kCUDA);
    return m;
  };
  auto eager_model = make(), compiled_model = make();
  optim::SGD eager_opt(eager_model->parameters(), {.lr = 0.05, .momentum = 0.9});
  optim::SGD compiled_opt(compiled_model->parameters(), {.lr = 0.05, .momentum = 0.9});
  manual_seed(22);
  Tensor x = randn({8, 12}).to(kCUDA);
  Tensor y = randint(0, 4, {8}).to(kCUDA);
  auto step = [](nn::Sequential& m, optim::SGD& opt, const Tensor& x, const Tensor& y) {
    Tensor loss = nn::cross_entropy(m(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  };
  auto compiled = compile([&](Tensor x, Tensor y) { return step(*compiled_model, compiled_opt, x, y); });
  for (int i = 0; i < 4; ++i) {
    const float want = step(*eager_model, eager_opt, x, y).item<float>();
    const float got = compiled(x, y).item<float>();
    CHECK(got == Approx(want).epsilon(1e-5));
  }
  CHECK(compiled.stats().traces == 1);
  auto a = eager_model->parameters(), b = compiled_model->parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(b[i].device() == kCUDA);
    CHECK(allclose(b[i].to(kCPU), a[i].to(kCPU), 1e-5, 1e-6));
  }
  const std::vector<Tensor> step_args{x, y};
  INFO(compiled.explain(step_args));
  CHECK(compiled.stats().eager_calls <= 2);  // the trace (and warm-up), then the compiled program
}

TEST_CASE("CUDA results are bitwise repeatable run to run", "[cuda][gpu][determinism]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device");
    SUCCEED();
    return;
  }
  manual_seed(4);
  Tensor x = randn({6, 700}).to(kCUDA), w = randn({700, 40}).to(kCUDA);
  Tensor index = randint(0, 5, {700}).to(kCUDA);
  Tensor image = randn({2, 3, 9, 9}).to(kCUDA), kernel = randn({4, 3, 3, 3}).to(kCUDA);
  auto run = [&] {
    std::vector<Tensor> out;
    out.push_back(sum(x, {1}));                       // a long row through a block tree
    out.push_back(matmul(x, w));                      // cuBLASLt on a GPU, the tiled kernel otherwise
    out.push_back(softmax(x, 1));
    Tensor table = w.narrow(0, 0, 5).detach().requires_grad_(true);
    sum(mul(embedding(table, index), w)).backward();  // repeated indices: index_add in the backward
    out.push_back(table.grad());
    Tensor im = image.detach().requires_grad_(true), k = kernel.detach().requires_grad_(true);
    sum(conv2d(im, k, Tensor(), {1, 1}, {1, 1})).backward();  // the weight gradient's split sum
    out.push_back(k.grad());
    out.push_back(im.grad());
    for (Tensor& t : out) t = t.to(kCPU);
    return out;
  };
  const std::vector<Tensor> first = run();
  for (int r = 0; r < 2; ++r) {
    const std::vector<Tensor> again = run();
    for (size_t i = 0; i < first.size(); ++i) {
      INFO("result " << i);
      REQUIRE(again[i].nbytes() == first[i].nbytes());
      CHECK(std::memcmp(again[i].data_ptr(), first[i].data_ptr(), first[i].nbytes()) == 0);
    }
  }
}
