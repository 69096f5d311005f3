// tl::onnx::load on hostile and valid models built in the test with the ONNX library's own
// protobuf types: corrupt and truncated files, sizes that disagree with the data, broken
// graphs, external data that tries to leave the model's folder, unsupported opsets and
// operators (docs/reliability.md, section C), and small models whose outputs are checked
// against the same computation written with tl ops, eagerly and compiled.
#include <catch2/catch.hpp>

#include <onnx/onnx_pb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tests/support/scratch_dir.h"
#include "tests/support/spawn_self.h"
#include "tl/onnx.h"
#include "tl/tl.h"

using namespace tl;
using Catch::Contains;
using tl::testing::ScratchDir;
namespace fs = std::filesystem;
using TP = ::onnx::TensorProto;

namespace {

// A model under construction: ir_version 8, the default domain at `opset`.
struct ModelBuilder {
  ::onnx::ModelProto m;

  explicit ModelBuilder(int opset = 17) {
    m.set_ir_version(8);
    m.set_producer_name("import_test");
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    m.mutable_graph()->set_name("g");
  }
  ::onnx::GraphProto& graph() { return *m.mutable_graph(); }

  // A tensor value declaration; a dim of -1 is the symbolic dim "N".
  static void declare(::onnx::ValueInfoProto& v, const std::string& name, int32_t elem_type,
                      const std::vector<int64_t>& dims) {
    v.set_name(name);
    auto* tt = v.mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem_type);
    auto* shape = tt->mutable_shape();
    for (int64_t d : dims) {
      if (d < 0) shape->add_dim()->set_dim_param("N");
      else shape->add_dim()->set_dim_value(d);
    }
  }
  void input(const std::string& name, const std::vector<int64_t>& dims, int32_t elem_type = TP::FLOAT) {
    declare(*graph().add_input(), name, elem_type, dims);
  }
  void output(const std::string& name, const std::vector<int64_t>& dims, int32_t elem_type = TP::FLOAT) {
    declare(*graph().add_output(), name, elem_type, dims);
  }
  ::onnx::NodeProto& node(const std::string& op_type, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name) {
    return add_node(graph(), op_type, inputs, outputs, name);
  }
  static ::onnx::NodeProto& add_node(::onnx::GraphProto& g, const std::string& op_type,
                                     const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                                     const std::string& name) {
    auto* n = g.add_node();
    n->set_op_type(op_type);
    n->set_name(name);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return *n;
  }
  // An initializer holding `t`'s bytes (raw_data).
  TP& init(const std::string& name, const Tensor& t) {
    TP& p = *graph().add_initializer();
    p.set_name(name);
    for (int64_t d : t.shape()) p.add_dims(d);
    p.set_data_type(t.dtype() == kFloat32 ? TP::FLOAT : t.dtype() == kInt64 ? TP::INT64 : TP::DOUBLE);
    Tensor c = t.contiguous();
    p.set_raw_data(std::string(static_cast<const char*>(c.data_ptr()), c.nbytes()));
    return p;
  }
  std::string bytes() const { return m.SerializeAsString(); }
};

