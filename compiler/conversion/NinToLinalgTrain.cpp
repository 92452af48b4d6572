//===- compiler/conversion/NinToLinalgTrain.cpp - Training step -> linalg ---===//
//
// The training ops of @<model>_train_step on NHWC tensors (the forward ops go
// through the inference emitter, NinToLinalgInternal.h). Shapes below are
// NHWC activations, HWCF filters:
//
//   softmax_cross_entropy -> row max, sum of exp and the label's logit in f64,
//                            log-sum-exp, mean; grad = (softmax - onehot) / N
//   relu_grad             -> an elementwise generic in place over dy; without
//                            the CPU forms, folded into its consumers after a
//                            k x k conv (the weight gradient's per-group
//                            transposes, the bias gradient's reduction, the
//                            input gradient's canvas read dy and y)
//   sgd_update            -> elementwise generic (PyTorch's formula, velocity
//                            unchanged when momentum == 0)
//   dropout_train         -> elementwise generic with SplitMix64 on i64: the
//                            interpreter's mask for the NCHW index of each element
//   bias_grad             -> f64 reduction over N, H, W
//   global_avg_pool_grad  -> broadcast of dy / (H*W);  unflatten -> reshape
//                            (+ transpose from NCHW order when H*W > 1)
//   conv2d_grad_filter    -> conv_2d_nhwc_hwcf with dilation = stride on
//                            operands transposed per group of images g:
//       out[c, kh, kw, f] += sum_{oh, ow, n in g} xpad_g^T[c, kh + oh*s, kw + ow*s, n]
//                                                 * dz_g^T[oh, ow, n, f]
//                            (1x1, stride 1, no padding: sum_g x_g^T [C, gHW] x
//                            dz_g [gHW, F])
//   conv2d_grad_input     -> dz dilated by the stride on a zero canvas padded by
//                            K-1-p, then conv_2d_nhwc_hwcf with the flipped,
//                            C/F-swapped filter (1x1: dz [NHW, F] x w^T [F, C])
//   max/avg_pool2d_grad   -> one elementwise generic per window tap (i, j) on
//                            the strided slice xpad[:, i::s, j::s, :]: the first
//                            maximum (strict >, taps in row-major order) picks
//                            the tap, then dy is added into the strided slice
//                            of a padded dx, which is cropped at the end.
//                            CPU forms: the forward max pool is one generic
//                            computing (max, argmax as i8), the argmax kept for
//                            the gradient, and dx is gathered in one generic
//                            over [N, H/s, s, W/s, s, C] (each element written
//                            once; the same sums in the same order).
//
//===----------------------------------------------------------------------===//

#include "compiler/conversion/NinToLinalgTrain.h"
#include "compiler/dialect/NinOps.h"
#include "compiler/conversion/NinToLinalgInternal.h"
#include "runtime/support/Random.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

using namespace mlir;

namespace ninc {

namespace {

using utils::IteratorType;
using BodyFn = llvm::function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;

constexpr float kInf = std::numeric_limits<float>::infinity();

/// Terse arith builders for generic bodies.
struct Arith {
  OpBuilder &b;
  Location loc;

  Value f32(float v) { return b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(v)); }
  Value f64(double v) { return b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(v)); }
  Value i64(uint64_t v) {
    return b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(static_cast<int64_t>(v)));
  }
  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value addf(Value x, Value y) { return b.create<arith::AddFOp>(loc, x, y); }
  Value subf(Value x, Value y) { return b.create<arith::SubFOp>(loc, x, y); }
  Value mulf(Value x, Value y) { return b.create<arith::MulFOp>(loc, x, y); }
  Value divf(Value x, Value y) { return b.create<arith::DivFOp>(loc, x, y); }
  Value addi(Value x, Value y) { return b.create<arith::AddIOp>(loc, x, y); }
  Value muli(Value x, Value y) { return b.create<arith::MulIOp>(loc, x, y); }
  Value xori(Value x, Value y) { return b.create<arith::XOrIOp>(loc, x, y); }
  Value shrui(Value x, uint64_t s) { return b.create<arith::ShRUIOp>(loc, x, i64(s)); }
  Value cmpf(arith::CmpFPredicate p, Value x, Value y) {
    return b.create<arith::CmpFOp>(loc, p, x, y);
  }
  Value select(Value c, Value x, Value y) { return b.create<arith::SelectOp>(loc, c, x, y); }
  /// The ReLU gradient of one element: y > 0 ? dy : 0.
  Value reluMask(Value dy, Value y) {
    return select(cmpf(arith::CmpFPredicate::OGT, y, f32(0)), dy, f32(0));
  }
  Value extf(Value x) { return b.create<arith::ExtFOp>(loc, b.getF64Type(), x); }
  Value truncf(Value x) { return b.create<arith::TruncFOp>(loc, b.getF32Type(), x); }
  Value exp(Value x) { return b.create<math::ExpOp>(loc, x); }
  Value log(Value x) { return b.create<math::LogOp>(loc, x); }
  Value loopIndex(int64_t dim) { return b.create<linalg::IndexOp>(loc, dim); }
  /// The i32 `label` equals loop dimension `dim`.
  Value isIndex(int64_t dim, Value label) {
    Value l = b.create<arith::IndexCastOp>(loc, b.getIndexType(), label);
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, loopIndex(dim), l);
  }

  /// SplitMix64's finaliser on i64, as runtime/support/Random.h's mix64.
  Value mix64(Value z) {
    z = addi(z, i64(0x9E3779B97F4A7C15ull));
    z = muli(xori(z, shrui(z, 30)), i64(0xBF58476D1CE4E5B9ull));
    z = muli(xori(z, shrui(z, 27)), i64(0x94D049BB133111EBull));
    return xori(z, shrui(z, 31));
  }
};

SmallVector<int64_t> shapeOf(Value v) {
  return SmallVector<int64_t>(cast<RankedTensorType>(v.getType()).getShape());
}

/// NCHW type -> NHWC shape (other ranks unchanged).
SmallVector<int64_t> nhwcShape(Type nchw) {
  auto s = cast<RankedTensorType>(nchw).getShape();
  if (s.size() == 4)
    return {s[0], s[2], s[3], s[1]};
  return SmallVector<int64_t>(s);
}

SmallVector<OpFoldResult> indexAttrs(OpBuilder &b, ArrayRef<int64_t> values) {
  SmallVector<OpFoldResult> out;
  for (int64_t v : values)
    out.push_back(b.getIndexAttr(v));
  return out;
}

/// The weight gradient's convolution streams OH*OW*B*TF floats of dz per
/// register tile column (TF = 32 channels); B images per group keep that
/// within kGradSliceBytes, in at most kMaxGradGroups convolutions.
constexpr int64_t kGradSliceBytes = 256 * 1024;
constexpr int64_t kMaxGradGroups = 16;

/// Images per group of the weight gradient: the largest divisor of `batch`
/// that fits the slice budget, but at least batch / kMaxGradGroups.
int64_t imagesPerGroup(int64_t batch, int64_t plane) {
  int64_t best = batch;
  for (int64_t b = batch; b >= 1; --b) {
    if (batch % b != 0)
      continue;
    if (batch / b > kMaxGradGroups)
      break;
    best = b;
    if (plane * b * 32 * 4 <= kGradSliceBytes)
      break;
  }
  return best;
}

bool isPointwise(ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride, ArrayRef<int64_t> padding) {
  return kernel[0] == 1 && kernel[1] == 1 && stride[0] == 1 && stride[1] == 1 &&
         padding[0] == 0 && padding[1] == 0;
}

