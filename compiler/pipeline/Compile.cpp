//===- compiler/pipeline/Compile.cpp - `ninc compile` ---------------------===//

#include "compiler/pipeline/Compile.h"
#include "compiler/frontend/Frontend.h"
#include "compiler/importer/Importer.h"
#include "compiler/codegen/cpu/CpuCodegen.h"
#include "compiler/codegen/cuda/CudaCodegen.h"
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
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

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

/// The text descriptor a compiled program carries (runtime/program/Descriptor.h),
/// from the model and the lowered function's `nin.params` table.
Expected<rt::ModelDescriptor> makeDescriptor(mlir::ModuleOp module, const Model &model,
                                             int64_t batch) {
  rt::ModelDescriptor d = describeModel(model, batch);
  // The lowering's blob layout must be the one the runtime is told.
  auto func = module.lookupSymbol<mlir::func::FuncOp>(model.name + "_infer");
  auto table = func ? func->getAttrOfType<mlir::ArrayAttr>("nin.params") : nullptr;
  if (!table || table.size() != d.params.size() ||
      mlir::cast<mlir::MemRefType>(func.getArgumentTypes()[1]).getNumElements() != d.blobSize)
    return Error{"ninc: internal error: the lowered function's weight layout differs from the "
                 "descriptor's"};
  for (size_t i = 0; i < d.params.size(); ++i) {
    auto entry = mlir::cast<mlir::DictionaryAttr>(table[i]);
    if (entry.getAs<mlir::IntegerAttr>("offset").getInt() != d.params[i].offset ||
        entry.getAs<mlir::StringAttr>("layout").str() != d.params[i].layout)
      return Error{"ninc: internal error: parameter '" + d.params[i].name +
                   "' is laid out differently by the lowering"};
  }
  return d;
}

/// The fixed symbols the runtime's main() links against: ninc_infer (an
/// alias of <model>_infer) and ninc_descriptor; for a training program also
/// ninc_train_step (an alias of <model>_train_step), and ninc_spec /
/// ninc_spec_size (Model::specBytes, for self-contained checkpoints). For a
/// CUDA program the inference entry is ninc_device_infer.
void addProgramSymbols(llvm::Module &m, const Model &model, bool training,
                       const std::string &descriptor, bool device,
                       const std::string &gpuArch = "") {
  llvm::LLVMContext &ctx = m.getContext();
  auto *text = llvm::ConstantDataArray::getString(ctx, descriptor, /*AddNull=*/true);
  new llvm::GlobalVariable(m, text->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, text, "ninc_descriptor");
  // On a GPU the generated function takes device pointers; the runtime's
  // ninc_infer (runtime/cuda) moves the batch there and back around it.
  if (llvm::Function *f = m.getFunction(model.name + "_infer"))
    llvm::GlobalAlias::create(device ? "ninc_device_infer" : "ninc_infer", f);
  if (device) {
    auto *arch = llvm::ConstantDataArray::getString(ctx, gpuArch, /*AddNull=*/true);
    new llvm::GlobalVariable(m, arch->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, arch, "ninc_gpu_arch");
  }
  if (!training)
    return;
  if (llvm::Function *f = m.getFunction(model.name + "_train_step"))
    llvm::GlobalAlias::create(device ? "ninc_device_train_step" : "ninc_train_step", f);
  auto *spec = llvm::ConstantDataArray::getString(ctx, model.specBytes, /*AddNull=*/false);
  new llvm::GlobalVariable(m, spec->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, spec, "ninc_spec");
  auto *size = llvm::ConstantInt::get(llvm::Type::getInt64Ty(ctx), model.specBytes.size());
  new llvm::GlobalVariable(m, size->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, size, "ninc_spec_size");
}