::onnx::AttributeProto& attr(::onnx::NodeProto& n, const std::string& name, ::onnx::AttributeProto::AttributeType type) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(type);
  return *a;
}
void attr_int(::onnx::NodeProto& n, const std::string& name, int64_t v) {
  attr(n, name, ::onnx::AttributeProto::INT).set_i(v);
}
void attr_float(::onnx::NodeProto& n, const std::string& name, float v) {
  attr(n, name, ::onnx::AttributeProto::FLOAT).set_f(v);
}
void attr_string(::onnx::NodeProto& n, const std::string& name, const std::string& v) {
  attr(n, name, ::onnx::AttributeProto::STRING).set_s(v);
}
void attr_ints(::onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto& a = attr(n, name, ::onnx::AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

Tensor int64s(const std::vector<int64_t>& v, Shape shape = {}) { return from_vector<int64_t>(v, shape); }

bool matches(const Tensor& got, const Tensor& expected) {
  return got.shape() == expected.shape() && got.dtype() == expected.dtype() &&
         allclose(got, expected, 1e-5, 1e-5);
}

// x [2, 2] + w [2, 2]: the model every initializer-size case edits `w` of.
ModelBuilder add_model_with(const std::function<void(TP&)>& edit_w) {
  ModelBuilder b;
  b.input("x", {2, 2});
  TP& w = b.init("w", ones({2, 2}));
  edit_w(w);
  b.node("Add", {"x", "w"}, {"y"}, "add");
  b.output("y", {2, 2});
  return b;
}

// The small CNN of the positive tests: Conv -> BatchNormalization -> Relu -> GlobalAveragePool
// -> Flatten -> Gemm, plus MatMul(h, Transpose(P)), a weight-only subgraph, added to the Gemm.
struct SmallCnn {
  Tensor w = randn({4, 3, 3, 3}) * 0.3, b = randn({4}) * 0.1;
  Tensor scale = rand({4}) + 0.5, shift = randn({4}) * 0.1, mu = randn({4}) * 0.1, var = rand({4}) + 0.5;
  Tensor w2 = randn({5, 4}), c2 = randn({5}), p = randn({5, 4});

  ModelBuilder model() const {
    ModelBuilder m;
    m.input("x", {2, 3, 8, 8});
    m.init("conv.w", w), m.init("conv.b", b);
    m.init("bn.scale", scale), m.init("bn.shift", shift), m.init("bn.mean", mu), m.init("bn.var", var);
    m.init("fc.w", w2), m.init("fc.b", c2), m.init("side.p", p);
    auto& conv = m.node("Conv", {"x", "conv.w", "conv.b"}, {"c"}, "conv1");
    attr_ints(conv, "kernel_shape", {3, 3});
    attr_ints(conv, "pads", {1, 1, 1, 1});
    attr_float(m.node("BatchNormalization", {"c", "bn.scale", "bn.shift", "bn.mean", "bn.var"}, {"n"}, "bn1"),
               "epsilon", 1e-5f);
    m.node("Relu", {"n"}, {"r"}, "relu1");
    m.node("GlobalAveragePool", {"r"}, {"g"}, "gap");
    attr_int(m.node("Flatten", {"g"}, {"h"}, "flatten"), "axis", 1);
    attr_int(m.node("Gemm", {"h", "fc.w", "fc.b"}, {"f"}, "fc"), "transB", 1);
    attr_ints(m.node("Transpose", {"side.p"}, {"pt"}, "transpose_p"), "perm", {1, 0});
    m.node("MatMul", {"h", "pt"}, {"s"}, "side");
    m.node("Add", {"f", "s"}, {"y"}, "sum");
    m.output("y", {2, 5});
    return m;
  }

  // The same computation with tl ops.
  Tensor reference(const Tensor& x) const {
    Tensor c = conv2d(x, w, b, {1, 1}, {1, 1});
    auto ch = [](const Tensor& t) { return t.reshape({1, 4, 1, 1}); };
    Tensor n = (c - ch(mu)) / sqrt(ch(var) + 1e-5) * ch(scale) + ch(shift);
    Tensor h = mean(relu(n), {2, 3});
    return matmul(h, w2.transpose(0, 1)) + c2 + matmul(h, p.transpose(0, 1));
  }
};

// Hand-written protobuf bytes of a model whose graph nests `depth` If nodes, each the
// then_branch of the one above (protobuf's parser stops at 100 levels of messages).
std::string nested_if_model(int depth) {
  auto varint = [](uint64_t v) {
    std::string s;
    do {
      uint8_t b = v & 0x7f;
      v >>= 7;
      s += static_cast<char>(v ? b | 0x80 : b);
    } while (v);
    return s;
  };
  // Every level is a header followed by the level inside it; lengths from the inside out.
  std::vector<std::string> headers;
  uint64_t inner = 0;  // the innermost graph is empty
  for (int level = 0; level < depth; ++level) {
    std::string attr_head = std::string("\x0a\x0bthen_branch", 13) + "\xa0\x01\x05" + "\x32" + varint(inner);
    uint64_t attr_len = attr_head.size() + inner;
    std::string node_head = std::string("\x22\x02If", 4) + "\x2a" + varint(attr_len);
    uint64_t node_len = node_head.size() + attr_len;
    std::string graph_head = "\x0a" + varint(node_len);
    inner = graph_head.size() + node_len;
    headers.push_back(graph_head + node_head + attr_head);
  }
  std::string model = std::string("\x08\x08", 2) + "\x3a" + varint(inner);
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) model += *it;
  return model + std::string("\x42\x02\x10\x11", 4);  // opset_import { version: 17 }
}

// NonZero, Loop, a custom-domain op and Pad in 'wrap' mode: four nodes tl cannot import.
ModelBuilder unsupported_model() {
  ModelBuilder b;
  auto* custom_domain = b.m.add_opset_import();
  custom_domain->set_domain("com.example");
  custom_domain->set_version(1);
  b.input("x", {4});
  b.node("NonZero", {"x"}, {"nz"}, "nonzero1");
  // Loop(trip count 3, no condition, v = x) { v_out = v + v }
  b.init("trips", int64s({3}, Shape{}));
  auto& loop = b.node("Loop", {"trips", "", "x"}, {"looped"}, "loop1");
  auto& body = attr(loop, "body", ::onnx::AttributeProto::GRAPH);
  ::onnx::GraphProto& g = *body.mutable_g();
  g.set_name("body");
  ModelBuilder::declare(*g.add_input(), "i", TP::INT64, {});
  ModelBuilder::declare(*g.add_input(), "cond", TP::BOOL, {});
  ModelBuilder::declare(*g.add_input(), "v", TP::FLOAT, {4});
  ModelBuilder::add_node(g, "Identity", {"cond"}, {"cond_out"}, "keep_going");
  ModelBuilder::add_node(g, "Add", {"v", "v"}, {"v_out"}, "double");
  ModelBuilder::declare(*g.add_output(), "cond_out", TP::BOOL, {});
  ModelBuilder::declare(*g.add_output(), "v_out", TP::FLOAT, {4});
  b.node("MyOp", {"x"}, {"mine"}, "custom1").set_domain("com.example");
  b.init("pads", int64s({1, 1}));
  attr_string(b.node("Pad", {"x", "pads"}, {"padded"}, "pad1"), "mode", "wrap");
  b.output("nz", {1, -1}, TP::INT64);
  b.output("looped", {4});
  b.output("mine", {4});
  b.output("padded", {6});
  return b;
}

// The exporter pattern: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [8])).
ModelBuilder reshape_pattern_model() {
  ModelBuilder b;
  b.input("x", {-1, 4, 2});
  b.init("zero", int64s({0}, Shape{}));
  b.init("axes", int64s({0}, Shape{1}));
  b.init("rest", int64s({8}, Shape{1}));
  b.node("Shape", {"x"}, {"s"}, "shape");
  attr_int(b.node("Gather", {"s", "zero"}, {"n"}, "batch"), "axis", 0);
  b.node("Unsqueeze", {"n", "axes"}, {"n1"}, "unsqueeze");
  attr_int(b.node("Concat", {"n1", "rest"}, {"target"}, "target"), "axis", 0);
  b.node("Reshape", {"x", "target"}, {"flat"}, "reshape");
  b.node("Relu", {"flat"}, {"y"}, "relu");
  b.output("y", {-1, 8});
  return b;
}

}  // namespace

// ---------------------------------------------------------------- files that are not models

