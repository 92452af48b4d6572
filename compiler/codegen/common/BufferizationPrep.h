//===- compiler/codegen/common/BufferizationPrep.h - Before bufferization -*- C++ -*-===//
//
// Target-independent rewrites of the linalg-on-tensors module that both
// backends run before their schedules and one-shot bufferization, so that
// outputs are written in place and every accumulator gets its own buffer.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_COMMON_BUFFERIZATIONPREP_H
#define NINC_COMPILER_CODEGEN_COMMON_BUFFERIZATIONPREP_H

namespace mlir {
class ModuleOp;
}

namespace ninc::codegen {

/// Rewrites `materialize_in_destination(tensor.expand_shape/collapse_shape(x))
/// in %out` into a materialization of `x` in the reshaped memref, so empty
/// tensor elimination can write the producer straight into %out.
void sinkOutputReshapes(mlir::ModuleOp module);

/// One `linalg.fill` (and `tensor.empty`) per use, placed right before it, so
/// that bufferization writes each op's accumulator in place instead of
/// copying a shared zero buffer (CSE merges the identical fills).
void unshareFillInits(mlir::ModuleOp module);

} // namespace ninc::codegen

#endif // NINC_COMPILER_CODEGEN_COMMON_BUFFERIZATIONPREP_H
