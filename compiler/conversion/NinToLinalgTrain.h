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
//                           uint64_t seed, uint64_t step, uint64_t first_image,
//                           float *loss /*[1]*/, float *logits /*[N,K]*/);
//
// (the CPU backend appends `uint8_t *arena`). `first_image` is the index of
// the batch's first image in the global batch of data-parallel training (0
// alone): dropout masks are drawn by global image index, so N ranks at batch
// B drop what one process at batch N*B drops. With LinalgForms::gradSync the
// step calls `void ninc_grad_sync(float *grads, int64_t count)` between the
// backward and the update, on every gradient in the weights' layout; the
// update uses what the call leaves there. `weights` and `velocity` have
// the layout of @<model>_infer's blob (its `nin.params` table, also set on
// this function). Every read of the old parameters and velocities happens
// before the new values are copied into the blobs, at the very end. Where a
// computation has several IR forms, LinalgForms (NinToLinalg.h) picks one.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CONVERSION_NINTOLINALGTRAIN_H
#define NINC_COMPILER_CONVERSION_NINTOLINALGTRAIN_H

#include "compiler/conversion/NinToLinalg.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace ninc {

/// Replaces the nin function `trainStep` by its linalg lowering (same name),
/// in `forms`.
mlir::LogicalResult lowerTrainStep(mlir::func::FuncOp trainStep, const LinalgForms &forms = {});

} // namespace ninc

#endif // NINC_COMPILER_CONVERSION_NINTOLINALGTRAIN_H
