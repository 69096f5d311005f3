// Fuzzes reading tl IR text the way tl-opt does: the nesting bound (tools/tl-opt/
// nesting_limit.h) first, then MLIR's parser and verifier with the tl, func and arith
// dialects. Oracle: IR that parses and verifies prints as text that parses and verifies
// again (the tl ops' printers and parsers agree). MLIR itself is not instrumented.
#include <mlir/IR/BuiltinOps.h>
#include <mlir/IR/Diagnostics.h>
#include <mlir/IR/MLIRContext.h>
#include <mlir/IR/Verifier.h>
#include <mlir/Parser/Parser.h>

#include <cstdint>
#include <string>

#include "ir/dialect.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/tl-opt/nesting_limit.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (tl::tools::check_ir_nesting(text, "fuzz.mlir")) return 0;  // refused before parsing
  // A fresh context per input, so that types and attributes of earlier inputs do not pile up.
  std::unique_ptr<mlir::MLIRContext> context = tl::ir::make_context();
  mlir::ScopedDiagnosticHandler quiet(context.get(), [](mlir::Diagnostic&) { return mlir::success(); });
  // MLIR's lexer stops at a NUL after the text, as every buffer tl-opt reads has one (LLVM's
  // MemoryBuffer); the fuzzer's bytes have none, so they are copied into a string that does.
  const std::string source(text);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceString<mlir::ModuleOp>(source, context.get());
  if (!module || mlir::failed(mlir::verify(*module))) return 0;
  std::string printed;
  {
    llvm::raw_string_ostream os(printed);
    module->print(os);
  }
  mlir::OwningOpRef<mlir::ModuleOp> again = mlir::parseSourceString<mlir::ModuleOp>(printed, context.get());
  if (!again || mlir::failed(mlir::verify(*again))) tl::fuzz::fail("verified IR does not parse back once printed:\n" + printed);
  return 0;
}
