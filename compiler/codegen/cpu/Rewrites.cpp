//===- compiler/codegen/cpu/Rewrites.cpp - Wide reductions, loop buffers -===//
//
// Before scheduling: wide reductions split into parallel partial sums (the
// pass ninc-cpu-split-wide-reductions), zero pads as canvases their source
// is computed into. After it: the buffers of parallel loop bodies on the
// stack, and the max pools' maxima as one compare-select.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/SmallVector.h"

using namespace mlir;

namespace ninc::cpu::detail {

// tensor.pad %y low[..] high[..] (a constant 0) becomes
//   %canvas = linalg.fill 0 outs(tensor.empty [padded shape])
//   insert_slice %y into %canvas [low offsets]
// with the canvas created right before the tensor.empty %y is computed
// into (through its ops' destinations), so that the finishing script's
// empty-tensor elimination lets %y's producer (a pool) write into the
// canvas: no copy of %y into the padded buffer (one read and one write of
// it; bufferized, a tensor.pad is a fill and a copy).
void padsIntoCanvases(ModuleOp module) {
  SmallVector<tensor::PadOp> pads;
  module.walk([&](tensor::PadOp pad) { pads.push_back(pad); });
  for (tensor::PadOp pad : pads) {
    Value value = pad.getConstantPaddingValue();
    RankedTensorType type = pad.getResultType();
    if (!value || !matchPattern(value, m_AnyZeroFloat()) || !type.hasStaticShape() ||
        ShapedType::isDynamicShape(pad.getStaticLow()))
      continue;
    Operation *def = pad.getSource().getDefiningOp();
    while (auto dps = dyn_cast_or_null<DestinationStyleOpInterface>(def)) {
      if (dps.getNumDpsInits() != 1)
        break;
      def = dps.getDpsInitOperand(0)->get().getDefiningOp();
    }
    auto empty = dyn_cast_or_null<tensor::EmptyOp>(def);
    if (!empty || empty->getBlock() != pad->getBlock())
      continue;
    OpBuilder b(empty);
    Location loc = pad.getLoc();
    Value zero = b.create<arith::ConstantOp>(loc, b.getZeroAttr(type.getElementType()));
    Value canvas = b.create<tensor::EmptyOp>(loc, type.getShape(), type.getElementType());
    Value filled = b.create<linalg::FillOp>(loc, zero, canvas).getResult(0);
    b.setInsertionPoint(pad);
    SmallVector<OpFoldResult> sizes, strides(type.getRank(), b.getIndexAttr(1));
    for (int64_t d : pad.getSourceType().getShape())
      sizes.push_back(b.getIndexAttr(d));
    Value inserted = b.create<tensor::InsertSliceOp>(loc, pad.getSource(), filled,
                                                     pad.getMixedLowPad(), sizes, strides);
    pad.replaceAllUsesWith(inserted);
    pad.erase();
  }
}

// out[c] (+)= sum over (r0..rk-1) of body(in...[r0..rk-1, c]): the bias
// gradients (dy summed over batch and pixels per channel). Scheduled as is it
// has no parallel outer loop and runs on one thread; split, the partial sums
// part[t][c] over T chunks of the R = r0*...*rk-1 rows are parallel over t
// (and vectorised over c), and a small second op adds them in order: the
// result depends on T only, not on the thread count.
void splitWideReductions(ModuleOp module) {
  SmallVector<linalg::GenericOp> candidates;
  module.walk([&](linalg::GenericOp op) {
    auto iters = op.getIteratorTypesArray();
    int64_t n = int64_t(iters.size());
    if (n < 2 || iters.back() != utils::IteratorType::parallel || op.getNumDpsInits() != 1 ||
        op.getNumResults() != 1 || !op.hasPureTensorSemantics() ||
        op->getParentOfType<linalg::LinalgOp>())
      return;
    for (int64_t i = 0; i + 1 < n; ++i)
      if (iters[i] != utils::IteratorType::reduction)
        return;
    auto outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
    if (outMap.getNumResults() != 1 || outMap.getResult(0) != getAffineDimExpr(n - 1, op.getContext()))
      return;
    for (OpOperand *in : op.getDpsInputOperands()) {
      auto t = dyn_cast<RankedTensorType>(in->get().getType());
      if (!t || !t.hasStaticShape() || !op.getMatchingIndexingMap(in).isIdentity())
        return;
    }
    // The body must end in out + x, with the out argument used only there.
    Block &body = op.getRegion().front();
    Value out = body.getArgument(op.getNumDpsInputs());
    auto add = cast<linalg::YieldOp>(body.getTerminator()).getOperand(0).getDefiningOp<arith::AddFOp>();
    if (!add || !out.hasOneUse() || (add.getLhs() != out && add.getRhs() != out))
      return;
    candidates.push_back(op);
  });
  for (linalg::GenericOp op : candidates) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    int64_t n = int64_t(ranges.size()), c = ranges.back(), rows = 1;
    for (int64_t i = 0; i + 1 < n; ++i)
      rows *= ranges[i];
    int64_t chunks = 0;
    for (int64_t t = 64; t >= 4; --t)
      if (rows % t == 0) {
        chunks = t;
        break;
      }
    if (!chunks || rows < 64 * chunks)
      continue;
    OpBuilder b(op);
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Type elem = cast<RankedTensorType>(op.getResultTypes()[0]).getElementType();
    // Inputs [r0, ..., c] -> [R, c] -> [T, R/T, c].
    SmallVector<Value> inputs;
    for (OpOperand *in : op.getDpsInputOperands()) {
      SmallVector<ReassociationIndices> collapse(2);
      for (int64_t i = 0; i + 1 < n; ++i)
        collapse[0].push_back(i);
      collapse[1].push_back(n - 1);
      auto inType = cast<RankedTensorType>(in->get().getType());
      Value flat = b.create<tensor::CollapseShapeOp>(loc, in->get(), collapse);
      auto split = RankedTensorType::get({chunks, rows / chunks, c}, inType.getElementType());
      inputs.push_back(b.create<tensor::ExpandShapeOp>(
          loc, split, flat, SmallVector<ReassociationIndices>{{0, 1}, {2}}));
    }
    auto partType = RankedTensorType::get({chunks, c}, elem);
    Value zero = b.create<arith::ConstantOp>(loc, elem, b.getFloatAttr(elem, 0.0));
    Value partInit = b.create<linalg::FillOp>(
                          loc, zero, b.create<tensor::EmptyOp>(loc, partType.getShape(), elem).getResult())
                         .getResult(0);
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               d2 = getAffineDimExpr(2, ctx);
    SmallVector<AffineMap> partMaps(inputs.size(), AffineMap::getMultiDimIdentityMap(3, ctx));
    partMaps.push_back(AffineMap::get(3, 0, {d0, d2}, ctx));
    auto part = b.create<linalg::GenericOp>(
        loc, TypeRange{partType}, inputs, ValueRange{partInit}, partMaps,
        SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                         utils::IteratorType::reduction,
                                         utils::IteratorType::parallel});
    IRMapping map;
    op.getRegion().cloneInto(&part.getRegion(), map);
    // Then out[c] = init[c] + part[0][c] + ... + part[T-1][c].
    SmallVector<AffineMap> sumMaps{AffineMap::get(2, 0, {d0, d1}, ctx),
                                   AffineMap::get(2, 0, {d1}, ctx)};
    auto sum = b.create<linalg::GenericOp>(
        loc, op.getResultTypes(), ValueRange{part.getResult(0)},
        ValueRange{op.getDpsInitOperand(0)->get()}, sumMaps,
        SmallVector<utils::IteratorType>{utils::IteratorType::reduction,
                                         utils::IteratorType::parallel},
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          nb.create<linalg::YieldOp>(nl, nb.create<arith::AddFOp>(nl, args[1], args[0]).getResult());
        });
    op.getResult(0).replaceAllUsesWith(sum.getResult(0));
    op.erase();
  }
}