/// The ReLU gradient of a k x k convolution (not 1x1) is folded into its
/// consumers (the weight gradient's per-group transposes, the bias
/// gradient's reduction, the input gradient's canvas): no pass over dz.
/// A 1x1 convolution's gradients read dz whole as a matmul operand, so there
/// it stays one elementwise op (in place over dy).
bool reluGradFolds(nin::ReluGradOp op) {
  if (op->use_empty())
    return false;
  for (Operation *user : op->getUsers()) {
    if (isa<nin::BiasGradOp>(user))
      continue;
    if (auto f = dyn_cast<nin::Conv2DGradFilterOp>(user)) {
      auto ws = cast<RankedTensorType>(f.getType()).getShape();
      if (f.getGrad() == op.getResult() &&
          !isPointwise(ws.drop_front(2), f.getStride(), f.getPadding()))
        continue;
    }
    if (auto g = dyn_cast<nin::Conv2DGradInputOp>(user)) {
      auto ws = cast<RankedTensorType>(g.getWeight().getType()).getShape(); // [F, C, KH, KW]
      if (g.getGrad() == op.getResult() &&
          !isPointwise(ws.drop_front(2), g.getStride(), g.getPadding()))
        continue;
    }
    return false;
  }
  return true;
}

class TrainStepLowering : public lowering::NhwcEmitter {
public:
  TrainStepLowering(func::FuncOp src, const TrainLoweringOptions &opts)
      : NhwcEmitter(src.getContext()), src_(src), opts_(opts) {}

  LogicalResult run();

private:
  LogicalResult lower(Operation *op);
  void lowerLoss(Location loc, nin::SoftmaxCrossEntropyOp op);
  void lowerSgd(Location loc, nin::SgdUpdateOp op);
  Value lowerDropout(Location loc, nin::DropoutTrainOp op);
  Value lowerReluGrad(Location loc, nin::ReluGradOp op);
  Value lowerBiasGrad(Location loc, Value grad);
  /// A ReLU gradient folded into its consumers: (dy, y) instead of dz.
  struct Masked {
    Value dy, y;
    explicit operator bool() const { return bool(dy); }
  };
  Masked maskedGrad(Value grad) const { return folded_.lookup(grad); }
  /// x's values with the mask y > 0 applied when `y` is set (elementwise,
  /// `perm` as linalg.transpose's), into a new tensor of the permuted shape.
  Value maskPermuted(Location loc, Value x, Value y, ArrayRef<int64_t> perm);
  Value lowerGlobalAvgPoolGrad(Location loc, nin::GlobalAvgPoolGradOp op);
  Value lowerUnflatten(Location loc, nin::UnflattenOp op);
  Value lowerConvGradFilter(Location loc, nin::Conv2DGradFilterOp op);
  Value lowerConvGradInput(Location loc, nin::Conv2DGradInputOp op);
  Value lowerMaxPoolGrad(Location loc, nin::MaxPool2DGradOp op);
  Value lowerMaxPoolForward(Location loc, nin::MaxPool2DOp op);
  std::pair<Value, Value> maxPoolArgmax(Location loc, Value xp, ArrayRef<int64_t> kernel,
                                        ArrayRef<int64_t> stride, ArrayRef<int64_t> windows);
  Value lowerAvgPoolGrad(Location loc, nin::AvgPool2DGradOp op);

  /// A pooling gradient's contribution of window tap `tap` (an index value:
  /// a constant in the scatter, computed in the gather) to `args.back()`.
  using TapFn = llvm::function_ref<Value(Arith &, Value tap, ValueRange args)>;
  Value scatterTaps(Location loc, ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
                    ArrayRef<int64_t> padding, ArrayRef<int64_t> dxShape, ValueRange ins,
                    TapFn add);
  Value gatherTaps(Location loc, ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
                   ArrayRef<int64_t> padding, ArrayRef<int64_t> dxShape, ValueRange ins,
                   ArrayRef<TypedAttr> fills, TapFn add, Value reluOutput = {});
  /// The ReLU output whose mask a pooling gradient's gather can apply (its
  /// only user is that ReLU's gradient, and dx needs no crop), else null;
  /// then the pooling gradient's result is in premasked_.
  Value fusableReluMask(Operation *poolGrad, ArrayRef<int64_t> stride,
                        ArrayRef<int64_t> padding);
  Value tapSlice(Location loc, Value padded, int64_t i, int64_t j, ArrayRef<int64_t> stride,
                 ArrayRef<int64_t> shape);

  // Builders.
  Value empty(Location loc, ArrayRef<int64_t> shape, Type elem = {});
  Value full(Location loc, ArrayRef<int64_t> shape, TypedAttr value);
  Value reshape(Location loc, Value x, ArrayRef<int64_t> shape,
                ArrayRef<ReassociationIndices> groups);
  Value matmul(Location loc, Value a, Value b, Value init = {});
  Value conv(Location loc, Value x, Value w, ArrayRef<int64_t> outShape,
             ArrayRef<int64_t> dilation, Value init = {});
  Value imageSlice(Location loc, Value x, OpFoldResult first, ArrayRef<int64_t> sizes);
  Value markWeightGradient(Value dw);
  /// acc = body(first image of group i, acc) for the `groups` groups of
  /// `images` images: one scf.for (one copy of the code) when
  /// opts_.cpuForms, else unrolled.
  Value overGroups(Location loc, int64_t groups, int64_t images, Value init,
                   llvm::function_ref<Value(OpFoldResult first, Value acc)> body);
  SmallVector<Value> generic(Location loc, ValueRange ins, ValueRange outs,
                             ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iters, BodyFn body);
  /// All-parallel generic with identity maps over the shape of outs[0].
  SmallVector<Value> elementwise(Location loc, ValueRange ins, ValueRange outs, BodyFn body);
  void copyIntoBlob(Location loc, Value value, Value blob, int64_t offset);

  func::FuncOp src_;
  TrainLoweringOptions opts_;
  llvm::DenseMap<Value, Masked> folded_;
  /// The argmax of each forward max pool (CPU forms), by the pool's input.
  struct PoolTap {
    Value tap;
    SmallVector<int64_t> kernel, stride, padding;
  };
  llvm::DenseMap<Value, PoolTap> poolTaps_;
  /// Pooling gradients (nin values) that already carry their ReLU mask.
  llvm::DenseSet<Value> premasked_;
};

