//===- compiler/conversion/NinToLinalg.h - nin -> linalg (NHWC) -----*- C++ -*-===//
//
// Lowers each `nin` function (after the graph passes: static shapes, fused
// ops) to upstream linalg/tensor ops on NHWC activations and HWCF filters,
// in the destination-passing form the backends take:
//
//   func.func @<model>_infer(%input: memref<NxCxHxW>, %weights: memref<Pxf32>,
//                            %logits: memref<NxK>)
//
// so every model has the same C ABI, void f(const float *input, const float
// *weights, float *logits). Inputs are read with `bufferization.to_tensor
// restrict`, the result written with `bufferization.materialize_in_destination
// ... restrict writable`. `weights` is one blob holding every parameter at a
// static 64-byte aligned offset; convolution weights are packed HWCF
// ([KH, KW, C, F]; the runtime repacks the spec's OIHW once at load time),
// biases [F]. The function attribute `nin.params` lists each parameter's
// name, offset, spec shape and layout: the runtime's descriptor is made from
// it. A 1-channel NCHW input is already NHWC in memory, so the common case
// has no per-batch layout conversion. Functions named *_train_step (from
// nin-autodiff) get the training ABI of NinToLinalgTrain.h, with the same
// blob layout.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CONVERSION_NINTOLINALG_H
#define NINC_COMPILER_CONVERSION_NINTOLINALG_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace ninc {

/// The pass `nin-to-linalg` (module level: it rewrites function signatures).
/// cpuForms: the training step in the CPU backend's forms
/// (TrainLoweringOptions::cpuForms, NinToLinalgTrain.h).
std::unique_ptr<mlir::Pass> createNinToLinalgPass(bool cpuForms = false);

/// Dialects the lowered IR uses.
void registerNinToLinalgDialects(mlir::DialectRegistry &registry);

void registerNinToLinalgPass();

} // namespace ninc

#endif // NINC_COMPILER_CONVERSION_NINTOLINALG_H
