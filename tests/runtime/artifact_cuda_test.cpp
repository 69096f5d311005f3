// Compiled artifacts on CUDA: programs exported by tl::export_program, loaded with
// ProgramLoadOptions::device = kCUDA and run on the emulated CUDA device where there is no GPU
// (tests/runtime/cuda_emulation.h), against tl eager on the CPU; and the artifacts whose CUDA
// steps are missing or hostile, refused naming the node.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "runtime/artifact/artifact.h"
#include "runtime/cuda/launch.h"
#include "tests/runtime/cuda_emulation.h"
#include "tests/runtime/cuda_host_runner.h"
#include "tests/support/scratch_dir.h"
#include "tl/tl.h"

using namespace tl;

namespace {

[[maybe_unused]] const bool emulated = test::emulate_cuda_device();

// A small MLP whose hidden layers end in elementwise chains the compiler fuses:
// gelu(x @ w1 * s + b1), then tanh(h @ w2 + b2) * 0.5 + h2 * sigmoid(h2).
struct Model {
  Tensor w1, s, b1, w2, b2;
  Model() {
    manual_seed(11);
    w1 = randn({16, 32}) * 0.25;
    s = randn({32});
    b1 = randn({32});
    w2 = randn({32, 8}) * 0.25;
    b2 = randn({8});
  }
  Tensor forward(const Tensor& x) const {
    Tensor h = gelu(matmul(x, w1) * s + b1);
    Tensor h2 = matmul(h, w2) + b2;
    return tanh(h2) * 0.5 + h2 * sigmoid(h2);
  }
};

struct Exported {
  testing::ScratchDir dir{"artifact_cuda_test"};
  Model model;
  std::string path = dir.file("mlp.tlart");
  Exported() {
    NoGradGuard no_grad;
    export_program([this](const Tensor& x) { return model.forward(x); }, randn({8, 16}), path,
                   ExportOptions{.max_batch = 8});
  }
  Tensor eager(const Tensor& x) const {
    NoGradGuard no_grad;
    return model.forward(x);
  }
};

int fused_nodes(const rt::Artifact& a) {
  int n = 0;
  for (const artifact::Node& node : a.program().nodes()) n += node.has_fused() ? 1 : 0;
  return n;
}

// Rewrites `from` into `to` with its program (and manifest) edited by `edit`.
std::string rewrite(const std::string& from, const std::string& to,
                    const std::function<void(artifact::Manifest&, artifact::Program&)>& edit) {
  rt::Artifact a = rt::Artifact::open(from);
  artifact::Manifest m = a.manifest();
  artifact::Program p = a.program();
  edit(m, p);
  std::vector<rt::SectionBytes> sections;
  for (const artifact::Section& s : a.manifest().sections()) {
    std::span<const uint8_t> b = a.section(s.name());
    sections.push_back({s.name(), s.name() == "program" ? p.SerializeAsString()
                                                        : std::string(reinterpret_cast<const char*>(b.data()), b.size())});
  }
  rt::write_artifact(to, m, sections);
  return to;
}

// The first fused node of `p` that has CUDA steps, and its index.
artifact::Node& first_fused(artifact::Program& p, int* index) {
  for (int k = 0; k < p.nodes_size(); ++k) {
    if (p.nodes(k).has_fused() && p.nodes(k).fused().cuda().steps_size() > 0) {
      *index = k;
      return *p.mutable_nodes(k);
    }
  }
  FAIL("no fused node with CUDA steps");
  throw 0;
}

int64_t jit_compiles() {
  const auto* host = dynamic_cast<const test::HostKernelRunner*>(&rt::cuda::runner());
  return host ? host->jit_compiles() : -1;
}

}  // namespace