LogicalResult TrainStepLowering::run() {
  Location loc = src_.getLoc();
  FunctionType type = src_.getFunctionType();
  unsigned numArgs = type.getNumInputs();
  if (numArgs < 5 || (numArgs - 5) % 2 != 0 || type.getNumResults() != numArgs - 3)
    return src_.emitError("expected nin-autodiff's training step: (input, labels, params..., "
                          "velocities..., hyper, seed, step) -> (loss, logits, params..., "
                          "velocities...)");
  unsigned numParams = (numArgs - 5) / 2;
  auto inputType = dyn_cast<RankedTensorType>(type.getInput(0));
  auto labelsType = dyn_cast<RankedTensorType>(type.getInput(1));
  auto logitsType = dyn_cast<RankedTensorType>(type.getResult(1));
  if (!inputType || !labelsType || !logitsType || logitsType.getRank() != 2)
    return src_.emitError("expected static shapes: run nin-infer-shapes first");

  // (input, labels, weights, velocity, hyper, seed, step, loss, logits); the
  // blobs have @m_infer's layout.
  TypeRange paramTypes = type.getInputs().slice(2, numParams);
  SmallVector<int64_t> offsets;
  int64_t blobSize = lowering::layoutParams(paramTypes, offsets);
  Type f32 = b_.getF32Type();
  auto blobType = MemRefType::get({blobSize}, f32);
  SmallVector<Type> argTypes{MemRefType::get(inputType.getShape(), f32),
                             MemRefType::get(labelsType.getShape(), b_.getI32Type()),
                             blobType,
                             blobType,
                             MemRefType::get({3}, f32),
                             b_.getI64Type(),
                             b_.getI64Type(),
                             MemRefType::get({1}, f32),
                             MemRefType::get(logitsType.getShape(), f32)};
  b_.setInsertionPoint(src_);
  auto dst = b_.create<func::FuncOp>(loc, src_.getName(), b_.getFunctionType(argTypes, {}));
  const char *argNames[] = {"nin.input", "nin.labels", "nin.weights", "nin.velocity", "nin.hyper",
                            "nin.seed",  "nin.step",   "nin.loss",    "nin.output"};
  for (auto [i, name] : llvm::enumerate(argNames))
    dst.setArgAttr(i, name, b_.getUnitAttr());
  dst->setAttr("nin.params", lowering::paramTable(src_, 2, offsets));
  Block *entry = dst.addEntryBlock();
  b_.setInsertionPointToStart(entry);

  auto read = [&](unsigned i) -> Value {
    return b_.create<bufferization::ToTensorOp>(loc, entry->getArgument(i), /*restrict=*/true,
                                                /*writable=*/false);
  };
  Block &body = src_.getBody().front();
  map_[body.getArgument(0)] = inputToNhwc(read(0));
  map_[body.getArgument(1)] = read(1);
  Value weights = read(2), velocity = read(3);
  for (unsigned i = 0; i < numParams; ++i) {
    auto shape = lowering::packedShape(cast<RankedTensorType>(paramTypes[i]).getShape());
    map_[body.getArgument(2 + i)] = paramView(loc, weights, offsets[i], shape);
    map_[body.getArgument(2 + numParams + i)] = paramView(loc, velocity, offsets[i], shape);
  }
  map_[body.getArgument(2 + 2 * numParams)] = read(4);
  map_[body.getArgument(3 + 2 * numParams)] = entry->getArgument(5);
  map_[body.getArgument(4 + 2 * numParams)] = entry->getArgument(6);

  for (Operation &op : body.without_terminator())
    if (failed(lower(&op)))
      return failure();

  // The loss and logits go to their own buffers; the new parameters and
  // velocities are copied into the blobs last, after every read of the old ones.
  Operation *ret = body.getTerminator();
  for (unsigned i = 0; i < 2; ++i)
    b_.create<bufferization::MaterializeInDestinationOp>(loc, TypeRange{},
                                                         map_.lookup(ret->getOperand(i)),
                                                         entry->getArgument(7 + i),
                                                         /*restrict=*/true, /*writable=*/true);
  for (unsigned i = 0; i < numParams; ++i) {
    copyIntoBlob(loc, map_.lookup(ret->getOperand(2 + i)), entry->getArgument(2), offsets[i]);
    copyIntoBlob(loc, map_.lookup(ret->getOperand(2 + numParams + i)), entry->getArgument(3),
                 offsets[i]);
  }
  b_.create<func::ReturnOp>(loc);
  src_.erase();
  return success();
}

/// The blob's slot [offset, offset + numel) = value. Not `restrict`: the blob
/// is also read through a restrict to_tensor, so this must stay a copy at
/// this point (empty-tensor elimination would move the write earlier).
void TrainStepLowering::copyIntoBlob(Location loc, Value value, Value blob, int64_t offset) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t n = type.getNumElements();
  if (type.getRank() != 1) {
    ReassociationIndices all;
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.push_back(d);
    value = reshape(loc, value, {n}, {all});
  }
  Value slot = b_.create<memref::SubViewOp>(loc, blob, ArrayRef<int64_t>{offset},
                                            ArrayRef<int64_t>{n}, ArrayRef<int64_t>{1});
  b_.create<bufferization::MaterializeInDestinationOp>(loc, TypeRange{}, value, slot,
                                                       /*restrict=*/false, /*writable=*/true);
}

LogicalResult TrainStepLowering::lower(Operation *op) {
  Location loc = op->getLoc();
  Value out;
  if (auto loss = dyn_cast<nin::SoftmaxCrossEntropyOp>(op)) {
    lowerLoss(loc, loss);
    return success();
  }
  if (auto sgd = dyn_cast<nin::SgdUpdateOp>(op)) {
    lowerSgd(loc, sgd);
    return success();
  }
  if (auto d = dyn_cast<nin::DropoutTrainOp>(op))
    out = lowerDropout(loc, d);
  else if (auto g = dyn_cast<nin::ReluGradOp>(op)) {
    if (premasked_.contains(g.getGrad())) {
      map_[g.getResult()] = map_.lookup(g.getGrad()); // masked by the pooling gradient
      return success();
    }
    if (!opts_.cpuForms && reluGradFolds(g)) {
      folded_[g.getResult()] = {map_.lookup(g.getGrad()), map_.lookup(g.getOutput())};
      return success();
    }
    out = lowerReluGrad(loc, g);
  }
  else if (auto g = dyn_cast<nin::BiasGradOp>(op))
    out = lowerBiasGrad(loc, g.getGrad());
  else if (auto g = dyn_cast<nin::GlobalAvgPoolGradOp>(op))
    out = lowerGlobalAvgPoolGrad(loc, g);
  else if (auto g = dyn_cast<nin::UnflattenOp>(op))
    out = lowerUnflatten(loc, g);
  else if (auto g = dyn_cast<nin::Conv2DGradFilterOp>(op))
    out = lowerConvGradFilter(loc, g);
  else if (auto g = dyn_cast<nin::Conv2DGradInputOp>(op))
    out = lowerConvGradInput(loc, g);
  else if (auto g = dyn_cast<nin::MaxPool2DGradOp>(op))
    out = lowerMaxPoolGrad(loc, g);
  else if (auto g = dyn_cast<nin::AvgPool2DGradOp>(op))
    out = lowerAvgPoolGrad(loc, g);
  else if (auto p = dyn_cast<nin::MaxPool2DOp>(op); p && opts_.cpuForms)
    out = lowerMaxPoolForward(loc, p);
  else
    return lowerForward(op);
  map_[op->getResult(0)] = out;
  return success();
}

// --- Builders ------------------------------------------------------------------

Value TrainStepLowering::empty(Location loc, ArrayRef<int64_t> shape, Type elem) {
  return b_.create<tensor::EmptyOp>(loc, shape, elem ? elem : b_.getF32Type());
}

Value TrainStepLowering::full(Location loc, ArrayRef<int64_t> shape, TypedAttr value) {
  Value c = b_.create<arith::ConstantOp>(loc, value);
  return b_.create<linalg::FillOp>(loc, c, empty(loc, shape, value.getType())).getResult(0);
}

Value TrainStepLowering::reshape(Location loc, Value x, ArrayRef<int64_t> shape,
                                 ArrayRef<ReassociationIndices> groups) {
  auto type = RankedTensorType::get(shape, cast<RankedTensorType>(x.getType()).getElementType());
  if (type.getRank() < cast<RankedTensorType>(x.getType()).getRank())
    return b_.create<tensor::CollapseShapeOp>(loc, type, x, groups);
  return b_.create<tensor::ExpandShapeOp>(loc, type, x, groups);
}

/// [M, K] x [K, N] -> [M, N], accumulating into `init` (zeros when null).
Value TrainStepLowering::matmul(Location loc, Value a, Value b, Value init) {
  SmallVector<int64_t> out{shapeOf(a)[0], shapeOf(b)[1]};
  if (!init)
    init = filled(loc, out, 0.0f);
  return b_.create<linalg::MatmulOp>(loc, TypeRange{tensor(out)}, ValueRange{a, b},
                                     ValueRange{init})
      .getResult(0);
}

/// Stride-1 conv_2d_nhwc_hwcf with `dilation`, accumulating into `init`
/// (zeros when null).
Value TrainStepLowering::conv(Location loc, Value x, Value w, ArrayRef<int64_t> outShape,
                              ArrayRef<int64_t> dilation, Value init) {
  if (!init)
    init = filled(loc, outShape, 0.0f);
  return b_.create<linalg::Conv2DNhwcHwcfOp>(loc, TypeRange{tensor(outShape)}, ValueRange{x, w},
                                             ValueRange{init},
                                             b_.getI64TensorAttr({1, 1}),
                                             b_.getI64TensorAttr(dilation))
      .getResult(0);
}

SmallVector<Value> TrainStepLowering::generic(Location loc, ValueRange ins, ValueRange outs,
                                              ArrayRef<AffineMap> maps,
                                              ArrayRef<IteratorType> iters, BodyFn body) {
  SmallVector<Type> types;
  for (Value o : outs)
    types.push_back(o.getType());
  auto op = b_.create<linalg::GenericOp>(
      loc, types, ins, outs, maps, iters, [&](OpBuilder &nb, Location nl, ValueRange args) {
        nb.create<linalg::YieldOp>(nl, body(nb, nl, args));
      });
  return SmallVector<Value>(op.getResults());
}

