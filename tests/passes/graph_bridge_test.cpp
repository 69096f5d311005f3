#include "passes/graph_bridge.h"

#include <cstring>

#include <catch2/catch.hpp>
#include <mlir/IR/Verifier.h>

#include "ir/attrs.h"
#include "ir/dialect.h"
#include "tests/passes/graph_util.h"

using namespace tl;
using tl::test::add_assign;
using tl::test::add_constant;
using tl::test::add_input;
using tl::test::add_op;
using tl::test::test_site;

namespace {

struct Context {
  std::unique_ptr<mlir::MLIRContext> owned = ir::make_context();
  mlir::MLIRContext& ctx = *owned;
};

mlir::func::FuncOp only_func(mlir::ModuleOp module) { return *module.getOps<mlir::func::FuncOp>().begin(); }

bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return a.numel() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), a.nbytes()) == 0;
}

void require_same_attrs(const ops::Attrs& a, const ops::Attrs& b) {
  CHECK(a.dims == b.dims);
  CHECK(a.stride == b.stride);
  CHECK(a.padding == b.padding);
  CHECK(a.dilation == b.dilation);
  CHECK(a.axis == b.axis);
  CHECK(a.count == b.count);
  CHECK(a.scalar == b.scalar);
  CHECK(a.scalar2 == b.scalar2);
  CHECK(a.keepdim == b.keepdim);
  CHECK(a.flag == b.flag);
  CHECK(a.flag2 == b.flag2);
  CHECK(a.dtype == b.dtype);
}

// Graphs built with inputs first and nodes' outputs in order keep their value ids exactly.
void require_same_graph(const trace::Graph& a, const trace::Graph& b) {
  CHECK(a.name == b.name);
  REQUIRE(a.values.size() == b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    CHECK(a.values[i].shape == b.values[i].shape);
    CHECK(a.values[i].dtype == b.values[i].dtype);
  }
  REQUIRE(a.inputs.size() == b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    CHECK(a.inputs[i].value == b.inputs[i].value);
    CHECK(a.inputs[i].kind == b.inputs[i].kind);
    CHECK(a.inputs[i].arg_index == b.inputs[i].arg_index);
    CHECK(a.inputs[i].name == b.inputs[i].name);
  }
  REQUIRE(a.nodes.size() == b.nodes.size());
  for (size_t k = 0; k < a.nodes.size(); ++k) {
    INFO("node " << k << " (" << a.nodes[k].op << ")");
    const trace::Node& x = a.nodes[k];
    const trace::Node& y = b.nodes[k];
    CHECK(x.op == y.op);
    CHECK(x.def == y.def);
    CHECK(x.inputs == y.inputs);
    CHECK(x.outputs == y.outputs);
    require_same_attrs(x.attrs, y.attrs);
    CHECK(std::string(x.site.file) == std::string(y.site.file));
    CHECK(x.site.line == y.site.line);
    CHECK(x.constant.defined() == y.constant.defined());
    if (x.constant.defined()) CHECK(same_bytes(x.constant, y.constant));
  }
  CHECK(a.outputs == b.outputs);
  REQUIRE(a.writebacks.size() == b.writebacks.size());
  for (size_t i = 0; i < a.writebacks.size(); ++i) {
    CHECK(a.writebacks[i].value == b.writebacks[i].value);
    CHECK(a.writebacks[i].input == b.writebacks[i].input);
    CHECK(a.writebacks[i].to_grad == b.writebacks[i].to_grad);
  }
  CHECK(a.rng_advance == b.rng_advance);
}

trace::Graph round_trip(const trace::Graph& g, std::string* text = nullptr) {
  Context c;
  auto module = passes::import_graph(c.ctx, g);
  REQUIRE(mlir::succeeded(mlir::verify(*module)));
  if (text) {
    llvm::raw_string_ostream os(*text);
    module->print(os);
  }
  return passes::export_graph(only_func(*module));
}

