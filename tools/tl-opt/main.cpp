// tl-opt: runs passes on .mlir files holding tl IR, like mlir-opt, with the tl, func and
// arith dialects and the tl passes registered. The lit tests (tests/ir, tests/passes)
// drive it: `tl-opt -tl-functionalize -cse input.mlir`.
//
// The command line is mlir-opt's; main() differs from MlirOptMain(argc, argv, ...) only in
// reading the input itself, so that its nesting depth is bounded (nesting_limit.h) before
// MLIR's recursive parser sees it.
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/InitLLVM.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/ToolOutputFile.h>
#include <mlir/IR/AsmState.h>
#include <mlir/IR/MLIRContext.h>
#include <mlir/Pass/PassManager.h>
#include <mlir/Pass/PassRegistry.h>
#include <mlir/Support/DebugCounter.h>
#include <mlir/Support/FileUtilities.h>
#include <mlir/Support/Timing.h>
#include <mlir/Tools/mlir-opt/MlirOptMain.h>
#include <mlir/Transforms/Passes.h>

#include "ir/dialect.h"
#include "tools/tl-opt/nesting_limit.h"
#ifdef TL_HAVE_PASSES
#include "passes/passes.h"
#endif

namespace cl = llvm::cl;

int main(int argc, char** argv) {
#ifdef TL_HAVE_PASSES
  tl::passes::register_passes();  // also registers canonicalize, cse, symbol-dce, ...
#else
  mlir::registerTransformsPasses();
#endif
  mlir::DialectRegistry registry;
  tl::ir::register_dialects(registry);

  // mlir-opt's options, as MlirOptMain(argc, argv, ...) declares them in MLIR 15.
  static cl::opt<std::string> input_file(cl::Positional, cl::desc("<input file>"), cl::init("-"));
  static cl::opt<std::string> output_file("o", cl::desc("Output filename"), cl::value_desc("filename"),
                                          cl::init("-"));
  static cl::opt<bool> split_input_file(
      "split-input-file", cl::desc("Split the input file into pieces and process each chunk independently"),
      cl::init(false));
  static cl::opt<bool> verify_diagnostics(
      "verify-diagnostics", cl::desc("Check that emitted diagnostics match expected-* lines on the corresponding line"),
      cl::init(false));
  static cl::opt<bool> verify_passes("verify-each", cl::desc("Run the verifier after each transformation pass"),
                                     cl::init(true));
  static cl::opt<bool> allow_unregistered_dialects(
      "allow-unregistered-dialect", cl::desc("Allow operation with no registered dialects"), cl::init(false));

  llvm::InitLLVM init_llvm(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  mlir::DebugCounter::registerCLOptions();
  mlir::PassPipelineCLParser pass_pipeline("", "Compiler passes to run");
  cl::ParseCommandLineOptions(argc, argv, "Tracelight IR optimizer\n");

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input = mlir::openInputFile(input_file, &error);
  if (!input) {
    llvm::errs() << error << "\n";
    return 1;
  }
  const std::string shown_name = input_file == "-" ? "<stdin>" : std::string(input_file);
  if (auto nesting_error = tl::tools::check_ir_nesting(
          std::string_view(input->getBufferStart(), input->getBufferSize()), shown_name)) {
    llvm::errs() << *nesting_error << "\n";
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output = mlir::openOutputFile(output_file, &error);
  if (!output) {
    llvm::errs() << error << "\n";
    return 1;
  }
  if (mlir::failed(mlir::MlirOptMain(output->os(), std::move(input), pass_pipeline, registry, split_input_file,
                                     verify_diagnostics, verify_passes, allow_unregistered_dialects))) {
    return 1;
  }
  output->keep();
  return 0;
}
