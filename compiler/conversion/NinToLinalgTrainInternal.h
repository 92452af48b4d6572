//===- compiler/conversion/NinToLinalgTrainInternal.h - Training lowering -*- C++ -*-===//
//
// The training-step lowering's emitter (TrainStepLowering), whose methods
// are defined by op family: the driver, the new signature and the builders
// (NinToLinalgTrain.cpp), the loss and SGD update (NinToLinalgLoss.cpp),
// dropout (NinToLinalgDropout.cpp), the convolution and bias gradients
// (NinToLinalgConvGrad.cpp), the pooling and ReLU gradients
// (NinToLinalgPoolGrad.cpp). Internal to compiler/conversion; not a public
// API.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CONVERSION_NINTOLINALGTRAININTERNAL_H
#define NINC_COMPILER_CONVERSION_NINTOLINALGTRAININTERNAL_H

#include "compiler/conversion/NinToLinalg.h"
#include "compiler/conversion/NinToLinalgInternal.h"
#include "compiler/dialect/NinOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "llvm/ADT/DenseSet.h"

#include <limits>

namespace ninc::lowering {

/// A generic's body: the values to yield from its block arguments.
using BodyFn = llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::OpBuilder &,
                                                                 mlir::Location, mlir::ValueRange)>;

/// -kInf: what a maximum starts from and max pools pad with.
constexpr float kInf = std::numeric_limits<float>::infinity();

/// Terse arith builders for generic bodies (NinToLinalgTrain.cpp).
struct Arith {
  mlir::OpBuilder &b;
  mlir::Location loc;

  /// An f32 constant.
  mlir::Value f32(float v);
  /// An f64 constant.
  mlir::Value f64(double v);
  /// An i64 constant (the bits of `v`).
  mlir::Value i64(uint64_t v);
  /// An index constant.
  mlir::Value index(int64_t v);
  /// x + y (float).
  mlir::Value addf(mlir::Value x, mlir::Value y);
  /// x - y (float).
  mlir::Value subf(mlir::Value x, mlir::Value y);
  /// x * y (float).
  mlir::Value mulf(mlir::Value x, mlir::Value y);
  /// x / y (float).
  mlir::Value divf(mlir::Value x, mlir::Value y);
  /// x + y (integer, wrapping).
  mlir::Value addi(mlir::Value x, mlir::Value y);
  /// x * y (integer, wrapping).
  mlir::Value muli(mlir::Value x, mlir::Value y);
  /// x ^ y.
  mlir::Value xori(mlir::Value x, mlir::Value y);
  /// The i64 x >> s (logical).
  mlir::Value shrui(mlir::Value x, uint64_t s);
  /// x p y (float).
  mlir::Value cmpf(mlir::arith::CmpFPredicate p, mlir::Value x, mlir::Value y);
  /// c ? x : y.
  mlir::Value select(mlir::Value c, mlir::Value x, mlir::Value y);
  /// The ReLU gradient of one element: y > 0 ? dy : 0.
  mlir::Value reluMask(mlir::Value dy, mlir::Value y);
  /// f32 -> f64.
  mlir::Value extf(mlir::Value x);
  /// f64 -> f32.
  mlir::Value truncf(mlir::Value x);
  /// e^x.
  mlir::Value exp(mlir::Value x);
  /// ln x.
  mlir::Value log(mlir::Value x);
  /// The enclosing linalg op's index along loop dimension `dim`.
  mlir::Value loopIndex(int64_t dim);
  /// The i32 `label` equals loop dimension `dim`.
  mlir::Value isIndex(int64_t dim, mlir::Value label);
  /// The i32 `label` names a class (>= 0): not a padded row's ignore label.
  mlir::Value counts(mlir::Value label);
  /// SplitMix64's finaliser on i64, as runtime/support/Random.h's mix64.
  mlir::Value mix64(mlir::Value z);
};

/// The shape of a ranked tensor value.
llvm::SmallVector<int64_t> shapeOf(mlir::Value v);

/// NCHW type -> NHWC shape (other ranks unchanged).
llvm::SmallVector<int64_t> nhwcShape(mlir::Type nchw);

/// Index attributes of `values` (static offsets, sizes, strides).
llvm::SmallVector<mlir::OpFoldResult> indexAttrs(mlir::OpBuilder &b,
                                                 llvm::ArrayRef<int64_t> values);

/// A 1x1 window with stride 1 and no padding: its convolution is a matmul.
bool isPointwise(llvm::ArrayRef<int64_t> kernel, llvm::ArrayRef<int64_t> stride,
                 llvm::ArrayRef<int64_t> padding);

/// Lowers one @<model>_train_step (NinToLinalgTrain.h) op by op, in the
/// forms `forms` selects.
class TrainStepLowering : public NhwcEmitter {
public:
  /// Lowers `src` in `forms`.
  TrainStepLowering(mlir::func::FuncOp src, const LinalgForms &forms)
      : NhwcEmitter(src.getContext()), src_(src), forms_(forms) {}

