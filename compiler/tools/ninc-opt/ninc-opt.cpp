//===- compiler/tools/ninc-opt/ninc-opt.cpp - mlir-opt for ninc -----------===//
//
// mlir-opt with the nin dialect, ninc's passes (graph, conversion, both
// targets' code generation) and its named pipelines, for lit tests and for
// looking at what a pass does:
//   ninc-opt --nin-infer-shapes --nin-fuse-conv-relu input.mlir
//   ninc-opt --ninc-attach-target=cpu=znver3 --ninc-cpu-codegen linalg.mlir
//
//===----------------------------------------------------------------------===//

#include "compiler/pipeline/Pipeline.h"

#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  ninc::registerAllDialects(registry);
  ninc::registerNincPassesAndPipelines();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "ninc-opt\n", registry));
}
