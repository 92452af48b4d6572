//===- compiler/pipeline/Compile.cpp - `ninc compile` ---------------------===//

#include "compiler/pipeline/Compile.h"
#include "compiler/frontend/Frontend.h"
#include "compiler/importer/Importer.h"
#include "compiler/pipeline/Pipeline.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/Pass.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdio>

namespace ninc {

const std::vector<std::string> kEmitStages = {"nin", "nin-opt", "linalg", "llvm-mlir",
                                              "llvm-ir", "asm", "obj", "exe", "lib", "dot"};

namespace {

enum { kOk = 0, kInvalidInput = 1, kUsage = 2 };

/// Writes `print` to the output file (atomically, via a temporary that is
/// kept only on success) or to stdout.
template <typename PrintFn> int writeOutput(const std::string &path, PrintFn print) {
  if (path.empty() || path == "-") {
    print(llvm::outs());
    llvm::outs().flush();
    return kOk;
  }
  std::string tmp = path + ".tmp";
  std::error_code ec;
  {
    llvm::raw_fd_ostream os(tmp, ec, llvm::sys::fs::OF_Text);
    if (!ec) {
      print(os);
      os.close();
      ec = os.error();
    }
  }
  if (!ec)
    ec = llvm::sys::fs::rename(tmp, path);
  if (ec) {
    llvm::sys::fs::remove(tmp);
    std::fprintf(stderr, "%s: error: cannot write output: %s\n", path.c_str(),
                 ec.message().c_str());
    return kInvalidInput;
  }
  return kOk;
}

void configureIrPrinting(mlir::PassManager &pm, const CompileOptions &opts) {
  if (!opts.printIrAfterAll && opts.printIrAfter.empty() && opts.printIrBefore.empty())
    return;
  auto matches = [](const std::vector<std::string> &names, mlir::Pass *pass) {
    return std::find(names.begin(), names.end(), pass->getArgument().str()) != names.end();
  };
  pm.getContext()->disableMultithreading(); // IR printing needs a serial pass manager
  pm.enableIRPrinting(
      [&opts, matches](mlir::Pass *pass, mlir::Operation *) {
        return matches(opts.printIrBefore, pass);
      },
      [&opts, matches](mlir::Pass *pass, mlir::Operation *) {
        return opts.printIrAfterAll || matches(opts.printIrAfter, pass);
      },
      /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false);
}

} // namespace

int runCompile(const CompileOptions &opts) {
  if (std::find(kEmitStages.begin(), kEmitStages.end(), opts.emit) == kEmitStages.end()) {
    std::fprintf(stderr, "ninc: error: --emit: expected one of nin, nin-opt, linalg, llvm-mlir, "
                         "llvm-ir, asm, obj, exe, lib, dot; found '%s'\n",
                 opts.emit.c_str());
    return kUsage;
  }
  Expected<Model> model = loadModel(opts.model);
  if (!model) {
    std::fprintf(stderr, "%s\n", model.message().c_str());
    return kInvalidInput;
  }

  mlir::DialectRegistry registry;
  registerGraphDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  ImportOptions importOpts;
  importOpts.batch = opts.batch > 0 ? opts.batch : model->training.batchSize;
  mlir::OwningOpRef<mlir::ModuleOp> module = importModel(ctx, *model, importOpts);
  if (opts.emit == "nin")
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { module->print(os); });

  mlir::PassManager pm(&ctx);
  configureIrPrinting(pm, opts);
  if (opts.emit == "nin-opt")
    buildGraphPipeline(pm);
  else
    buildLinalgPipeline(pm);
  if (mlir::failed(pm.run(*module))) {
    std::fprintf(stderr, "%s: error: compilation failed (see above)\n", opts.model.c_str());
    return kInvalidInput;
  }
  if (opts.emit == "nin-opt" || opts.emit == "linalg")
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { module->print(os); });

  std::fprintf(stderr,
               "ninc: error: --emit=%s: this stage is not built yet (the CPU backend is in "
               "progress); available now: nin, nin-opt, linalg\n",
               opts.emit.c_str());
  return kUsage;
}

} // namespace ninc