TEST_CASE("an exported program runs on CUDA, each fused group as one CUDA kernel, at any batch size", "[cuda][artifact]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device, real or emulated");
    return;
  }
  Exported e;
  rt::Artifact a = rt::Artifact::open(e.path);
  const int fused = fused_nodes(a);
  REQUIRE(fused >= 1);
  for (const artifact::Node& n : a.program().nodes())
    if (n.has_fused()) CHECK(n.fused().cuda().steps_size() > 0);  // no group here ends in a reduction

  const int64_t compiled_before = jit_compiles();
  Program p = load_program(e.path, ProgramLoadOptions{.device = kCUDA});
  CHECK(p.device() == kCUDA);
  CHECK_THAT(p.describe(), Catch::Contains("runs on cuda:0: " + std::to_string(fused) + " fused groups as CUDA kernels"));
  Program cpu = load_program(e.path);
  CHECK(cpu.device() == kCPU);
  for (int64_t batch : {1, 5, 8}) {
    INFO("batch " << batch);
    Tensor x = randn({batch, 16});
    const Tensor want = e.eager(x);
    // CPU inputs are copied to the device; the result stays there.
    std::vector<Tensor> got = p({x});
    REQUIRE(got.size() == 1);
    CHECK(got[0].device() == kCUDA);
    CHECK(allclose(got[0].to(kCPU), want, 1e-5, 1e-5));
    // Inputs already on the device, and results into the caller's device tensors.
    Tensor out = zeros({batch, 8}).to(kCUDA);
    std::vector<Tensor> outs{out};
    p.run(std::vector<Tensor>{x.to(kCUDA)}, outs);
    CHECK(allclose(out.to(kCPU), want, 1e-5, 1e-5));
    // The same artifact on the CPU, unchanged.
    CHECK(allclose(cpu({x})[0], want, 1e-5, 1e-5));
  }
  // On the emulated device each fused group's CUDA C was compiled when it first ran (the
  // eager ops' kernels are prebuilt), so the fused nodes ran as CudaFusedKernels.
  if (emulated) CHECK(jit_compiles() - compiled_before >= 1);
}

TEST_CASE("a CUDA program refuses inputs on another device and CPU outputs", "[cuda][artifact]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device, real or emulated");
    return;
  }
  Exported e;
  Program p = load_program(e.path, ProgramLoadOptions{.device = kCUDA});
  Tensor x = randn({2, 16});
  std::vector<Tensor> cpu_out{zeros({2, 8})};
  CHECK_THROWS_AS(p.run(std::vector<Tensor>{x}, cpu_out), ShapeError);
  CHECK_THROWS_WITH(p.run(std::vector<Tensor>{x}, cpu_out), Catch::Contains("must be a cuda:0 tensor"));
  // A CPU program still takes only CPU inputs.
  Program cpu = load_program(e.path);
  CHECK_THROWS_AS(cpu({x.to(kCUDA)}), DeviceError);
}

TEST_CASE("an artifact whose default device is CUDA loads there, and on the CPU when asked", "[cuda][artifact]") {
  if (!cuda_device::is_available()) {
    WARN("skipped: no CUDA device, real or emulated");
    return;
  }
  Exported e;
  const std::string path = rewrite(e.path, e.dir.file("default_cuda.tlart"),
                                   [](artifact::Manifest& m, artifact::Program&) { m.set_default_device("cuda"); });
  Tensor x = randn({3, 16});
  Program on_cuda = load_program(path);
  CHECK(on_cuda.device() == kCUDA);
  CHECK(allclose(on_cuda({x})[0].to(kCPU), e.eager(x), 1e-5, 1e-5));
  Program on_cpu = load_program(path, ProgramLoadOptions{.device = kCPU});
  CHECK(on_cpu.device() == kCPU);
  CHECK(allclose(on_cpu({x})[0], e.eager(x), 1e-5, 1e-5));
  const std::string unknown = rewrite(e.path, e.dir.file("default_tpu.tlart"),
                                      [](artifact::Manifest& m, artifact::Program&) { m.set_default_device("tpu"); });
  CHECK_THROWS_AS(load_program(unknown), rt::ArtifactError);
  CHECK_THROWS_WITH(load_program(unknown), Catch::Contains("default device 'tpu'"));
}