  /// The runtime function the step calls with the gradients (gradSync).
  static constexpr const char *kGradSync = "ninc_grad_sync";

  /// Replaces src by its lowering (NinToLinalgTrain.cpp).
  mlir::LogicalResult run();

private:
  // The driver (NinToLinalgTrain.cpp).
  /// Lowers one op of the body and maps its results.
  mlir::LogicalResult lower(mlir::Operation *op);
  /// The blob's slot [offset, offset + numel) = value.
  void copyIntoBlob(mlir::Location loc, mlir::Value value, mlir::Value blob, int64_t offset);
  /// LinalgForms::gradSync, before the first update: every SGD update's
  /// gradient copied into one buffer in the weights' layout (`slots`), the
  /// call ninc_grad_sync(buffer, blobSize), and the gradients remapped to
  /// the buffer's slots.
  void syncGradients(mlir::Location loc, mlir::Block &body, llvm::ArrayRef<rt::ParamSlot> slots,
                     int64_t blobSize);

  // Loss, update and dropout (NinToLinalgLoss.cpp, NinToLinalgDropout.cpp).
  /// Maps the loss and the logits' gradient of a softmax cross-entropy.
  void lowerLoss(mlir::Location loc, nin::SoftmaxCrossEntropyOp op);
  /// Maps the new parameter and velocity of one SGD update.
  void lowerSgd(mlir::Location loc, nin::SgdUpdateOp op);
  /// The training dropout's output, with the interpreter's mask.
  mlir::Value lowerDropout(mlir::Location loc, nin::DropoutTrainOp op);

  // Convolution and bias gradients (NinToLinalgConvGrad.cpp).
  /// A ReLU gradient folded into its consumers: (dy, y) instead of dz.
  struct Masked {
    mlir::Value dy, y;
    /// Whether the gradient is folded (dy set).
    explicit operator bool() const { return bool(dy); }
  };
  /// The (dy, y) of `grad` when it is a folded ReLU gradient, else null.
  Masked maskedGrad(mlir::Value grad) const { return folded_.lookup(grad); }
  /// The bias gradient of `grad` (a nin value, maybe a folded ReLU gradient).
  mlir::Value lowerBiasGrad(mlir::Location loc, mlir::Value grad);
  /// The weight gradient, in groups of images.
  mlir::Value lowerConvGradFilter(mlir::Location loc, nin::Conv2DGradFilterOp op);
  /// The input gradient: a convolution of the dilated dz with the flipped
  /// filter (a matmul for 1x1).
  mlir::Value lowerConvGradInput(mlir::Location loc, nin::Conv2DGradInputOp op);
  /// x's values with the mask y > 0 applied when `y` is set (elementwise,
  /// `perm` as linalg.transpose's), into a new tensor of the permuted shape.
  mlir::Value maskPermuted(mlir::Location loc, mlir::Value x, mlir::Value y,
                           llvm::ArrayRef<int64_t> perm);
  /// x[first : first + sizes[0], :sizes[1], :sizes[2], :sizes[3]] of an
  /// NHWC tensor (the whole tensor when that is all of it).
  mlir::Value imageSlice(mlir::Location loc, mlir::Value x, mlir::OpFoldResult first,
                         llvm::ArrayRef<int64_t> sizes);
  /// Tags the op computing `dw` as a weight gradient; returns dw.
  mlir::Value markWeightGradient(mlir::Value dw);
  /// acc = body(first image of group i, acc) for the `groups` groups of
  /// `images` images: one scf.for (one copy of the code) in the
  /// weightGradGroupLoop form, else unrolled.
  mlir::Value overGroups(mlir::Location loc, int64_t groups, int64_t images, mlir::Value init,
                         llvm::function_ref<mlir::Value(mlir::OpFoldResult first,
                                                        mlir::Value acc)> body);

  // Pooling and ReLU gradients (NinToLinalgPoolGrad.cpp).
  /// Maps a ReLU gradient's result (masked where dy is made, or folded into
  /// its readers).
  void lowerReluGrad(mlir::Location loc, nin::ReluGradOp op);
  /// dz = y > 0 ? dy : 0, written over dy.
  mlir::Value reluGradOverDy(mlir::Location loc, nin::ReluGradOp op);
  /// The global average pool's gradient, dy broadcast over H, W.
  mlir::Value lowerGlobalAvgPoolGrad(mlir::Location loc, nin::GlobalAvgPoolGradOp op);
  /// Flatten's gradient: back to NHWC.
  mlir::Value lowerUnflatten(mlir::Location loc, nin::UnflattenOp op);
  /// The max pool's gradient: dy to each window's first maximum.
  mlir::Value lowerMaxPoolGrad(mlir::Location loc, nin::MaxPool2DGradOp op);
  /// The forward max pool in the maxPoolArgmax form.
  mlir::Value lowerMaxPoolForward(mlir::Location loc, nin::MaxPool2DOp op);
  /// (max, argmax) of every window of the padded `xp`, in one generic.
  std::pair<mlir::Value, mlir::Value> maxPoolArgmax(mlir::Location loc, mlir::Value xp,
                                                    llvm::ArrayRef<int64_t> kernel,
                                                    llvm::ArrayRef<int64_t> stride,
                                                    llvm::ArrayRef<int64_t> windows);
  /// The average pool's gradient: dy / (KH * KW) to every window element.
  mlir::Value lowerAvgPoolGrad(mlir::Location loc, nin::AvgPool2DGradOp op);