TEST_CASE("a model cut at any byte offset is refused with the offset of the cut field", "[onnx][import]") {
  manual_seed(1);
  SmallCnn cnn;
  ModelBuilder b = cnn.model();
  const std::string bytes = b.bytes();
  // The graph field's extent: everything before it is ir_version and producer_name.
  ::onnx::ModelProto head = b.m;
  head.clear_graph();
  head.clear_opset_import();
  const size_t graph_at = head.ByteSizeLong();
  const size_t graph_len = b.m.graph().ByteSizeLong();
  const size_t graph_end = bytes.size() - b.m.opset_import(0).ByteSizeLong() - 2;
  REQUIRE(graph_end > graph_at + graph_len);
  const size_t graph_data_at = graph_end - graph_len;

  int refused = 0;
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    INFO("cut at " << cut << " of " << bytes.size());
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(std::string_view(bytes).substr(0, cut)), tl::Error);
    ++refused;
  }
  CHECK(refused == static_cast<int>(bytes.size()) - 1);
  // Inside the graph: an IoError naming the field, where it starts and where the data ends.
  for (size_t cut : {graph_data_at + 1, graph_data_at + graph_len / 2, graph_end - 1}) {
    INFO("cut at " << cut);
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(std::string_view(bytes).substr(0, cut)), tl::IoError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(std::string_view(bytes).substr(0, cut)),
                        Contains("not a valid ONNX model: the protobuf data (" + std::to_string(cut) +
                                 " bytes) is truncated or corrupt: field 7 (graph) at byte " +
                                 std::to_string(graph_at) + " declares " + std::to_string(graph_len) +
                                 " bytes from byte " + std::to_string(graph_data_at) + ", but the data ends at byte " +
                                 std::to_string(cut) + " (truncated?)"));
  }
  // Cut inside the opset import, after a complete graph.
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(std::string_view(bytes).substr(0, bytes.size() - 1)),
                      Contains("field 8 (opset_import) at byte " + std::to_string(graph_end)));
  // The same through a file: the message names it.
  ScratchDir dir("tl_onnx_import");
  write_bytes(dir.file("cut.onnx"), bytes.substr(0, bytes.size() / 2));
  REQUIRE_THROWS_AS(tl::onnx::load(dir.file("cut.onnx")), tl::IoError);
  REQUIRE_THROWS_WITH(tl::onnx::load(dir.file("cut.onnx")),
                      Contains("tl::onnx::load('" + dir.file("cut.onnx") + "'): not a valid ONNX model"));
  // The whole file loads.
  CHECK_NOTHROW(tl::onnx::load_bytes(bytes));
}

TEST_CASE("random bytes and an empty file are refused as not an ONNX model", "[onnx][import]") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes(16 + rng() % 4096, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    INFO("trial " << trial);
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(bytes), tl::IoError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(bytes), Contains("not a valid ONNX model"));
  }
  // A byte that cannot start a field.
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(std::string("\x08\x08\x07", 3)),
                      Contains("byte 2 holds field number 0"));
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(std::string("\x08\x08\x3f", 3)),
                      Contains("field 7 (graph) at byte 2 has wire type 7"));

  ScratchDir dir("tl_onnx_import");
  write_bytes(dir.file("empty.onnx"), "");
  REQUIRE_THROWS_AS(tl::onnx::load(dir.file("empty.onnx")), tl::IoError);
  REQUIRE_THROWS_WITH(tl::onnx::load(dir.file("empty.onnx")), Contains("not a valid ONNX model: the file is empty"));
  // Valid protobuf that is no model.
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(std::string("\x08\x08", 2)), Contains("it has no graph"));
}

TEST_CASE("child: load refuses a FIFO and a deeply nested model without blocking or overflowing", "[.][onnx_child]") {
  ::alarm(60);  // a blocking open ends the child with SIGALRM instead of hanging the suite
  ScratchDir dir("tl_onnx_import");
  const std::string fifo = dir.file("pipe.onnx");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  REQUIRE_THROWS_AS(tl::onnx::load(fifo), tl::IoError);
  REQUIRE_THROWS_WITH(tl::onnx::load(fifo), Contains("'" + fifo + "': it is a FIFO (named pipe), not a regular file"));

  // External data that is a FIFO.
  ModelBuilder b;
  b.input("x", {3});
  TP& w = b.init("w", zeros({3}));
  w.clear_raw_data();
  w.set_data_location(TP::EXTERNAL);
  auto* loc = w.add_external_data();
  loc->set_key("location");
  loc->set_value("pipe.onnx");
  b.node("Add", {"x", "w"}, {"y"}, "add");
  b.output("y", {3});
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes(), dir.path.string()), Contains("it is a FIFO"));

  // 10,000 nested If subgraphs: refused by protobuf's nesting limit, no stack overflow.
  const std::string deep = nested_if_model(10000);
  REQUIRE_THROWS_AS(tl::onnx::load_bytes(deep), tl::IoError);
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(deep), Contains("the damage lies inside field 7 (graph)"));
  // The same builder at 3 levels gives a model the parser reads (and the checker refuses).
  REQUIRE_THROWS_AS(tl::onnx::load_bytes(nested_if_model(3)), tl::ValueError);
}

TEST_CASE("FIFOs and deeply nested subgraphs are refused in a child process", "[onnx][import]") {
  pid_t pid = tl::testing::spawn_self("child: load refuses a FIFO and a deeply nested model without blocking or overflowing", {});
  int status = tl::testing::wait_for_child(pid);
  INFO("exit status " << status << (status == 128 + SIGALRM ? " (SIGALRM: an open blocked)" : ""));
  CHECK(status == 0);
}

TEST_CASE("a folder and a missing path are refused naming the path", "[onnx][import]") {
  ScratchDir dir("tl_onnx_import");
  REQUIRE_THROWS_AS(tl::onnx::load(dir.path.string()), tl::IoError);
  REQUIRE_THROWS_WITH(tl::onnx::load(dir.path.string()),
                      Contains("'" + dir.path.string() + "': it is a directory, not a regular file"));
  REQUIRE_THROWS_AS(tl::onnx::load(dir.file("missing.onnx")), tl::IoError);
  REQUIRE_THROWS_WITH(tl::onnx::load(dir.file("missing.onnx")), Contains("'" + dir.file("missing.onnx") + "'"));
  REQUIRE_THROWS_WITH(tl::onnx::load(dir.file("missing.onnx")), Contains("No such file"));
}

