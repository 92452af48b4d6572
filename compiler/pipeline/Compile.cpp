//===- compiler/pipeline/Compile.cpp - `ninc compile` ---------------------===//

#include "compiler/pipeline/Compile.h"
#include "compiler/frontend/Frontend.h"
#include "compiler/importer/Importer.h"
#include "compiler/codegen/common/Emit.h"
#include "compiler/codegen/cpu/CpuCodegen.h"
#include "compiler/codegen/cuda/CudaCodegen.h"
#include "compiler/dialect/StageContract.h"
#include "compiler/model/Program.h"
#include "compiler/pipeline/Dot.h"
#include "compiler/pipeline/Link.h"
#include "compiler/pipeline/Pipeline.h"
#include "runtime/program/Descriptor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalAlias.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Path.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <unistd.h>

namespace ninc {

const std::vector<std::string> &emitStageNames() {
  // In the order of EmitStage.
  static const std::vector<std::string> names = {"nin", "nin-opt", "linalg", "llvm-mlir",
                                                 "llvm-ir", "asm", "obj", "exe", "lib", "dot",
                                                 "ptx"};
  return names;
}

std::optional<EmitStage> parseEmitStage(const std::string &name) {
  const std::vector<std::string> &names = emitStageNames();
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end())
    return std::nullopt;
  return static_cast<EmitStage>(it - names.begin());
}

namespace {

constexpr int kOk = kExitOk, kInvalidInput = kExitInvalidInput, kUsage = kExitUsage;

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

/// --emit=ptx: one KERNEL.ptx per kernel in the output folder (-o, default
/// <model>-ptx), each file written atomically.
int writePtx(const CompileOptions &opts, const std::string &model,
             const std::vector<std::pair<std::string, std::string>> &kernels) {
  std::string dir = !opts.output.empty() && opts.output != "-" ? opts.output : model + "-ptx";
  if (llvm::sys::fs::exists(dir) && !llvm::sys::fs::is_directory(dir)) {
    std::fprintf(stderr, "%s: error: --emit=ptx writes one file per kernel: -o must name a "
                 "folder, and this is a file\n", dir.c_str());
    return kInvalidInput;
  }
  if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
    std::fprintf(stderr, "%s: error: cannot create the output folder: %s\n", dir.c_str(),
                 ec.message().c_str());
    return kInvalidInput;
  }
  for (const auto &[name, text] : kernels)
    if (int rc = writeOutput(dir + "/" + name + ".ptx",
                             [&](llvm::raw_ostream &os) { os << text; });
        rc != kOk)
      return rc;
  return kOk;
}

/// Prints a failed Status; the exit code for it.
int report(const Status &s) {
  if (s)
    return kOk;
  std::fprintf(stderr, "%s\n", s.message().c_str());
  return kInvalidInput;
}

/// Output path for file stages: -o, else named after the model, next to it
/// in the current directory ("nin", "nin.o", "nin.s").
std::string defaultOutput(const CompileOptions &opts, const std::string &model) {
  if (!opts.output.empty() && opts.output != "-")
    return opts.output;
  if (opts.emit == EmitStage::Obj)
    return model + ".o";
  if (opts.emit == EmitStage::Asm)
    return model + ".s";
  return model;
}

