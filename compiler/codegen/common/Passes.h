//===- compiler/codegen/common/Passes.h - Passes both targets run -*- C++ -*-===//
//
// The code-generation steps both targets share, as passes of the one pass
// manager (so `--print-ir-after-all` and `ninc-opt` reach them), and the pass
// list from bufferized loops to the llvm dialect.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_COMMON_PASSES_H
#define NINC_COMPILER_CODEGEN_COMMON_PASSES_H

#include "compiler/target/Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <memory>

namespace ninc::codegen {

#define GEN_PASS_DECL
#include "compiler/codegen/common/Passes.h.inc"

/// ninc-attach-target with a Target already made (by the driver).
std::unique_ptr<mlir::Pass> createAttachTargetPass(const Target &target);

/// How bufferized code becomes the llvm dialect.
struct LoopsToLLVMOptions {
  /// Threads of the parallel loops; 1: foralls become sequential loops and
  /// no OpenMP is generated.
  int threads = 1;
  /// Linalg ops left after bufferization become scf.parallel (unscheduled
  /// code with threads > 1) instead of sequential loops.
  bool parallelLinalg = false;
};

/// Buffers -> [deallocation] -> loops -> [OpenMP] -> llvm dialect with
/// bare-pointer calling convention (the named pipeline ninc-loops-to-llvm).
void buildLoopsToLLVMPipeline(mlir::OpPassManager &pm, const LoopsToLLVMOptions &opts);

/// The common tail after bufferization: strided copies rewritten, buffers
/// hoisted out of loops, the memory plan, then buildLoopsToLLVMPipeline.
void buildBufferizedToLLVMPipeline(mlir::OpPassManager &pm, const LoopsToLLVMOptions &opts,
                                   bool memoryReport);

/// Registers the passes above and the pipeline for `ninc-opt`.
void registerCommonCodegenPasses();

} // namespace ninc::codegen

#endif // NINC_COMPILER_CODEGEN_COMMON_PASSES_H
