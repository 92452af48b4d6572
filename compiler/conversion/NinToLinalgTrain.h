//===- compiler/conversion/NinToLinalgTrain.h - Training step -> linalg -*- C++ -*-===//
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
#ifndef NINC_COMPILER_CONVERSION_NINTOLINALGTRAIN_H
#define NINC_COMPILER_CONVERSION_NINTOLINALGTRAIN_H

#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace ninc {

/// Set on the conv / matmul computing a weight gradient (one per group).
constexpr const char *kWeightGradientAttr = attr::kWeightGrad;

struct TrainLoweringOptions {
  /// The training step in the forms the CPU backend schedules best (off: the
  /// forms the CUDA backend maps, whose kernels cover all-parallel ops):
  /// - the weight gradients' per-group convolutions as one scf.for over the
  ///   groups instead of one copy of the code a group (a seventh of the code
  ///   to compile), the 1x1 ones as matmul_transpose_a reading the
  ///   activations in place instead of transpose + matmul;
  /// - ReLU gradients in place instead of folded into their readers (the
  ///   masked transposes and two-input bias reductions cost more than the
  ///   one pass they save: 24 -> 2.8 ms for block1.0's bias gradient), on a
  ///   1x1 conv's input-gradient matmul rows (fused as its epilogue) or
  ///   inside the pooling gradient's gather;
  /// - the forward max pool as one (max, argmax) generic, the argmax kept
  ///   for the gradient, instead of one elementwise pass a window tap;
  /// - pooling gradients gathered per stride class (each dx element written
  ///   once) instead of scattered one window tap at a time.
  bool cpuForms = false;
};

/// Replaces the nin function `trainStep` by its linalg lowering (same name).
mlir::LogicalResult lowerTrainStep(mlir::func::FuncOp trainStep,
                                   const TrainLoweringOptions &opts = {});

} // namespace ninc

#endif // NINC_COMPILER_CONVERSION_NINTOLINALGTRAIN_H