/// The fixed symbols the runtime's main() links against: ninc_infer (an
/// alias of <model>_infer) and ninc_descriptor; for a training program also
/// ninc_spec / ninc_spec_size (Model::specBytes, for self-contained
/// checkpoints and ninc_model_save); for a training program also
/// ninc_train_step (an alias of <model>_train_step); for a model file with
/// weights, ninc_weights / ninc_weights_size / ninc_weights_origin (the
/// weights in the binary model encoding and the file's name). For a CUDA
/// program the inference entry is ninc_device_infer.
void addProgramSymbols(llvm::Module &m, const Model &model, bool training,
                       const std::string &descriptor, bool device, const std::string &gpuArch,
                       const std::string &weightsOrigin) {
  llvm::LLVMContext &ctx = m.getContext();
  auto addBytes = [&](llvm::StringRef bytes, const char *name, bool addNull) {
    auto *data = llvm::ConstantDataArray::getString(ctx, bytes, addNull);
    auto *global = new llvm::GlobalVariable(m, data->getType(), /*isConstant=*/true,
                                            llvm::GlobalValue::ExternalLinkage, data, name);
    global->setAlignment(llvm::Align(16));
  };
  addBytes(descriptor, "ninc_descriptor", /*addNull=*/true);
  // On a GPU the generated function takes device pointers; the runtime's
  // ninc_infer (runtime/cuda) moves the batch there and back around it.
  if (llvm::Function *f = m.getFunction(inferFunctionName(model.name)))
    llvm::GlobalAlias::create(device ? "ninc_device_infer" : "ninc_infer", f);
  if (device)
    addBytes(gpuArch, "ninc_gpu_arch", /*addNull=*/true);
  if (!weightsOrigin.empty()) {
    // The model file's weights, in the binary model format's encoding
    // (runtime/program/Weights.h reads them as it reads a weights file).
    const std::string bytes = encodeWeights(model);
    addBytes(bytes, "ninc_weights", /*addNull=*/false);
    auto *size = llvm::ConstantInt::get(llvm::Type::getInt64Ty(ctx), bytes.size());
    new llvm::GlobalVariable(m, size->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, size, "ninc_weights_size");
    addBytes(weightsOrigin, "ninc_weights_origin", /*addNull=*/true);
  }
  // The spec (a few hundred bytes): checkpoints and ninc_model_save write it.
  addBytes(model.specBytes, "ninc_spec", /*addNull=*/false);
  auto *size = llvm::ConstantInt::get(llvm::Type::getInt64Ty(ctx), model.specBytes.size());
  new llvm::GlobalVariable(m, size->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, size, "ninc_spec_size");
  if (!training)
    return;
  if (llvm::Function *f = m.getFunction(trainStepFunctionName(model.name)))
    llvm::GlobalAlias::create(device ? "ninc_device_train_step" : "ninc_train_step", f);
}

/// The arena bytes the memory plan gave function `name`, or -1 when it has
/// none recorded.
int64_t arenaBytesOf(mlir::ModuleOp module, const std::string &name) {
  mlir::Operation *func = mlir::SymbolTable::lookupSymbolIn(module, name);
  auto bytes = func ? func->getAttrOfType<mlir::IntegerAttr>(attr::kArenaBytes) : nullptr;
  return bytes ? bytes.getInt() : -1;
}

/// `--time-report`: wall seconds of each phase, printed when it goes out of
/// scope (whatever the exit path).
class PhaseTimes {
public:
  explicit PhaseTimes(bool enabled) : enabled_(enabled), last_(Clock::now()), start_(last_) {}
  ~PhaseTimes() {
    if (!enabled_)
      return;
    std::fprintf(stderr, "compile time by phase:\n");
    for (auto &[name, s] : phases_)
      std::fprintf(stderr, "  %7.2f s  %s\n", s, name.c_str());
    std::fprintf(stderr, "  %7.2f s  total\n", seconds(start_, Clock::now()));
  }
  /// Ends the phase running since the last call.
  void done(const char *name) {
    auto now = Clock::now();
    phases_.emplace_back(name, seconds(last_, now));
    last_ = now;
  }

private:
  using Clock = std::chrono::steady_clock;
  static double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }
  bool enabled_;
  Clock::time_point last_, start_;
  std::vector<std::pair<std::string, double>> phases_;
};

/// Ends the phase "graph passes and lowering to linalg" when the first
/// code-generation pass starts: one pass manager runs both stages.
class PhaseBoundary : public mlir::PassInstrumentation {
public:
  explicit PhaseBoundary(PhaseTimes &times) : times_(times) {}
  void runBeforePass(mlir::Pass *pass, mlir::Operation *) override {
    if (!seen_ && pass->getArgument() == "ninc-attach-target") {
      seen_ = true;
      times_.done("graph passes and lowering to linalg");
    }
  }

private:
  PhaseTimes &times_;
  bool seen_ = false;
};

