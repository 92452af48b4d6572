//===- compiler/codegen/cpu/Emit.cpp - llvm dialect -> LLVM IR -> object -===//
//
// Translation to LLVM IR, LLVM's optimisation pipeline and code emission, all
// for one target machine: the host CPU with its features (or opts.cpu),
// position-independent code.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuCodegen.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "compiler/codegen/cpu/CpuInternal.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/Utils/SplitModule.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>
#include <thread>

namespace ninc::cpu {
namespace {

void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

llvm::CodeGenOptLevel codeGenLevel(int optLevel) {
  switch (optLevel) {
  case 0:
    return llvm::CodeGenOptLevel::None;
  case 1:
    return llvm::CodeGenOptLevel::Less;
  case 2:
    return llvm::CodeGenOptLevel::Default;
  default:
    return llvm::CodeGenOptLevel::Aggressive;
  }
}

Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const CpuOptions &opts) {
  initializeNativeTarget();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return Error{"cpu backend: no LLVM target for '" + triple + "': " + error};
  std::string cpu = opts.cpu;
  std::string features;
  if (cpu.empty()) {
    cpu = llvm::sys::getHostCPUName().str();
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      features += (feature.second ? ",+" : ",-") + feature.first().str();
    if (!features.empty())
      features.erase(0, 1);
  }
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features, llvm::TargetOptions(), llvm::Reloc::PIC_,
      std::nullopt, codeGenLevel(opts.optLevel)));
  if (!machine)
    return Error{"cpu backend: cannot create a target machine for CPU '" + cpu +
                 "'"};
  return Expected<std::unique_ptr<llvm::TargetMachine>>(std::move(machine));
}

llvm::OptimizationLevel optimizationLevel(int optLevel) {
  switch (optLevel) {
  case 0:
    return llvm::OptimizationLevel::O0;
  case 1:
    return llvm::OptimizationLevel::O1;
  case 2:
    return llvm::OptimizationLevel::O2;
  default:
    return llvm::OptimizationLevel::O3;
  }
}

void optimize(llvm::Module &module, llvm::TargetMachine &machine, int level) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  // No SLP vectorizer: the kernels arrive vectorised by MLIR's schedules, and
  // on the training step's ~700 loop nests SLP took 77% of -O3 (13 of 17 s)
  // for no speed (docs/performance.md, compile time).
  llvm::PipelineTuningOptions tuning;
  tuning.SLPVectorization = false;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager pm =
      level == 0
          ? builder.buildO0DefaultPipeline(llvm::OptimizationLevel::O0)
          : builder.buildPerModuleDefaultPipeline(optimizationLevel(level));
  pm.run(module, mam);
}

Status emit(llvm::Module &module, const std::string &path,
            const CpuOptions &opts, llvm::CodeGenFileType type) {
  Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(opts);
  if (!machine)
    return machine.error();
  module.setDataLayout((*machine)->createDataLayout());
  module.setTargetTriple((*machine)->getTargetTriple().str());
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec,
                           type == llvm::CodeGenFileType::ObjectFile
                               ? llvm::sys::fs::OF_None
                               : llvm::sys::fs::OF_Text);
  if (ec)
    return Error{"cpu backend: cannot write '" + path + "': " + ec.message()};
  llvm::legacy::PassManager pm;
  if ((*machine)->addPassesToEmitFile(pm, out.os(), nullptr, type))
    return Error{"cpu backend: the target cannot emit this file type"};
  pm.run(module);
  out.keep();
  return Status::ok();
}

} // namespace

std::pair<std::string, bool> targetFeature(const CpuOptions &opts,
                                           const std::string &feature) {
  auto machine = createTargetMachine(opts);
  if (!machine)
    return {opts.cpu, false};
  const llvm::MCSubtargetInfo *info = (*machine)->getMCSubtargetInfo();
  return {info->getCPU().str(), info->checkFeatures("+" + feature)};
}

Expected<std::unique_ptr<llvm::Module>>
translateToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &ctx,
                  const CpuOptions &opts, bool optimizeIt) {
  Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(opts);
  if (!machine)
    return machine.error();
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, ctx);
  if (!llvmModule)
    return Error{"cpu backend: translating the llvm dialect to LLVM IR "
                 "failed (is the module fully lowered?)"};
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setTargetTriple((*machine)->getTargetTriple().str());
  if (auto regions = module->getAttrOfType<mlir::IntegerAttr>("nin.profile_regions"))
    detail::defineProfileHooks(*llvmModule, regions.getInt());
  if (optimizeIt)
    optimize(*llvmModule, **machine, opts.optLevel);
  return Expected<std::unique_ptr<llvm::Module>>(std::move(llvmModule));
}

Status emitObjectFile(llvm::Module &module, const std::string &path,
                      const CpuOptions &opts) {
  return emit(module, path, opts, llvm::CodeGenFileType::ObjectFile);
}

Status emitObjectFiles(llvm::Module &module, const std::vector<std::string> &paths,
                       const CpuOptions &opts, bool optimizeParts) {
  auto emitOne = [&](llvm::Module &m, const std::string &path) -> Status {
    if (optimizeParts) {
      Expected<std::unique_ptr<llvm::TargetMachine>> machine = createTargetMachine(opts);
      if (!machine)
        return machine.error();
      optimize(m, **machine, opts.optLevel);
    }
    return emitObjectFile(m, path, opts);
  };
  if (paths.size() <= 1)
    return paths.empty() ? Status::ok() : emitOne(module, paths[0]);
  // Each part goes through bitcode into a context of its own: LLVM's code
  // generation may run concurrently only on modules of separate contexts.
  std::vector<llvm::SmallString<0>> bitcode;
  llvm::SplitModule(
      module, static_cast<unsigned>(paths.size()),
      [&](std::unique_ptr<llvm::Module> part) {
        bitcode.emplace_back();
        llvm::raw_svector_ostream os(bitcode.back());
        llvm::WriteBitcodeToFile(*part, os);
      },
      /*PreserveLocals=*/false);
  std::vector<Status> results(bitcode.size(), Status::ok());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < bitcode.size(); ++i)
    threads.emplace_back([&, i] {
      llvm::LLVMContext ctx;
      auto part = llvm::parseBitcodeFile(
          llvm::MemoryBufferRef(llvm::StringRef(bitcode[i].data(), bitcode[i].size()),
                                "part"),
          ctx);
      if (!part) {
        llvm::consumeError(part.takeError());
        results[i] = Error{"cpu backend: a split module does not read back"};
        return;
      }
      results[i] = emitOne(**part, paths[i]);
    });
  for (std::thread &t : threads)
    t.join();
  for (Status &r : results)
    if (!r)
      return r;
  // SplitModule may make fewer parts than asked: the rest stay empty objects.
  for (size_t i = bitcode.size(); i < paths.size(); ++i) {
    llvm::LLVMContext ctx;
    llvm::Module empty("empty", ctx);
    if (Status s = emitObjectFile(empty, paths[i], opts); !s)
      return s;
  }
  return Status::ok();
}

Status emitAssembly(llvm::Module &module, const std::string &path,
                    const CpuOptions &opts) {
  return emit(module, path, opts, llvm::CodeGenFileType::AssemblyFile);
}

} // namespace ninc::cpu
