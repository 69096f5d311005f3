// The pipeline through its C entry point: functionalization, folding, IR dumps and errors.
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "runtime/exec/executor.h"

#include "frontend/compile/compiler_api.h"
#include "tests/passes/graph_util.h"

extern "C" void tl_compiler_run_pipeline(const tl::trace::Graph& in, const tl::compiler::PipelineOptions& options,
                                         tl::compiler::PipelineResult& out);

using namespace tl;
using tl::test::add_assign;
using tl::test::add_constant;
using tl::test::add_input;
using tl::test::add_op;
using tl::test::nodes_of;
using tl::test::producer;

namespace {

compiler::PipelineResult run(const trace::Graph& g, const std::string& pipeline, const std::string& dump_dir = "") {
  compiler::PipelineResult result;
  tl_compiler_run_pipeline(g, {.pipeline = pipeline, .dump_dir = dump_dir}, result);
  return result;
}

std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("tl_passes_test_" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(dir);
  return dir;
}

// An SGD-like step: w <- w - 0.1 * x, twice, and w.grad <- x.
trace::Graph update_graph() {
  trace::Graph g;
  g.name = "update";
  int x = add_input(g, {3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  int w = add_input(g, {3}, kFloat32, trace::InputKind::kCapture, "capture0");
  int lr = add_constant(g, tl::scalar_tensor(0.1));
  int step = add_op(g, "mul", {x, lr});
  int w1 = add_op(g, "sub", {w, step});
  add_assign(g, w, w1);
  int w2 = add_op(g, "sub", {w1, step});
  add_assign(g, w, w2);
  add_assign(g, w, x, /*to_grad=*/true);
  g.outputs = {w2};
  return g;
}

}  // namespace

TEST_CASE("functionalization turns the last assign of each slot into a writeback", "[passes][functionalize]") {
  trace::Graph g = update_graph();
  auto result = run(g, "tl-functionalize");
  INFO(result.error);
  REQUIRE(result.ok);
  INFO(result.ir_after);
  CHECK(nodes_of(result.graph, trace::kAssign).empty());
  const trace::Graph& out = result.graph;
  REQUIRE(out.writebacks.size() == 2);
  // The data slot receives the second update (w1 - step), the grad slot receives x.
  const trace::Node* second = producer(out, out.writebacks[0].value);
  REQUIRE(second != nullptr);
  CHECK(second->op == "sub");
  CHECK(producer(out, second->inputs[0])->op == "sub");
  CHECK(out.writebacks[0].input == 1);
  CHECK_FALSE(out.writebacks[0].to_grad);
  CHECK(out.writebacks[1].value == out.inputs[0].value);
  CHECK(out.writebacks[1].input == 1);
  CHECK(out.writebacks[1].to_grad);
  REQUIRE(out.outputs.size() == 1);
  CHECK(out.outputs[0] == out.writebacks[0].value);
  CHECK(result.ir_before.find("tl.assign") != std::string::npos);
  CHECK(result.ir_after.find("tl.assign") == std::string::npos);
  CHECK(result.ir_after.find("{tl.to_grad, tl.writeback = 1 : i64}") != std::string::npos);
}

TEST_CASE("functionalization makes later reads of an assigned input see the new value", "[passes][functionalize]") {
  // Hand-built (not traced) order: y = w * 2 reads the argument after w was reassigned.
  trace::Graph g;
  int x = add_input(g, {3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  int w = add_input(g, {3}, kFloat32, trace::InputKind::kCapture, "capture0");
  add_assign(g, w, x);
  int y = add_op(g, "add", {w, w});
  g.outputs = {y, w};
  auto result = run(g, "tl-functionalize");
  REQUIRE(result.ok);
  const trace::Graph& out = result.graph;
  const trace::Node* add = nodes_of(out, "add").at(0);
  CHECK(add->inputs == std::vector<int>{out.inputs[0].value, out.inputs[0].value});
  // Returning the input after the assign returns what was assigned.
  CHECK(out.outputs[1] == out.inputs[0].value);
}

TEST_CASE("functionalization refuses an assign to a value that is not an input", "[passes][functionalize]") {
  trace::Graph g;
  g.name = "bad_assign";
  int x = add_input(g, {3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  int y = add_op(g, "neg", {x});
  add_assign(g, y, x, false, 42);
  g.outputs = {y};
  auto result = run(g, "tl-functionalize");
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.error, Catch::Contains("pass 'tl-functionalize' failed on 'bad_assign'"));
  CHECK_THAT(result.error, Catch::Contains("model.cpp:42: error: tl-functionalize: the target of tl.assign"));
}

TEST_CASE("folding replaces ops on constants with the eager kernel's result", "[passes][fold]") {
  trace::Graph g;
  int x = add_input(g, {2, 3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  Tensor a = tl::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = tl::from_vector<float>({0.5f, -1, 2}, {3});
  int ca = add_constant(g, a);
  int cb = add_constant(g, b);
  int sum = add_op(g, "add", {ca, cb});  // broadcasts
  ops::Attrs by_row;
  by_row.dims = {1};
  by_row.keepdim = true;
  int rows = add_op(g, "sum", {sum}, by_row);
  ops::Attrs transpose;
  transpose.dims = {1, 0};
  int t = add_op(g, "permute", {sum}, transpose);  // a view op
  int y = add_op(g, "mul", {x, rows});  // not constant: stays
  g.outputs = {y, t};
  auto result = run(g, "tl-fold");
  REQUIRE(result.ok);
  const trace::Graph& out = result.graph;
  CHECK(nodes_of(out, "add").empty());
  CHECK(nodes_of(out, "sum").empty());
  CHECK(nodes_of(out, "permute").empty());
  REQUIRE(nodes_of(out, "mul").size() == 1);
  // The two input constants are gone; the two folded ones remain.
  REQUIRE(nodes_of(out, trace::kConstant).size() == 2);
  const trace::Node* mul = nodes_of(out, "mul")[0];
  const trace::Node* folded_rows = producer(out, mul->inputs[1]);
  REQUIRE(folded_rows->op == trace::kConstant);
  Tensor expected_rows = tl::sum(tl::add(a, b), {1}, true);
  CHECK(folded_rows->constant.shape() == expected_rows.shape());
  CHECK(folded_rows->constant.to_vector<float>() == expected_rows.to_vector<float>());
  const trace::Node* folded_t = producer(out, out.outputs[1]);
  REQUIRE(folded_t->op == trace::kConstant);
  Tensor expected_t = tl::add(a, b).permute({1, 0}).contiguous();
  CHECK(folded_t->constant.shape() == Shape{3, 2});
  CHECK(folded_t->constant.to_vector<float>() == expected_t.to_vector<float>());
}

TEST_CASE("folding leaves results above the size limit alone", "[passes][fold]") {
  trace::Graph g;
  int c = add_constant(g, tl::ones({1}));
  ops::Attrs to_big;
  to_big.dims = {2048, 1024};
  int big = add_op(g, "expand", {c}, to_big);
  g.outputs = {add_op(g, "neg", {big})};
  auto result = run(g, "tl-fold");
  REQUIRE(result.ok);
  CHECK(nodes_of(result.graph, "expand").size() == 1);
  CHECK(nodes_of(result.graph, "neg").size() == 1);
}

TEST_CASE("the default pipeline functionalizes, folds and cleans up", "[passes][pipeline]") {
  trace::Graph g = update_graph();
  auto result = run(g, "");
  REQUIRE(result.ok);
  const trace::Graph& out = result.graph;
  CHECK(nodes_of(out, trace::kAssign).empty());
  CHECK(out.writebacks.size() == 2);
  CHECK(out.inputs.size() == 2);
  CHECK(out.inputs[0].arg_index == 0);
  CHECK(out.name == "update");
}

TEST_CASE("the pipeline keeps the inputs' tensors, which the IR cannot hold", "[passes][pipeline]") {
  trace::Graph g = update_graph();
  Tensor w = tl::ones({3});
  g.inputs[1].source = w;
  auto result = run(g, "cse");
  REQUIRE(result.ok);
  CHECK(result.graph.inputs[1].source.data_ptr() == w.data_ptr());
}

TEST_CASE("a dump folder receives the IR before and after every pass", "[passes][pipeline]") {
  auto dir = scratch_dir("dump");
  auto result = run(update_graph(), "tl-functionalize,tl-fold,cse", dir.string());
  REQUIRE(result.ok);
  for (const char* name : {"update.01.tl-functionalize.before.mlir", "update.01.tl-functionalize.after.mlir",
                           "update.02.tl-fold.before.mlir", "update.02.tl-fold.after.mlir",
                           "update.03.cse.before.mlir", "update.03.cse.after.mlir"}) {
    INFO(name);
    CHECK(std::filesystem::is_regular_file(dir / name));
  }
  std::ifstream before(dir / "update.01.tl-functionalize.before.mlir");
  std::string text((std::istreambuf_iterator<char>(before)), std::istreambuf_iterator<char>());
  CHECK(text.find("tl.assign") != std::string::npos);
  std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("a dump folder that cannot be created fails the compile with its path", "[passes][pipeline]") {
  auto dir = scratch_dir("blocked");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "file") << "x";
  auto result = run(update_graph(), "cse", (dir / "file" / "dumps").string());
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.error, Catch::Contains("cannot create the IR dump folder") && Catch::Contains("file/dumps"));
  std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("a malformed graph or pipeline gives ok=false and a message", "[passes][pipeline]") {
  trace::Graph g = update_graph();
  g.nodes[1].inputs = {99};
  auto result = run(g, "");
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.error, Catch::Contains("cannot import the traced graph") && Catch::Contains("%99"));

  result = run(update_graph(), "tl-functionalize,no-such-pass");
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.error, Catch::Contains("invalid pass pipeline") && Catch::Contains("no-such-pass"));
}

TEST_CASE("a graph whose IR does not verify names the op and the user's line", "[passes][pipeline]") {
  trace::Graph g;
  g.name = "mistyped";
  int x = add_input(g, {3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  int y = add_op(g, "neg", {x}, {}, 31);
  g.values[y].shape = {4};
  g.outputs = {y};
  auto result = run(g, "");
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.error, Catch::Contains("the traced graph 'mistyped' gives IR that does not verify"));
  CHECK_THAT(result.error, Catch::Contains("model.cpp:31: error: 'tl.neg' op"));
}

TEST_CASE("the pipeline expands a gradient request into the derivative", "[passes][pipeline]") {
  trace::Graph g;
  int x = add_input(g, {3}, kFloat32, trace::InputKind::kArgument, "arg0", 0);
  int e = add_op(g, "exp", {x}, {});
  ops::Attrs all;
  all.dims = {0};
  int loss = add_op(g, "sum", {e}, all);
  int seed = add_constant(g, tl::scalar_tensor(1.0));
  trace::Node grad;
  grad.op = trace::kGrad;
  grad.inputs = {loss, seed, x};
  grad.outputs = {g.add_value({3}, kFloat32)};
  g.nodes.push_back(grad);
  g.outputs = {grad.outputs[0]};
  auto result = run(g, "tl-functionalize,tl-autodiff,canonicalize,cse");
  REQUIRE(result.ok);
  CHECK(nodes_of(result.graph, trace::kGrad).empty());
  // d/dx sum(exp(x)) = exp(x), computed by the executor from the expanded graph.
  Tensor input = tl::from_vector<float>({0.0f, 1.0f, -2.0f}, {3});
  trace::ExecResult r = trace::execute(result.graph, std::vector<Tensor>{input});
  REQUIRE(r.ok);
  CHECK(tl::allclose(r.outputs.at(0), tl::exp(input)));
}