// ---------------------------------------------------------------- initializer sizes

TEST_CASE("initializers whose dims disagree with their data are refused naming both sizes", "[onnx][import]") {
  auto refused = [](const std::function<void(TP&)>& edit, const std::string& why) {
    INFO(why);
    const std::string bytes = add_model_with(edit).bytes();
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(bytes), tl::IoError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(bytes), Contains("initializer 'w'") && Contains(why));
  };
  refused([](TP& w) { w.set_raw_data(std::string(12, '\0')); }, "raw_data holds 12 bytes but the dims and type need 16");
  refused([](TP& w) { w.set_raw_data(std::string(20, '\0')); }, "raw_data holds 20 bytes but the dims and type need 16");
  refused([](TP& w) { w.clear_raw_data(); for (int i = 0; i < 3; ++i) w.add_float_data(1); },
          "float_data holds 3 values but the dims say 4");
  refused([](TP& w) { w.clear_raw_data(); for (int i = 0; i < 5; ++i) w.add_float_data(1); },
          "float_data holds 5 values but the dims say 4");
  refused([](TP& w) { w.clear_raw_data(); }, "has 4 elements but no data");
  refused([](TP& w) { w.add_float_data(1); }, "its data is given in more than one field");
  refused([](TP& w) { w.set_dims(0, -1); w.set_dims(1, 4); }, "negative dim -1 in dims [-1, 4]");
  refused([](TP& w) { w.set_dims(0, int64_t{1} << 32); w.set_dims(1, int64_t{1} << 32); },
          "its dims [4294967296, 4294967296] multiply to more than 2^62 elements");
  // 2^61 float64 elements need 2^64 bytes, which wraps to 0 in 64-bit arithmetic: refused
  // by the element count, not accepted as matching an empty raw_data.
  refused([](TP& w) { w.clear_dims(); w.add_dims(int64_t{1} << 61); w.set_data_type(TP::DOUBLE); w.set_raw_data(""); },
          "its dims [2305843009213693952] of float64 need more than 17179869184 bytes");
  refused([](TP& w) { w.clear_dims(); for (int i = 0; i < 9; ++i) w.add_dims(1); w.set_raw_data(std::string(4, '\0')); },
          "rank 9 is above tl's maximum of 8");
}

TEST_CASE("initializers with zero-size dims load and compute", "[onnx][import]") {
  ModelBuilder b;
  b.input("x", {2, 3});
  TP& z = *b.graph().add_initializer();  // [0, 3] float, no data at all
  z.set_name("z");
  z.add_dims(0);
  z.add_dims(3);
  z.set_data_type(TP::FLOAT);
  attr_int(b.node("Concat", {"x", "z"}, {"y"}, "cat"), "axis", 0);
  b.output("y", {2, 3});
  tl::onnx::Model model = tl::onnx::load_bytes(b.bytes(), "", {.compile = 0});
  Tensor x = randn({2, 3});
  Tensor y = model(x);
  CHECK(y.shape() == Shape{2, 3});
  CHECK(equal(y, x));
}

// ---------------------------------------------------------------- graph structure

TEST_CASE("broken graphs are refused naming the nodes and values", "[onnx][import]") {
  auto refused = [](ModelBuilder& b, const std::string& why) {
    INFO(why);
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(b.bytes()), tl::ValueError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes()), Contains(why));
  };
  SECTION("a cycle names the nodes on it") {
    ModelBuilder b;
    b.input("x", {2});
    b.node("Relu", {"x"}, {"start"}, "entry");
    b.node("Add", {"start", "back"}, {"ahead"}, "first");
    b.node("Neg", {"ahead"}, {"back"}, "second");
    b.output("ahead", {2});
    refused(b, "the graph has a cycle; these nodes wait on each other: node 'first' (Add), node 'second' (Neg)");
  }
  SECTION("a node reading its own output is a cycle") {
    ModelBuilder b;
    b.input("x", {2});
    b.node("Add", {"x", "loop"}, {"loop"}, "self");
    b.output("loop", {2});
    refused(b, "the graph has a cycle; these nodes wait on each other: node 'self' (Add)");
  }
  SECTION("a dangling input names the node and the value") {
    ModelBuilder b;
    b.input("x", {2});
    b.node("Add", {"x", "ghost"}, {"y"}, "reader");
    b.output("y", {2});
    refused(b, "node 'reader' (Add) reads 'ghost'");
  }
  SECTION("two nodes writing one name") {
    ModelBuilder b;
    b.input("x", {2});
    b.node("Relu", {"x"}, {"y"}, "a");
    b.node("Neg", {"x"}, {"y"}, "b");
    b.output("y", {2});
    refused(b, "the value name 'y' is defined twice (again by node 'b' (Neg))");
  }
  SECTION("an initializer and a node output of one name") {
    ModelBuilder b;
    b.input("x", {2});
    b.init("y", ones({2}));
    b.node("Relu", {"x"}, {"y"}, "a");
    b.output("y", {2});
    refused(b, "the value name 'y' is defined twice (again by node 'a' (Relu))");
  }
  SECTION("an input and a node output of one name") {
    ModelBuilder b;
    b.input("x", {2});
    b.node("Relu", {"x"}, {"x"}, "a");
    b.output("x", {2});
    refused(b, "the value name 'x' is defined twice (again by node 'a' (Relu))");
  }
  SECTION("a graph output nothing computes") {
    ModelBuilder b;
    b.input("x", {2});
    b.node("Relu", {"x"}, {"y"}, "a");
    b.output("y", {2});
    b.output("nowhere", {2});
    refused(b, "graph output 'nowhere' is not computed by any node");
  }
}

