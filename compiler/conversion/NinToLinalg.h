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
// static 64-byte aligned offset (rt::layoutBlob's rule); convolution weights
// are packed HWCF ([KH, KW, C, F]; the runtime repacks the spec's OIHW once
// at load time), biases [F]. The function attribute `nin.params` lists each
// parameter's name, offset, spec shape and layout: the runtime's descriptor
// is made from it. A 1-channel NCHW input is already NHWC in memory, so the
// common case has no per-batch layout conversion. Training steps (from
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

/// The IR forms the lowering can choose between where one computation has
/// several (all of them in the training step). Each field names the form it
/// selects; off, the default, is the other form. The CPU backend schedules
/// the "on" forms best; the CUDA backend maps the "off" ones, whose kernels
/// cover all-parallel ops. Every combination is correct and computes the
/// same values.
struct LinalgForms {
  /// The weight gradients' per-group convolutions (matmuls for 1x1) as one
  /// scf.for over the groups of images, instead of one copy of the code per
  /// group (a seventh of the code to compile).
  bool weightGradGroupLoop = false;
  /// 1x1 weight gradients as linalg.matmul_transpose_a reading the
  /// activations in place, instead of a linalg.transpose + linalg.matmul.
  bool weightGradMatmulTransposeA = false;
  /// ReLU gradients applied to dy where it is made: in place over dy, as an
  /// epilogue on the rows of a 1x1 input gradient's matmul, or inside a
  /// pooling gradient's gather (with poolGradGather); instead of folded
  /// into the readers of a k x k convolution's dz (the weight gradient's
  /// per-group transposes, the bias gradient's reduction, the input
  /// gradient's canvas).
  bool reluGradInPlace = false;
  /// Max pools as one (max, argmax) linalg.generic whose argmax the pool's
  /// gradient reads, instead of linalg.pooling_nhwc_max forward and one
  /// elementwise argmax pass per window tap in the gradient.
  bool maxPoolArgmax = false;
  /// Pooling gradients gathered per stride class (one all-parallel generic,
  /// each dx element written once), instead of scattered one window tap at
  /// a time.
  bool poolGradGather = false;
  /// Not a form of a computation but a call-out: between the backward and
  /// the update the gradients are gathered into one buffer in the weights'
  /// layout and passed to the runtime's `ninc_grad_sync(float *, int64_t)`
  /// (data-parallel training averages them across ranks there; a lone
  /// process returns at once), and the update reads them back from it.
  bool gradSync = false;

  /// Every form on.
  static LinalgForms all();
};

/// The pass `nin-to-linalg` (module level: it rewrites function signatures),
/// emitting `forms`.
std::unique_ptr<mlir::Pass> createNinToLinalgPass(const LinalgForms &forms = {});

/// Dialects the lowered IR uses.
void registerNinToLinalgDialects(mlir::DialectRegistry &registry);

/// Registers `nin-to-linalg` (one option per LinalgForms field) for
/// ninc-opt.
void registerConversionPasses();

} // namespace ninc

#endif // NINC_COMPILER_CONVERSION_NINTOLINALG_H
