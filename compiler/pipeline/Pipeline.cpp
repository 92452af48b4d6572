//===- compiler/pipeline/Pipeline.cpp - Pass pipelines per stage ----------===//

#include "compiler/pipeline/Pipeline.h"
#include "compiler/dialect/NinOps.h"
#include "compiler/conversion/NinToLinalg.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace ninc {

void buildGraphPipeline(mlir::OpPassManager &pm) {
  mlir::OpPassManager &fpm = pm.nest<mlir::func::FuncOp>();
  fpm.addPass(createInferShapes());
  fpm.addPass(mlir::createCanonicalizerPass());
  fpm.addPass(createFuseConvRelu());
  fpm.addPass(createFuse1x1Chains());
  fpm.addPass(mlir::createCanonicalizerPass());
  fpm.addPass(mlir::createCSEPass());
}

void buildTrainGraphPipeline(mlir::OpPassManager &pm) {
  mlir::OpPassManager &fpm = pm.nest<mlir::func::FuncOp>();
  fpm.addPass(createInferShapes());
  fpm.addPass(mlir::createCanonicalizerPass());
  fpm.addPass(createFuseConvRelu());
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

void buildTrainLinalgPipeline(mlir::OpPassManager &pm, bool cpuForms) {
  buildTrainGraphPipeline(pm);
  pm.addPass(createNinToLinalgPass(cpuForms));
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

void registerGraphDialects(mlir::DialectRegistry &registry) {
  registry.insert<nin::NinDialect, mlir::func::FuncDialect>();
  registerNinToLinalgDialects(registry);
}

void registerNincPassesAndPipelines() {
  registerNinPasses();
  registerNinToLinalgPass();
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
                                     buildTrainLinalgPipeline(pm, /*cpuForms=*/true);
                                   });
}

} // namespace ninc