TEST_CASE("nodes out of order are sorted and run", "[onnx][import]") {
  ModelBuilder b;
  b.input("x", {4});
  b.node("Neg", {"t"}, {"y"}, "second");
  b.node("Relu", {"x"}, {"t"}, "first");
  b.output("y", {4});
  tl::onnx::Model model = tl::onnx::load_bytes(b.bytes(), "", {.compile = 0});
  Tensor x = from_vector<float>({-1, 2, -3, 4});
  CHECK(matches(model(x), from_vector<float>({0, -2, 0, -4})));
}

TEST_CASE("wrong attribute types and out-of-range axes are refused naming the node", "[onnx][import]") {
  SECTION("an attribute of the wrong type") {
    ModelBuilder b;
    b.input("x", {2, 3});
    attr(b.node("Transpose", {"x"}, {"y"}, "flip"), "perm", ::onnx::AttributeProto::FLOATS).add_floats(1);
    b.output("y", {3, 2});
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(b.bytes()), tl::ValueError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes()), Contains("fails the ONNX checker: Mismatched attribute type in 'flip : perm'"));
  }
  SECTION("an axis equal to the rank") {
    ModelBuilder b;
    b.input("x", {2, 3});
    attr_int(b.node("Softmax", {"x"}, {"y"}, "probs"), "axis", 2);
    b.output("y", {2, 3});
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(b.bytes()), tl::ValueError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes()), Contains("fails the ONNX checker") && Contains("node name: probs") && Contains("'axis' must be in [-2 , 1]"));
  }
  SECTION("a Gemm input of rank 1") {
    ModelBuilder b;
    b.input("x", {3});
    b.init("w", ones({3, 2}));
    b.node("Gemm", {"x", "w"}, {"y"}, "fc");
    b.output("y", {2});
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(b.bytes()), tl::ValueError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes()), Contains("fails the ONNX checker") && Contains("node name: fc") && Contains("First input does not have rank 2"));
  }
}

// ---------------------------------------------------------------- external data

namespace {

// x [3] + w [3], w read from `location` at `offset` (and `length` when >= 0).
std::string external_model(const std::string& location, int64_t offset, int64_t length) {
  ModelBuilder b;
  b.input("x", {3});
  TP& w = b.init("w", zeros({3}));
  w.clear_raw_data();
  w.set_data_location(TP::EXTERNAL);
  auto entry = [&](const std::string& key, const std::string& value) {
    auto* e = w.add_external_data();
    e->set_key(key);
    e->set_value(value);
  };
  entry("location", location);
  entry("offset", std::to_string(offset));
  if (length >= 0) entry("length", std::to_string(length));
  b.node("Add", {"x", "w"}, {"y"}, "add");
  b.output("y", {3});
  return b.bytes();
}

// 16 bytes of padding, then the float32 values 0.5, -1.5, 2.25.
std::string weights_file() {
  const float w[3] = {0.5f, -1.5f, 2.25f};
  return std::string(16, 'p') + std::string(reinterpret_cast<const char*>(w), sizeof w);
}

}  // namespace

TEST_CASE("external data inside the model's folder loads", "[onnx][import]") {
  ScratchDir dir("tl_onnx_import");
  fs::create_directories(dir.path / "data");
  write_bytes(dir.path / "data" / "weights.bin", weights_file());
  write_bytes(dir.file("model.onnx"), external_model("data/weights.bin", 16, 12));
  write_bytes(dir.file("nolength.onnx"), external_model("./data/weights.bin", 16, -1));
  const Tensor x = from_vector<float>({1, 2, 3});
  const Tensor expected = from_vector<float>({1.5f, 0.5f, 5.25f});
  for (const char* name : {"model.onnx", "nolength.onnx"}) {
    INFO(name);
    tl::onnx::Model model = tl::onnx::load(dir.file(name), {.compile = 0});
    CHECK(equal(model(x), expected));
  }
  // From bytes, with the folder given.
  tl::onnx::Model model = tl::onnx::load_bytes(external_model("data/weights.bin", 16, 12), dir.path.string(), {.compile = 0});
  CHECK(equal(model(x), expected));
  // From bytes without a folder: refused.
  REQUIRE_THROWS_AS(tl::onnx::load_bytes(external_model("data/weights.bin", 16, 12)), tl::IoError);
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(external_model("data/weights.bin", 16, 12)),
                      Contains("initializer 'w'") && Contains("the model was not loaded from a file"));
}

TEST_CASE("external data paths that leave the model's folder are refused naming the path", "[onnx][import]") {
  ScratchDir dir("tl_onnx_import");
  const fs::path model_dir = dir.path / "model";
  const fs::path outside_dir = dir.path / "outside";
  fs::create_directories(model_dir);
  fs::create_directories(outside_dir);
  write_bytes(outside_dir / "weights.bin", weights_file());
  write_bytes(dir.path / "weights.bin", weights_file());
  fs::create_symlink("../outside/weights.bin", model_dir / "link.bin");
  fs::create_directory_symlink("../outside", model_dir / "linked_dir");
  fs::create_hard_link(outside_dir / "weights.bin", model_dir / "hard.bin");
  write_bytes(model_dir / "weights.bin", weights_file());  // the file a good location names

  auto refused = [&](const std::string& location, const std::string& why) {
    INFO(location);
    write_bytes(model_dir / "model.onnx", external_model(location, 16, 12));
    const std::string path = (model_dir / "model.onnx").string();
    REQUIRE_THROWS_AS(tl::onnx::load(path), tl::IoError);
    REQUIRE_THROWS_WITH(tl::onnx::load(path), Contains("tl::onnx: '" + path + "': initializer 'w'") && Contains(why));
  };
  refused("../weights.bin", "external data location '../weights.bin' leaves the model's folder ('..')");
  refused("../outside/weights.bin", "leaves the model's folder ('..')");
  refused("linked_dir/../../weights.bin", "external data location 'linked_dir/../../weights.bin' leaves the model's folder");
  refused("sub/../../weights.bin", "leaves the model's folder ('..')");
  refused((dir.path / "weights.bin").string(),
          "external data location '" + (dir.path / "weights.bin").string() + "' is absolute");
  refused("link.bin", "external data location 'link.bin' goes through a symbolic link ('" +
                          (model_dir / "link.bin").string() + "')");
  refused("linked_dir/weights.bin", "external data location 'linked_dir/weights.bin' goes through a symbolic link ('" +
                                        (model_dir / "linked_dir").string() + "')");
  refused("hard.bin", "external data file '" + (model_dir / "hard.bin").string() + "' has 2 hard links");
  refused("missing.bin", "external data file '" + (model_dir / "missing.bin").string() + "' does not exist");
  // The good location loads from the same folder.
  write_bytes(model_dir / "model.onnx", external_model("weights.bin", 16, 12));
  CHECK_NOTHROW(tl::onnx::load((model_dir / "model.onnx").string(), {.compile = 0}));
}

