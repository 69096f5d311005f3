// The compiler driver: traced graph -> `tl` IR -> passes -> generated code for the fused groups
// -> traced graph, with the IR dumped around every pass on request.
#include "driver/pipeline.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>
#include <mlir/IR/Diagnostics.h>
#include <mlir/IR/SymbolTable.h>
#include <mlir/IR/Verifier.h>
#include <mlir/Pass/PassInstrumentation.h>
#include <mlir/Pass/Pass.h>
#include <mlir/Pass/PassManager.h>
#include <mlir/Pass/PassRegistry.h>

#include "codegen/cpu/elementwise.h"
#include "codegen/cuda/fused_groups.h"
#include "ir/attrs.h"
#include "ir/dialect.h"
#include "passes/graph_bridge.h"
#include "passes/passes.h"
#include "runtime/base/env.h"
#include "runtime/exec/fused_kernel.h"

namespace tl::driver {

using namespace tl::passes;

namespace {

std::string print(mlir::Operation* op, mlir::OpPrintingFlags flags = {}) {
  std::string text;
  llvm::raw_string_ostream os(text);
  op->print(os, flags);
  return os.str();
}

// "train.cpp:41: error: tl.matmul: ..." plus the notes, one per line.
void append_diagnostic(std::string& out, mlir::Diagnostic& diag) {
  auto one = [&](mlir::Diagnostic& d, const char* severity) {
    Site site = ir::site_of(d.getLocation());
    if (site.line != 0) out += site.str() + ": ";
    out += severity;
    out += d.str();
    out += "\n";
  };
  switch (diag.getSeverity()) {
    case mlir::DiagnosticSeverity::Error: one(diag, "error: "); break;
    case mlir::DiagnosticSeverity::Warning: one(diag, "warning: "); break;
    case mlir::DiagnosticSeverity::Remark: one(diag, "remark: "); break;
    case mlir::DiagnosticSeverity::Note: one(diag, "note: "); break;
  }
  for (mlir::Diagnostic& note : diag.getNotes()) one(note, "note: ");
}

// Names the pass that failed and, when `dir` is set, writes the whole module before and after
// each pass as <dir>/<graph>.<NN>.<pass>.{before,after}.mlir (".failed" when the pass failed).
// Pass adaptors (the nesting of func passes under the module) have no argument and are
// skipped, so NN counts the passes as the pipeline text spells them.
class PassObserver : public mlir::PassInstrumentation {
 public:
  PassObserver(std::string dir, std::string graph_name) : dir_(std::move(dir)), stem_(std::move(graph_name)) {
    for (char& c : stem_) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') c = '_';
    }
  }
  const std::string& failed_pass() const { return failed_pass_; }
  const std::string& dump_error() const { return dump_error_; }

  void runBeforePass(mlir::Pass* pass, mlir::Operation* op) override {
    if (pass->getArgument().empty()) return;
    if (!index_.count(pass)) index_[pass] = static_cast<int>(index_.size()) + 1;
    dump(pass, op, "before");
  }
  void runAfterPass(mlir::Pass* pass, mlir::Operation* op) override {
    if (!pass->getArgument().empty()) dump(pass, op, "after");
  }
  void runAfterPassFailed(mlir::Pass* pass, mlir::Operation* op) override {
    if (pass->getArgument().empty()) return;
    if (failed_pass_.empty()) failed_pass_ = pass->getArgument().str();
    dump(pass, op, "failed");
  }

 private:
  void dump(mlir::Pass* pass, mlir::Operation* op, const char* when) {
    if (dir_.empty() || !dump_error_.empty()) return;
    while (mlir::Operation* parent = op->getParentOp()) op = parent;
    char index[16];
    std::snprintf(index, sizeof index, "%02d", index_[pass]);
    llvm::SmallString<256> path(dir_);
    llvm::sys::path::append(path, stem_ + "." + index + "." + pass->getArgument().str() + "." + when + ".mlir");
    std::ofstream file(path.str().str(), std::ios::binary | std::ios::trunc);
    // Locations are printed: they name the user's lines, and the file stays parseable by tl-opt.
    file << print(op, mlir::OpPrintingFlags().enableDebugInfo(/*prettyForm=*/false));
    if (!file.flush()) dump_error_ = "cannot write the IR dump '" + path.str().str() + "': " + std::strerror(errno);
  }

