// The tl dialect against the op table: every op has a generated tl op, and every op-table
// sample, traced, gives tl ops whose verifier (the op's shape rule on symbolic tensors)
// agrees with what the eager op produced.
#include <catch2/catch.hpp>
#include <mlir/IR/Builders.h>
#include <mlir/IR/BuiltinOps.h>
#include <mlir/IR/Diagnostics.h>
#include <mlir/IR/MLIRContext.h>
#include <mlir/IR/Verifier.h>

#include "runtime/exec/graph.h"
#include "frontend/trace/tracer.h"
#include "ir/attrs.h"
#include "ir/dialect.h"
#include "tl/ops.h"

namespace tl {
namespace {

struct Context {
  std::unique_ptr<mlir::MLIRContext> owned = ir::make_context();
  mlir::MLIRContext& ctx = *owned;
};

// Inputs as the op-table sweeps build them: float32 uniform in [low, high], integer inputs
// int64 in [0, integer_high).
std::vector<Tensor> sample_inputs(const ops::Sample& s) {
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < s.shapes.size(); ++i) {
    auto it = std::find(s.integer_inputs.begin(), s.integer_inputs.end(), static_cast<int>(i));
    if (it != s.integer_inputs.end()) {
      size_t k = it - s.integer_inputs.begin();
      inputs.push_back(randint(0, k < s.integer_high.size() ? s.integer_high[k] : 1, s.shapes[i]));
    } else {
      inputs.push_back(uniform(s.shapes[i], s.low, s.high));
    }
  }
  return inputs;
}

// Builds `node` as the only op of a function whose arguments are its operands and runs the
// verifier on it. Returns the diagnostics ("" when it verifies).
std::string verify_node(mlir::MLIRContext& ctx, const trace::Graph& graph, const trace::Node& node) {
  std::string errors;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic& diag) {
    errors += diag.str() + "\n";
    return mlir::success();
  });
  mlir::OpBuilder b(&ctx);
  mlir::Location loc = ir::location(&ctx, node.site);
  llvm::SmallVector<mlir::Type> operand_types, result_types;
  for (int v : node.inputs) operand_types.push_back(ir::tensor_type(&ctx, graph.values[v].shape, graph.values[v].dtype));
  for (int v : node.outputs) result_types.push_back(ir::tensor_type(&ctx, graph.values[v].shape, graph.values[v].dtype));
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc);
  auto func = mlir::func::FuncOp::create(loc, "sample", b.getFunctionType(operand_types, result_types));
  module->push_back(func);
  b.setInsertionPointToEnd(func.addEntryBlock());
  mlir::OperationState state(loc, "tl." + node.op);
  state.addOperands(func.getArguments());
  state.addTypes(result_types);
  mlir::NamedAttrList attrs;
  ir::append_attrs(&ctx, node.op, node.attrs, attrs);
  state.addAttributes(attrs);
  mlir::Operation* op = b.create(state);
  b.create<mlir::func::ReturnOp>(loc, op->getResults());
  if (ir::op_def(op) != node.def) errors += "op_def does not find the node's op-table entry\n";
  if (mlir::failed(mlir::verify(*module))) errors += "(verification failed)\n";
  return errors;
}

