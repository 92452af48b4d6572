//===- compiler/conversion/NinToLinalgInternal.h - Shared NHWC emitter -*- C++ -*-===//
//
// What the inference lowering (NinToLinalg.cpp) and the training-step
// lowering (NinToLinalgTrain*.cpp) share: the weights-blob layout and an
// emitter of NHWC linalg ops for the forward nin ops (NinToLinalgForward.cpp).
// Internal to compiler/conversion; not a public API.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CONVERSION_NINTOLINALGINTERNAL_H
#define NINC_COMPILER_CONVERSION_NINTOLINALGINTERNAL_H

#include "runtime/program/Descriptor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <vector>

namespace ninc::lowering {

/// Shape of a parameter as the kernels want it: conv weights OIHW -> HWCF,
/// everything else unchanged.
llvm::SmallVector<int64_t> packedShape(llvm::ArrayRef<int64_t> specShape);

/// The blob slots of `func`'s parameter arguments [first, first + count), in
/// order, by rt::layoutBlob's rule (names from their `nin.param`
/// attributes, shapes as in the spec); `blobSize` receives the blob's size
/// in floats.
std::vector<rt::ParamSlot> layoutParams(mlir::func::FuncOp func, unsigned first,
                                        unsigned count, int64_t &blobSize);

/// The `nin.params` table of `slots`, for the runtime's descriptor: one
/// dictionary per parameter {name, offset, shape (as in the spec), layout}.
mlir::ArrayAttr paramTable(mlir::MLIRContext *ctx, llvm::ArrayRef<rt::ParamSlot> slots);

/// Emits linalg on NHWC tensors for nin values, keeping the map from each
/// nin value to its NHWC tensor. Subclasses lower one kind of function.
class NhwcEmitter {
public:
  /// An emitter building in `ctx` (no insertion point yet).
  explicit NhwcEmitter(mlir::MLIRContext *ctx) : b_(ctx) {}

protected:
  // Types and layouts.
  /// The f32 tensor type of `shape`.
  mlir::RankedTensorType tensor(llvm::ArrayRef<int64_t> shape);
  /// blob[offset : offset + numel] viewed as a tensor of `shape`.
  mlir::Value paramView(mlir::Location loc, mlir::Value blob, int64_t offset,
                        llvm::ArrayRef<int64_t> shape);
  /// NCHW batch -> NHWC: a reshape when C == 1, else a transpose.
  mlir::Value inputToNhwc(mlir::Value nchw);
  /// NHWC -> NCHW (a transpose).
  mlir::Value nhwcToNchw(mlir::Location loc, mlir::Value x);
  /// `x` transposed: result dim i is x's dim perm[i].
  mlir::Value transpose(mlir::Location loc, mlir::Value x, llvm::ArrayRef<int64_t> perm);

  // Small builders.
  /// An f32 constant.
  mlir::Value constant(mlir::Location loc, float v);
  /// A new f32 tensor of `shape` filled with `v`.
  mlir::Value filled(mlir::Location loc, llvm::ArrayRef<int64_t> shape, float v);
  /// Pads H and W of an NHWC tensor with `value` on both sides.
  mlir::Value padHW(mlir::Location loc, mlir::Value x, llvm::ArrayRef<int64_t> pad, float value);
  /// out[..., f] = max(out[..., f] + bias[f], 0) (bias and/or relu
  /// optional), in place on `x` (rank r, channels last).
  mlir::Value epilogue(mlir::Location loc, mlir::Value x, mlir::Value bias, bool relu);
  /// x * s elementwise, in place.
  mlir::Value scale(mlir::Location loc, mlir::Value x, float s);
  /// A fresh tensor holding x (so an in-place epilogue does not clobber a
  /// value that is used elsewhere).
  mlir::Value copyOf(mlir::Location loc, mlir::Value x);

  /// Lowers one forward (inference) nin op and maps its result; an error
  /// for any other op.
  mlir::LogicalResult lowerForward(mlir::Operation *op);

  mlir::OpBuilder b_;
  /// Each nin value's NHWC tensor (or other lowered value).
  llvm::DenseMap<mlir::Value, mlir::Value> map_;

private:
  /// conv2d: pad? + fill + conv_2d_nhwc_hwcf + epilogue(bias, relu).
  mlir::Value lowerConv(mlir::Location loc, mlir::Operation *op);
  /// pointwise_mlp: per layer, [N*H*W, C] x [C, F] matmul + epilogue.
  mlir::Value lowerMlp(mlir::Location loc, mlir::Operation *op);
  /// max/avg pool: pad? + fill + pooling_nhwc_max/sum (+ scale).
  mlir::Value lowerPool(mlir::Location loc, mlir::Value input, llvm::ArrayRef<int64_t> kernel,
                        llvm::ArrayRef<int64_t> stride, llvm::ArrayRef<int64_t> padding,
                        mlir::Type resultNchw, bool isMax);
  /// [N, H, W, C] -> mean over H, W -> [N, 1, 1, C].
  mlir::Value lowerGlobalAvgPool(mlir::Location loc, mlir::Value x);
  /// NHWC [N, H, W, C] -> [N, C*H*W] in NCHW order.
  mlir::Value lowerFlatten(mlir::Location loc, mlir::Value x);
};

} // namespace ninc::lowering

#endif // NINC_COMPILER_CONVERSION_NINTOLINALGINTERNAL_H
