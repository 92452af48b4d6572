//===- compiler/conversion/NinToLinalgPoolGrad.cpp - Pool/ReLU gradients -> linalg ---===//
//
// The pooling, ReLU and reshaping gradients of the training step on NHWC
// tensors:
//
//   relu_grad             -> an elementwise generic in place over dy (or on
//                            the rows of the matmul that made dy, or inside
//                            the pooling gradient's gather); without
//                            LinalgForms::reluGradInPlace, folded into its
//                            consumers after a k x k conv (the weight
//                            gradient's per-group transposes, the bias
//                            gradient's reduction, the input gradient's
//                            canvas read dy and y)
//   global_avg_pool_grad  -> broadcast of dy / (H*W);  unflatten -> reshape
//                            (+ transpose from NCHW order when H*W > 1)
//   max/avg_pool2d_grad   -> one elementwise generic per window tap (i, j) on
//                            the strided slice xpad[:, i::s, j::s, :]: the first
//                            maximum (strict >, taps in row-major order) picks
//                            the tap, then dy is added into the strided slice
//                            of a padded dx, which is cropped at the end.
//                            LinalgForms::maxPoolArgmax: the forward max pool
//                            is one generic computing (max, argmax as i8), the
//                            argmax kept for the gradient;
//                            LinalgForms::poolGradGather: dx is gathered in one
//                            generic over [N, H/s, s, W/s, s, C] (each element
//                            written once; the same sums in the same order).
//
//===----------------------------------------------------------------------===//

#include "compiler/conversion/NinToLinalgTrainInternal.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <algorithm>

using namespace mlir;

namespace ninc::lowering {

using utils::IteratorType;

namespace {

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

} // namespace

// --- ReLU gradients ------------------------------------------------------------

/// A ReLU gradient whose pooling gradient applied its mask (fusableReluMask)
/// is that gradient; one that folds into its readers maps to (dy, y) in
/// folded_; any other is dz written over dy.
void TrainStepLowering::lowerReluGrad(Location loc, nin::ReluGradOp op) {
  if (premasked_.contains(op.getGrad())) {
    map_[op.getResult()] = map_.lookup(op.getGrad()); // masked by the pooling gradient
    return;
  }
  if (!forms_.reluGradInPlace && reluGradFolds(op)) {
    folded_[op.getResult()] = {map_.lookup(op.getGrad()), map_.lookup(op.getOutput())};
    return;
  }
  map_[op.getResult()] = reluGradOverDy(loc, op);
}

/// dz = y > 0 ? dy : 0, written over dy (its only reader), so bufferization
/// reuses dy's buffer instead of a new one per ReLU.
Value TrainStepLowering::reluGradOverDy(Location loc, nin::ReluGradOp op) {
  Value dy = map_.lookup(op.getGrad()), y = map_.lookup(op.getOutput());
  // dy from a matmul (a 1x1 conv's input gradient, [NHW, C] expanded to
  // NHWC): the mask on the matmul's own shape, so the CPU schedule fuses it
  // into the matmul's register tiles as an epilogue (one pass over dy less).
  auto expand = dy.getDefiningOp<tensor::ExpandShapeOp>();
  if (forms_.reluGradInPlace && expand &&
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

// --- Global average pool and flatten gradients ------------------------------------

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

/// The training step's forward max pool in the maxPoolArgmax form: the one-pass
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
  if (!forms_.reluGradInPlace || !poolGrad->hasOneUse() || padding[0] != 0 ||
      padding[1] != 0)
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
  if (forms_.maxPoolArgmax) {
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
  if (forms_.poolGradGather)
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
  if (forms_.poolGradGather)
    return gatherTaps(loc, kernel, op.getStride(), op.getPadding(), nhwcShape(op.getType()),
                      {map_.lookup(op.getGrad())}, {b_.getF32FloatAttr(0.0f)}, add,
                      fusableReluMask(op, op.getStride(), op.getPadding()));
  return scatterTaps(loc, kernel, op.getStride(), op.getPadding(), nhwcShape(op.getType()),
                     {map_.lookup(op.getGrad())}, add);
}

} // namespace ninc::lowering