TEST_CASE("a fused group without CUDA steps is refused on CUDA naming it, and runs on the CPU", "[cuda][artifact]") {
  Exported e;
  // What an older tl's artifact holds for a group ending in a reduction: no steps.
  int node = -1;
  const std::string path = rewrite(e.path, e.dir.file("no_steps.tlart"), [&](artifact::Manifest&, artifact::Program& p) {
    first_fused(p, &node).mutable_fused()->clear_cuda();
  });
  CHECK_THROWS_AS(load_program(path, ProgramLoadOptions{.device = kCUDA}), DeviceError);
  CHECK_THROWS_WITH(load_program(path, ProgramLoadOptions{.device = kCUDA}),
                    Catch::Contains("fused group " + std::to_string(node) + " (") &&
                        Catch::Contains("has no CUDA form") && Catch::Contains("re-export it"));
  Tensor x = randn({4, 16});
  CHECK(allclose(load_program(path)({x})[0], e.eager(x), 1e-5, 1e-5));
}

TEST_CASE("hostile CUDA steps are refused naming the node and the step", "[cuda][artifact]") {
  Exported e;
  struct Case {
    const char* name;
    std::function<void(artifact::FusedSteps&)> edit;
    const char* message;
  };
  const Case cases[] = {
      {"reads a later step", [](artifact::FusedSteps& s) { s.mutable_steps(0)->set_args(0, s.steps_size()); },
       "which is not computed before it"},
      {"reads a missing input", [](artifact::FusedSteps& s) { s.mutable_steps(0)->set_args(0, -1000); },
       "reads input 999"},
      {"reads input INT_MIN", [](artifact::FusedSteps& s) { s.mutable_steps(0)->set_args(0, INT32_MIN); },
       "reads input 2147483647"},
      {"names an unknown op", [](artifact::FusedSteps& s) { s.mutable_steps(0)->set_op("no_such_op"); },
       "names an op 'no_such_op'"},
      {"names an op that is not elementwise", [](artifact::FusedSteps& s) { s.mutable_steps(0)->set_op("matmul"); },
       "(matmul) is not an elementwise op"},
      {"has an unknown dtype", [](artifact::FusedSteps& s) { s.mutable_steps(0)->set_dtype(static_cast<artifact::DType>(99)); },
       "unknown dtype (99)"},
      {"declares a dtype the op does not compute",
       [](artifact::FusedSteps& s) { s.mutable_steps(s.steps_size() - 1)->set_dtype(artifact::I32); },
       "but the op computes float32"},
      {"has no operands", [](artifact::FusedSteps& s) { s.mutable_steps(0)->clear_args(); }, "operands; the op takes"},
      {"has an attribute the op lacks",
       [](artifact::FusedSteps& s) {
         artifact::Attribute* at = s.mutable_steps(0)->add_attrs();
         at->set_name("bogus");
         at->set_i(1);
       },
       "attribute 'bogus'"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    int node = -1;
    const std::string path = rewrite(e.path, e.dir.file("hostile.tlart"), [&](artifact::Manifest&, artifact::Program& p) {
      artifact::Node& n = first_fused(p, &node);
      artifact::FusedSteps& steps = *n.mutable_fused()->mutable_cuda();
      // Step 0 reads operands in every group this model makes (its first op is a mul or add).
      REQUIRE(steps.steps(0).args_size() > 0);
      c.edit(steps);
    });
    // Refused before the device is needed, so with or without one.
    CHECK_THROWS_AS(load_program(path, ProgramLoadOptions{.device = kCUDA}), rt::ArtifactError);
    CHECK_THROWS_WITH(load_program(path, ProgramLoadOptions{.device = kCUDA}),
                      Catch::Contains("node " + std::to_string(node) + " (fused): CUDA step") &&
                          Catch::Contains(c.message));
    // The CPU does not read the steps.
    CHECK_NOTHROW(load_program(path, ProgramLoadOptions{.device = kCPU}));
  }
}

namespace {

// Programs whose fused groups end in sums and means over outer dims (what the fusion pass
// fuses: a bias gradient's sum over the batch, column statistics), x [B, 4, 16]. One keeps the
// batch dim, and so runs at any batch size up to 8:
//   mean(tanh(x * s + b), {1})          [B, 16]
//   sum(sigmoid(x) * x, {1}, keepdim)   [B, 1, 16]
// the other sums over it (the CPU's code for such a group runs at one batch size only), B = 6:
//   mean(tanh(x * s + b), {0, 1})       [16]
//   sum(relu(x * 0.5 - b), {0}, keepdim) [1, 4, 16]
struct Reductions {
  testing::ScratchDir dir{"artifact_cuda_reduction_test"};
  Tensor s, b;
  std::string batched = dir.file("batched.tlart"), fixed = dir.file("fixed.tlart");
  Reductions() {
    manual_seed(12);
    s = randn({16});
    b = randn({16});
    NoGradGuard no_grad;
    export_program([this](const Tensor& x) { return keeping_batch(x); }, randn({8, 4, 16}), batched,
                   ExportOptions{.max_batch = 8});
    export_program([this](const Tensor& x) { return over_batch(x); }, randn({6, 4, 16}), fixed);
  }
  std::vector<Tensor> keeping_batch(const Tensor& x) const {
    return {mean(tanh(x * s + b), {1}), sum(sigmoid(x) * x, {1}, true)};
  }
  std::vector<Tensor> over_batch(const Tensor& x) const {
    return {mean(tanh(x * s + b), {0, 1}), sum(relu(x * 0.5 - b), {0}, true)};
  }
};

// The first fused node of `p` whose CUDA steps end in a sum over `dims` dims or more.
artifact::Node& first_reduction(artifact::Program& p, int* index, int dims = 1) {
  for (int k = 0; k < p.nodes_size(); ++k) {
    if (p.nodes(k).has_fused() && p.nodes(k).fused().cuda().reduce_dims_size() >= dims) {
      *index = k;
      return *p.mutable_nodes(k);
    }
  }
  FAIL("no fused node whose CUDA steps sum over " << dims << " dims");
  throw 0;
}

}  // namespace

TEST_CASE("an exported program whose fused groups end in a sum or a mean runs on CUDA as the CPU does",
          "[cuda][artifact]") {
  Reductions r;
  int reductions = 0, means = 0;
  for (const std::string& path : {r.batched, r.fixed}) {
    rt::Artifact a = rt::Artifact::open(path);
    for (const artifact::Node& n : a.program().nodes()) {
      if (!n.has_fused()) continue;
      CHECK(n.fused().cuda().steps_size() > 0);  // every group has its CUDA form
      if (n.fused().cuda().reduce_dims_size() == 0) continue;
      ++reductions;
      means += n.fused().cuda().mean() ? 1 : 0;
      CHECK(n.fused().cuda().space_rank() == 3);
    }
  }
  CHECK(reductions == 4);
  CHECK(means == 2);
  if (!cuda_device::is_available()) {
    WARN("skipped running them: no CUDA device, real or emulated");
    return;
  }
  auto check = [](const Program& on_cuda, const Program& on_cpu, const Tensor& x, const std::vector<Tensor>& want) {
    std::vector<Tensor> cpu = on_cpu({x}), got = on_cuda({x});
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("output " << i);
      CHECK(got[i].device() == kCUDA);
      CHECK(got[i].shape() == want[i].shape());
      CHECK(allclose(got[i].to(kCPU), cpu[i], 1e-5, 1e-6));
      CHECK(allclose(got[i].to(kCPU), want[i], 1e-5, 1e-6));
    }
  };
  NoGradGuard no_grad;
  {
    Program on_cuda = load_program(r.batched, ProgramLoadOptions{.device = kCUDA});
    Program on_cpu = load_program(r.batched, ProgramLoadOptions{.device = kCPU});
    // Batch sizes below the maximum rebind each group to the smaller space it sums.
    for (int64_t batch : {8, 3, 1}) {
      INFO("batch " << batch);
      Tensor x = randn({batch, 4, 16});
      check(on_cuda, on_cpu, x, r.keeping_batch(x));
    }
  }
  Program on_cuda = load_program(r.fixed, ProgramLoadOptions{.device = kCUDA});
  Program on_cpu = load_program(r.fixed, ProgramLoadOptions{.device = kCPU});
  Tensor x = randn({6, 4, 16});
  check(on_cuda, on_cpu, x, r.over_batch(x));
}

