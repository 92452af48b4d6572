//===- compiler/pipeline/Pipeline.h - Pass pipelines per stage ----*- C++ -*-===//
//
// Pass pipelines as plain functions (as ONNX-MLIR does), shared by `ninc
// compile` and `ninc-opt` (registered there as named pipelines for lit).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_PIPELINE_PIPELINE_H
#define NINC_COMPILER_PIPELINE_PIPELINE_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

namespace ninc {

/// The `nin` graph optimisations, in order: shape inference, canonicalise
/// (dropout folds away in inference), conv+bias+ReLU fusion, 1x1-chain
/// fusion, canonicalise + CSE. Its output is what `--emit=nin-opt` prints.
void buildGraphPipeline(mlir::OpPassManager &pm);

/// The graph pipeline for training: shape inference, canonicalise,
/// conv+ReLU fusion, nin-autodiff (adds @m_train_step and switches @m_infer's
/// dropout to inference), then canonicalise, 1x1-chain fusion (it applies
/// where values have one user, i.e. in @m_infer) and CSE.
void buildTrainGraphPipeline(mlir::OpPassManager &pm);

/// Graph pipeline, then nin -> linalg on NHWC tensors in destination-passing
/// form (what `--emit=linalg` prints and the backends take).
void buildLinalgPipeline(mlir::OpPassManager &pm);

/// The training graph pipeline, then nin -> linalg of both functions
/// (`--mode=train --emit=linalg`): @m_infer as buildLinalgPipeline lowers
/// it, @m_train_step as compiler/conversion/NinToLinalgTrain.h describes.
/// cpuForms: the training step in the CPU backend's forms (NinToLinalg.h).
void buildTrainLinalgPipeline(mlir::OpPassManager &pm, bool cpuForms = false);

/// Dialects the graph stage needs.
void registerGraphDialects(mlir::DialectRegistry &registry);

/// Registers ninc's passes and named pipelines (`nin-graph-opt`) for ninc-opt.
void registerNincPassesAndPipelines();

} // namespace ninc

#endif // NINC_COMPILER_PIPELINE_PIPELINE_H