/// One `ninc compile`: the model, what was asked, and the module as it goes
/// through the stages.
struct Compilation {
  const Model &model;
  const CompileOptions &opts;
  const Target &target;
  bool training;
  int64_t batch;
  PhaseTimes times;
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  Compilation(const Model &model, const CompileOptions &opts, const Target &target,
              mlir::DialectRegistry &registry)
      : model(model), opts(opts), target(target), training(opts.mode == "train"),
        batch(opts.batch > 0 ? opts.batch : model.training.batchSize), times(opts.timeReport),
        ctx(registry) {}

  /// Writes the module's text (stages nin ... llvm-mlir).
  int writeModule() {
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { module->print(os); });
  }
};

/// Flag combinations this stage and target cannot honour.
int checkStage(const CompileOptions &opts, const Target &target) {
  if (!target.isCuda() && opts.emit == EmitStage::Ptx) {
    std::fprintf(stderr, "%s: error: --emit=ptx needs --target=cuda\n", opts.model.c_str());
    return kUsage;
  }
  if (target.runsOnGpu() && opts.emit == EmitStage::Lib) {
    std::fprintf(stderr, "%s: error: --target=cuda --emit=lib is not built yet (--emit=exe is)\n",
                 opts.model.c_str());
    return kInvalidInput;
  }
  return kOk;
}

/// The one pass manager, up to the stage --emit asks for: the graph passes,
/// nin -> linalg, then the target's code generation to the llvm dialect.
int runPasses(Compilation &c) {
  const EmitStage emit = c.opts.emit;
  const bool graphOnly = emit == EmitStage::NinOpt || emit == EmitStage::Dot;
  mlir::PassManager pm(&c.ctx);
  configureIrPrinting(pm, c.opts);
  if (c.opts.passTiming)
    pm.enableTiming();
  if (graphOnly)
    c.training ? buildTrainGraphPipeline(pm) : buildGraphPipeline(pm);
  else if (c.training)
    buildTrainLinalgPipeline(pm, linalgFormsFor(c.target));
  else
    buildLinalgPipeline(pm);
  const bool codegen = !graphOnly && emit != EmitStage::Linalg;
  if (codegen) {
    CodegenOptions cg;
    cg.threads = c.opts.threads;
    cg.schedule = c.opts.schedule;
    cg.precision = c.opts.precision;
    cg.printSchedule = c.opts.printSchedule;
    cg.printMemoryPlan = c.opts.printMemoryPlan;
    cg.ptxOnly = emit == EmitStage::Ptx;
    cg.tuning = c.opts.tuning;
    buildCodegenPipeline(pm, c.target, cg);
    pm.addInstrumentation(std::make_unique<PhaseBoundary>(c.times));
  }
  if (mlir::failed(pm.run(*c.module))) {
    std::fprintf(stderr, "%s: error: compilation failed (see above)\n", c.opts.model.c_str());
    return kInvalidInput;
  }
  if (!codegen)
    c.times.done("graph passes and lowering to linalg");
  else
    c.times.done(c.target.isCuda() ? "CUDA kernels and host code to the llvm dialect"
                                   : "schedules, bufferization, memory plan, to the llvm dialect");
  return kOk;
}

/// The text descriptor a compiled program carries (runtime/program/Descriptor.h):
/// the model's (its blob layout is rt::layoutBlob's, as the conversion's),
/// with the arenas the memory plan gave each function.
rt::ModelDescriptor makeDescriptor(const Compilation &c) {
  rt::ModelDescriptor d = describeModel(c.model, c.batch);
  if (auto arena = (*c.module)->getAttrOfType<mlir::IntegerAttr>(attr::kArenaBytes))
    d.arenaBytes = arena.getInt();
  if (mlir::Operation *infer =
          mlir::SymbolTable::lookupSymbolIn(*c.module, inferFunctionName(c.model.name)))
    if (auto kept = infer->getAttrOfType<mlir::IntegerAttr>(attr::kPersistentBytes))
      d.packedWeightBytes = kept.getInt();
  d.threads = c.target.isCuda() ? 1 : c.opts.threads;
  d.cpu = c.target.cpu.cpu;
  d.isa = c.target.cpu.features;
  if (c.training) {
    // Each function's own arena (the module attribute is the larger one).
    int64_t infer = arenaBytesOf(*c.module, inferFunctionName(c.model.name));
    int64_t train = arenaBytesOf(*c.module, trainStepFunctionName(c.model.name));
    if (infer >= 0)
      d.arenaBytes = infer;
    d.trainArenaBytes = train >= 0 ? train : d.arenaBytes;
  }
  return d;
}

