//===- compiler/codegen/cpu/Pipeline.cpp - The CPU target's passes --------===//
//
// The CPU target's steps as passes (Passes.td) and the pipeline that strings
// them together with the common ones (CpuCodegen.h lists the order).
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"
#include "compiler/codegen/common/DiagnosticCollector.h"
#include "compiler/codegen/common/Passes.h"
#include "compiler/codegen/common/TransformScript.h"
#include "compiler/dialect/StageContract.h"
#include "compiler/target/TargetAttr.h"

#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Transform/IR/TransformDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>

namespace ninc::cpu {
#define GEN_PASS_DECL
#define GEN_PASS_DEF_CPUBF16INPUTS
#define GEN_PASS_DEF_CPUSPLITWIDEREDUCTIONS
#define GEN_PASS_DEF_CPUTAGPROFILE
#define GEN_PASS_DEF_CPUSCHEDULE
#define GEN_PASS_DEF_CPUINSTRUMENTPROFILE
#define GEN_PASS_REGISTRATION
#include "compiler/codegen/cpu/Passes.h.inc"

namespace {

using namespace mlir;

struct CpuBf16InputsPass : impl::CpuBf16InputsBase<CpuBf16InputsPass> {
  void runOnOperation() override {
    Expected<Target> target = targetOf(getOperation());
    std::string why;
    if (!target || !supportsPrecision(*target, "bf16", why)) {
      getOperation().emitError() << (target ? why : target.message());
      return signalPassFailure();
    }
    detail::markBf16Ops(getOperation(), detail::scheduleParamsFor(target->cpu, /*threads=*/1));
  }
};

struct CpuSplitWideReductionsPass
    : impl::CpuSplitWideReductionsBase<CpuSplitWideReductionsPass> {
  void runOnOperation() override { detail::splitWideReductions(getOperation()); }
};

struct CpuTagProfilePass : impl::CpuTagProfileBase<CpuTagProfilePass> {
  void runOnOperation() override { detail::tagProfileOps(getOperation()); }
};

struct CpuInstrumentProfilePass : impl::CpuInstrumentProfileBase<CpuInstrumentProfilePass> {
  void runOnOperation() override { detail::instrumentProfile(getOperation()); }
};

/// While the schedules run, ops printed into diagnostics are taken as
/// verified. structured.fuse_into_containing_op tries its ways of fusing in
/// turn and notes each that does not apply with the producer printed; that
/// print builds an AsmState of the whole function, which verifies it first:
/// 3.5 of the 7 s of NiN's training compile (2 threads) went there, for
/// notes nobody reads unless the fusion fails. The IR is valid between
/// transform ops (the interpreter checks it after each one, expensive-checks
/// on or not), and MLIR's default flags are restored on the way out.
class AssumeVerifiedPrinting {
public:
  AssumeVerifiedPrinting() {
    registerAsmPrinterCLOptions(); // idempotent; the flags' defaults are OpPrintingFlags'
    option_ = static_cast<llvm::cl::opt<bool> *>(
        llvm::cl::getRegisteredOptions().lookup("mlir-print-assume-verified"));
    if (option_) {
      saved_ = *option_;
      option_->setValue(true);
    }
  }
  ~AssumeVerifiedPrinting() {
    if (option_)
      option_->setValue(saved_);
  }

private:
  llvm::cl::opt<bool> *option_ = nullptr;
  bool saved_ = false;
};

/// apply_registered_pass in the schedule looks passes up by name.
void registerScheduledPasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerLoopInvariantSubsetHoistingPass();
    bufferization::registerEmptyTensorEliminationPass();
  });
}

struct CpuSchedulePass : impl::CpuScheduleBase<CpuSchedulePass> {
  using CpuScheduleBase::CpuScheduleBase;
  CpuSchedulePass(const CpuScheduleOptions &options, std::string *sink, ScheduleTuning *tuning)
      : CpuScheduleBase(options), sink_(sink), tuning_(tuning) {}