TEST_CASE("external data ranges outside the file or of the wrong length are refused", "[onnx][import]") {
  ScratchDir dir("tl_onnx_import");
  write_bytes(dir.file("weights.bin"), weights_file());  // 28 bytes
  const std::string path = dir.file("model.onnx");
  auto refused = [&](int64_t offset, int64_t length, const std::string& why) {
    INFO("offset " << offset << " length " << length);
    write_bytes(path, external_model("weights.bin", offset, length));
    REQUIRE_THROWS_AS(tl::onnx::load(path), tl::IoError);
    REQUIRE_THROWS_WITH(tl::onnx::load(path), Contains("initializer 'w'") && Contains(why));
  };
  refused(20, 12, "external data [20, 32) of '" + dir.file("weights.bin") + "' is past its end (28 bytes)");
  refused(100, -1, "external data [100, 112) of '" + dir.file("weights.bin") + "' is past its end (28 bytes)");
  refused(16, 8, "external data length 8 does not match the dims (12 bytes)");
  refused(16, 16, "external data length 16 does not match the dims (12 bytes)");
  // Offsets that are not numbers, or would wrap.
  write_bytes(path, external_model("weights.bin", 0, 12));
  {
    ::onnx::ModelProto m;
    REQUIRE(m.ParseFromString(external_model("weights.bin", 0, 12)));
    m.mutable_graph()->mutable_initializer(0)->mutable_external_data(1)->set_value("-4");
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(m.SerializeAsString(), dir.path.string()),
                        Contains("external data field 'offset' is not a non-negative integer: '-4'"));
    m.mutable_graph()->mutable_initializer(0)->mutable_external_data(1)->set_value("18446744073709551615");
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(m.SerializeAsString(), dir.path.string()),
                        Contains("external data field 'offset' is not a non-negative integer"));
    m.mutable_graph()->mutable_initializer(0)->mutable_external_data(1)->set_value("9223372036854775807");
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(m.SerializeAsString(), dir.path.string()), Contains("is past its end"));
  }
}

// ---------------------------------------------------------------- versions and operators

TEST_CASE("opsets and IR versions newer than supported are refused", "[onnx][import]") {
  for (int opset : {18, 20}) {
    ModelBuilder b(opset);
    b.input("x", {2});
    b.node("Relu", {"x"}, {"y"}, "r");
    b.output("y", {2});
    INFO("opset " << opset);
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(b.bytes()), tl::ValueError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes()),
                        Contains("the model uses opset " + std::to_string(opset) +
                                 " of the default domain, newer than the newest tl supports (17)"));
  }
  ModelBuilder b;
  b.m.set_ir_version(10);
  b.input("x", {2});
  b.node("Relu", {"x"}, {"y"}, "r");
  b.output("y", {2});
  REQUIRE_THROWS_AS(tl::onnx::load_bytes(b.bytes()), tl::ValueError);
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes()), Contains("the model's IR version 10 is newer than"));
  b.m.clear_opset_import();
  b.m.set_ir_version(8);
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes()), Contains("the model imports no opset of the default ONNX domain"));
}

TEST_CASE("every unsupported node is listed in one error with its op type and opset", "[onnx][import]") {
  const std::string bytes = unsupported_model().bytes();
  REQUIRE_THROWS_AS(tl::onnx::load_bytes(bytes), tl::ValueError);
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(bytes),
                      Contains("4 node(s) cannot be imported") &&
                          Contains("node 'nonzero1' (NonZero) at opset 17: the operator is not supported") &&
                          Contains("node 'loop1' (Loop) at opset 17: the operator is not supported") &&
                          Contains("node 'custom1' (com.example.MyOp) at opset 17: the domain 'com.example' is not supported") &&
                          Contains("node 'pad1' (Pad) at opset 17:") && Contains("wrap"));
}

TEST_CASE("inputs of element types tl lacks and non-tensor inputs are refused naming them", "[onnx][import]") {
  {
    ModelBuilder b;
    b.input("pixels", {2}, TP::UINT8);
    b.node("Identity", {"pixels"}, {"y"}, "id");
    b.output("y", {2}, TP::UINT8);
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(b.bytes()), tl::ValueError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes()), Contains("graph input 'pixels' has element type uint8, which tl does not have"));
  }
  {
    ModelBuilder b;
    auto* s = b.graph().add_input();
    s->set_name("items");
    s->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(TP::FLOAT);
    b.node("SequenceLength", {"items"}, {"n"}, "len");
    b.output("n", {}, TP::INT64);
    REQUIRE_THROWS_AS(tl::onnx::load_bytes(b.bytes()), tl::ValueError);
    REQUIRE_THROWS_WITH(tl::onnx::load_bytes(b.bytes()),
                        Contains("graph input 'items' is a sequence; tl imports graphs whose inputs and outputs are tensors"));
  }
}