SmallVector<Value> TrainStepLowering::elementwise(Location loc, ValueRange ins, ValueRange outs,
                                                  BodyFn body) {
  int64_t rank = cast<RankedTensorType>(outs[0].getType()).getRank();
  SmallVector<AffineMap> maps(ins.size() + outs.size(),
                              AffineMap::getMultiDimIdentityMap(rank, b_.getContext()));
  SmallVector<IteratorType> iters(rank, IteratorType::parallel);
  return generic(loc, ins, outs, maps, iters, body);
}

// --- Loss and update -----------------------------------------------------------

/// loss = mean_n (logsumexp(z[n]) - z[n, label[n]]), grad = (softmax(z) -
/// onehot) / N, in f64 like the interpreter. The 0-d loss becomes [1].
void TrainStepLowering::lowerLoss(Location loc, nin::SoftmaxCrossEntropyOp op) {
  Value z = map_.lookup(op.getLogits()), labels = map_.lookup(op.getLabels());
  int64_t n = shapeOf(z)[0], k = shapeOf(z)[1];
  MLIRContext *ctx = b_.getContext();
  Type f64 = b_.getF64Type();
  AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
  AffineMap both = AffineMap::get(2, 0, {d0, d1}, ctx), first = AffineMap::get(2, 0, {d0}, ctx),
            second = AffineMap::get(2, 0, {d1}, ctx);
  AffineMap id1 = AffineMap::getMultiDimIdentityMap(1, ctx);
  SmallVector<IteratorType> rowReduce{IteratorType::parallel, IteratorType::reduction};
  auto zeros = [&](ArrayRef<int64_t> shape) { return full(loc, shape, b_.getF64FloatAttr(0)); };

  Value rowMax = generic(loc, {z}, {full(loc, {n}, b_.getF32FloatAttr(-kInf))}, {both, first},
                         rowReduce, [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                           return {nb.create<arith::MaximumFOp>(nl, a[0], a[1])};
                         })[0];
  // sum_k exp(z - max) and z[n, label[n]] (separate generics: two outputs
  // of one would share the CSE'd zero tensor)
  Value sumExp = generic(loc, {z, rowMax}, {zeros({n})}, {both, first, first}, rowReduce,
                         [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                           Arith m{nb, nl};
                           return {m.addf(a[2], m.exp(m.subf(m.extf(a[0]), m.extf(a[1]))))};
                         })[0];
  Value labelLogit = generic(loc, {z, labels}, {zeros({n})}, {both, first, first}, rowReduce,
                             [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                               Arith m{nb, nl};
                               return {m.select(m.isIndex(1, a[1]), m.addf(a[2], m.extf(a[0])),
                                                a[2])};
                             })[0];
  Value lse = generic(loc, {rowMax, sumExp}, {empty(loc, {n}, f64)}, {id1, id1, id1},
                      {IteratorType::parallel},
                      [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                        Arith m{nb, nl};
                        return {m.addf(m.extf(a[0]), m.log(a[1]))};
                      })[0];
  Value total = generic(loc, {lse, labelLogit}, {zeros({1})}, {second, second, first}, rowReduce,
                        [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                          Arith m{nb, nl};
                          return {m.addf(a[2], m.subf(a[0], a[1]))};
                        })[0];
  double batch = static_cast<double>(n);
  Value loss = generic(loc, {total}, {empty(loc, {1})}, {id1, id1}, {IteratorType::parallel},
                       [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                         Arith m{nb, nl};
                         return {m.truncf(m.divf(a[0], m.f64(batch)))};
                       })[0];
  Value grad = generic(loc, {z, lse, labels}, {empty(loc, {n, k})}, {both, first, first, both},
                       {IteratorType::parallel, IteratorType::parallel},
                       [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                         Arith m{nb, nl};
                         Value p = m.exp(m.subf(m.extf(a[0]), a[1]));
                         Value onehot = m.select(m.isIndex(1, a[2]), m.f64(1), m.f64(0));
                         return {m.truncf(m.divf(m.subf(p, onehot), m.f64(batch)))};
                       })[0];
  map_[op.getLoss()] = loss;
  map_[op.getGrad()] = grad;
}

/// g' = g + wd*w; with momentum v' = mom*v + g', w' = w - lr*v'; without,
/// w' = w - lr*g' and v' = v (the interpreter's sgdUpdate, in f32).
void TrainStepLowering::lowerSgd(Location loc, nin::SgdUpdateOp op) {
  Value p = map_.lookup(op.getParam());
  Value hyper = map_.lookup(op.getHyper());
  Arith m{b_, loc};
  auto at = [&](int64_t i) -> Value {
    return b_.create<tensor::ExtractOp>(loc, hyper, ValueRange{m.index(i)});
  };
  Value lr = at(0), momentum = at(1), decay = at(2);
  Value useMomentum = m.cmpf(arith::CmpFPredicate::UNE, momentum, m.f32(0));
  // The new parameter overwrites the gradient (its last use): two empty
  // outputs would be CSE'd into one tensor written twice.
  Value g = map_.lookup(op.getGrad());
  SmallVector<Value> r = elementwise(
      loc, {p, g, map_.lookup(op.getVelocity())}, {g, empty(loc, shapeOf(p))},
      [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
        Arith e{nb, nl};
        Value g = e.addf(a[1], e.mulf(decay, a[0]));
        Value v = e.addf(e.mulf(momentum, a[2]), g);
        Value step = e.select(useMomentum, v, g);
        return {e.subf(a[0], e.mulf(lr, step)), e.select(useMomentum, v, a[2])};
      });
  map_[op.getNewParam()] = r[0];
  map_[op.getNewVelocity()] = r[1];
}

// --- Elementwise and reshaping gradients ----------------------------------------