  void runOnOperation() override {
    ModuleOp module = getOperation();
    registerScheduledPasses();
    AssumeVerifiedPrinting cheapNotes;
    Expected<Target> target = targetOf(module);
    if (!target) {
      module.emitError() << target.message();
      return signalPassFailure();
    }
    detail::ScheduleParams params = detail::scheduleParamsFor(target->cpu, threads);
    detail::padsIntoCanvases(module);
    detail::widenNarrowConvs(module, params.lanes, keepPackedWeights);
    detail::Scheduler scheduler(module, params, tuning_);
    if (sink_)
      *sink_ += scheduler.report(module);
    else if (report)
      llvm::errs() << scheduler.report(module);
    if (failed(apply(scheduler.tilingScript(), "tiling")))
      return signalPassFailure();
    // The regions are marked while the tiled ops still carry their tags (the
    // finishing script vectorises them away).
    scheduler.recordRegions(detail::instrumentProfile(module));
    scheduler.packOperands(module, keepPackedWeights);
    if (failed(apply(scheduler.finishingScript(), "finishing")))
      return signalPassFailure();
    detail::stackAllocateLoopBuffers(module);
    detail::selectMaxima(module);
    module.walk([](Operation *op) { op->removeAttr(detail::kScheduleTag); });
  }

private:
  LogicalResult apply(const std::string &script, const char *what) {
    if (Status s = codegen::applyTransformScript(getOperation(), script, what); !s) {
      getOperation().emitError("cpu backend: ") << s.message();
      return failure();
    }
    return success();
  }

  std::string *sink_ = nullptr;
  ScheduleTuning *tuning_ = nullptr;
};

} // namespace

void buildCpuCodegenPipeline(OpPassManager &pm, const CpuOptions &opts) {
  pm.addPass(codegen::createPrepareBufferization());
  if (opts.bf16)
    pm.addPass(createCpuBf16Inputs());
  if (opts.schedule) {
    pm.addPass(createCpuSplitWideReductions());
    pm.addPass(createCpuTagProfile());
    CpuScheduleOptions schedule;
    schedule.threads = opts.threads;
    schedule.report = opts.printSchedule;
    schedule.keepPackedWeights = opts.planMemory; // the plan keeps the buffers
    pm.addPass(std::make_unique<CpuSchedulePass>(schedule, opts.scheduleReport, opts.tuning));
  } else {
    pm.addPass(createCpuTagProfile());
    pm.addPass(bufferization::createEmptyTensorEliminationPass());
    pm.addPass(bufferization::createOneShotBufferizePass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCpuInstrumentProfile());
  }
  codegen::LoopsToLLVMOptions loops;
  loops.threads = opts.threads;
  loops.parallelLinalg = !opts.schedule;
  if (opts.planMemory) {
    codegen::buildBufferizedToLLVMPipeline(pm, loops, opts.printMemoryPlan);
    return;
  }
  pm.addPass(codegen::createRewriteStridedCopies());
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferLoopHoistingPass());
  codegen::buildLoopsToLLVMPipeline(pm, loops);
}

Status lowerToLLVMDialect(ModuleOp module, const CpuOptions &opts) {
  MLIRContext *ctx = module.getContext();
  // Dialects load lazily; extensions register their ops on load.
  if (!ctx->getOrLoadDialect("transform") || !ctx->getOrLoadDialect("omp") ||
      !ctx->isOperationRegistered("transform.structured.tile_using_for"))
    return Error{"cpu backend: the MLIRContext lacks the backend's dialects; "
                 "create it with registerCpuCodegenDialects"};
  if (opts.threads < 1)
    return Error{"cpu backend: expected threads >= 1, got " + std::to_string(opts.threads)};
  if (!module->hasAttr(attr::kTarget)) {
    TargetRequest request;
    request.cpu = opts.cpu;
    Expected<Target> target = makeTarget(request);
    if (!target)
      return target.error();
    attachTarget(module, *target);
  }
  DiagnosticCollector diags(ctx, "cpu backend");
  PassManager pm(ctx);
  buildCpuCodegenPipeline(pm, opts);
  if (failed(pm.run(module)))
    return diags.error("lowering to the llvm dialect failed");
  return Status::ok();
}

namespace {
struct CpuPipelineOptions : PassPipelineOptions<CpuPipelineOptions> {
  Option<int> threads{*this, "threads", llvm::cl::desc("Threads of the generated code"),
                      llvm::cl::init(2)};
  Option<bool> schedule{*this, "schedule", llvm::cl::desc("Transform-dialect schedules"),
                        llvm::cl::init(true)};
  Option<bool> bf16{*this, "bf16", llvm::cl::desc("--precision=bf16"), llvm::cl::init(false)};
  Option<bool> planMemory{*this, "plan-memory", llvm::cl::desc("One arena a function"),
                          llvm::cl::init(true)};
};
} // namespace

void registerCpuCodegenPasses() {
  registerCpuPasses();
  PassPipelineRegistration<CpuPipelineOptions>(
      "ninc-cpu-codegen",
      "The CPU target from linalg on tensors to the llvm dialect (after ninc-attach-target)",
      [](OpPassManager &pm, const CpuPipelineOptions &o) {
        CpuOptions opts;
        opts.threads = o.threads;
        opts.schedule = o.schedule;
        opts.bf16 = o.bf16;
        opts.planMemory = o.planMemory;
        buildCpuCodegenPipeline(pm, opts);
      });
}

} // namespace ninc::cpu
