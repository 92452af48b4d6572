//===- compiler/conversion/NinToLinalgDropout.cpp - Training dropout -> linalg ---===//
//
// dropout_train -> an elementwise generic with SplitMix64 on i64: the
// interpreter's mask (runtime/support/Random.h) for the NCHW index of each
// element, so the compiled step drops exactly the interpreter's elements.
//
//===----------------------------------------------------------------------===//

#include "compiler/conversion/NinToLinalgTrainInternal.h"
#include "runtime/support/Random.h"

using namespace mlir;

namespace ninc::lowering {

/// Element e (its NCHW flat index in the global batch: first_image * the
/// elements of an image + its index in this batch) is kept iff
/// randomUniform01(seed, stream, step * 2^40 + e) >= rate; kept values are scaled by 1 / (1 - rate).
Value TrainStepLowering::lowerDropout(Location loc, nin::DropoutTrainOp op) {
  Value x = map_.lookup(op.getInput());
  auto nchw = cast<RankedTensorType>(op.getType()).getShape();
  Arith m{b_, loc};
  // NCHW strides of the iteration dims (n, h, w, c) of an NHWC tensor, or
  // row-major for other ranks.
  SmallVector<int64_t> strides(nchw.size(), 1);
  for (int64_t d = int64_t(nchw.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * nchw[d + 1];
  // Per call: key = mix64(seed ^ mix64(stream)), base = step * 2^40 +
  // first_image * (elements of an image): the element's index in the global
  // batch (data parallel: this batch starts at image first_image of it).
  Value key = m.mix64(m.xori(map_.lookup(op.getSeed()), m.i64(mix64(op.getStream()))));
  Value base = m.addi(b_.create<arith::ShLIOp>(loc, map_.lookup(op.getStep()), m.i64(40)),
                      m.muli(firstImage_, m.i64(uint64_t(strides[0]))));
  float rate = op.getRate().convertToFloat();
  float keptScale = 1.0f / (1.0f - rate); // T(1) / (T(1) - T(rate)) with T = float
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

} // namespace ninc::lowering
