// libtl_compiler.so loaded with dlopen, as libtl does: the entry point is exported and the
// library carries everything it needs.
#include <dlfcn.h>

#include <catch2/catch.hpp>

#include "frontend/compile/compiler_api.h"
#include "tl/ops.h"

using namespace tl;

TEST_CASE("the compiler library exports its entry point and folds a constant graph", "[passes][pipeline]") {
  void* library = ::dlopen(TL_COMPILER_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  INFO((library ? "" : ::dlerror()));
  REQUIRE(library != nullptr);
  auto run = reinterpret_cast<compiler::RunPipelineFn>(::dlsym(library, compiler::kRunPipelineSymbol));
  REQUIRE(run != nullptr);

  trace::Graph g;
  trace::Node constant;
  constant.op = trace::kConstant;
  constant.constant = tl::from_vector<float>({1, -2, 3}, {3});
  constant.outputs = {g.add_value({3}, kFloat32)};
  g.nodes.push_back(constant);
  trace::Node neg;
  neg.op = "neg";
  neg.def = ops::find_op("neg");
  neg.inputs = constant.outputs;
  neg.outputs = {g.add_value({3}, kFloat32)};
  g.nodes.push_back(neg);
  g.outputs = neg.outputs;

  compiler::PipelineOptions options;
  options.pipeline = "tl-fold";
  compiler::PipelineResult result;
  run(g, options, result);
  INFO(result.error);
  REQUIRE(result.ok);
  REQUIRE(result.graph.nodes.size() == 1);
  CHECK(result.graph.nodes[0].constant.to_vector<float>() == std::vector<float>{-1, 2, -3});
}