/// Element e (its NCHW flat index) is kept iff randomUniform01(seed, stream,
/// step * 2^40 + e) >= rate; kept values are scaled by 1 / (1 - rate).
Value TrainStepLowering::lowerDropout(Location loc, nin::DropoutTrainOp op) {
  Value x = map_.lookup(op.getInput());
  auto nchw = cast<RankedTensorType>(op.getType()).getShape();
  Arith m{b_, loc};
  // Per call: key = mix64(seed ^ mix64(stream)), base = step * 2^40.
  Value key = m.mix64(m.xori(map_.lookup(op.getSeed()), m.i64(mix64(op.getStream()))));
  Value base = b_.create<arith::ShLIOp>(loc, map_.lookup(op.getStep()), m.i64(40));
  float rate = op.getRate().convertToFloat();
  float keptScale = 1.0f / (1.0f - rate); // T(1) / (T(1) - T(rate)) with T = float
  // NCHW strides of the iteration dims (n, h, w, c) of an NHWC tensor, or
  // row-major for other ranks.
  SmallVector<int64_t> strides(nchw.size(), 1);
  for (int64_t d = int64_t(nchw.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * nchw[d + 1];
  if (nchw.size() == 4)
    strides = {strides[0], strides[2], strides[3], strides[1]};
  return elementwise(
      loc, {x}, {empty(loc, shapeOf(x))},
      [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
        Arith e{nb, nl};
        Value index = e.index(0);
        for (auto [d, stride] : llvm::enumerate(strides))
          index = nb.create<arith::AddIOp>(
              nl, index, nb.create<arith::MulIOp>(nl, e.loopIndex(d), e.index(stride)));
        Value counter = e.addi(base, nb.create<arith::IndexCastOp>(nl, nb.getI64Type(), index));
        Value bits = e.shrui(e.mix64(e.xori(key, counter)), 40);
        Value u = e.mulf(nb.create<arith::UIToFPOp>(nl, nb.getF32Type(), bits),
                         e.f32(1.0f / 16777216.0f));
        Value kept = e.cmpf(arith::CmpFPredicate::OGE, u, e.f32(rate));
        return {e.mulf(a[0], e.select(kept, e.f32(keptScale), e.f32(0)))};
      })[0];
}

/// dz = y > 0 ? dy : 0, written over dy (its only reader), so bufferization
/// reuses dy's buffer instead of a new one per ReLU.
Value TrainStepLowering::lowerReluGrad(Location loc, nin::ReluGradOp op) {
  Value dy = map_.lookup(op.getGrad()), y = map_.lookup(op.getOutput());
  // dy from a matmul (a 1x1 conv's input gradient, [NHW, C] expanded to
  // NHWC): the mask on the matmul's own shape, so the CPU schedule fuses it
  // into the matmul's register tiles as an epilogue (one pass over dy less).
  auto expand = dy.getDefiningOp<tensor::ExpandShapeOp>();
  if (opts_.cpuForms && expand &&
      expand.getSrc().getDefiningOp<linalg::MatmulOp>() && expand->hasOneUse()) {
    auto groups = expand.getReassociationIndices();
    Value rows = reshape(loc, y, shapeOf(expand.getSrc()), groups);
    Value masked = elementwise(loc, {rows}, {expand.getSrc()},
                               [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                                 return {Arith{nb, nl}.reluMask(a[1], a[0])};
                               })[0];
    return reshape(loc, masked, shapeOf(dy), groups);
  }
  return elementwise(loc, {y}, {dy},
                     [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                       return {Arith{nb, nl}.reluMask(a[1], a[0])};
                     })[0];
}

/// [N, H, W, F] -> [F], summed in f64.
Value TrainStepLowering::lowerBiasGrad(Location loc, Value grad) {
  Masked masked = maskedGrad(grad);
  SmallVector<Value> ins{masked ? masked.dy : map_.lookup(grad)};
  if (masked)
    ins.push_back(masked.y);
  SmallVector<int64_t> s = shapeOf(ins[0]);
  int64_t rank = s.size();
  MLIRContext *ctx = b_.getContext();
  SmallVector<AffineMap> maps(ins.size(), AffineMap::getMultiDimIdentityMap(rank, ctx));
  maps.push_back(AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, ctx)}, ctx));
  SmallVector<IteratorType> iters(rank, IteratorType::reduction);
  iters.back() = IteratorType::parallel;
  Value sum = generic(loc, ins, {full(loc, {s.back()}, b_.getF64FloatAttr(0))}, maps, iters,
                      [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                        Arith m{nb, nl};
                        Value dz = masked ? m.reluMask(a[0], a[1]) : a[0];
                        return {m.addf(a.back(), m.extf(dz))};
                      })[0];
  return elementwise(loc, {sum}, {empty(loc, {s.back()})},
                     [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                       return {Arith{nb, nl}.truncf(a[0])};
                     })[0];
}

/// dx[n, h, w, c] = dy[n, 0, 0, c] / (H * W).
Value TrainStepLowering::lowerGlobalAvgPoolGrad(Location loc, nin::GlobalAvgPoolGradOp op) {
  Value dy = map_.lookup(op.getGrad());
  SmallVector<int64_t> out = nhwcShape(op.getType());
  Value rows = reshape(loc, dy, {out[0], out[3]}, {{0}, {1, 2, 3}});
  MLIRContext *ctx = b_.getContext();
  SmallVector<AffineMap> maps{
      AffineMap::get(4, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(3, ctx)}, ctx),
      AffineMap::getMultiDimIdentityMap(4, ctx)};
  float area = static_cast<float>(out[1] * out[2]);
  return generic(loc, {rows}, {empty(loc, out)}, maps,
                 SmallVector<IteratorType>(4, IteratorType::parallel),
                 [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                   Arith m{nb, nl};
                   return {m.divf(a[0], m.f32(area))};
                 })[0];
}

/// [N, C*H*W] (NCHW order) -> NHWC [N, H, W, C].
Value TrainStepLowering::lowerUnflatten(Location loc, nin::UnflattenOp op) {
  Value dy = map_.lookup(op.getGrad());
  auto s = cast<RankedTensorType>(op.getType()).getShape();
  if (s[2] * s[3] == 1)
    return reshape(loc, dy, {s[0], 1, 1, s[1]}, {{0}, {1, 2, 3}});
  return transpose(loc, reshape(loc, dy, s, {{0}, {1, 2, 3}}), {0, 2, 3, 1});
}

// --- Convolution gradients -------------------------------------------------------

Value TrainStepLowering::lowerConvGradFilter(Location loc, nin::Conv2DGradFilterOp op) {
  Masked masked = maskedGrad(op.getGrad());
  Value x = map_.lookup(op.getInput()), dz = masked ? masked.dy : map_.lookup(op.getGrad());
  SmallVector<int64_t> xs = shapeOf(x), ds = shapeOf(dz); // [N, H, W, C], [N, OH, OW, F]
  auto ws = cast<RankedTensorType>(op.getType()).getShape(); // [F, C, KH, KW]
  ArrayRef<int64_t> stride = op.getStride(), padding = op.getPadding();
  // The batch in G groups of B images, one convolution (matmul for 1x1)
  // each accumulating into dw: the operands are transposed per group, so the
  // transposed copies are small and short-lived (the memory plan reuses one
  // slot for all groups), and the dz slice a register tile streams over
  // stays in cache.
  int64_t n = xs[0];
  if (isPointwise(ws.drop_front(2), stride, padding)) {
    // dw [C, F] = sum_g x_g^T [C, B*HW] x dz_g [B*HW, F]
    int64_t b = imagesPerGroup(n, xs[1] * xs[2]), g = n / b, m = b * xs[1] * xs[2];
    Value dw = overGroups(loc, g, b, filled(loc, {xs[3], ds[3]}, 0.0f),
                          [&](OpFoldResult first, Value acc) {
      Value xi = reshape(loc, imageSlice(loc, x, first, {b, xs[1], xs[2], xs[3]}), {m, xs[3]},
                         {{0, 1, 2}, {3}});
      Value dzi = reshape(loc, imageSlice(loc, dz, first, {b, ds[1], ds[2], ds[3]}), {m, ds[3]},
                          {{0, 1, 2}, {3}});
      if (opts_.cpuForms) // A read transposed in place
        return markWeightGradient(b_.create<linalg::MatmulTransposeAOp>(
                                        loc, TypeRange{acc.getType()}, ValueRange{xi, dzi},
                                        ValueRange{acc})
                                      .getResult(0));
      return markWeightGradient(matmul(loc, transpose(loc, xi, {1, 0}), dzi, acc));
    });
    return reshape(loc, dw, {1, 1, xs[3], ds[3]}, {{0, 1, 2}, {3}});
  }
  Value xp = padHW(loc, x, padding, 0.0f);
  // Only rows kh + oh*s < KH + (OH-1)*s are read (fewer than Hp when the
  // forward conv dropped the last rows).
  int64_t hu = ws[2] + (ds[1] - 1) * stride[0], wu = ws[3] + (ds[2] - 1) * stride[1];
  int64_t b = imagesPerGroup(n, ds[1] * ds[2]), g = n / b;
  SmallVector<int64_t> out{xs[3], ws[2], ws[3], ds[3]};
  Value dw = overGroups(loc, g, b, filled(loc, out, 0.0f), [&](OpFoldResult first, Value acc) {
    Value xt = transpose(loc, imageSlice(loc, xp, first, {b, hu, wu, xs[3]}),
                         {3, 1, 2, 0}); // [C, hu, wu, B]
    SmallVector<int64_t> group{b, ds[1], ds[2], ds[3]};
    Value dzt = maskPermuted(loc, imageSlice(loc, dz, first, group),
                             masked ? imageSlice(loc, masked.y, first, group) : Value{},
                             {1, 2, 0, 3}); // [OH, OW, B, F], the ReLU mask applied
    return markWeightGradient(conv(loc, xt, dzt, out, stride, acc));
  });
  return transpose(loc, dw, {1, 2, 0, 3}); // [C, KH, KW, F] -> HWCF
}

