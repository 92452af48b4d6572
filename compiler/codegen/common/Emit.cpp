//===- compiler/codegen/common/Emit.cpp - llvm dialect -> LLVM IR -> object ===//
//
// Translation to LLVM IR, LLVM's optimisation pipeline and code emission, all
// for one target machine: the Target's CPU (for --target=cuda, the host
// code's), position-independent code.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/common/Emit.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstrTypes.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/Utils/SplitModule.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <mutex>
#include <atomic>
#include <thread>

namespace ninc::codegen {
namespace {

void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

/// LLVM's code generation level for -O0..3 (above 3: 3).
llvm::CodeGenOptLevel codeGenLevel(int optLevel) {
  static const llvm::CodeGenOptLevel levels[] = {
      llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less, llvm::CodeGenOptLevel::Default,
      llvm::CodeGenOptLevel::Aggressive};
  return levels[std::clamp(optLevel, 0, 3)];
}

Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const MachineOptions &opts) {
  initializeNativeTarget();
  const CpuTarget &cpu = opts.cpu;
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(cpu.triple, error);
  if (!target)
    return Error{"code generation: no LLVM target for '" + cpu.triple + "': " + error};
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      cpu.triple, cpu.cpu, cpu.llvmFeatures, llvm::TargetOptions(), llvm::Reloc::PIC_,
      std::nullopt, codeGenLevel(opts.optLevel)));
  if (!machine)
    return Error{"code generation: cannot create a target machine for CPU '" + cpu.cpu + "'"};
  return Expected<std::unique_ptr<llvm::TargetMachine>>(std::move(machine));
}

/// LLVM's optimisation pipeline level for -O0..3 (above 3: 3).
llvm::OptimizationLevel optimizationLevel(int optLevel) {
  const llvm::OptimizationLevel levels[] = {llvm::OptimizationLevel::O0, llvm::OptimizationLevel::O1,
                                            llvm::OptimizationLevel::O2, llvm::OptimizationLevel::O3};
  return levels[std::clamp(optLevel, 0, 3)];
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
            const MachineOptions &opts, llvm::CodeGenFileType type) {
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
    return Error{"code generation: cannot write '" + path + "': " + ec.message()};
  llvm::legacy::PassManager pm;
  if ((*machine)->addPassesToEmitFile(pm, out.os(), nullptr, type))
    return Error{"code generation: the target cannot emit this file type"};
  pm.run(module);
  out.keep();
  return Status::ok();
}

} // namespace

void defineProfileHooks(llvm::Module &m, int64_t regions) {
  llvm::Function *mark = m.getFunction(attr::kProfileMarkSymbol);
  if (!mark || !mark->isDeclaration() || regions <= 0)
    return;
  llvm::LLVMContext &ctx = m.getContext();
  auto *i32 = llvm::Type::getInt32Ty(ctx), *i64 = llvm::Type::getInt64Ty(ctx);
  auto *cyclesType = llvm::ArrayType::get(i64, uint64_t(regions));
  auto *cycles = new llvm::GlobalVariable(m, cyclesType, /*isConstant=*/false,
                                          llvm::GlobalValue::ExternalLinkage,
                                          llvm::ConstantAggregateZero::get(cyclesType),
                                          "ninc_prof_cycles");
  auto *flag = new llvm::GlobalVariable(m, i32, /*isConstant=*/false,
                                        llvm::GlobalValue::ExternalLinkage,
                                        llvm::ConstantInt::get(i32, 0), "ninc_prof_enabled");
  // if (ninc_prof_enabled) cycles[r] += enter ? -now : now
  mark->setLinkage(llvm::GlobalValue::InternalLinkage);
  auto *entry = llvm::BasicBlock::Create(ctx, "entry", mark);
  auto *on = llvm::BasicBlock::Create(ctx, "on", mark);
  auto *done = llvm::BasicBlock::Create(ctx, "done", mark);
  llvm::IRBuilder<> b(entry);
  llvm::Value *enabled = b.CreateICmpNE(b.CreateLoad(i32, flag), b.getInt32(0));
  b.CreateCondBr(enabled, on, done);
  b.SetInsertPoint(on);
  llvm::Value *now = b.CreateIntrinsic(llvm::Intrinsic::readcyclecounter, {}, {});
  llvm::Value *slot = b.CreateInBoundsGEP(cyclesType, cycles, {b.getInt64(0), mark->getArg(0)});
  llvm::Value *old = b.CreateLoad(i64, slot);
  b.CreateStore(b.CreateSelect(mark->getArg(1), b.CreateSub(old, now), b.CreateAdd(old, now)),
                slot);
  b.CreateBr(done);
  b.SetInsertPoint(done);
  b.CreateRetVoid();
}