  std::string dir_;
  std::string stem_;
  llvm::DenseMap<mlir::Pass*, int> index_;
  std::string failed_pass_;
  std::string dump_error_;
};

// TL_CODEGEN=0 keeps every op on its eager kernel (for bisecting a suspected codegen bug).
bool is_codegen_enabled() {
  return !rt::env_is_zero(rt::EnvSwitch::kCodegen);
}

// Compiles the groups tl-fuse-elementwise outlined in `module` into `kernels`; the groups that
// fail to compile (or all of them, when the outputs must stay differentiable) go back to
// their ops. Returns one line per group left unfused, saying why.
std::string compile_fused_groups(mlir::ModuleOp module, bool unfuse_all, const std::vector<std::string>& target_features,
                                 DeviceType device, FusedKernels& kernels) {
  llvm::SmallVector<mlir::func::FuncOp> groups;
  for (auto func : module.getOps<mlir::func::FuncOp>())
    if (func->hasAttr(kFusedAttr)) groups.push_back(func);
  if (groups.empty()) return {};
  std::vector<codegen::cpu::KernelResult> compiled;
  if (!unfuse_all && device == DeviceType::kCUDA) {
    for (codegen::cuda::GroupKernel& g : codegen::cuda::compile_groups(groups)) {
      codegen::cpu::KernelResult r;
      r.kernel = std::move(g.kernel);
      r.error = std::move(g.error);
      compiled.push_back(std::move(r));
    }
  } else if (!unfuse_all) {
    compiled = codegen::cpu::compile_groups(groups, target_features);
  }
  std::string notes;
  llvm::SmallVector<mlir::Operation*> calls_to_undo;
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string name = groups[i].getName().str();
    if (!unfuse_all && compiled[i].kernel) {
      kernels[name] = compiled[i].kernel;
      // A program compiled for another machine (an artifact's) also keeps each group as CUDA
      // steps, so it can run on CUDA too; a group with no CUDA form keeps none.
      const auto* cpu = dynamic_cast<const rt::FusedKernel*>(compiled[i].kernel.get());
      if (cpu != nullptr && !target_features.empty()) {
        auto steps = std::make_shared<rt::cuda::FusedGroup>();
        std::string ops;
        if (codegen::cuda::describe_group(groups[i], *steps, ops).empty())
          kernels[name] = cpu->with_cuda_group(std::move(steps));
      }
      continue;
    }
    if (!unfuse_all) {
      auto description = groups[i]->getAttrOfType<mlir::StringAttr>(kFusedAttr);
      notes += "tl-fuse-elementwise: group @" + name + " (" + (description ? description.getValue().str() : "") +
               ") runs unfused: " + compiled[i].error + "\n";
    }
    if (auto uses = mlir::SymbolTable::getSymbolUses(groups[i], module)) {
      for (const mlir::SymbolTable::SymbolUse& use : *uses) calls_to_undo.push_back(use.getUser());
    }
  }
  for (mlir::Operation* call : calls_to_undo) unfuse(call);
  return notes;
}

}  // namespace