// The names of the attributes the ODS definition of tl.<op> declares, sorted.
std::vector<std::string> ods_attribute_names(mlir::MLIRContext& ctx, const std::string& op) {
  auto name = mlir::RegisteredOperationName::lookup("tl." + op, &ctx);
  REQUIRE(name.has_value());
  std::vector<std::string> names;
  for (mlir::StringAttr attr : name->getAttributeNames()) names.push_back(attr.str());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> declared_names(const std::vector<ops::AttrSpec>& specs) {
  std::vector<std::string> names;
  for (const ops::AttrSpec& spec : specs) names.push_back(spec.name);
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("each op's ODS attributes are the ones its declaration names", "[ir][registry]") {
  Context c;
  for (const ops::OpDef* def : ops::all_ops()) {
    INFO("tl." << def->name);
    CHECK(ods_attribute_names(c.ctx, def->name) == declared_names(def->attrs));
  }
  // The structural ops are written in ODS by hand (structural_ops.td); the table in
  // runtime/exec/graph.h is what the bridge reads, so the two must agree.
  for (const trace::StructuralOp& op : trace::structural_ops()) {
    INFO("tl." << op.name);
    std::vector<std::string> expected = declared_names(op.attrs);
    if (std::string(op.name) == trace::kConstant) expected = {"value"};  // its dense value
    CHECK(ods_attribute_names(c.ctx, op.name) == expected);
  }
}

TEST_CASE("attributes are spelled by their declared names in the IR", "[ir][registry]") {
  Context c;
  mlir::NamedAttrList attrs;
  ops::Attrs clamp;
  clamp.flag = true;  // min given, and 0: still written
  clamp.scalar = 0.0;
  ir::append_attrs(&c.ctx, "clamp", clamp, attrs);
  REQUIRE(attrs.getAttrs().size() == 1);
  CHECK(attrs.get("min") != nullptr);
  ops::Attrs stray;
  stray.count = 3;  // clamp declares nothing in `count`
  CHECK_THROWS_WITH(ir::append_attrs(&c.ctx, "clamp", stray, attrs),
                    Catch::Contains("field 'count' is set but the op declares no attribute stored there"));
  CHECK_THROWS_WITH(ir::append_attrs(&c.ctx, "no_such_op", clamp, attrs), Catch::Contains("not an op of the tl dialect"));
}

TEST_CASE("every op-table entry has a registered tl op that knows its entry", "[ir][registry]") {
  Context c;
  for (const ops::OpDef* def : ops::all_ops()) {
    INFO("tl." << def->name);
    auto name = mlir::RegisteredOperationName::lookup("tl." + def->name, &c.ctx);
    REQUIRE(name.has_value());
    mlir::OperationState state(mlir::UnknownLoc::get(&c.ctx), *name);
    mlir::Operation* op = mlir::Operation::create(state);
    CHECK(ir::op_def(op) == def);
    CHECK(op->hasTrait<mlir::OpTrait::ZeroRegions>());
    op->destroy();
  }
}

TEST_CASE("every op-table sample traces to tl ops that verify", "[ir][registry]") {
  Context c;
  int checked = 0;
  for (const ops::OpDef* def : ops::all_ops()) {
    for (size_t k = 0; k < def->samples.size(); ++k) {
      INFO(def->name << " sample " << k);
      const ops::Sample& sample = def->samples[k];
      std::vector<Tensor> inputs = sample_inputs(sample);
      trace::Tracer tracer(trace::Tracer::Mode::kRecord, def->name);
      {
        trace::TraceScope scope(tracer);
        for (size_t i = 0; i < inputs.size(); ++i) tracer.bind_argument(inputs[i], static_cast<int>(i));
        sample.call(inputs);
      }
      const trace::Graph& graph = tracer.graph();
      bool saw_op = false;
      for (const trace::Node& node : graph.nodes) {
        if (!node.def) continue;
        saw_op |= node.def == def;
        INFO("node tl." << node.op);
        CHECK(verify_node(c.ctx, graph, node) == "");
        ++checked;
      }
      CHECK(saw_op);
    }
  }
  CHECK(checked > 50);
}

// The verifier is only as strict as the shape rule; this shows it rejects what the rule
// rejects, with the rule's own message.
TEST_CASE("the registry verifier reports the shape rule's error", "[ir][verify]") {
  Context c;
  trace::Graph graph;
  int a = graph.add_value({2, 3}, kFloat32);
  int b = graph.add_value({4, 5}, kFloat32);
  int out = graph.add_value({2, 5}, kFloat32);
  trace::Node node;
  node.op = "matmul";
  node.def = ops::find_op("matmul");
  node.inputs = {a, b};
  node.outputs = {out};
  node.site = Site{"train.cpp", 41};
  std::string errors = verify_node(c.ctx, graph, node);
  CHECK_THAT(errors, Catch::Contains("'tl.matmul' op tl::matmul: inner dimensions differ"));
  CHECK_THAT(errors, Catch::Contains("at train.cpp:41"));
}

}  // namespace
}  // namespace tl