// Every structural kind, every input kind, attributes of each MLIR kind, sites and writebacks.
trace::Graph every_kind_graph() {
  trace::Graph g;
  g.name = "step";
  int x = add_input(g, {2, 3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  int w = add_input(g, {2, 3}, kFloat32, trace::InputKind::kCapture, "capture0");
  int wg = add_input(g, {2, 3}, kFloat32, trace::InputKind::kGradOf, "grad0");
  int rng = add_input(g, {2}, kInt64, trace::InputKind::kRng, "rng");
  int c = add_constant(g, tl::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}), 10);
  int a = add_op(g, "add", {x, c}, {}, 11);
  ops::Attrs all;
  all.dims = {0, 1};
  int s = add_op(g, "sum", {a}, all, 12);
  ops::Attrs by_row;
  by_row.dims = {1};
  by_row.keepdim = true;
  int rows = add_op(g, "sum", {a}, by_row, 13);
  ops::Attrs to_f64;
  to_f64.dtype = kFloat64;
  int d = add_op(g, "cast", {rows}, to_f64, 14);
  ops::Attrs power;
  power.scalar = 2.5;
  int p = add_op(g, "pow_scalar", {w}, power, 15);
  int seed = add_constant(g, tl::scalar_tensor(1.0), 16);
  trace::Node grad;
  grad.op = trace::kGrad;
  grad.inputs = {s, seed, w};
  grad.outputs = {g.add_value({2, 3}, kFloat32)};
  grad.site = test_site(17);
  g.nodes.push_back(grad);
  trace::Node random;
  random.op = trace::kRandom;
  random.inputs = {rng};
  random.attrs.dims = {2, 3};
  random.attrs.axis = 4;
  random.attrs.count = static_cast<int64_t>(trace::RandomKind::kNormal);
  random.attrs.scalar = 0.5;
  random.attrs.scalar2 = 2.0;
  random.outputs = {g.add_value({2, 3}, kFloat32)};
  g.nodes.push_back(random);
  trace::Node guard;
  guard.op = trace::kGuard;
  guard.inputs = {s};
  guard.attrs.scalar = 0.0;
  guard.site = test_site(18);
  g.nodes.push_back(guard);
  add_assign(g, w, a, false, 19);
  add_assign(g, wg, grad.outputs[0], true, 20);
  g.outputs = {s, d, p};
  g.writebacks = {{random.outputs[0], 1, false}, {grad.outputs[0], 2, true}};
  g.rng_advance = 6;
  return g;
}

}  // namespace

TEST_CASE("import then export gives back every node kind, attribute and site", "[passes][graph_bridge]") {
  trace::Graph g = every_kind_graph();
  std::string text;
  trace::Graph back = round_trip(g, &text);
  require_same_graph(g, back);
  CHECK(text.find("func.func @step") != std::string::npos);
  CHECK(text.find("tl.input = \"capture\"") != std::string::npos);
  CHECK(text.find("{tl.to_grad, tl.writeback = 2 : i64}") != std::string::npos);
  CHECK(text.find("tl.rng_advance = 6") != std::string::npos);
  // The guard keeps its expected value even when it is 0.
  CHECK(text.find("tl.guard %") != std::string::npos);
  CHECK(text.find("value = 0.000000e+00") != std::string::npos);
  // Attributes carry their declared names: no storage field names leak into the IR.
  CHECK(text.find("distribution = 1") != std::string::npos);
  CHECK(text.find("offset = 4") != std::string::npos);
  CHECK(text.find("exponent = 2.5") != std::string::npos);
  for (const char* field : {"scalar", "scalar2", "count", "flag", "flag2"})
    CHECK(text.find(std::string(field) + " =") == std::string::npos);
}