TEST_CASE("nodes that fail on constants at load or on inputs at run are refused naming the node", "[onnx][import]") {
  // Gather of index 7 from a 3-element weight: folded at load, so refused at load.
  ModelBuilder folded;
  folded.input("x", {1});
  folded.init("w", ones({3}));
  folded.init("idx", int64s({7}, Shape{1}));
  attr_int(folded.node("Gather", {"w", "idx"}, {"g"}, "pick"), "axis", 0);
  folded.node("Add", {"x", "g"}, {"y"}, "add");
  folded.output("y", {1});
  REQUIRE_THROWS_AS(tl::onnx::load_bytes(folded.bytes()), tl::ValueError);
  REQUIRE_THROWS_WITH(tl::onnx::load_bytes(folded.bytes()),
                      Contains("tl::onnx::load('<bytes>'): computing the model's constants: tl::onnx: node 'pick' "
                               "(Gather): index 7 is out of range for a dim of 3"));
  // Tile by 2^40 of an input: an allocation refused at run time, naming the node.
  ModelBuilder tiled;
  tiled.input("x", {2, 3});
  tiled.init("repeats", int64s({int64_t{1} << 40, 1}));
  tiled.node("Tile", {"x", "repeats"}, {"y"}, "tile");
  tiled.output("y", {-1, 3});
  tl::onnx::Model model = tl::onnx::load_bytes(tiled.bytes(), "", {.compile = 0});
  REQUIRE_THROWS_AS(model(zeros({2, 3})), tl::Error);
  REQUIRE_THROWS_WITH(model(zeros({2, 3})), Contains("node 'tile' (Tile)") && Contains("out of memory"));
  // A Conv whose weight is 1-D passes ONNX's shape inference (found by fuzz_onnx); the
  // converter once ended the process with std::length_error.
  ModelBuilder conv;
  conv.input("x", {1, 2, 4, 4});
  conv.init("w", ones({2}));
  conv.node("Conv", {"x", "w", "w"}, {"y"}, "conv1");
  conv.output("y", {-1, -1});  // what ONNX 1.12 infers
  for (int compile : {0, 1}) {
    INFO("compile " << compile);
    tl::onnx::Model m = tl::onnx::load_bytes(conv.bytes(), "", {.compile = compile});
    REQUIRE_THROWS_AS(m(zeros({1, 2, 4, 4})), tl::Error);
    REQUIRE_THROWS_WITH(m(zeros({1, 2, 4, 4})), Contains("node 'conv1' (Conv)"));
  }
}

// ---------------------------------------------------------------- models that run

TEST_CASE("a small CNN loads folded and matches tl ops eagerly and compiled", "[onnx][import]") {
  manual_seed(3);
  SmallCnn cnn;
  const std::string bytes = cnn.model().bytes();
  const Tensor x = randn({2, 3, 8, 8});
  const Tensor expected = cnn.reference(x);

  tl::onnx::Model eager = tl::onnx::load_bytes(bytes, "", {.compile = 0});
  const std::string plan = eager.plan();
  INFO(plan);
  CHECK_THAT(plan, Contains("1 constant node(s) folded, 1 batch norm(s) folded into convolutions"));
  CHECK_THAT(plan, !Contains("BatchNormalization(") && !Contains("Transpose("));
  CHECK_THAT(plan, Contains("= Conv(x, conv1.folded_weight, conv1.folded_bias)"));
  CHECK_THAT(plan, Contains("= MatMul(h, pt)"));
  REQUIRE(eager.inputs().size() == 1);
  CHECK(eager.inputs()[0].str() == "x: float32[2, 3, 8, 8]");
  CHECK(eager.opset() == 17);
  CHECK(eager.producer() == "import_test");
  CHECK(matches(eager(x), expected));

  tl::onnx::Model compiled = tl::onnx::load_bytes(bytes, "", {.compile = 1});
  CHECK(matches(compiled(x), expected));
  CHECK(matches(compiled(x), expected));
  const Tensor x2 = randn({2, 3, 8, 8});
  CHECK(matches(compiled(x2), cnn.reference(x2)));

  // Without load-time optimizations, the same outputs.
  tl::onnx::Model plain = tl::onnx::load_bytes(bytes, "", {.compile = 0, .optimize = false});
  CHECK_THAT(plain.plan(), Contains("BatchNormalization(") && Contains("Transpose("));
  CHECK(matches(plain(x), expected));
}

TEST_CASE("a reshape computed from the input's shape runs at two batch sizes compiled", "[onnx][import]") {
  const ModelBuilder b = reshape_pattern_model();
  tl::onnx::Model model = tl::onnx::load_bytes(b.bytes(), "", {.compile = 1});
  CHECK(model.inputs()[0].str() == "x: float32[N, 4, 2]");
  for (int64_t batch : {2, 3, 2}) {
    INFO("batch " << batch);
    Tensor x = randn({batch, 4, 2});
    Tensor y = model(x);
    REQUIRE(y.shape() == Shape{batch, 8});
    CHECK(equal(y, relu(x.reshape({batch, 8}))));
  }
  tl::onnx::Model eager = tl::onnx::load_bytes(b.bytes(), "", {.compile = 0});
  Tensor x5 = randn({5, 4, 2});
  CHECK(equal(eager(x5), relu(x5.reshape({5, 8}))));
}