/// A CPU program whose arena and weights exceed this machine's memory could
/// only die of the OOM killer: refused here, with the sizes. (Programs check
/// again at start-up against what is free then: runtime/program/Arena.h.)
int refuseOversized(const Compilation &c, const rt::ModelDescriptor &d) {
  if (c.target.isCuda())
    return kOk;
  const int64_t total = int64_t(::sysconf(_SC_PHYS_PAGES)) * int64_t(::sysconf(_SC_PAGESIZE));
  const int64_t bytes = std::max(d.arenaBytes, d.trainArenaBytes) +
                        d.blobSize * int64_t(sizeof(float)) * (c.training ? 2 : 1);
  if (total <= 0 || bytes <= total)
    return kOk;
  std::fprintf(stderr,
               "%s: error: model '%s' at batch %lld needs %.1f GiB (its arena of intermediates "
               "and weights); this machine has %.1f GiB of memory (compile with a smaller "
               "--batch)\n",
               c.opts.model.c_str(), d.model.c_str(), (long long)d.batch,
               double(bytes) / (1ll << 30), double(total) / (1ll << 30));
  return kInvalidInput;
}

/// Temporary object files, removed when this goes out of scope.
struct TemporaryObjects {
  std::vector<std::string> paths;
  ~TemporaryObjects() {
    for (const std::string &o : paths)
      llvm::sys::fs::remove(o);
  }
  Status create(int count) {
    for (int i = 0; i < count; ++i) {
      llvm::SmallString<128> object;
      if (std::error_code ec = llvm::sys::fs::createTemporaryFile("ninc", "o", object))
        return Error{"ninc: error: cannot create a temporary object: " + ec.message()};
      paths.push_back(object.str().str());
    }
    return Status::ok();
  }
};

/// --emit=exe|lib: objects in temporaries (one a thread of the compiler:
/// code generation runs in parallel), then the link.
int linkProgram(Compilation &c, llvm::Module &module, const codegen::MachineOptions &machine,
                const std::string &output) {
  TemporaryObjects objects;
  // Twice as many parts as cores (a queue balances their costs).
  int parts = int(std::min(2u * std::max(1u, std::thread::hardware_concurrency()), 32u));
  if (Status s = objects.create(parts); !s)
    return report(s);
  Status s = codegen::emitObjectFiles(module, objects.paths, machine, /*optimize=*/true);
  c.times.done("LLVM -O2 and machine code, parts in parallel");
  if (s)
    s = c.opts.emit == EmitStage::Lib
            ? linkSharedLibrary(objects.paths, output)
            : linkExecutable(objects.paths, output, c.target.runsOnGpu(), c.training);
  c.times.done("link");
  return report(s);
}

/// Creates the folder `output` goes in.
int createParentFolder(const std::string &output) {
  std::string dir = llvm::sys::path::parent_path(output).str();
  if (dir.empty())
    return kOk;
  if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
    std::fprintf(stderr, "%s: error: cannot create the output folder: %s\n", dir.c_str(),
                 ec.message().c_str());
    return kInvalidInput;
  }
  return kOk;
}

