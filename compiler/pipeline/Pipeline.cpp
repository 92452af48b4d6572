//===- compiler/pipeline/Pipeline.cpp - Pass pipelines per stage ----------===//

#include "compiler/pipeline/Pipeline.h"
#include "compiler/codegen/common/Passes.h"
#include "compiler/codegen/cpu/CpuCodegen.h"
#include "compiler/codegen/cuda/CudaCodegen.h"
#include "compiler/dialect/NinOps.h"
#include "compiler/conversion/NinToLinalg.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace ninc {

namespace {
/// Shapes, canonicalisation (dropout folds in inference), conv+bias+ReLU.
mlir::OpPassManager &addShapesAndConvFusion(mlir::OpPassManager &pm) {
  mlir::OpPassManager &fpm = pm.nest<mlir::func::FuncOp>();
  fpm.addPass(createInferShapes());
  fpm.addPass(mlir::createCanonicalizerPass());
  fpm.addPass(createFuseConvRelu());
  return fpm;
}
} // namespace

void buildGraphPipeline(mlir::OpPassManager &pm) {
  mlir::OpPassManager &fpm = addShapesAndConvFusion(pm);
  fpm.addPass(createFuse1x1Chains());
  fpm.addPass(mlir::createCanonicalizerPass());
  fpm.addPass(mlir::createCSEPass());
}

void buildTrainGraphPipeline(mlir::OpPassManager &pm) {
  addShapesAndConvFusion(pm);
  pm.addPass(createAutodiff());
  mlir::OpPassManager &after = pm.nest<mlir::func::FuncOp>();
  after.addPass(mlir::createCanonicalizerPass());
  after.addPass(createFuse1x1Chains());
  after.addPass(mlir::createCSEPass());
}

void buildLinalgPipeline(mlir::OpPassManager &pm) {
  buildGraphPipeline(pm);
  pm.addPass(createNinToLinalgPass());
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

LinalgForms linalgFormsFor(const Target &target) {
  return target.isCuda() ? LinalgForms{} : LinalgForms::all();
}

void buildTrainLinalgPipeline(mlir::OpPassManager &pm, const LinalgForms &forms) {
  buildTrainGraphPipeline(pm);
  pm.addPass(createNinToLinalgPass(forms));
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

void buildCodegenPipeline(mlir::OpPassManager &pm, const Target &target,
                          const CodegenOptions &opts) {
  pm.addPass(codegen::createAttachTargetPass(target));
  if (target.isCuda()) {
    cuda::CudaOptions cudaOpts;
    cudaOpts.precision = opts.precision == "tf32"   ? cuda::Precision::TF32
                         : opts.precision == "bf16" ? cuda::Precision::BF16
                                                    : cuda::Precision::FP32;
    cudaOpts.printMemoryPlan = opts.printMemoryPlan;
    cudaOpts.ptxOnly = opts.ptxOnly;
    cuda::buildCudaCodegenPipeline(pm, target, cudaOpts);
    return;
  }
  cpu::CpuOptions cpuOpts;
  cpuOpts.threads = opts.threads;
  cpuOpts.schedule = opts.schedule;
  cpuOpts.bf16 = opts.precision == "bf16";
  cpuOpts.planMemory = true;
  cpuOpts.printMemoryPlan = opts.printMemoryPlan;
  cpuOpts.printSchedule = opts.printSchedule;
  cpuOpts.tuning = opts.tuning;
  cpu::buildCpuCodegenPipeline(pm, cpuOpts);
}

void registerAllDialects(mlir::DialectRegistry &registry) {
  registerGraphDialects(registry);
  cpu::registerCpuCodegenDialects(registry);
  cuda::registerCudaCodegenDialects(registry);
}

void registerGraphDialects(mlir::DialectRegistry &registry) {
  registry.insert<nin::NinDialect, mlir::func::FuncDialect>();
  registerNinToLinalgDialects(registry);
}

void registerNincPassesAndPipelines() {
  registerNinPasses();
  registerConversionPasses();
  codegen::registerCommonCodegenPasses();
  cpu::registerCpuCodegenPasses();
  cuda::registerCudaCodegenPasses();
  mlir::PassPipelineRegistration<>("nin-graph-opt",
                                   "The nin graph optimisations of `--emit=nin-opt`",
                                   buildGraphPipeline);
  mlir::PassPipelineRegistration<>("nin-train-graph",
                                   "The training graph of `--mode=train --emit=nin-opt`",
                                   buildTrainGraphPipeline);
  mlir::PassPipelineRegistration<>("nin-to-linalg-pipeline",
                                   "Graph optimisations, then nin -> linalg (`--emit=linalg`)",
                                   buildLinalgPipeline);
  mlir::PassPipelineRegistration<>("nin-train-to-linalg-pipeline",
                                   "Training graph, then nin -> linalg of both functions "
                                   "(`--mode=train --emit=linalg`)",
                                   [](mlir::OpPassManager &pm) {
                                     buildTrainLinalgPipeline(pm, LinalgForms::all());
                                   });
}

} // namespace ninc
