// Compiled programs on CUDA replayed as CUDA graphs: the same results as eager calls while
// arguments, random draws and captured tensors change between calls; programs that cannot be
// captured run node by node; an index out of range is still reported. Runs on a GPU, and on
// the emulated device (tests/runtime/cuda_emulation.h), whose runner records and replays the
// launches and refuses what a GPU's capture refuses (host copies, synchronization).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>

#include "runtime/cuda/caching_allocator.h"
#include "runtime/device_backend.h"
#include "tests/runtime/cuda_emulation.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tl/tl.h"


using namespace tl;

namespace {

size_t graph_reserved_bytes() {
  return test::emulated_runner() ? test::emulated_allocator_stats().private_pools
                                 : cuda_device::memory_stats().graph_reserved_bytes;
}

bool skip_without_cuda() {
  if (cuda_device::is_available()) return false;
  WARN("skipped: no CUDA device");
  return true;
}

std::shared_ptr<nn::Sequential> mlp(uint64_t seed) {
  manual_seed(seed);
  auto m = std::make_shared<nn::Sequential>(nn::Linear(12, 16), nn::ReLU(), nn::Linear(16, 4));
  m->to(kCUDA);
  return m;
}

Tensor sgd_step(nn::Sequential& m, optim::SGD& opt, const Tensor& x, const Tensor& y) {
  Tensor loss = nn::cross_entropy(m(x), y);
  opt.zero_grad();
  loss.backward();
  opt.step();
  return loss;
}

}  // namespace

TEST_CASE("a compiled training step replays as a CUDA graph with the eager step's results", "[cuda][gpu][graph]") {
  if (skip_without_cuda()) return;
  auto eager_model = mlp(31), compiled_model = mlp(31);
  optim::SGD eager_opt(eager_model->parameters(), {.lr = 0.05, .momentum = 0.9});
  optim::SGD compiled_opt(compiled_model->parameters(), {.lr = 0.05, .momentum = 0.9});
  auto step = compile([&](Tensor x, Tensor y) { return sgd_step(*compiled_model, compiled_opt, x, y); });
  const test::HostKernelRunner* runner = test::emulated_runner();
  const int64_t captures_before = runner ? runner->captures() : 0;
  const int64_t replays_before = runner ? runner->graph_launches() : 0;
  const int steps = 7;
  for (int i = 0; i < steps; ++i) {
    // New argument tensors every call: the graph reads copies of them in its own buffers.
    manual_seed(100 + i);
    Tensor x = randn({8, 12}).to(kCUDA);
    Tensor y = randint(0, 4, {8}).to(kCUDA);
    const float want = sgd_step(*eager_model, eager_opt, x, y).item<float>();
    Tensor got = step(x, y);
    CHECK(got.device() == kCUDA);
    CHECK(got.item<float>() == Approx(want).epsilon(1e-5));
  }
  // Call 1 runs eagerly, 2 traces, 3 runs node by node (loading every kernel), then graphs.
  CHECK(step.stats().traces == 1);
  CHECK(step.stats().graph_calls == steps - 3);
  if (runner != nullptr) {
    CHECK(runner->captures() - captures_before == 1);
    CHECK(runner->graph_launches() - replays_before == steps - 3);
  }
  auto a = eager_model->parameters(), b = compiled_model->parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(allclose(b[i].to(kCPU), a[i].to(kCPU), 1e-5, 1e-6));
    // .grad is the caller's own tensor, not the graph's buffer that the next replay overwrites.
    REQUIRE(b[i].grad().defined());
    CHECK(allclose(b[i].grad().to(kCPU), a[i].grad().to(kCPU), 1e-5, 1e-6));
  }
  const Tensor kept_grad = b[0].grad().clone();
  const Tensor held = b[0].grad();
  Tensor x = randn({8, 12}).to(kCUDA), y = randint(0, 4, {8}).to(kCUDA);
  step(x, y);
  CHECK(allclose(held.to(kCPU), kept_grad.to(kCPU), 0, 0));  // an earlier step's .grad is left alone
  const std::vector<Tensor> args{x, y};
  CHECK_THAT(step.explain(args), Catch::Contains("CUDA graph: captured 1 time(s)"));
  CHECK(graph_reserved_bytes() > 0);
}

TEST_CASE("a DataLoader's workers copy batches to the GPU while a step is captured", "[cuda][gpu][graph]") {
  if (skip_without_cuda()) return;
  manual_seed(34);
  auto dataset = std::make_shared<data::TensorDataset>(randn({96, 12}), randint(0, 4, {96}));
  data::DataLoader loader(dataset, {.batch_size = 8, .num_workers = 2, .device = kCUDA});
  auto model = mlp(34);
  optim::SGD opt(model->parameters(), {.lr = 0.05, .momentum = 0.9});
  auto step = compile([&](Tensor x, Tensor y) { return sgd_step(*model, opt, x, y); });
  int64_t batches = 0;
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (auto [x, y] : loader) {
      CHECK(std::isfinite(step(x, y).item<float>()));
      ++batches;
    }
  }
  CHECK(batches == 24);
  CHECK(step.stats().graph_calls == batches - 3);
}

