// tl::export_program / tl::load_program: trained models and every op sample go through an
// artifact file and give the eager outputs, in this process and in a new one; what an artifact
// cannot hold is refused with the user's line.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/device_backend.h"
#include "tests/support/op_samples.h"
#include "tests/support/small_models.h"
#include "tests/support/spawn_self.h"
#include "tl/tl.h"

using namespace tl;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("tl_program_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

using testing::eager_forward;
using testing::Mlp;
using testing::SmallCnn;

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("an exported MLP runs from its artifact with the eager outputs bit for bit", "[program]") {
  manual_seed(3);
  Mlp model;
  model.eval();
  Tensor x = randn({8, 784});
  Tensor eager = eager_forward(model, x);
  fs::path file = scratch("mlp.tlart");
  export_program([&](const Tensor& in) { return model.forward(in); }, x, file.string());
  Program p = load_program(file.string());
  REQUIRE(p.inputs().size() == 1);
  CHECK(p.inputs()[0].shape == Shape{8, 784});
  CHECK(p.outputs()[0].shape == Shape{8, 10});
  Tensor y = p({x})[0];
  CHECK(same_bits(y, eager));
  // Another batch of the same shape: the program is not tied to the example's values.
  Tensor x2 = randn({8, 784});
  Tensor eager2 = eager_forward(model, x2);
  CHECK(same_bits(p({x2})[0], eager2));
  // The description lists the signature, sections and kernels.
  std::string d = p.describe();
  CHECK_THAT(d, Catch::Contains("input  input_0: [8, 784] float32") && Catch::Contains("sha256") &&
                    Catch::Contains("weights") && Catch::Contains("matmul"));
  // The producer names the user's line, not the header's.
  CHECK_THAT(d, Catch::Contains("producer: tl::export_program at program_test.cpp:"));
}

TEST_CASE("an exported CNN runs from its artifact with the eager outputs", "[program]") {
  manual_seed(4);
  SmallCnn model;
  model.eval();
  Tensor x = randn({2, 1, 28, 28});
  Tensor eager = eager_forward(model, x);
  fs::path file = scratch("cnn.tlart");
  export_program([&](const Tensor& in) { return model.forward(in); }, x, file.string(),
                 ExportOptions{.input_names = {"image"}, .output_names = {"logits"}});
  Program p = load_program(file.string());
  CHECK(p.inputs()[0].name == "image");
  CHECK(p.outputs()[0].name == "logits");
  CHECK(allclose(p({x})[0], eager, 1e-6, 1e-7));
}

TEST_CASE("a program's profile times each op and counts a convolution's and a product's FLOPs", "[program]") {
  manual_seed(5);
  SmallCnn model;
  model.eval();
  Tensor x = randn({2, 1, 28, 28});
  fs::path file = scratch("cnn_profile.tlart");
  export_program([&](const Tensor& in) { return model.forward(in); }, x, file.string());
  Program p = load_program(file.string());
  const Tensor in[] = {x};
  ProgramProfile profile = p.profile(in, 3);
  CHECK(profile.runs == 3);
  CHECK(profile.seconds > 0);
  bool saw_conv = false, saw_product = false;
  double node_seconds = 0;
  for (const NodeProfile& n : profile.nodes) {
    INFO(n.op);
    CHECK(n.seconds >= 0);
    node_seconds += n.seconds;
    if (n.op == "conv2d+relu") {  // the relu is folded into the convolution
      saw_conv = true;
      CHECK(n.shape == Shape{2, 4, 26, 26});
      CHECK(n.flops == 2.0 * 2 * 4 * 26 * 26 * (1 * 3 * 3));  // 2 x results x C x KH x KW
      CHECK(n.bytes > 0);
    }
    if (n.op.rfind("matmul", 0) == 0) {
      saw_product = true;
      CHECK(n.flops == 2.0 * 2 * 10 * (4 * 13 * 13));
    }
  }
  CHECK(saw_conv);
  CHECK(saw_product);
  CHECK(node_seconds <= profile.seconds * 1.01);
  CHECK_THROWS_WITH(p.profile(in, 0), Catch::Contains("runs must be at least 1"));
}

TEST_CASE("child: load an artifact and write its output", "[.program_child]") {
  const char* in = std::getenv("TL_TEST_ARTIFACT");
  const char* x = std::getenv("TL_TEST_INPUT");
  const char* out = std::getenv("TL_TEST_OUTPUT");
  REQUIRE((in && x && out));
  Program p = load_program(in);
  save_npy(out, p({load_npy(x)})[0]);
}

TEST_CASE("an artifact runs in a new process with the eager outputs", "[program]") {
  manual_seed(5);
  Mlp model;
  model.eval();
  Tensor x = randn({4, 784});
  Tensor eager = eager_forward(model, x);
  fs::path file = scratch("child.tlart"), xin = scratch("x.npy"), yout = scratch("y.npy");
  export_program([&](const Tensor& in) { return model.forward(in); }, x, file.string());
  save_npy(xin.string(), x);
  int status = testing::wait_for_child(testing::spawn_self(
      "child: load an artifact and write its output",
      {"TL_TEST_ARTIFACT=" + file.string(), "TL_TEST_INPUT=" + xin.string(), "TL_TEST_OUTPUT=" + yout.string()}));
  REQUIRE(status == 0);
  CHECK(same_bits(load_npy(yout.string()), eager));
}

TEST_CASE("every op sample that can appear in inference runs from an artifact", "[program]") {
  std::ostringstream failures;
  int exported = 0;
  for (const ops::OpDef* op : ops::all_ops()) {
    for (size_t k = 0; k < op->samples.size(); ++k) {
      const ops::Sample& s = op->samples[k];
      std::vector<Tensor> in = test::make_inputs(s, test::seed_for(op->name, k), false);
      Tensor eager = s.call(in);
      fs::path file = scratch(op->name + "_" + std::to_string(k) + ".tlart");
      std::vector<Tensor> args = in;
      try {
        // The sample's call takes a vector; wrap it for export_program's fixed arity.
        switch (args.size()) {
          case 1: export_program([&](const Tensor& a) { return s.call({a}); }, args[0], file.string()); break;
          case 2: export_program([&](const Tensor& a, const Tensor& b) { return s.call({a, b}); }, args[0], args[1], file.string()); break;
          case 3:
            export_program([&](const Tensor& a, const Tensor& b, const Tensor& c) { return s.call({a, b, c}); }, args[0],
                           args[1], args[2], file.string());
            break;
          default: continue;
        }
      } catch (const Error& e) {
        failures << op->name << " sample " << k << ": export failed: " << e.what() << "\n";
        continue;
      }
      ++exported;
      Program p = load_program(file.string());
      Tensor out = p(std::span<const Tensor>(args))[0];
      if (!allclose(out.to(kFloat64), eager.to(kFloat64), 1e-6, 1e-9))
        failures << op->name << " sample " << k << ": the artifact's output differs from eager\n";
    }
  }
  INFO(failures.str());
  CHECK(failures.str().empty());
  CHECK(exported > 40);
}

TEST_CASE("export refuses what an artifact cannot hold and names the line", "[program]") {
  Tensor x = randn({3});
  fs::path file = scratch("refused.tlart");
  CHECK_THROWS_WITH(export_program([](const Tensor& a) { return add(a, rand({3})); }, x, file.string()),
                    Catch::Contains("draws random numbers at program_test.cpp:"));
  CHECK_THROWS_WITH(export_program(
                        [](const Tensor& a) {
                          if (a.sum().item<float>() > 0) return a;
                          return neg(a);
                        },
                        x, file.string()),
                    Catch::Contains("reads a tensor value on the host at program_test.cpp:"));
  CHECK_FALSE(fs::exists(file));
  // The exported file is what load_program refuses to run when it is not one.
  fs::path bogus = scratch("bogus.tlart");
  { std::ofstream(bogus) << std::string(100, 'x'); }
  CHECK_THROWS_WITH(load_program(bogus.string()), Catch::Contains("does not start with the artifact magic"));
}

TEST_CASE("a program exported with max_batch runs every batch size up to it", "[program][batch]") {
  manual_seed(6);
  SmallCnn model;  // its reshape's leading size is the batch size
  model.eval();
  fs::path file = scratch("cnn_batched.tlart");
  export_program([&](const Tensor& in) { return model.forward(in); }, randn({3, 1, 28, 28}), file.string(),
                 ExportOptions{.max_batch = 16});
  Program p = load_program(file.string());
  CHECK(p.max_batch() == 16);
  CHECK(p.inputs()[0].batch_axis == 0);
  CHECK(p.outputs()[0].batch_axis == 0);
  for (int64_t b : {1, 5, 16}) {
    INFO("batch " << b);
    Tensor x = randn({b, 1, 28, 28});
    Tensor eager = eager_forward(model, x);
    Tensor y = p({x})[0];
    CHECK(y.shape() == Shape{b, 10});
    CHECK(same_bits(y, eager));
  }
  CHECK(p.planned_bytes(1) < p.planned_bytes(16));
  CHECK_THROWS_WITH(p({randn({17, 1, 28, 28})}), Catch::Contains("runs batches of 1 to 16"));
  CHECK_THROWS_WITH(p({randn({4, 1, 28, 27})}), Catch::Contains("must be [16, 1, 28, 28] float32 (dim 0 any batch size"));
}

TEST_CASE("a batched program runs every batch size in the one arena it allocated at load", "[program][batch]") {
  manual_seed(7);
  Mlp model;
  model.eval();
  fs::path file = scratch("mlp_batched.tlart");
  export_program([&](const Tensor& in) { return model.forward(in); }, randn({2, 784}), file.string(),
                 ExportOptions{.max_batch = 16});
  Program p = load_program(file.string());
  std::vector<Tensor> xs, ys;
  for (int64_t b = 1; b <= 16; ++b) {
    xs.push_back(randn({b, 784}));
    ys.push_back(zeros({b, 10}));
  }
  // Every kernel's first call at a shape (oneDNN primitives) happens before counting.
  for (int64_t b = 1; b <= 16; ++b) {
    Tensor y = ys[b - 1];
    p.run({&xs[b - 1], 1}, {&y, 1});
  }
  Program fresh = load_program(file.string());  // a new program: no batch size run yet
  const uint64_t before = rt::allocation_calls();
  for (int64_t b = 16; b >= 1; --b) {
    Tensor y = ys[b - 1];
    fresh.run({&xs[b - 1], 1}, {&y, 1});
  }
  // The arena and the outputs' storage were made at load for the maximum: every batch size
  // runs in them, and no tensor memory is allocated for any of the 16 (each used to get an
  // arena and outputs of its own).
  CHECK(rt::allocation_calls() - before == 0);
  for (int64_t b = 1; b <= 16; ++b) CHECK(same_bits(ys[b - 1], eager_forward(model, xs[b - 1])));
}

// Attention splits (batch, tokens, heads x dim) into (batch x heads, tokens, dim): a dim that
// is a multiple of the batch size, which the artifact records and scales at every batch size.
TEST_CASE("a program with batch x heads dims runs every batch size up to its maximum", "[program][batch]") {
  manual_seed(8);
  Tensor wq = randn({16, 16}), wk = randn({16, 16});
  auto attention = [&](const Tensor& x) {  // x: (B, 5, 16), 4 heads of 4
    const int64_t b = x.shape()[0];
    auto heads = [&](const Tensor& t) { return t.reshape({b, 5, 4, 4}).permute({0, 2, 1, 3}).reshape({b * 4, 5, 4}); };
    Tensor q = heads(matmul(x, wq)), k = heads(matmul(x, wk));
    Tensor w = softmax(matmul(q, k.transpose(1, 2)), -1);  // (B x 4, 5, 5)
    return matmul(w, q).reshape({b, 4, 5, 4}).permute({0, 2, 1, 3}).reshape({b, 5, 16});
  };
  fs::path file = scratch("heads_batched.tlart");
  export_program(attention, randn({3, 5, 16}), file.string(), ExportOptions{.max_batch = 8});
  Program p = load_program(file.string());
  CHECK(p.max_batch() == 8);
  for (int64_t b : {1, 3, 8}) {
    INFO("batch " << b);
    Tensor x = randn({b, 5, 16});
    Tensor eager;
    {
      NoGradGuard no_grad;
      eager = attention(x);
    }
    CHECK(allclose(p({x})[0], eager, 1e-5, 1e-6));
  }
}

// Layer norm's epsilon was a constant of the statistics' shape, which changes with the batch
// size: such a program could not be exported with max_batch.
TEST_CASE("a program with layer norm runs every batch size up to its maximum", "[program][batch]") {
  manual_seed(10);
  nn::LayerNorm norm({16});
  fs::path file = scratch("layer_norm_batched.tlart");
  export_program([&](const Tensor& x) { return norm(x); }, randn({3, 5, 16}), file.string(),
                 ExportOptions{.max_batch = 4});
  Program p = load_program(file.string());
  for (int64_t b : {1, 4}) {
    Tensor x = randn({b, 5, 16});
    Tensor eager;
    {
      NoGradGuard no_grad;
      eager = norm(x);
    }
    CHECK(allclose(p({x})[0], eager, 1e-5, 1e-6));
  }
}

TEST_CASE("max_batch refuses a program whose attributes change with the batch size in other ways", "[program][batch]") {
  fs::path file = scratch("bad_batch.tlart");
  // The leading size is the batch size plus one: not something the artifact can express.
  CHECK_THROWS_WITH(export_program([](const Tensor& x) { return cat({x, x.narrow(0, 0, 1)}, 0); }, randn({4, 6}),
                                   file.string(), ExportOptions{.max_batch = 8}),
                    Catch::Contains("must be the same at every batch size") && Catch::Contains("program_test.cpp:"));
  // An output's batch dim must be the batch size itself, not a multiple of it.
  CHECK_THROWS_WITH(export_program([](const Tensor& x) { return x.reshape({x.shape()[0] * 2, -1}); }, randn({4, 6}),
                                   file.string(), ExportOptions{.max_batch = 8}),
                    Catch::Contains("2 x the batch size") && Catch::Contains("program_test.cpp:"));
  CHECK_FALSE(fs::exists(file));
}

TEST_CASE("load_program refuses a program over its memory budget before allocating its arena", "[program]") {
  manual_seed(9);
  Mlp model;
  model.eval();
  fs::path file = scratch("budget.tlart");
  export_program([&](const Tensor& in) { return model.forward(in); }, randn({8, 784}), file.string());
  // The weights alone are (784 * 64 + 64 + 64 * 10 + 10) * 4 = 203,560 bytes.
  CHECK_THROWS_WITH(load_program(file.string(), ProgramLoadOptions{.max_memory = 100'000}),
                    Catch::Contains("more than max_memory 100000") && Catch::Contains("weights 203560"));
  Program p = load_program(file.string(), ProgramLoadOptions{.max_memory = 1'000'000});
  CHECK(p.outputs()[0].shape == Shape{8, 10});
}

namespace {

// A transformer feed-forward block: layer norm, a projection, gelu, a residual add: the
// elementwise chains fuse into generated code.
struct FeedForward : nn::Module {
  nn::LayerNorm norm{Shape{32}};
  nn::Linear up{32, 64}, down{64, 32};
  FeedForward() {
    register_module("norm", norm);
    register_module("up", up);
    register_module("down", down);
  }
  Tensor forward(const Tensor& x) override { return x + down(gelu(up(norm(x)) * 0.5 + 0.25)).tanh(); }
};

}  // namespace

TEST_CASE("fused groups run from an artifact as the generated code it carries", "[program][codegen]") {
  manual_seed(12);
  FeedForward block;
  block.eval();
  fs::path file = scratch("feed_forward.tlart");
  export_program([&](const Tensor& x) { return block.forward(x); }, randn({4, 6, 32}), file.string(),
                 ExportOptions{.max_batch = 4});
  Program p = load_program(file.string());
  const std::string d = p.describe();
  INFO(d);
  CHECK_THAT(d, Catch::Contains("code: bytes") && Catch::Contains("= fused[") && Catch::Contains("@tl_packed_fused"));
  CHECK_THAT(d, !Catch::Contains(" 0 of them generated code"));
  // Every batch size runs the same code, rebound to its rows, with the eager results.
  for (int64_t b : {1, 3, 4}) {
    Tensor x = randn({b, 6, 32});
    Tensor eager;
    {
      NoGradGuard no_grad;
      eager = block.forward(x);
    }
    CHECK(allclose(p({x})[0], eager, 1e-5, 1e-6));
  }
  // The profile names the fused groups.
  ProgramProfile profile = p.profile(std::vector<Tensor>{randn({2, 6, 32})}, 2);
  bool fused_row = false;
  for (const NodeProfile& row : profile.nodes) fused_row = fused_row || row.op.rfind("fused(", 0) == 0;
  CHECK(fused_row);
}

TEST_CASE("an artifact's generated code runs in a new process with the eager outputs", "[program][codegen]") {
  manual_seed(13);
  FeedForward block;
  block.eval();
  fs::path file = scratch("feed_forward_child.tlart");
  fs::path in = scratch("feed_forward_in.npy"), out = scratch("feed_forward_out.npy");
  Tensor x = randn({2, 6, 32});
  export_program([&](const Tensor& t) { return block.forward(t); }, x, file.string());
  save_npy(in.string(), x);
  int status = testing::wait_for_child(testing::spawn_self(
      "child: load an artifact and write its output",
      {"TL_TEST_ARTIFACT=" + file.string(), "TL_TEST_INPUT=" + in.string(), "TL_TEST_OUTPUT=" + out.string()}));
  REQUIRE(status == 0);
  Tensor eager;
  {
    NoGradGuard no_grad;
    eager = block.forward(x);
  }
  CHECK(allclose(load_npy(out.string()), eager, 1e-5, 1e-6));
}
