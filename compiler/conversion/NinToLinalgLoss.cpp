//===- compiler/conversion/NinToLinalgLoss.cpp - Loss and SGD -> linalg ---===//
//
// The training step's loss and parameter update on linalg:
//
//   softmax_cross_entropy -> row max, sum of exp and the label's logit in f64,
//                            log-sum-exp, mean over the labelled rows;
//                            grad = (softmax - onehot) / rows, 0 in rows
//                            with the ignore label (-1: a short batch's
//                            padding, the interpreter's kIgnoreLabel)
//   sgd_update            -> elementwise generic (PyTorch's formula, velocity
//                            unchanged when momentum == 0)
//
//===----------------------------------------------------------------------===//

#include "compiler/conversion/NinToLinalgTrainInternal.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace ninc::lowering {

using utils::IteratorType;

/// loss = mean over labelled n of (logsumexp(z[n]) - z[n, label[n]]),
/// grad = (softmax(z) - onehot) / rows in labelled rows, 0 in the others, in
/// f64 like the interpreter (rows = max(labelled, 1)). The 0-d loss becomes [1].
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
  Value total = generic(loc, {lse, labelLogit, labels}, {zeros({1})},
                        {second, second, second, first}, rowReduce,
                        [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                          Arith m{nb, nl};
                          return {m.select(m.counts(a[2]), m.addf(a[3], m.subf(a[0], a[1])),
                                           a[3])};
                        })[0];
  // The labelled rows, at least 1 (a batch of padding has loss 0).
  Value rows = generic(loc, {labels}, {full(loc, {1}, b_.getF64FloatAttr(0))}, {second, first},
                       rowReduce, [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                         Arith m{nb, nl};
                         return {m.addf(a[1], m.select(m.counts(a[0]), m.f64(1), m.f64(0)))};
                       })[0];
  Value loss = generic(loc, {total, rows}, {empty(loc, {1})}, {id1, id1, id1},
                       {IteratorType::parallel},
                       [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                         Arith m{nb, nl};
                         Value r = nb.create<arith::MaximumFOp>(nl, a[1], m.f64(1));
                         return {m.truncf(m.divf(a[0], r))};
                       })[0];
  AffineMap scalar = AffineMap::get(2, 0, {getAffineConstantExpr(0, ctx)}, ctx);
  Value grad = generic(loc, {z, lse, labels, rows}, {empty(loc, {n, k})},
                       {both, first, first, scalar, both},
                       {IteratorType::parallel, IteratorType::parallel},
                       [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                         Arith m{nb, nl};
                         Value p = m.exp(m.subf(m.extf(a[0]), a[1]));
                         Value onehot = m.select(m.isIndex(1, a[2]), m.f64(1), m.f64(0));
                         Value r = nb.create<arith::MaximumFOp>(nl, a[3], m.f64(1));
                         Value g = m.divf(m.subf(p, onehot), r);
                         return {m.truncf(m.select(m.counts(a[2]), g, m.f64(0)))};
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

} // namespace ninc::lowering