/// Drops the argument attributes of dialects without an LLVM translation
/// (nin.input, nin.weights, ...: the ABI's names, read by the passes before).
/// Translation would warn once for each such argument, and every warning
/// prints the whole function it is attached to: 3 of the 3.5 s of NiN's training
/// compile's translation, for warnings no one sees.
static void dropUntranslatedArgumentAttrs(mlir::ModuleOp module) {
  module.walk([](mlir::LLVM::LLVMFuncOp func) {
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
      mlir::DictionaryAttr attrs = func.getArgAttrDict(i);
      if (!attrs)
        continue;
      llvm::SmallVector<mlir::StringAttr> names;
      for (mlir::NamedAttribute attr : attrs)
        if (attr.getName().strref().contains('.') &&
            !attr.getName().strref().starts_with("llvm."))
          names.push_back(attr.getName());
      for (mlir::StringAttr name : names)
        func.removeArgAttr(i, name);
    }
  });
}

/// The functions that fork OpenMP regions (nin_infer, nin_train_step with
/// threads > 1) are what is left of the model once its loop nests are
/// outlined: memref descriptors, the captured values of each
/// __kmpc_fork_call, copies through memcpy. They are compiled optnone: NiN's
/// training step is 12k of the module's 59k instructions, and LLVM took
/// 2.5-4 s of CPU on it at -O2 (its schedulers on long straight-line blocks)
/// against 1 s at -O0, while the program's time outside the regions stayed
/// 44-49 ms a step (bench --profile, "outside the regions", both ways).
static void compileGlueAtO0(llvm::Module &module) {
  llvm::Function *fork = module.getFunction("__kmpc_fork_call");
  if (!fork)
    return;
  llvm::SmallPtrSet<llvm::Function *, 4> glue;
  for (llvm::User *user : fork->users())
    if (auto *call = llvm::dyn_cast<llvm::CallBase>(user))
      glue.insert(call->getFunction());
  for (llvm::Function *f : glue) {
    f->addFnAttr(llvm::Attribute::OptimizeNone);
    f->addFnAttr(llvm::Attribute::NoInline); // optnone requires it
  }
}

Expected<std::unique_ptr<llvm::Module>>
translateToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &ctx,
                  const MachineOptions &opts, bool optimizeIt) {
  Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(opts);
  if (!machine)
    return machine.error();
  dropUntranslatedArgumentAttrs(module);
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, ctx);
  if (!llvmModule)
    return Error{"code generation: translating the llvm dialect to LLVM IR "
                 "failed (is the module fully lowered?)"};
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setTargetTriple((*machine)->getTargetTriple().str());
  if (auto regions = module->getAttrOfType<mlir::IntegerAttr>(attr::kProfileRegions))
    defineProfileHooks(*llvmModule, regions.getInt());
  compileGlueAtO0(*llvmModule);
  if (optimizeIt)
    optimize(*llvmModule, **machine, opts.optLevel);
  return Expected<std::unique_ptr<llvm::Module>>(std::move(llvmModule));
}

Status emitObjectFile(llvm::Module &module, const std::string &path,
                      const MachineOptions &opts) {
  return emit(module, path, opts, llvm::CodeGenFileType::ObjectFile);
}

Status emitObjectFiles(llvm::Module &module, const std::vector<std::string> &paths,
                       const MachineOptions &opts, bool optimizeParts) {
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
  // More parts than cores, taken from a queue: SplitModule's parts differ
  // in cost, and one large part on one core would decide the wall time.
  std::atomic<size_t> next{0};
  const size_t workers =
      std::min<size_t>(bitcode.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      for (size_t i = next++; i < bitcode.size(); i = next++) {
        llvm::LLVMContext ctx;
        auto part = llvm::parseBitcodeFile(
            llvm::MemoryBufferRef(llvm::StringRef(bitcode[i].data(), bitcode[i].size()),
                                  "part"),
            ctx);
        if (!part) {
          llvm::consumeError(part.takeError());
          results[i] = Error{"code generation: a split module does not read back"};
          continue;
        }
        results[i] = emitOne(**part, paths[i]);
      }
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
                    const MachineOptions &opts) {
  return emit(module, path, opts, llvm::CodeGenFileType::AssemblyFile);
}

} // namespace ninc::codegen