TEST_CASE("hostile sums in CUDA steps are refused naming the node", "[cuda][artifact]") {
  Reductions r;
  using Edit = std::function<void(artifact::FusedSteps&)>;
  struct Case {
    const char* name;
    Edit edit;
    const char* message;
    int dims = 1;  // the node edited sums over at least this many dims
  };
  const Case cases[] = {
      {"sums a dim past the space", [](artifact::FusedSteps& s) { s.set_reduce_dims(0, s.space_rank()); },
       "sum over dim 3 of a rank-3 iteration space"},
      {"sums a negative dim", [](artifact::FusedSteps& s) { s.set_reduce_dims(0, -1); },
       "sum over dim -1 of a rank-3 iteration space"},
      {"sums dims out of order",
       [](artifact::FusedSteps& s) {
         s.set_reduce_dims(0, 1);
         s.set_reduce_dims(1, 0);
       },
       "not ascending and distinct (1 then 0)", 2},
      {"sums a dim twice", [](artifact::FusedSteps& s) { s.add_reduce_dims(s.reduce_dims(s.reduce_dims_size() - 1)); },
       "not ascending and distinct"},
      {"declares a larger space than its result",
       [](artifact::FusedSteps& s) { s.set_space_rank(s.space_rank() + 1); }, "does not fit the node: its result"},
      {"declares a space its inputs exceed",
       [](artifact::FusedSteps& s) {
         s.clear_reduce_dims();
         s.add_reduce_dims(0);
         s.set_space_rank(1);
       },
       "has more dims than"},
      {"declares no space", [](artifact::FusedSteps& s) { s.set_space_rank(0); }, "rank-0 iteration space (1 to 8 dims)"},
      {"declares a space of rank 9", [](artifact::FusedSteps& s) { s.set_space_rank(9); },
       "rank-9 iteration space (1 to 8 dims)"},
      {"loses its dims but keeps its space",
       [](artifact::FusedSteps& s) {
         s.clear_reduce_dims();
         s.set_mean(false);
       },
       "declare a rank-3 iteration space to sum over but sum over no dims"},
      {"is a mean of no dims",
       [](artifact::FusedSteps& s) {
         s.clear_reduce_dims();
         s.set_space_rank(0);
         s.set_mean(true);
       },
       "marked as a mean but sum over no dims"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    int node = -1;
    const std::string path = rewrite(r.fixed, r.dir.file("hostile.tlart"), [&](artifact::Manifest&, artifact::Program& p) {
      c.edit(*first_reduction(p, &node, c.dims).mutable_fused()->mutable_cuda());
    });
    // Refused before the device is needed, so with or without one.
    CHECK_THROWS_AS(load_program(path, ProgramLoadOptions{.device = kCUDA}), rt::ArtifactError);
    CHECK_THROWS_WITH(load_program(path, ProgramLoadOptions{.device = kCUDA}),
                      Catch::Contains("node " + std::to_string(node) + " (fused): its CUDA steps") &&
                          Catch::Contains(c.message));
    CHECK_NOTHROW(load_program(path, ProgramLoadOptions{.device = kCPU}));
  }
  // A mean flag on an elementwise group is refused too.
  Exported e;
  for (bool mean : {true, false}) {
    int node = -1;
    const std::string path = rewrite(e.path, e.dir.file("elementwise_mean.tlart"), [&](artifact::Manifest&, artifact::Program& p) {
      artifact::FusedSteps& s = *first_fused(p, &node).mutable_fused()->mutable_cuda();
      if (mean) s.set_mean(true);
      else s.set_space_rank(2);
    });
    CHECK_THROWS_WITH(load_program(path, ProgramLoadOptions{.device = kCUDA}),
                      Catch::Contains("node " + std::to_string(node) + " (fused): its CUDA steps") &&
                          Catch::Contains(mean ? "marked as a mean" : "declare a rank-2 iteration space"));
  }
}