void run_pipeline(const trace::Graph& in, const compiler::PipelineOptions& options, compiler::PipelineResult& out) {
  out = compiler::PipelineResult{};
  const std::string name = in.name.empty() ? "traced" : in.name;
  register_passes();
  std::unique_ptr<mlir::MLIRContext> owned_ctx = ir::make_context();
  mlir::MLIRContext& ctx = *owned_ctx;

  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic& diag) {
    append_diagnostic(diagnostics, diag);
    return mlir::success();
  });
  auto fail = [&](const std::string& what) {
    out.ok = false;
    out.error = "tl::compile: " + what;
    if (!diagnostics.empty()) out.error += ":\n" + diagnostics;
    if (!out.error.empty() && out.error.back() == '\n') out.error.pop_back();
  };

  mlir::OwningOpRef<mlir::ModuleOp> module;
  try {
    module = import_graph(ctx, in);
  } catch (const Error& e) {
    return fail(std::string("cannot import the traced graph: ") + e.what());
  }
  if (mlir::failed(mlir::verify(*module))) return fail("the traced graph '" + name + "' gives IR that does not verify");
  out.ir_before = print(*module);

  std::string pipeline = options.pipeline.empty() ? kDefaultPipeline : options.pipeline;
  // Code generation follows the default pipeline; an explicit pipeline runs what it names.
  if (options.pipeline.empty() && !options.needs_autograd && options.codegen && is_codegen_enabled()) {
    pipeline += std::string(",") + (options.device == DeviceType::kCUDA ? kCudaCodegenPipeline : kCodegenPipeline);
  } else if (options.pipeline.empty() && !options.needs_autograd && !options.codegen) {
    pipeline += std::string(",") + kExportPipeline;  // a program for an artifact
  }
  // Implicit nesting: a func.func pass listed at the top level runs on each function, so the
  // pipeline is spelled as a plain comma-separated list, as in tl-opt.
  mlir::PassManager pm(&ctx, mlir::OpPassManager::Nesting::Implicit);
  std::string parse_error;
  llvm::raw_string_ostream parse_stream(parse_error);
  if (mlir::failed(mlir::parsePassPipeline(pipeline, pm, parse_stream))) {
    return fail("invalid pass pipeline '" + pipeline + "': " + parse_stream.str());
  }
  if (!options.dump_dir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(options.dump_dir)) {
      return fail("cannot create the IR dump folder '" + options.dump_dir + "': " + ec.message());
    }
  }
  auto observer = std::make_unique<PassObserver>(options.dump_dir, name);
  PassObserver* observed = observer.get();
  pm.addInstrumentation(std::move(observer));
  if (mlir::failed(pm.run(*module))) {
    const std::string pass = observed->failed_pass();
    return fail((pass.empty() ? std::string("the pass pipeline") : "pass '" + pass + "'") + " failed on '" + name + "'");
  }
  if (!observed->dump_error().empty()) return fail(observed->dump_error());
  FusedKernels kernels;
  const std::string notes = compile_fused_groups(*module, options.needs_autograd || !is_codegen_enabled(), options.target_features,
                                           options.device, kernels);
  out.ir_after = print(*module);
  // Groups left unfused are reported where tl::explain shows the IR.
  if (!notes.empty()) {
    std::string commented;
    size_t start = 0;
    for (size_t end; (end = notes.find('\n', start)) != std::string::npos; start = end + 1)
      commented += "// " + notes.substr(start, end - start) + "\n";
    out.ir_after = commented + out.ir_after;
  }

  llvm::SmallVector<mlir::func::FuncOp> funcs;
  for (auto func : module->getOps<mlir::func::FuncOp>())
    if (!func->hasAttr(kFusedAttr)) funcs.push_back(func);
  if (funcs.size() != 1) {
    return fail("the pipeline left " + std::to_string(funcs.size()) + " functions in the module of '" + name +
                "' (expected exactly one besides fused groups)");
  }
  try {
    out.graph = export_graph(funcs.front(), kernels);
  } catch (const Error& e) {
    return fail(std::string("cannot export the optimized IR: ") + e.what());
  }
  // Inputs are never reordered or removed by passes; their tensors are not in the IR.
  if (out.graph.inputs.size() != in.inputs.size()) {
    return fail("the pipeline changed the number of inputs of '" + name + "' from " +
                std::to_string(in.inputs.size()) + " to " + std::to_string(out.graph.inputs.size()));
  }
  for (size_t i = 0; i < in.inputs.size(); ++i) {
    out.graph.inputs[i].source = in.inputs[i].source;
    out.graph.inputs[i].arg_index = in.inputs[i].arg_index;
    out.graph.inputs[i].site = in.inputs[i].site;
  }
  out.graph.name = in.name;
  out.ok = true;
}

}  // namespace tl::driver