void stackAllocateLoopBuffers(ModuleOp module) {
  SmallVector<memref::AllocOp> allocs;
  module.walk([&](memref::AllocOp alloc) {
    MemRefType type = alloc.getType();
    if (alloc->getParentOfType<scf::ForallOp>() && type.hasStaticShape() &&
        !type.getMemorySpace() && type.getLayout().isIdentity() &&
        type.getNumElements() * type.getElementTypeBitWidth() / 8 <= kStackBufferBytes)
      allocs.push_back(alloc);
  });
  for (memref::AllocOp alloc : allocs) {
    OpBuilder b(alloc);
    auto stack = b.create<memref::AllocaOp>(alloc.getLoc(), alloc.getType(),
                                            alloc.getAlignmentAttr());
    alloc.replaceAllUsesWith(stack.getResult());
    alloc.erase();
  }
}

void selectMaxima(ModuleOp module) {
  SmallVector<arith::MaximumFOp> maxima;
  module.walk([&](arith::MaximumFOp op) {
    auto type = dyn_cast<VectorType>(op.getType());
    auto computed = [](Value v) { return !v.getDefiningOp<arith::ConstantOp>(); };
    if (type && type.getNumElements() > 1 && computed(op.getLhs()) && computed(op.getRhs()))
      maxima.push_back(op);
  });
  for (arith::MaximumFOp op : maxima) {
    OpBuilder b(op);
    // x86's maxps(a, b) is exactly a > b ? a : b (b when either is NaN).
    Value greater = b.create<arith::CmpFOp>(op.getLoc(), arith::CmpFPredicate::OGT, op.getLhs(),
                                            op.getRhs());
    op.replaceAllUsesWith(
        b.create<arith::SelectOp>(op.getLoc(), greater, op.getLhs(), op.getRhs()).getResult());
    op.erase();
  }
}

} // namespace ninc::cpu::detail