/// Tags the op computing `dw` kWeightGradientAttr (the CPU backend keeps
/// weight gradients in fp32 under --precision=bf16).
Value TrainStepLowering::markWeightGradient(Value dw) {
  dw.getDefiningOp()->setAttr(kWeightGradientAttr, UnitAttr::get(dw.getContext()));
  return dw;
}

Value TrainStepLowering::maskPermuted(Location loc, Value x, Value y, ArrayRef<int64_t> perm) {
  if (!y)
    return transpose(loc, x, perm);
  SmallVector<int64_t> in = shapeOf(x), out;
  SmallVector<AffineExpr> read(in.size());
  for (auto [i, p] : llvm::enumerate(perm)) {
    out.push_back(in[p]);
    read[p] = getAffineDimExpr(i, b_.getContext());
  }
  int64_t rank = in.size();
  AffineMap readMap = AffineMap::get(rank, 0, read, b_.getContext());
  SmallVector<AffineMap> maps{readMap, readMap,
                              AffineMap::getMultiDimIdentityMap(rank, b_.getContext())};
  SmallVector<IteratorType> iters(rank, IteratorType::parallel);
  return generic(loc, {x, y}, {empty(loc, out)}, maps, iters,
                 [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                   return {Arith{nb, nl}.reluMask(a[0], a[1])};
                 })[0];
}

/// x[first : first + sizes[0], :sizes[1], :sizes[2], :sizes[3]] of an NHWC
/// tensor (the whole tensor when that is all of it).
Value TrainStepLowering::imageSlice(Location loc, Value x, OpFoldResult first,
                                    ArrayRef<int64_t> sizes) {
  if (isConstantIntValue(first, 0) && ArrayRef<int64_t>(shapeOf(x)) == sizes)
    return x;
  SmallVector<OpFoldResult> offsets = indexAttrs(b_, {0, 0, 0, 0});
  offsets[0] = first;
  return b_.create<tensor::ExtractSliceOp>(loc, x, offsets, indexAttrs(b_, sizes),
                                           indexAttrs(b_, {1, 1, 1, 1}));
}

Value TrainStepLowering::overGroups(Location loc, int64_t groups, int64_t images, Value init,
                                    llvm::function_ref<Value(OpFoldResult, Value)> body) {
  if (!opts_.cpuForms || groups == 1) {
    Value acc = init;
    for (int64_t i = 0; i < groups; ++i)
      acc = body(b_.getIndexAttr(i * images), acc);
    return acc;
  }
  Value lb = b_.create<arith::ConstantIndexOp>(loc, 0);
  Value ub = b_.create<arith::ConstantIndexOp>(loc, groups * images);
  Value step = b_.create<arith::ConstantIndexOp>(loc, images);
  auto loop = b_.create<scf::ForOp>(
      loc, lb, ub, step, ValueRange{init},
      [&](OpBuilder &nb, Location nl, Value first, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b_);
        b_.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value next = body(first, acc[0]);
        b_.create<scf::YieldOp>(nl, next);
      });
  return loop.getResult(0);
}

Value TrainStepLowering::lowerConvGradInput(Location loc, nin::Conv2DGradInputOp op) {
  Masked masked = maskedGrad(op.getGrad());
  Value dz = masked ? masked.dy : map_.lookup(op.getGrad()), w = map_.lookup(op.getWeight());
  SmallVector<int64_t> ds = shapeOf(dz), ws = shapeOf(w); // [N, OH, OW, F], [KH, KW, C, F]
  SmallVector<int64_t> out = nhwcShape(op.getType());   // [N, H, W, C]
  ArrayRef<int64_t> stride = op.getStride(), padding = op.getPadding();
  int64_t kh = ws[0], kw = ws[1], c = ws[2], f = ws[3];
  if (isPointwise({kh, kw}, stride, padding)) {
    // dx [NHW, C] = dz [NHW, F] x w^T [F, C]
    int64_t m = ds[0] * ds[1] * ds[2];
    Value wt = transpose(loc, reshape(loc, w, {c, f}, {{0, 1, 2}, {3}}), {1, 0});
    Value dx = matmul(loc, reshape(loc, dz, {m, f}, {{0, 1, 2}, {3}}), wt);
    return reshape(loc, dx, out, {{0, 1, 2}, {3}});
  }
  // dz row oh goes to canvas row (KH-1-p) + oh*s of a zero canvas of
  // H + KH - 1 rows (the extra bottom rows cover what the forward conv
  // dropped); rows that would land outside contribute nothing to dx.
  SmallVector<int64_t> canvas{out[0], out[1] + kh - 1, out[2] + kw - 1, f};
  int64_t first[2], count[2], lo[2];
  for (int d = 0; d < 2; ++d) {
    lo[d] = ws[d] - 1 - padding[d];
    first[d] = lo[d] < 0 ? llvm::divideCeilSigned(-lo[d], stride[d]) : 0;
    int64_t last = std::min(ds[1 + d] - 1, llvm::divideFloorSigned(canvas[1 + d] - 1 - lo[d], stride[d]));
    count[d] = std::max<int64_t>(0, last - first[d] + 1);
  }
  Value dilated = filled(loc, canvas, 0.0f);
  if (count[0] > 0 && count[1] > 0) {
    SmallVector<int64_t> sizes{ds[0], count[0], count[1], f};
    auto crop = [&](Value v) -> Value {
      if (sizes == ds)
        return v;
      return b_.create<tensor::ExtractSliceOp>(loc, v, indexAttrs(b_, {0, first[0], first[1], 0}),
                                               indexAttrs(b_, sizes), indexAttrs(b_, {1, 1, 1, 1}));
    };
    SmallVector<OpFoldResult> at =
        indexAttrs(b_, {0, lo[0] + first[0] * stride[0], lo[1] + first[1] * stride[1], 0});
    SmallVector<OpFoldResult> steps = indexAttrs(b_, {1, stride[0], stride[1], 1});
    Value src = crop(dz);
    if (masked) {
      // The ReLU mask applied on the way into the canvas.
      Value window = b_.create<tensor::ExtractSliceOp>(loc, dilated, at, indexAttrs(b_, sizes),
                                                       steps);
      src = elementwise(loc, {src, crop(masked.y)}, {window},
                        [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                          return {Arith{nb, nl}.reluMask(a[0], a[1])};
                        })[0];
    }
    dilated = b_.create<tensor::InsertSliceOp>(loc, src, dilated, at, indexAttrs(b_, sizes),
                                               steps);
  }
  // flipped[a, b, f, c] = w[KH-1-a, KW-1-b, c, f], as a gather: tiling
  // cannot shift a decreasing indexing map (KH-1-a) to a tile.
  Value flipped = elementwise(
      loc, {}, {empty(loc, {kh, kw, f, c})},
      [&](OpBuilder &nb, Location nl, ValueRange) -> SmallVector<Value> {
        Arith m{nb, nl};
        auto flip = [&](int64_t dim, int64_t size) -> Value {
          return nb.create<arith::SubIOp>(nl, m.index(size - 1), m.loopIndex(dim));
        };
        Value at[] = {flip(0, kh), flip(1, kw), m.loopIndex(3), m.loopIndex(2)};
        return {nb.create<tensor::ExtractOp>(nl, w, ValueRange(at))};
      })[0];
  return conv(loc, dilated, flipped, out, {1, 1});
}

// --- Pooling gradients -----------------------------------------------------------

/// The [N, OH, OW, C] slice padded[:, i::s, j::s, :] of window tap (i, j).
Value TrainStepLowering::tapSlice(Location loc, Value padded, int64_t i, int64_t j,
                                  ArrayRef<int64_t> stride, ArrayRef<int64_t> shape) {
  return b_.create<tensor::ExtractSliceOp>(loc, padded, indexAttrs(b_, {0, i, j, 0}),
                                           indexAttrs(b_, shape),
                                           indexAttrs(b_, {1, stride[0], stride[1], 1}));
}