/// The arena bytes the memory plan gave function `name`, or -1 when it has
/// none recorded.
int64_t arenaBytesOf(mlir::ModuleOp module, const std::string &name) {
  mlir::Operation *func = mlir::SymbolTable::lookupSymbolIn(module, name);
  auto bytes = func ? func->getAttrOfType<mlir::IntegerAttr>("nin.arena_bytes") : nullptr;
  return bytes ? bytes.getInt() : -1;
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

namespace {

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

} // namespace

int compileModel(const Model &spec, const CompileOptions &opts, const Target &target) {
  PhaseTimes times(opts.timeReport);
  const Model *model = &spec;
  mlir::DialectRegistry registry;
  registerGraphDialects(registry);
  const bool cuda = target.isCuda();
  if (cuda)
    cuda::registerCudaCodegenDialects(registry); // includes the CPU backend's
  else
    cpu::registerCpuCodegenDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  ImportOptions importOpts;
  importOpts.batch = opts.batch > 0 ? opts.batch : model->training.batchSize;
  importOpts.training = opts.mode == "train";
  if (!cuda && opts.emit == EmitStage::Ptx) {
    std::fprintf(stderr, "%s: error: --emit=ptx needs --target=cuda\n", opts.model.c_str());
    return kUsage;
  }
  if (target.runsOnGpu() && opts.emit == EmitStage::Lib) {
    std::fprintf(stderr, "%s: error: --target=cuda --emit=lib is not built yet (--emit=exe is)\n",
                 opts.model.c_str());
    return kInvalidInput;
  }
  mlir::OwningOpRef<mlir::ModuleOp> module = importModel(ctx, *model, importOpts);
  times.done("import into the nin dialect");
  if (opts.emit == EmitStage::Nin)
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { module->print(os); });

  mlir::PassManager pm(&ctx);
  configureIrPrinting(pm, opts);
  if (importOpts.training) {
    if (opts.emit == EmitStage::NinOpt || opts.emit == EmitStage::Dot)
      buildTrainGraphPipeline(pm);
    else
      buildTrainLinalgPipeline(pm, /*cpuForms=*/!cuda);
  } else if (opts.emit == EmitStage::NinOpt || opts.emit == EmitStage::Dot)
    buildGraphPipeline(pm);
  else
    buildLinalgPipeline(pm);
  if (mlir::failed(pm.run(*module))) {
    std::fprintf(stderr, "%s: error: compilation failed (see above)\n", opts.model.c_str());
    return kInvalidInput;
  }
  times.done("graph passes and lowering to linalg");
  if (opts.emit == EmitStage::NinOpt || opts.emit == EmitStage::Linalg)
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { module->print(os); });
  if (opts.emit == EmitStage::Dot)
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { printDot(*module, os); });

  // The runtime's descriptor comes from the lowered function's weight layout.
  Expected<rt::ModelDescriptor> descriptor = makeDescriptor(*module, *model, importOpts.batch);
  if (!descriptor) {
    std::fprintf(stderr, "%s\n", descriptor.message().c_str());
    return kInvalidInput;
  }
  cpu::CpuOptions cpuOpts;
  cpuOpts.threads = opts.threads;
  cpuOpts.schedule = opts.schedule;
  cpuOpts.cpu = target.cpu.llvmFeatures.empty() ? target.cpu.cpu : ""; // empty: the host
  cpuOpts.planMemory = true;
  cpuOpts.bf16 = opts.precision == "bf16";
  std::string memoryReport, scheduleReport;
  if (opts.printMemoryPlan)
    cpuOpts.memoryReport = &memoryReport;
  if (opts.printSchedule)
    cpuOpts.scheduleReport = &scheduleReport;
  if (cuda) {
    cuda::CudaOptions cudaOpts;
    cudaOpts.arch = target.cuda->arch;
    cudaOpts.emulate = target.cuda->emulate;
    cudaOpts.precision = opts.precision == "tf32"   ? cuda::Precision::TF32
                         : opts.precision == "bf16" ? cuda::Precision::BF16
                                                    : cuda::Precision::FP32;
    if (opts.printMemoryPlan)
      cudaOpts.memoryReport = &memoryReport;
    std::vector<std::pair<std::string, std::string>> ptx;
    if (opts.emit == EmitStage::Ptx)
      cudaOpts.ptx = &ptx;
    if (Status s = cuda::lowerToLLVMDialect(*module, cudaOpts); !s) {
      std::fprintf(stderr, "%s: error: CUDA code generation failed: %s\n", opts.model.c_str(),
                   s.message().c_str());
      return kInvalidInput;
    }
    if (opts.emit == EmitStage::Ptx) {
      std::fputs(memoryReport.c_str(), stderr);
      return writePtx(opts, model->name, ptx);
    }
  } else if (Status s = cpu::lowerToLLVMDialect(*module, cpuOpts); !s) {
    std::fprintf(stderr, "%s: error: CPU code generation failed: %s\n", opts.model.c_str(),
                 s.message().c_str());
    return kInvalidInput;
  }
  times.done(cuda ? "CUDA kernels and host code to the llvm dialect"
                  : "schedules, bufferization, memory plan, to the llvm dialect");
  std::fputs(scheduleReport.c_str(), stderr);
  std::fputs(memoryReport.c_str(), stderr);
  if (auto arena = (*module)->getAttrOfType<mlir::IntegerAttr>("nin.arena_bytes"))
    descriptor->arenaBytes = arena.getInt();
  descriptor->threads = cuda ? 1 : opts.threads;
  if (importOpts.training) {
    // Each function's own arena (the module attribute is the larger one).
    int64_t infer = arenaBytesOf(*module, model->name + "_infer");
    int64_t train = arenaBytesOf(*module, model->name + "_train_step");
    if (infer >= 0)
      descriptor->arenaBytes = infer;
    descriptor->trainArenaBytes = train >= 0 ? train : descriptor->arenaBytes;
  }
  if (opts.emit == EmitStage::LlvmMlir)
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { module->print(os); });

  llvm::LLVMContext llvmCtx;
  // exe and lib run LLVM's optimiser on the split parts, in parallel.
  const bool linked = opts.emit == EmitStage::Exe || opts.emit == EmitStage::Lib;
  auto llvmModule = cpu::translateToLLVMIR(*module, llvmCtx, cpuOpts, /*optimize=*/!linked);
  if (!llvmModule) {
    std::fprintf(stderr, "%s: error: %s\n", opts.model.c_str(), llvmModule.message().c_str());
    return kInvalidInput;
  }
  const bool device = target.runsOnGpu();
  addProgramSymbols(**llvmModule, *model, importOpts.training,
                    rt::formatDescriptor(*descriptor), device,
                    device ? target.cuda->arch : "");
  // The regions `bench --profile` times (cpu/Profile.cpp), for the runtime.
  if (auto table = (*module)->getAttrOfType<mlir::StringAttr>("nin.profile")) {
    auto *text = llvm::ConstantDataArray::getString(llvmCtx, table.str(), /*AddNull=*/true);
    new llvm::GlobalVariable(**llvmModule, text->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, text, "ninc_profile_table");
  }
  times.done(linked ? "translation to LLVM IR" : "translation to LLVM IR and LLVM -O3");
  if (opts.emit == EmitStage::LlvmIr)
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { (*llvmModule)->print(os, nullptr); });

  std::string output = defaultOutput(opts, model->name);
  if (std::string dir = llvm::sys::path::parent_path(output).str(); !dir.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
      std::fprintf(stderr, "%s: error: cannot create the output folder: %s\n", dir.c_str(),
                   ec.message().c_str());
      return kInvalidInput;
    }
  if (opts.emit == EmitStage::Asm)
    return report(cpu::emitAssembly(**llvmModule, output, cpuOpts));
  if (opts.emit == EmitStage::Lib && (opts.output.empty() || opts.output == "-"))
    output = "lib" + model->name + ".so";
  if (opts.emit == EmitStage::Obj)
    return report(cpu::emitObjectFile(**llvmModule, output, cpuOpts));

  // exe and lib: objects in temporaries (one a thread of the compiler:
  // code generation runs in parallel), then link.
  std::vector<std::string> objects;
  int parts = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  for (int i = 0; i < parts; ++i) {
    llvm::SmallString<128> object;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile("ninc", "o", object)) {
      std::fprintf(stderr, "ninc: error: cannot create a temporary object: %s\n",
                   ec.message().c_str());
      for (const std::string &o : objects)
        llvm::sys::fs::remove(o);
      return kInvalidInput;
    }
    objects.push_back(object.str().str());
  }
  Status s = cpu::emitObjectFiles(**llvmModule, objects, cpuOpts, /*optimize=*/true);
  times.done("LLVM -O3 and machine code, one thread a part");
  if (s)
    s = opts.emit == EmitStage::Lib ? linkSharedLibrary(objects, output)
                           : linkExecutable(objects, output, device, importOpts.training);
  times.done("link");
  for (const std::string &o : objects)
    llvm::sys::fs::remove(o);
  return report(s);
}

} // namespace ninc
