//===- compiler/codegen/common/Passes.cpp - Passes both targets run -------===//
//
// The shared code-generation passes (Passes.td) and the pass list from
// bufferized loops to the llvm dialect, which the CPU target and the CUDA
// target's CPU emulation both end with.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/common/Passes.h"
#include "compiler/codegen/common/BufferizationPrep.h"
#include "compiler/codegen/common/MemoryPlan.h"
#include "compiler/target/TargetAttr.h"

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
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/raw_ostream.h"

namespace ninc::codegen {
#define GEN_PASS_DEF_ATTACHTARGET
#define GEN_PASS_DEF_PREPAREBUFFERIZATION
#define GEN_PASS_DEF_REWRITESTRIDEDCOPIES
#define GEN_PASS_DEF_PLANMEMORY
#define GEN_PASS_REGISTRATION
#include "compiler/codegen/common/Passes.h.inc"

namespace {

using namespace mlir;

struct AttachTargetPass : impl::AttachTargetBase<AttachTargetPass> {
  using AttachTargetBase::AttachTargetBase;
  explicit AttachTargetPass(const Target &t) : given_(t) {}

  void runOnOperation() override {
    if (given_)
      return attachTarget(getOperation(), *given_);
    TargetRequest request;
    request.target = target;
    request.cpu = cpu;
    request.gpuArch = gpuArch;
    request.gpuEmulate = gpuEmulate;
    Expected<Target> made = makeTarget(request);
    if (!made) {
      getOperation().emitError(made.message());
      return signalPassFailure();
    }
    attachTarget(getOperation(), *made);
  }

private:
  std::optional<Target> given_;
};

struct PrepareBufferizationPass : impl::PrepareBufferizationBase<PrepareBufferizationPass> {
  void runOnOperation() override {
    sinkOutputReshapes(getOperation());
    unshareFillInits(getOperation());
  }
};

struct RewriteStridedCopiesPass : impl::RewriteStridedCopiesBase<RewriteStridedCopiesPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) {
      auto source = cast<MemRefType>(copy.getSource().getType());
      auto target = cast<MemRefType>(copy.getTarget().getType());
      if (!memref::isStaticShapeAndContiguousRowMajor(source) ||
          !memref::isStaticShapeAndContiguousRowMajor(target))
        copies.push_back(copy);
    });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      b.create<linalg::CopyOp>(copy.getLoc(), copy.getSource(), copy.getTarget());
      copy.erase();
    }
  }
};

struct PlanMemoryPass : impl::PlanMemoryBase<PlanMemoryPass> {
  using PlanMemoryBase::PlanMemoryBase;
  void runOnOperation() override {
    std::string text;
    planModuleArenas(getOperation(), report ? &text : nullptr);
    llvm::errs() << text;
  }
};

} // namespace

std::unique_ptr<Pass> createAttachTargetPass(const Target &target) {
  return std::make_unique<AttachTargetPass>(target);
}

void buildLoopsToLLVMPipeline(OpPassManager &pm, const LoopsToLLVMOptions &opts) {
  const bool threaded = opts.threads > 1;
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  // Foralls left without threads (the CUDA target's emulation) run in order.
  if (!threaded)
    pm.addPass(createForallToForLoopPass());
  if (threaded && opts.parallelLinalg)
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

void buildBufferizedToLLVMPipeline(OpPassManager &pm, const LoopsToLLVMOptions &opts,
                                   bool memoryReport) {
  pm.addPass(createRewriteStridedCopies());
  // Buffers allocated inside loops (the weight-gradient group loops) move
  // out of them, so the memory plan places them in the arena too.
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferLoopHoistingPass());
  pm.addPass(createPlanMemory(PlanMemoryOptions{memoryReport}));
  buildLoopsToLLVMPipeline(pm, opts);
}

namespace {
struct LoopsToLLVMPipelineOptions : PassPipelineOptions<LoopsToLLVMPipelineOptions> {
  Option<int> threads{*this, "threads", llvm::cl::desc("Threads of the parallel loops"),
                      llvm::cl::init(1)};
  Option<bool> parallelLinalg{*this, "parallel-linalg",
                              llvm::cl::desc("Leftover linalg ops as scf.parallel"),
                              llvm::cl::init(false)};
};
} // namespace

void registerCommonCodegenPasses() {
  registerCodegenPasses();
  PassPipelineRegistration<LoopsToLLVMPipelineOptions>(
      "ninc-loops-to-llvm",
      "Bufferized loops -> [OpenMP] -> the llvm dialect (both targets' last steps)",
      [](OpPassManager &pm, const LoopsToLLVMPipelineOptions &o) {
        buildLoopsToLLVMPipeline(pm, LoopsToLLVMOptions{o.threads, o.parallelLinalg});
      });
}

} // namespace ninc::codegen