TEST_CASE("CompileOptions::cuda_graphs = false launches node by node", "[cuda][gpu][graph]") {
  if (skip_without_cuda()) return;
  auto model = mlp(32);
  optim::SGD opt(model->parameters(), {.lr = 0.05});
  auto step = compile([&](Tensor x, Tensor y) { return sgd_step(*model, opt, x, y); }, {.cuda_graphs = false});
  Tensor x = randn({8, 12}).to(kCUDA), y = randint(0, 4, {8}).to(kCUDA);
  for (int i = 0; i < 5; ++i) step(x, y);
  CHECK(step.stats().compiled_calls == 3);
  CHECK(step.stats().graph_calls == 0);
}

TEST_CASE("a step replayed as a CUDA graph gives the node-by-node step's bits", "[cuda][gpu][graph][determinism]") {
  if (skip_without_cuda()) return;
  auto graph_model = mlp(33), plain_model = mlp(33);
  optim::SGD graph_opt(graph_model->parameters(), {.lr = 0.05, .momentum = 0.9});
  optim::SGD plain_opt(plain_model->parameters(), {.lr = 0.05, .momentum = 0.9});
  auto graph_step = compile([&](Tensor x, Tensor y) { return sgd_step(*graph_model, graph_opt, x, y); });
  auto plain_step =
      compile([&](Tensor x, Tensor y) { return sgd_step(*plain_model, plain_opt, x, y); }, {.cuda_graphs = false});
  for (int i = 0; i < 6; ++i) {
    manual_seed(700 + i);
    Tensor x = randn({8, 12}).to(kCUDA), y = randint(0, 4, {8}).to(kCUDA);
    CHECK(allclose(graph_step(x, y).to(kCPU), plain_step(x, y).to(kCPU), 0, 0));
  }
  REQUIRE(graph_step.stats().graph_calls == 3);
  auto a = graph_model->parameters(), b = plain_model->parameters();
  for (size_t i = 0; i < a.size(); ++i) CHECK(allclose(a[i].to(kCPU), b[i].to(kCPU), 0, 0));
}

TEST_CASE("random draws in a compiled CUDA program change every call, as eager ones do", "[cuda][gpu][graph]") {
  if (skip_without_cuda()) return;
  Tensor x = randn({6, 10}).to(kCUDA);
  auto body = [](const Tensor& t) { return mul(nn::functional::dropout(t, 0.5, true), t); };
  for (const bool graphs : {true, false}) {
    // The draw used to be traced on the host and copied to the device unseen, so every
    // compiled call reused the traced mask.
    auto compiled = compile([&](Tensor t) { return body(t); }, {.cuda_graphs = graphs});
    for (int i = 0; i < 6; ++i) {
      manual_seed(500 + i);
      const Tensor want = body(x).to(kCPU);
      manual_seed(500 + i);
      const Tensor got = compiled(x).to(kCPU);
      INFO("graphs " << graphs << ", call " << i);
      CHECK(allclose(got, want, 0, 0));
    }
    CHECK(compiled.stats().graph_calls == (graphs ? 3 : 0));
  }
}

TEST_CASE("a device copy of a traced tensor inside a compiled function is refused, not frozen", "[cuda][gpu][compile]") {
  if (skip_without_cuda()) return;
  Tensor w = randn({3, 3});  // on the CPU, read by the function
  auto f = compile([&](Tensor x) { return matmul(x, w.to(kCUDA)); });
  Tensor x = randn({2, 3}).to(kCUDA);
  f(x);  // eager
  CHECK_THROWS_AS(f(x), CompileError);
  CHECK_THROWS_WITH(f(x), Catch::Contains("Tensor::to(cuda:0)") && Catch::Contains("cuda_graph_test.cpp"));
  // A constant made inside the function may still be moved.
  auto g = compile([](Tensor t) { return add(t, full({3}, 2.0).to(kCUDA)); });
  for (int i = 0; i < 4; ++i) CHECK(allclose(g(x).to(kCPU), add(x, full({3}, 2.0).to(kCUDA)).to(kCPU), 0, 0));
}

TEST_CASE("a program that reads a value on the host runs without a CUDA graph", "[cuda][gpu][graph]") {
  if (skip_without_cuda()) return;
  Tensor x = randn({4, 5}).to(kCUDA);
  auto body = [](const Tensor& t) {
    // A branch on a value read from the device: a guard, which a graph cannot hold.
    return sum(t).item<float>() > 0 ? mul(t, full({}, 2.0)) : neg(t);
  };
  auto compiled = compile([&](Tensor t) { return body(t); });
  for (int i = 0; i < 5; ++i) CHECK(allclose(compiled(x).to(kCPU), body(x).to(kCPU), 0, 0));
  CHECK(compiled.stats().compiled_calls == 3);
  CHECK(compiled.stats().graph_calls == 0);
  const std::vector<Tensor> args{x};
  CHECK_THAT(compiled.explain(args), Catch::Contains("CUDA graph: not used") && Catch::Contains("guard"));
}

