// tl-onnx-import: an ONNX model as a tl artifact (docs/onnx.md). tlc runs it for .onnx inputs;
// it is also a tool of its own:
//   tl-onnx-import MODEL.onnx -o OUT.tlart [--batch N] [--max-batch N] [--dim NAME=SIZE ...] [--print-plan]
// The model is imported (checked, optimized), traced at its declared input shapes (a symbolic
// dim 0 takes --batch, 1 by default; other symbolic dims take --dim) and exported with
// tl::export_program's pipeline. With --max-batch the artifact runs any batch from 1 to N.
#include <CLI/CLI.hpp>

#include <iostream>
#include <map>

#include "tl/export.h"
#include "tl/onnx.h"
#include "tl/ops.h"

namespace {

enum ExitCode { kOk = 0, kUsage = 1, kBadInput = 2, kWriteFailed = 4 };

int fail(int code, const std::string& message) {
  std::cerr << "tl-onnx-import: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Imports an ONNX model and writes it as a tl artifact (what tlc compiles)", "tl-onnx-import"};
  std::string input, output;
  int64_t batch = 1, max_batch = 0;
  std::vector<std::string> dims;
  bool print_plan = false;
  app.add_option("input", input, "The ONNX model")->required()->type_name("MODEL.onnx");
  app.add_option("-o,--output", output, "The artifact to write")->required()->type_name("OUT.tlart");
  app.add_option("--batch", batch, "The size of a symbolic dim 0 to trace at (default 1)")->check(CLI::PositiveNumber);
  app.add_option("--max-batch", max_batch, "Let the artifact run batches 1 to N (dim 0 of every input)")
      ->check(CLI::PositiveNumber);
  app.add_option("--dim", dims, "The size of a named symbolic dim: NAME=SIZE (repeatable)")->type_name("NAME=SIZE");
  app.add_flag("--print-plan", print_plan, "Print the imported graph after load-time optimizations");
  CLI11_PARSE(app, argc, argv);

  std::map<std::string, int64_t> named;
  for (const std::string& d : dims) {
    size_t eq = d.find('=');
    if (eq == std::string::npos || eq == 0) return fail(kUsage, "--dim " + d + ": expected NAME=SIZE");
    try {
      int64_t v = std::stoll(d.substr(eq + 1));
      if (v <= 0) throw std::invalid_argument("not positive");
      named[d.substr(0, eq)] = v;
    } catch (const std::exception&) {
      return fail(kUsage, "--dim " + d + ": SIZE must be a positive integer");
    }
  }

  tl::onnx::Model model;
  try {
    model = tl::onnx::load(input, {.compile = 0});
  } catch (const tl::Error& e) {
    return fail(kBadInput, e.what());
  }
  if (print_plan) std::cout << model.plan();

  std::vector<tl::Tensor> examples;
  tl::ExportOptions options;
  options.max_batch = max_batch;
  for (const tl::onnx::ValueInfo& in : model.inputs()) {
    std::vector<int64_t> shape;
    for (size_t k = 0; k < in.dims.size(); ++k) {
      if (in.dims[k] >= 0) {
        shape.push_back(in.dims[k]);
        continue;
      }
      const std::string& name = k < in.dim_names.size() ? in.dim_names[k] : std::string();
      if (!name.empty() && named.count(name)) shape.push_back(named.at(name));
      else if (k == 0) shape.push_back(max_batch > 0 ? std::min(batch, max_batch) : batch);
      else return fail(kUsage, "input " + in.str() + ": give the size of dim " + std::to_string(k) + " with --dim " +
                                   (name.empty() ? "(it has no name)" : name + "=SIZE"));
    }
    if (max_batch > 0 && (shape.empty() || (!in.dims.empty() && in.dims[0] >= 0))) {
      return fail(kUsage, "--max-batch: input " + in.str() + " has no symbolic dim 0 (its batch size is fixed)");
    }
    examples.push_back(tl::zeros(tl::Shape(shape), {.dtype = in.dtype}));
    options.input_names.push_back(in.name);
  }
  for (const tl::onnx::ValueInfo& out : model.outputs()) options.output_names.push_back(out.name);
  try {
    tl::detail::export_traced([&](std::span<const tl::Tensor> a) { return model.trace_body(a); }, examples,
                              tl::ProgramPath(output, tl::Site{}), options);
  } catch (const tl::IoError& e) {
    return fail(kWriteFailed, e.what());
  } catch (const tl::Error& e) {
    return fail(kBadInput, e.what());
  }
  std::cout << "wrote " << output << " from " << input << " (" << model.inputs().size() << " input(s), "
            << model.outputs().size() << " output(s), opset " << model.opset() << ")\n";
  return kOk;
}