  /// A pooling gradient's contribution of window tap `tap` (an index value:
  /// a constant in the scatter, computed in the gather) to `args.back()`.
  using TapFn = llvm::function_ref<mlir::Value(Arith &, mlir::Value tap, mlir::ValueRange args)>;
  /// dx of a pooling, one window tap at a time.
  mlir::Value scatterTaps(mlir::Location loc, llvm::ArrayRef<int64_t> kernel,
                          llvm::ArrayRef<int64_t> stride, llvm::ArrayRef<int64_t> padding,
                          llvm::ArrayRef<int64_t> dxShape, mlir::ValueRange ins, TapFn add);
  /// dx of a pooling, gathered per stride class (poolGradGather).
  mlir::Value gatherTaps(mlir::Location loc, llvm::ArrayRef<int64_t> kernel,
                         llvm::ArrayRef<int64_t> stride, llvm::ArrayRef<int64_t> padding,
                         llvm::ArrayRef<int64_t> dxShape, mlir::ValueRange ins,
                         llvm::ArrayRef<mlir::TypedAttr> fills, TapFn add,
                         mlir::Value reluOutput = {});
  /// The ReLU output whose mask a pooling gradient's gather can apply (its
  /// only user is that ReLU's gradient, and dx needs no crop), else null;
  /// then the pooling gradient's result is in premasked_.
  mlir::Value fusableReluMask(mlir::Operation *poolGrad, llvm::ArrayRef<int64_t> stride,
                              llvm::ArrayRef<int64_t> padding);
  /// The [N, OH, OW, C] slice padded[:, i::s, j::s, :] of window tap (i, j).
  mlir::Value tapSlice(mlir::Location loc, mlir::Value padded, int64_t i, int64_t j,
                       llvm::ArrayRef<int64_t> stride, llvm::ArrayRef<int64_t> shape);

  // Builders (NinToLinalgTrain.cpp).
  /// A new tensor of `shape` (f32 unless `elem`), contents undefined.
  mlir::Value empty(mlir::Location loc, llvm::ArrayRef<int64_t> shape, mlir::Type elem = {});
  /// A new tensor of `shape` filled with `value` (of its type).
  mlir::Value full(mlir::Location loc, llvm::ArrayRef<int64_t> shape, mlir::TypedAttr value);
  /// x collapsed or expanded to `shape` by `groups`.
  mlir::Value reshape(mlir::Location loc, mlir::Value x, llvm::ArrayRef<int64_t> shape,
                      llvm::ArrayRef<mlir::ReassociationIndices> groups);
  /// [M, K] x [K, N] -> [M, N], accumulating into `init` (zeros when null).
  mlir::Value matmul(mlir::Location loc, mlir::Value a, mlir::Value b, mlir::Value init = {});
  /// Stride-1 conv_2d_nhwc_hwcf with `dilation`, accumulating into `init`
  /// (zeros when null).
  mlir::Value conv(mlir::Location loc, mlir::Value x, mlir::Value w,
                   llvm::ArrayRef<int64_t> outShape, llvm::ArrayRef<int64_t> dilation,
                   mlir::Value init = {});
  /// A linalg.generic yielding body's values into `outs`; its results.
  llvm::SmallVector<mlir::Value> generic(mlir::Location loc, mlir::ValueRange ins,
                                         mlir::ValueRange outs,
                                         llvm::ArrayRef<mlir::AffineMap> maps,
                                         llvm::ArrayRef<mlir::utils::IteratorType> iters,
                                         BodyFn body);
  /// All-parallel generic with identity maps over the shape of outs[0].
  llvm::SmallVector<mlir::Value> elementwise(mlir::Location loc, mlir::ValueRange ins,
                                             mlir::ValueRange outs, BodyFn body);

  mlir::func::FuncOp src_;
  LinalgForms forms_;
  /// The step's `first_image` argument (i64), which dropout offsets by.
  mlir::Value firstImage_;
  /// The ReLU gradients (nin values) folded into their readers.
  llvm::DenseMap<mlir::Value, Masked> folded_;
  /// The argmax of each forward max pool (maxPoolArgmax form), by the
  /// pool's input.
  struct PoolTap {
    mlir::Value tap;
    llvm::SmallVector<int64_t> kernel, stride, padding;
  };
  llvm::DenseMap<mlir::Value, PoolTap> poolTaps_;
  /// Pooling gradients (nin values) that already carry their ReLU mask.
  llvm::DenseSet<mlir::Value> premasked_;
};

} // namespace ninc::lowering

#endif // NINC_COMPILER_CONVERSION_NINTOLINALGTRAININTERNAL_H