TEST_CASE("inputs of the wrong dtype shape or count are refused naming the input", "[onnx][import]") {
  ModelBuilder b;
  b.input("x", {-1, 4});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y", {-1, 4});
  for (int compile : {0, 1}) {
    INFO("compile " << compile);
    tl::onnx::Model model = tl::onnx::load_bytes(b.bytes(), "", {.compile = compile});
    REQUIRE_THROWS_AS(model(zeros({2, 4}, {.dtype = kInt64})), tl::DTypeError);
    REQUIRE_THROWS_WITH(model(zeros({2, 4}, {.dtype = kInt64})), Contains("input 'x' must be float32, got int64"));
    REQUIRE_THROWS_AS(model(zeros({2, 5})), tl::ShapeError);
    REQUIRE_THROWS_WITH(model(zeros({2, 5})), Contains("input x: float32[N, 4] cannot take a tensor of shape [2, 5]"));
    REQUIRE_THROWS_WITH(model(zeros({4})), Contains("input x: float32[N, 4] cannot take a tensor of shape [4]"));
    REQUIRE_THROWS_AS(model(std::vector<Tensor>{}), tl::ValueError);
    REQUIRE_THROWS_WITH(model(std::vector<Tensor>{}), Contains("takes 1 input(s) (x: float32[N, 4]), got 0"));
    REQUIRE_THROWS_WITH(model(Tensor()), Contains("input 'x' is undefined"));
    // Still runs after the refusals.
    CHECK(equal(model(neg(ones({3, 4}))), zeros({3, 4})));
  }
}

// Writes the seed models of tests/fuzz/corpus/onnx/ that this file builds (the others there
// are copied from tests/onnx/conformance/onnx-node):
//   TL_ONNX_CORPUS_DIR=tests/fuzz/corpus/onnx build/tests/onnx/onnx_import_test "[.onnx_corpus]"
TEST_CASE("write the ONNX fuzz seed models", "[.onnx_corpus]") {
  const char* dir = std::getenv("TL_ONNX_CORPUS_DIR");
  REQUIRE(dir);
  const fs::path out(dir);
  fs::create_directories(out);
  manual_seed(5);
  SmallCnn cnn;
  const std::string model = cnn.model().bytes();
  write_bytes(out / "cnn_folded.onnx", model);
  write_bytes(out / "cnn_cut.onnx", model.substr(0, model.size() / 2));
  ModelBuilder reshape = reshape_pattern_model();  // with a fixed batch, so the fuzzer runs it
  reshape.graph().mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_value(2);
  reshape.graph().mutable_output(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_value(2);
  write_bytes(out / "reshape_from_shape.onnx", reshape.bytes());
  write_bytes(out / "unsupported_nodes.onnx", unsupported_model().bytes());
  write_bytes(out / "external_data.onnx", external_model("weights.bin", 16, 12));
  ModelBuilder cycle;
  cycle.input("x", {2});
  cycle.node("Add", {"x", "back"}, {"ahead"}, "first");
  cycle.node("Neg", {"ahead"}, {"back"}, "second");
  cycle.output("ahead", {2});
  write_bytes(out / "cycle.onnx", cycle.bytes());
  ModelBuilder newer(18);
  newer.input("x", {2});
  newer.node("Relu", {"x"}, {"y"}, "r");
  newer.output("y", {2});
  write_bytes(out / "opset18.onnx", newer.bytes());
  write_bytes(out / "short_raw_data.onnx",
              add_model_with([](TP& w) { w.set_raw_data(std::string(12, '\0')); }).bytes());
  write_bytes(out / "empty.onnx", "");
}

// tlc takes .onnx inputs through tl-onnx-import: a conformance model becomes an executable
// that computes the expected output, and a corrupt model is refused (exit 2) naming the file.
TEST_CASE("tlc compiles an ONNX model into an executable and refuses a corrupt one", "[onnx][tlc]") {
  const std::string dir = std::string(TL_ONNX_TEST_DIR) + "/conformance/onnx-node/test_basic_conv_with_padding";
  tl::testing::ScratchDir scratch("tl_onnx_tlc");
  auto read_pb = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    ::onnx::TensorProto t;
    REQUIRE(t.ParseFromIstream(&in));
    REQUIRE(t.data_type() == ::onnx::TensorProto::FLOAT);
    std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
    tl::Tensor out = tl::empty(tl::Shape(dims));
    REQUIRE(t.raw_data().size() == out.nbytes());
    std::memcpy(out.data_ptr(), t.raw_data().data(), out.nbytes());
    return out;
  };
  const std::string x = (scratch.path / "x.npy").string(), w = (scratch.path / "w.npy").string();
  tl::save_npy(x, read_pb(dir + "/test_data_set_0/input_0.pb"));
  tl::save_npy(w, read_pb(dir + "/test_data_set_0/input_1.pb"));
  const std::string exe = (scratch.path / "conv").string(), log = (scratch.path / "log.txt").string();
  REQUIRE(std::system((std::string(TL_TLC_PATH) + " " + dir + "/model.onnx -o " + exe + " > " + log + " 2>&1").c_str()) == 0);
  std::ifstream tlc_log(log);
  std::string printed((std::istreambuf_iterator<char>(tlc_log)), std::istreambuf_iterator<char>());
  CHECK_THAT(printed, Catch::Contains("verified " + dir + "/model.onnx (imported as a tl artifact)"));
  const std::string out = (scratch.path / "out").string();
  REQUIRE(std::system((exe + " " + x + " " + w + " -o " + out + " > " + log + " 2>&1").c_str()) == 0);
  tl::Tensor expected = read_pb(dir + "/test_data_set_0/output_0.pb");
  CHECK(tl::allclose(tl::load_npy(out + "/output_0.npy"), expected, 1e-5, 1e-6));

  const std::string bad = (scratch.path / "bad.onnx").string();
  std::ofstream(bad) << "not a model";
  const int status = std::system((std::string(TL_TLC_PATH) + " " + bad + " -o " + exe + "2 > " + log + " 2>&1").c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
  std::ifstream bad_log(log);
  std::string said((std::istreambuf_iterator<char>(bad_log)), std::istreambuf_iterator<char>());
  CHECK_THAT(said, Catch::Contains("bad.onnx") && Catch::Contains("not a valid ONNX model"));
  CHECK_FALSE(std::filesystem::exists(exe + "2"));
}