/// dx of a pooling: for each window tap t = (i, j) in row-major order, the
/// strided slice dxpad[:, i::s, j::s, :] (one element per window) becomes
/// add(t, {ins..., slice}); dxpad is then cropped to dxShape.
Value TrainStepLowering::scatterTaps(Location loc, ArrayRef<int64_t> kernel,
                                     ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                                     ArrayRef<int64_t> dxShape, ValueRange ins, TapFn add) {
  SmallVector<int64_t> windows = shapeOf(ins[0]);
  SmallVector<int64_t> padded{dxShape[0], dxShape[1] + 2 * padding[0],
                              dxShape[2] + 2 * padding[1], dxShape[3]};
  Value dx = filled(loc, padded, 0.0f);
  for (int64_t t = 0; t < kernel[0] * kernel[1]; ++t) {
    int64_t i = t / kernel[1], j = t % kernel[1];
    Value slice = tapSlice(loc, dx, i, j, stride, windows);
    SmallVector<Value> operands(ins);
    Value updated = elementwise(loc, operands, {slice},
                                [&](OpBuilder &nb, Location nl, ValueRange args) -> SmallVector<Value> {
                                  Arith m{nb, nl};
                                  return {add(m, m.index(t), args)};
                                })[0];
    dx = b_.create<tensor::InsertSliceOp>(loc, updated, dx, indexAttrs(b_, {0, i, j, 0}),
                                          indexAttrs(b_, windows),
                                          indexAttrs(b_, {1, stride[0], stride[1], 1}));
  }
  if (padding[0] == 0 && padding[1] == 0)
    return dx;
  return b_.create<tensor::ExtractSliceOp>(loc, dx, indexAttrs(b_, {0, padding[0], padding[1], 0}),
                                           indexAttrs(b_, dxShape), indexAttrs(b_, {1, 1, 1, 1}));
}

/// (max, first argmax as kh * KW + kw) of every window of the padded `xp`,
/// in one pass: loops (n, oh, ow, kh, kw, c), the window taps reduced in
/// row-major order (a strictly greater value takes over, so the first
/// maximum wins), channels innermost for the vector rows.
std::pair<Value, Value> TrainStepLowering::maxPoolArgmax(Location loc, Value xp,
                                                         ArrayRef<int64_t> kernel,
                                                         ArrayRef<int64_t> stride,
                                                         ArrayRef<int64_t> windows) {
  MLIRContext *ctx = b_.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  AffineMap read =
      AffineMap::get(6, 0, {d(0), d(1) * stride[0] + d(3), d(2) * stride[1] + d(4), d(5)}, ctx);
  AffineMap out = AffineMap::get(6, 0, {d(0), d(1), d(2), d(5)}, ctx);
  // The window's extents, for linalg to derive the kh, kw loop ranges from
  // (as the pooling ops' window operand; never read).
  Value window = empty(loc, {kernel[0], kernel[1]});
  AffineMap windowMap = AffineMap::get(6, 0, {d(3), d(4)}, ctx);
  SmallVector<IteratorType> iters{IteratorType::parallel,  IteratorType::parallel,
                                  IteratorType::parallel,  IteratorType::reduction,
                                  IteratorType::reduction, IteratorType::parallel};
  const int64_t kw = kernel[1];
  // i8 taps (a quarter of the memory kept from forward to backward) when
  // the window's taps fit.
  Type tapType = kernel[0] * kw <= 127 ? b_.getI8Type() : b_.getI32Type();
  SmallVector<Value> r =
      generic(loc, {xp, window},
              {filled(loc, windows, -kInf), full(loc, windows, b_.getIntegerAttr(tapType, 0))},
              {read, windowMap, out, out}, iters,
              [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                Arith m{nb, nl};
                Value greater = m.cmpf(arith::CmpFPredicate::OGT, a[0], a[2]);
                Value t = nb.create<arith::AddIOp>(
                    nl, nb.create<arith::MulIOp>(nl, m.loopIndex(3), m.index(kw)),
                    m.loopIndex(4));
                Value id = nb.create<arith::IndexCastOp>(nl, tapType, t);
                return {m.select(greater, a[0], a[2]), m.select(greater, id, a[3])};
              });
  return {r[0], r[1]};
}

/// The training step's forward max pool in the CPU forms: the one-pass
/// (max, argmax) generic, its argmax kept for the gradient, so the backward
/// pass does not read the pool's input again (and the forward's generic is
/// faster than linalg.pooling_nhwc_max as scheduled: 7-9 vs 11 ms for pool1).
Value TrainStepLowering::lowerMaxPoolForward(Location loc, nin::MaxPool2DOp op) {
  auto o = cast<RankedTensorType>(op.getType()).getShape();
  SmallVector<int64_t> windows{o[0], o[2], o[3], o[1]};
  Value xp = padHW(loc, map_.lookup(op.getInput()), op.getPadding(), -kInf);
  auto [max, tap] = maxPoolArgmax(loc, xp, op.getKernel(), op.getStride(), windows);
  poolTaps_[op.getInput()] = {tap, SmallVector<int64_t>(op.getKernel()),
                              SmallVector<int64_t>(op.getStride()),
                              SmallVector<int64_t>(op.getPadding())};
  return max;
}

/// The same sums as scatterTaps, gathered: with dxpad viewed as [N, A, S0,
/// B, S1, C] (h = a*S0 + r, rounded up to whole strides), element (a, r) is
/// tap i = r + q*S0 of window a - q for every q with i < K0 (likewise along
/// W), so one all-parallel generic reads the `ins` (padded by `fills`, one
/// per input, so windows off the edge read nothing) at (a - q, b - p) for
/// the ceil(K/S)^2 (q, p), masks the terms whose i or j is past the window,
/// and sums add(t, ...) in increasing t from 0: the scatter's order, so the
/// results are bit-identical. dxpad is written once instead of read and
/// written once per tap (pool1: ~600 -> ~300 MB of memory traffic).
Value TrainStepLowering::gatherTaps(Location loc, ArrayRef<int64_t> kernel,
                                    ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                                    ArrayRef<int64_t> dxShape, ValueRange ins,
                                    ArrayRef<TypedAttr> fills, TapFn add,
                                    Value reluOutput) {
  SmallVector<int64_t> windows = shapeOf(ins[0]);
  auto ceilDiv = [](int64_t a, int64_t b) { return (a + b - 1) / b; };
  const int64_t hp = dxShape[1] + 2 * padding[0], wp = dxShape[2] + 2 * padding[1];
  const int64_t ah = ceilDiv(hp, stride[0]), aw = ceilDiv(wp, stride[1]);
  // Window offsets q < qh (p < qw); the inputs get qh - 1 rows before and
  // enough after.
  const int64_t qh = ceilDiv(kernel[0], stride[0]), qw = ceilDiv(kernel[1], stride[1]);
  const int64_t bh = std::max<int64_t>(0, ah - windows[1]);
  const int64_t bw = std::max<int64_t>(0, aw - windows[2]);
  SmallVector<Value> padded;
  for (auto [x, fill] : llvm::zip(ins, fills)) {
    auto t = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape{windows[0], windows[1] + qh - 1 + bh,
                               windows[2] + qw - 1 + bw, windows[3]};
    // A fill and an insert: scheduled as ordinary rows and a copy.
    Value value = b_.create<arith::ConstantOp>(loc, fill);
    Value canvas = b_.create<linalg::FillOp>(loc, value, empty(loc, shape, t.getElementType()))
                       .getResult(0);
    padded.push_back(b_.create<tensor::InsertSliceOp>(loc, x, canvas,
                                                      indexAttrs(b_, {0, qh - 1, qw - 1, 0}),
                                                      indexAttrs(b_, windows),
                                                      indexAttrs(b_, {1, 1, 1, 1})));
  }
  // Loops (n, a, r, b, s, c).
  MLIRContext *ctx = b_.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  // Each term reads its window-shifted view (a slice: linalg's tiling
  // mishandles constant offsets in indexing maps).
  SmallVector<Value> operands;
  SmallVector<AffineMap> maps;
  AffineMap read = AffineMap::get(6, 0, {d(0), d(1), d(3), d(5)}, ctx);
  for (int64_t q = 0; q < qh; ++q)
    for (int64_t p = 0; p < qw; ++p)
      for (Value x : padded) {
        operands.push_back(b_.create<tensor::ExtractSliceOp>(
            loc, x, indexAttrs(b_, {0, qh - 1 - q, qw - 1 - p, 0}),
            indexAttrs(b_, {windows[0], ah, aw, windows[3]}), indexAttrs(b_, {1, 1, 1, 1})));
        maps.push_back(read);
      }
  const size_t n = padded.size();
  if (reluOutput) { // dx masked by y > 0 (fusableReluMask: no crop)
    operands.push_back(reshape(loc, reluOutput, {dxShape[0], ah, stride[0], aw, stride[1],
                                                 dxShape[3]}, {{0}, {1, 2}, {3, 4}, {5}}));
    maps.push_back(AffineMap::getMultiDimIdentityMap(6, ctx));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(6, ctx));
  Value parts = generic(
      loc, operands, {empty(loc, {dxShape[0], ah, stride[0], aw, stride[1], dxShape[3]})}, maps,
      SmallVector<IteratorType>(6, IteratorType::parallel),
      [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
        Arith m{nb, nl};
        Value rh = m.loopIndex(2), rw = m.loopIndex(4), acc = m.f32(0.0f);
        size_t k = 0;
        for (int64_t q = 0; q < qh; ++q) {
          Value i = m.addi(rh, m.index(q * stride[0]));
          Value inI = nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::ult, i,
                                               m.index(kernel[0]));
          for (int64_t p = 0; p < qw; ++p, ++k) {
            Value j = m.addi(rw, m.index(p * stride[1]));
            Value inJ = nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::ult, j,
                                                 m.index(kernel[1]));
            Value t = m.addi(m.muli(i, m.index(kernel[1])), j);
            SmallVector<Value> args(a.begin() + k * n, a.begin() + (k + 1) * n);
            args.push_back(acc);
            Value in = nb.create<arith::AndIOp>(nl, inI, inJ);
            acc = m.select(in, add(m, t, args), acc);
          }
        }
        if (reluOutput)
          acc = m.reluMask(acc, a[k * n]);
        return {acc};
      })[0];
  Value dx = reshape(loc, parts, {dxShape[0], ah * stride[0], aw * stride[1], dxShape[3]},
                     {{0}, {1, 2}, {3, 4}, {5}});
  if (padding[0] == 0 && padding[1] == 0 && ah * stride[0] == dxShape[1] &&
      aw * stride[1] == dxShape[2])
    return dx;
  return b_.create<tensor::ExtractSliceOp>(loc, dx, indexAttrs(b_, {0, padding[0], padding[1], 0}),
                                           indexAttrs(b_, dxShape), indexAttrs(b_, {1, 1, 1, 1}));
}