TEST_CASE("an index out of range in a CUDA graph is reported after the replay", "[cuda][gpu][graph]") {
  if (skip_without_cuda()) return;
  Tensor table = randn({5, 3}).to(kCUDA);
  auto lookup = compile([&](Tensor index) { return mul(index_select(table, 0, index), full({}, 3.0)); });
  Tensor good = from_vector<int64_t>({4, 0, 2}).to(kCUDA);
  for (int i = 0; i < 4; ++i) {
    CHECK(allclose(lookup(good).to(kCPU), mul(index_select(table, 0, good), full({}, 3.0)).to(kCPU), 0, 0));
  }
  REQUIRE(lookup.stats().graph_calls >= 1);
  Tensor bad = from_vector<int64_t>({1, 7, 0}).to(kCUDA);
  CHECK_THROWS_AS(lookup(bad), ValueError);
  CHECK_THROWS_WITH(lookup(bad), Catch::Contains("index_select") && Catch::Contains("value 7"));
  // The graph still serves good calls.
  Tensor again = from_vector<int64_t>({3, 3, 1}).to(kCUDA);
  CHECK(allclose(lookup(again).to(kCPU), mul(index_select(table, 0, again), full({}, 3.0)).to(kCPU), 0, 0));
}

TEST_CASE("a captured tensor that moved makes the next call capture again", "[cuda][gpu][graph]") {
  if (skip_without_cuda()) return;
  Tensor w = randn({3, 3}).to(kCUDA);
  auto f = compile([&](Tensor x) { return matmul(x, w); });
  Tensor x = randn({2, 3}).to(kCUDA);
  for (int i = 0; i < 5; ++i) f(x);
  REQUIRE(f.stats().graph_calls == 2);
  // Same tensor, new memory (as loading a checkpoint into a module may do).
  w.impl()->storage = randn({3, 3}).to(kCUDA).impl()->storage;
  CHECK(allclose(f(x).to(kCPU), matmul(x, w).to(kCPU), 1e-6, 1e-6));
  const std::vector<Tensor> args{x};
  CHECK_THAT(f.explain(args), Catch::Contains("captured 2 time(s)"));
}

TEST_CASE("a capture that would copy through the host fails and leaves no memory reserved", "[cuda][graph][emulated]") {
  if (test::emulated_runner() == nullptr) {
    WARN("skipped: checks the emulated device's capture rules");
    return;
  }
  rt::DeviceBackend& backend = rt::backend_for(kCUDA, "test");
  Tensor on_device = zeros({16}).to(kCUDA);
  const Tensor host = ones({16});
  const size_t reserved = graph_reserved_bytes();
  CHECK_THROWS_AS(backend.capture(0,
                                  [&] {
                                    Tensor scratch = empty({1024}, {.device = kCUDA});  // from the graph's pool
                                    backend.copy(on_device.data_ptr(), kCUDA, host.data_ptr(), kCPU, host.nbytes());
                                  }),
                  DeviceError);
  CHECK(graph_reserved_bytes() == reserved);
  CHECK(allclose(on_device.to(kCPU), zeros({16}), 0, 0));  // nothing ran
}

namespace {
// Device memory as numbered blocks, for the allocator's rules alone.
class CountingBlocks : public rt::cuda::BlockSource {
 public:
  rt::cuda::DevicePtr allocate(size_t) override { return next_ += 1 << 20; }
  void free(rt::cuda::DevicePtr) override { ++freed; }
  void synchronize() override { ++synchronized; }
  int freed = 0, synchronized = 0;

 private:
  rt::cuda::DevicePtr next_ = 0;
};
}  // namespace

TEST_CASE("memory a graph captured stays reserved for its replays until its pool is released", "[cuda][graph]") {
  CountingBlocks blocks;
  rt::cuda::CachingAllocator allocator(blocks);
  int stream = 0;  // a stream handle
  rt::cuda::set_current_stream(&stream);
  const uint64_t pool = allocator.begin_pool(&stream);
  void* scratch = allocator.allocate(4096);
  allocator.deallocate(scratch, 4096);
  void* reused = allocator.allocate(4096);  // within the capture: its own freed block
  CHECK(reused == scratch);
  allocator.deallocate(reused, 4096);
  allocator.end_pool(&stream);
  CHECK(allocator.stats().private_pools == 4096);
  void* outside = allocator.allocate(4096);  // after the capture: never the graph's block
  CHECK(outside != scratch);
  allocator.deallocate(outside, 4096);
  rt::cuda::set_current_stream(nullptr);
  void* on_default = allocator.allocate(4096);
  CHECK(on_default != scratch);
  allocator.release_pool(pool);
  CHECK(blocks.synchronized == 1);  // a replay may still run when the graph goes
  CHECK(allocator.stats().private_pools == 0);
  void* after = allocator.allocate(4096);  // the pool's block joined the default stream's cache
  CHECK(after == scratch);
  allocator.deallocate(after, 4096);
  allocator.deallocate(on_default, 4096);
  // One capture per stream at a time.
  const uint64_t second = allocator.begin_pool(&stream);
  CHECK_THROWS_AS(allocator.begin_pool(&stream), DeviceError);
  allocator.end_pool(&stream);
  allocator.release_pool(second);
}