/// The stages after the llvm dialect: LLVM IR with the program's symbols,
/// then assembly, an object, or a linked program or library.
int emitFromLLVMDialect(Compilation &c, const rt::ModelDescriptor &descriptor) {
  const EmitStage emit = c.opts.emit;
  const bool linked = emit == EmitStage::Exe || emit == EmitStage::Lib;
  const codegen::MachineOptions machine{c.target.cpu, c.opts.optLevel};
  llvm::LLVMContext llvmCtx;
  // exe and lib run LLVM's optimiser on the split parts, in parallel.
  auto llvmModule = codegen::translateToLLVMIR(*c.module, llvmCtx, machine, /*optimize=*/!linked);
  if (!llvmModule) {
    std::fprintf(stderr, "%s: error: %s\n", c.opts.model.c_str(), llvmModule.message().c_str());
    return kInvalidInput;
  }
  const bool device = c.target.runsOnGpu();
  // Only programs and libraries take the model's weights along: a .o or .s
  // stays the code alone.
  const bool embed = linked && c.opts.embedWeights && !c.model.weights.empty();
  addProgramSymbols(**llvmModule, c.model, c.training, rt::formatDescriptor(descriptor), device,
                    device ? c.target.cuda->arch : "",
                    embed ? llvm::sys::path::filename(c.opts.model).str() : "");
  // The regions `bench --profile` times (cpu/Profile.cpp), for the runtime.
  if (auto table = (*c.module)->getAttrOfType<mlir::StringAttr>(attr::kProfile)) {
    auto *text = llvm::ConstantDataArray::getString(llvmCtx, table.str(), /*AddNull=*/true);
    new llvm::GlobalVariable(**llvmModule, text->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, text, "ninc_profile_table");
  }
  c.times.done(linked ? "translation to LLVM IR" : "translation to LLVM IR and LLVM -O2");
  if (emit == EmitStage::LlvmIr)
    return writeOutput(c.opts.output,
                       [&](llvm::raw_ostream &os) { (*llvmModule)->print(os, nullptr); });
  std::string output = defaultOutput(c.opts, c.model.name);
  if (int rc = createParentFolder(output); rc != kOk)
    return rc;
  if (emit == EmitStage::Asm)
    return report(codegen::emitAssembly(**llvmModule, output, machine));
  if (emit == EmitStage::Obj)
    return report(codegen::emitObjectFile(**llvmModule, output, machine));
  if (emit == EmitStage::Lib && (c.opts.output.empty() || c.opts.output == "-"))
    output = "lib" + c.model.name + ".so";
  return linkProgram(c, **llvmModule, machine, output);
}

} // namespace

int runCompile(const CompileOptions &opts, const Target &target) {
  Expected<Model> model = loadModel(opts.model);
  if (!model) {
    std::fprintf(stderr, "%s\n", model.message().c_str());
    return kInvalidInput;
  }
  return compileModel(*model, opts, target);
}

int compileModel(const Model &model, const CompileOptions &opts, const Target &target) {
  if (int rc = checkStage(opts, target); rc != kOk)
    return rc;
  if (opts.mode == "train" && model.numClasses == 0) {
    std::fprintf(stderr, "%s: error: --mode=train needs a classifier: model '%s' has no "
                         "num_classes (a feature extractor can be compiled for inference)\n",
                 opts.model.c_str(), model.name.c_str());
    return kInvalidInput;
  }
  mlir::DialectRegistry registry;
  registerGraphDialects(registry);
  if (target.isCuda())
    cuda::registerCudaCodegenDialects(registry);
  else
    cpu::registerCpuCodegenDialects(registry);
  Compilation c(model, opts, target, registry);
  c.ctx.loadAllAvailableDialects();

  ImportOptions importOpts;
  importOpts.batch = c.batch;
  importOpts.training = c.training;
  c.module = importModel(c.ctx, model, importOpts);
  c.times.done("import into the nin dialect");
  if (opts.emit == EmitStage::Nin)
    return c.writeModule();
  if (int rc = runPasses(c); rc != kOk)
    return rc;
  switch (opts.emit) {
  case EmitStage::NinOpt:
  case EmitStage::Linalg:
  case EmitStage::LlvmMlir:
    return c.writeModule();
  case EmitStage::Dot:
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { printDot(*c.module, os); });
  case EmitStage::Ptx:
    return writePtx(opts, model.name, cuda::collectPtx(*c.module));
  default: {
    rt::ModelDescriptor d = makeDescriptor(c);
    if (int rc = refuseOversized(c, d); rc != kOk)
      return rc;
    return emitFromLLVMDialect(c, d);
  }
  }
}

} // namespace ninc
