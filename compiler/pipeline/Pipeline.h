//===- compiler/pipeline/Pipeline.h - Pass pipelines per stage ----*- C++ -*-===//
//
// Pass pipelines as plain functions (as ONNX-MLIR does), shared by `ninc
// compile` and `ninc-opt` (registered there as named pipelines for lit).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_PIPELINE_PIPELINE_H
#define NINC_COMPILER_PIPELINE_PIPELINE_H

#include "compiler/conversion/NinToLinalg.h"
#include "compiler/target/Target.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace ninc {
namespace cpu {
struct ScheduleTuning;
}

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
/// `forms`: the IR forms the conversion emits (linalgFormsFor the target).
void buildTrainLinalgPipeline(mlir::OpPassManager &pm, const LinalgForms &forms = {});

/// The IR forms of nin -> linalg that `target`'s code generation prefers:
/// the CPU every form of LinalgForms (what its schedules tile best: one
/// loop over the weight-gradient groups, in-place ReLU gradients, argmax
/// pools, gathered pooling gradients); CUDA none (its kernels cover
/// all-parallel ops, one per op).
LinalgForms linalgFormsFor(const Target &target);

/// What the code generation is asked for beyond the Target.
struct CodegenOptions {
  int threads = 2;          ///< CPU: threads of the generated code.
  bool schedule = true;     ///< CPU: false, plain loops (debugging).
  /// "fp32"; "bf16" (CPU: vdpbf16ps, CUDA: tensor cores); "tf32" (CUDA).
  std::string precision = "fp32";
  bool printSchedule = false;   ///< CPU: each op's schedule to stderr.
  bool printMemoryPlan = false; ///< The arena of each function to stderr.
  bool ptxOnly = false;         ///< CUDA: kernels to PTX, no ptxas (--emit=ptx).
  cpu::ScheduleTuning *tuning = nullptr; ///< CPU: autotuning (Autotune.h).
};

/// ninc-attach-target for `target`, then that target's passes from linalg on
/// tensors to the llvm dialect (cpu::buildCpuCodegenPipeline or
/// cuda::buildCudaCodegenPipeline): appended to the same pass manager as the
/// graph and linalg stages, so every step is one pass of one pipeline.
void buildCodegenPipeline(mlir::OpPassManager &pm, const Target &target,
                          const CodegenOptions &opts);

/// Dialects the graph stage needs.
void registerGraphDialects(mlir::DialectRegistry &registry);

/// Dialects every stage through the llvm dialect needs, for any target.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers ninc's passes (graph, conversion, both targets') and named
/// pipelines (`nin-graph-opt`, `ninc-cpu-codegen`, ...) for ninc-opt.
void registerNincPassesAndPipelines();

} // namespace ninc

#endif // NINC_COMPILER_PIPELINE_PIPELINE_H
