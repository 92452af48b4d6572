//===- compiler/lowering/NinToLinalgTrain.h - Training step -> linalg -*- C++ -*-===//
//
// Lowers @<model>_train_step (made by nin-autodiff, after the graph passes)
// to linalg on NHWC tensors, in the destination-passing form of
// NinToLinalg.h, with the C ABI
//
//   void <model>_train_step(const float *input /*[N,C,H,W]*/,
//                           const int32_t *labels /*[N]*/,
//                           float *weights, float *velocity, /*blobs, in place*/
//                           const float *hyper /*{lr, momentum, weight_decay}*/,
//                           uint64_t seed, uint64_t step,
//                           float *loss /*[1]*/, float *logits /*[N,K]*/);
//
// (the CPU backend appends `uint8_t *arena`). `weights` and `velocity` have
// the layout of @<model>_infer's blob (its `nin.params` table, also set on
// this function). Every read of the old parameters and velocities happens
// before the new values are copied into the blobs, at the very end.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_LOWERING_NINTOLINALGTRAIN_H
#define NINC_COMPILER_LOWERING_NINTOLINALGTRAIN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace ninc {

/// Set on the conv / matmul computing a weight gradient (one per group).
constexpr const char *kWeightGradientAttr = "nin.weight_grad";

struct TrainLoweringOptions {
  /// The weight gradients' per-group convolutions (and their transposes) as
  /// one scf.for over the groups instead of one copy of the code per group
  /// (the CPU backend's choice: a seventh of the code to compile).
  bool rollGradGroups = false;
  /// Max-pool gradients find each window's first maximum in one pass (a
  /// generic reducing the window; the CPU backend's choice: the CUDA one
  /// maps only all-parallel ops) instead of one elementwise pass a tap.
  bool onePassPoolArgmax = false;
  /// A ReLU gradient whose only readers are non-1x1 convolution gradients
  /// and bias gradients is folded into them (each reads dy and y and applies
  /// the mask) instead of written once in place. Off in the CPU forms: there
  /// the masked transposes and the two-input bias reductions cost more than
  /// the one in-place pass they save (measured: 24 -> 2.8 ms for block1.0's
  /// bias gradient, 1427 -> 1407 ms a training step).
  bool foldReluGrad = true;
  /// Pooling gradients gathered per stride class (each dx element written
  /// once) instead of scattered one window tap at a time (the CPU forms).
  bool gatherPoolGrad = false;
  /// A ReLU gradient of a 1x1 conv's input gradient masks the matmul's
  /// [NHW, C] rows (the CPU schedule's epilogue) instead of the NHWC view.
  bool reluGradOnMatmulRows = false;
};

/// Replaces the nin function `trainStep` by its linalg lowering (same name).
mlir::LogicalResult lowerTrainStep(mlir::func::FuncOp trainStep,
                                   const TrainLoweringOptions &opts = {});

} // namespace ninc

#endif // NINC_COMPILER_LOWERING_NINTOLINALGTRAIN_H