Value TrainStepLowering::fusableReluMask(Operation *poolGrad, ArrayRef<int64_t> stride,
                                         ArrayRef<int64_t> padding) {
  if (!opts_.cpuForms || !poolGrad->hasOneUse() || padding[0] != 0 || padding[1] != 0)
    return {};
  auto relu = dyn_cast<nin::ReluGradOp>(*poolGrad->getUsers().begin());
  if (!relu || relu.getGrad() != poolGrad->getResult(0))
    return {};
  auto s = cast<RankedTensorType>(poolGrad->getResult(0).getType()).getShape(); // NCHW
  if (s[2] % stride[0] != 0 || s[3] % stride[1] != 0)
    return {};
  premasked_.insert(poolGrad->getResult(0));
  return map_.lookup(relu.getOutput());
}

/// Each window's dy goes to its first maximum in row-major order (padding is
/// -inf and never wins).
Value TrainStepLowering::lowerMaxPoolGrad(Location loc, nin::MaxPool2DGradOp op) {
  Value x = map_.lookup(op.getInput()), dy = map_.lookup(op.getGrad());
  ArrayRef<int64_t> kernel = op.getKernel(), stride = op.getStride(), padding = op.getPadding();
  SmallVector<int64_t> windows = shapeOf(dy);
  Value tap;
  if (opts_.cpuForms) {
    // The forward pass recorded each window's argmax (lowerMaxPoolForward).
    auto recorded = poolTaps_.find(op.getInput());
    if (recorded != poolTaps_.end() && recorded->second.kernel == kernel &&
        recorded->second.stride == stride && recorded->second.padding == padding)
      tap = recorded->second.tap;
    else
      tap = maxPoolArgmax(loc, padHW(loc, x, padding, -kInf), kernel, stride, windows).second;
  } else {
    Value xp = padHW(loc, x, padding, -kInf);
    Value best = filled(loc, windows, -kInf);
    tap = full(loc, windows, b_.getI32IntegerAttr(0));
    const int64_t taps = kernel[0] * kernel[1];
    for (int64_t t = 0; t < taps; ++t) {
      Value v = tapSlice(loc, xp, t / kernel[1], t % kernel[1], stride, windows);
      if (t == taps - 1 && t > 0) {
        // The last tap only decides the winner: no dead maximum to write.
        tap = elementwise(loc, {v, best}, {tap},
                          [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                            Arith m{nb, nl};
                            Value greater = m.cmpf(arith::CmpFPredicate::OGT, a[0], a[1]);
                            Value id = nb.create<arith::ConstantOp>(nl, nb.getI32IntegerAttr(t));
                            return {m.select(greater, id, a[2])};
                          })[0];
        break;
      }
      SmallVector<Value> r =
          elementwise(loc, {v}, {best, tap},
                      [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                        Arith m{nb, nl};
                        Value greater = m.cmpf(arith::CmpFPredicate::OGT, a[0], a[1]);
                        Value id = nb.create<arith::ConstantOp>(nl, nb.getI32IntegerAttr(t));
                        return {m.select(greater, a[0], a[1]), m.select(greater, id, a[2])};
                      });
      best = r[0];
      tap = r[1];
    }
  }
  Type tapType = cast<RankedTensorType>(tap.getType()).getElementType();
  auto add = [&](Arith &m, Value t, ValueRange a) {
    Value id = m.b.create<arith::IndexCastOp>(m.loc, tapType, t);
    Value mine = m.b.create<arith::CmpIOp>(m.loc, arith::CmpIPredicate::eq, a[0], id);
    return m.select(mine, m.addf(a[2], a[1]), a[2]);
  };
  if (opts_.cpuForms)
    return gatherTaps(loc, kernel, stride, padding, nhwcShape(op.getType()), {tap, dy},
                      {b_.getIntegerAttr(tapType, -1), b_.getF32FloatAttr(0.0f)}, add,
                      fusableReluMask(op, stride, padding));
  return scatterTaps(loc, kernel, stride, padding, nhwcShape(op.getType()), {tap, dy}, add);
}

/// Every element of a window gets dy / (KH * KW) (the full-window divisor).
Value TrainStepLowering::lowerAvgPoolGrad(Location loc, nin::AvgPool2DGradOp op) {
  ArrayRef<int64_t> kernel = op.getKernel();
  float area = static_cast<float>(kernel[0] * kernel[1]);
  auto add = [&](Arith &m, Value, ValueRange a) {
    return m.addf(a[1], m.divf(a[0], m.f32(area)));
  };
  if (opts_.cpuForms)
    return gatherTaps(loc, kernel, op.getStride(), op.getPadding(), nhwcShape(op.getType()),
                      {map_.lookup(op.getGrad())}, {b_.getF32FloatAttr(0.0f)}, add,
                      fusableReluMask(op, op.getStride(), op.getPadding()));
  return scatterTaps(loc, kernel, op.getStride(), op.getPadding(), nhwcShape(op.getType()),
                     {map_.lookup(op.getGrad())}, add);
}

} // namespace

LogicalResult lowerTrainStep(func::FuncOp trainStep, const TrainLoweringOptions &opts) {
  return TrainStepLowering(trainStep, opts).run();
}

} // namespace ninc
