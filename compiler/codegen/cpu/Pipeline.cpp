//===- compiler/codegen/cpu/Pipeline.cpp - Schedules + lowering to LLVM --===//
//
// lowerToLLVMDialect: runs the transform script (Schedule.cpp) with the
// transform interpreter, or plain one-shot bufferization when scheduling is
// off, then the fixed pass list down to the llvm dialect.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"
#include "compiler/codegen/common/BufferizationPrep.h"
#include "compiler/codegen/common/DiagnosticCollector.h"
#include "compiler/codegen/common/MemoryPlan.h"
#include "compiler/codegen/common/TransformScript.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/OpenMPToLLVM/ConvertOpenMPToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/SCFToOpenMP/SCFToOpenMP.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Dialect/Transform/Transforms/TransformInterpreterUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <mutex>

using namespace mlir;

namespace ninc::cpu {
namespace {


/// apply_registered_pass in the schedule looks passes up by name.
void registerScheduledPasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerLoopInvariantSubsetHoistingPass();
    bufferization::registerEmptyTensorEliminationPass();
  });
}

void stripScheduleTags(ModuleOp module) {
  module.walk([](Operation *op) { op->removeAttr(detail::kScheduleTag); });
}

Status applyScript(ModuleOp module, const std::string &script,
                   const DiagnosticCollector &diags, const char *what) {
  if (Status s = codegen::applyTransformScript(module, script, what); !s)
    return diags.error(s.message());
  return Status::ok();
}

Status applySchedule(ModuleOp module, const CpuOptions &opts,
                     const DiagnosticCollector &diags) {
  registerScheduledPasses();
  detail::Scheduler scheduler(module, opts);
  if (opts.scheduleReport)
    *opts.scheduleReport += scheduler.report(module);
  if (Status s = applyScript(module, scheduler.tilingScript(), diags, "tiling");
      !s)
    return s;
  // The regions are marked while the tiled ops still carry their tags (the
  // finishing script vectorises them away).
  detail::instrumentProfile(module);
  scheduler.packOperands(module);
  if (Status s =
          applyScript(module, scheduler.finishingScript(), diags, "finishing");
      !s)
    return s;
  stripScheduleTags(module);
  return Status::ok();
}

Status bufferizeUnscheduled(ModuleOp module, const DiagnosticCollector &diags) {
  PassManager pm(module.getContext());
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  pm.addPass(bufferization::createOneShotBufferizePass());
  pm.addPass(createCanonicalizerPass());
  if (failed(pm.run(module)))
    return diags.error("one-shot bufferization failed");
  detail::instrumentProfile(module);
  return Status::ok();
}

/// Buffers -> loops -> [OpenMP] -> llvm dialect.
void buildLoweringPipeline(PassManager &pm, const CpuOptions &opts) {
  bool threaded = opts.threads > 1;
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  // Foralls left without threads (the CUDA backend's emulation) run in order.
  if (!threaded)
    pm.addPass(createForallToForLoopPass());
  if (threaded && !opts.schedule)
    pm.addPass(createConvertLinalgToParallelLoopsPass());
  else
    pm.addPass(createConvertLinalgToLoopsPass());
  if (threaded) {
    pm.addPass(createForallToParallelLoopPass());
    ConvertSCFToOpenMPPassOptions omp;
    omp.numThreads = static_cast<unsigned>(opts.threads);
    pm.addPass(createConvertSCFToOpenMPPass(omp));
    // Inlines the memref.alloca_scope the conversion wraps bodies in, which
    // otherwise breaks verification after scf-to-cf.
    pm.addPass(createCanonicalizerPass());
  }
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertSCFToCFPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  // Before convert-openmp-to-llvm: that pass also converts func.func, with
  // the default (descriptor) calling convention.
  ConvertFuncToLLVMPassOptions func;
  func.useBarePtrCallConv = true;
  pm.addPass(createConvertFuncToLLVMPass(func));
  if (threaded)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

} // namespace

Status lowerToLLVMDialect(ModuleOp module, const CpuOptions &opts) {
  MLIRContext *ctx = module.getContext();
  // Dialects load lazily; extensions register their ops on load.
  if (!ctx->getOrLoadDialect("transform") || !ctx->getOrLoadDialect("omp") ||
      !ctx->isOperationRegistered("transform.structured.tile_using_for"))
    return Error{"cpu backend: the MLIRContext lacks the backend's dialects; "
                 "create it with registerCpuCodegenDialects"};
  if (opts.threads < 1)
    return Error{"cpu backend: expected threads >= 1, got " +
                 std::to_string(opts.threads)};
  DiagnosticCollector diags(ctx, "cpu backend");
  lowering::sinkOutputReshapes(module);
  lowering::unshareFillInits(module);
  if (opts.bf16) {
    auto [cpu, has] = targetFeature(opts, "avx512bf16");
    if (!has)
      return Error{"cpu backend: --precision=bf16 needs AVX512-BF16 "
                   "(vdpbf16ps), which CPU '" + cpu + "' lacks; compile with "
                   "--precision=fp32 (the default)"};
    if (!opts.schedule)
      return Error{"cpu backend: --precision=bf16 needs the schedules "
                   "(drop --no-schedule)"};
    detail::markBf16Ops(module);
  }
  if (opts.schedule)
    detail::splitWideReductions(module);
  detail::tagProfileOps(module);
  Status bufferized = opts.schedule ? applySchedule(module, opts, diags)
                                    : bufferizeUnscheduled(module, diags);
  if (!bufferized)
    return bufferized;
  return lowerBufferizedToLLVMDialect(module, opts);
}

Status lowerBufferizedToLLVMDialect(ModuleOp module, const CpuOptions &opts) {
  MLIRContext *ctx = module.getContext();
  DiagnosticCollector diags(ctx, "cpu backend");
  detail::rewriteStridedCopies(module);
  // Buffers allocated inside loops (the weight-gradient group loops) move
  // out of them, so the memory plan places them in the arena too.
  {
    PassManager hoist(ctx);
    hoist.addNestedPass<func::FuncOp>(bufferization::createBufferLoopHoistingPass());
    if (failed(hoist.run(module)))
      return diags.error("hoisting buffers out of loops failed");
  }
  if (opts.planMemory)
    planModuleArenas(module, opts.memoryReport);
  PassManager pm(ctx);
  buildLoweringPipeline(pm, opts);
  if (failed(pm.run(module)))
    return diags.error("lowering to the llvm dialect failed");
  return Status::ok();
}

} // namespace ninc::cpu