TEST_CASE("an unnamed graph imports as @traced", "[passes][graph_bridge]") {
  trace::Graph g;
  int x = add_input(g, {3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  g.outputs = {add_op(g, "neg", {x})};
  std::string text;
  trace::Graph back = round_trip(g, &text);
  CHECK(text.find("func.func @traced") != std::string::npos);
  CHECK(back.nodes.size() == 1);
}

TEST_CASE("constants of every dtype survive the round trip, splat or not", "[passes][graph_bridge]") {
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kBool}) {
    INFO(dtype_name(dtype));
    trace::Graph g;
    g.name = "constants";
    Tensor varied = tl::from_vector<float>({0, 1, -2.5f, 3, 0, 7}, {2, 3}).to(dtype);
    Tensor splat = tl::full({4, 5}, 3.0, {.dtype = dtype});
    Tensor strided = tl::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).to(dtype).t();
    Tensor none = tl::zeros({0, 3}, {.dtype = dtype});
    g.outputs = {add_constant(g, varied), add_constant(g, splat), add_constant(g, strided), add_constant(g, none)};
    trace::Graph back = round_trip(g);
    require_same_graph(g, back);
  }
}

TEST_CASE("constant_attr stores equal elements as a splat", "[passes][graph_bridge]") {
  Context c;
  auto splat = passes::constant_attr(&c.ctx, tl::full({64, 64}, 0.5));
  CHECK(splat.isSplat());
  CHECK(splat.getSplatValue<float>() == 0.5f);
  auto bools = passes::constant_attr(&c.ctx, tl::ones({3}, {.dtype = kBool}));
  CHECK(bools.isSplat());
  auto varied = passes::constant_attr(&c.ctx, tl::from_vector<int64_t>({1, 2}, {2}));
  CHECK_FALSE(varied.isSplat());
  CHECK(same_bytes(passes::tensor_of(varied), tl::from_vector<int64_t>({1, 2}, {2})));
}

TEST_CASE("emit_node builds one op from a node, operands and result types", "[passes][graph_bridge]") {
  Context c;
  mlir::OpBuilder b(&c.ctx);
  auto module = mlir::ModuleOp::create(b.getUnknownLoc());
  mlir::Type type = ir::tensor_type(&c.ctx, {4}, kFloat32);
  llvm::SmallVector<mlir::Type> types{type, type};
  b.setInsertionPointToEnd(module.getBody());
  auto func = b.create<mlir::func::FuncOp>(b.getUnknownLoc(), "f", b.getFunctionType(types, type));
  mlir::Block* entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  trace::Node node;
  node.op = "mul";
  node.def = ops::find_op("mul");
  node.site = test_site(7);
  mlir::Operation* op = passes::emit_node(b, node, entry->getArguments(), type);
  b.create<mlir::func::ReturnOp>(b.getUnknownLoc(), op->getResults());
  CHECK(op->getName().getStringRef() == "tl.mul");
  CHECK(ir::op_def(op) == node.def);
  CHECK(ir::site_of(op->getLoc()).line == 7);
  CHECK(mlir::succeeded(mlir::verify(module)));
  trace::Node back = passes::node_of(op);
  CHECK(back.def == node.def);
  module->erase();

  trace::Node unknown;
  unknown.op = "no_such_op";
  CHECK_THROWS_WITH(passes::emit_node(b, unknown, {}, {}), Catch::Contains("unknown op 'no_such_op'"));
}

TEST_CASE("import names the node that reads an undefined value", "[passes][graph_bridge]") {
  trace::Graph g;
  g.name = "broken";
  int x = add_input(g, {3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  int y = add_op(g, "neg", {x});
  g.nodes[0].inputs = {y};  // reads its own result
  g.outputs = {y};
  Context c;
  CHECK_THROWS_WITH(passes::import_graph(c.ctx, g),
                    Catch::Contains("graph 'broken', node 0 (neg) reads value %1 before it is defined"));

  trace::Graph g2;
  add_input(g2, {3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  g2.outputs = {5};
  CHECK_THROWS_WITH(passes::import_graph(c.ctx, g2), Catch::Contains("output 0 names value %5"));
}
