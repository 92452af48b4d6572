//===- compiler/codegen/cpu/WeightLayouts.cpp - Weights the code reorders --===//
//
// Weights in the layouts the schedules want, and where they live:
//
// - weightLayout: a layout computed from the weights blob. In a function
//   with the nin.repack flag (inference) it is computed into a buffer the
//   memory plan keeps between calls (memref.alloc {nin.persistent}), only
//   when the flag says the weights changed:
//     %keep = bufferization.to_tensor %buf restrict writable
//     %w2 = scf.if %repack -> tensor { compute into %keep } else { %keep }
//   Elsewhere (the training step, whose weights change every step) on every
//   call. PackOperands.cpp packs the filters' column tiles with it.
//
// - widenNarrowConvs: a conv with fewer output channels than two vectors and
//   not whole vectors nor a power of two (the classifier's 3x3 384 -> 10)
//   computes vector<Rx10>
//   register tiles that LLVM splits into shuffles and spills (5% of peak).
//   Before scheduling, the conv and its bias/ReLU epilogue are widened to
//   whole vectors on a filter and bias padded with zero columns, and the
//   first F channels of the result replace the old one:
//     %wp = padColumns(%w) : [KH, KW, C, 16]     (kept, as above)
//     %c  = conv(%x, %wp) outs(fill [N, OH, OW, 16])
//     %e  = epilogue(%c, padColumns(%bias))       [N, OH, OW, 16]
//     %r  = tensor.extract_slice %e [0, 0, 0, 0] [N, OH, OW, 10]
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace ninc::cpu::detail {

/// The function's nin.repack flag argument, or null.
Value repackFlagOf(Operation *op) {
  auto func = op->getParentOfType<func::FuncOp>();
  if (!func || func.getNumArguments() == 0 ||
      !func.getArgAttr(func.getNumArguments() - 1, attr::kRepack))
    return nullptr;
  return func.getArgument(func.getNumArguments() - 1);
}

/// True when `v` is a view of the nin.weights argument (through slices and
/// reshapes): it changes only when the caller says so.
bool isWeightView(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (isa<tensor::ExtractSliceOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp,
            bufferization::ToTensorOp>(def))
      v = def->getOperand(0);
    else
      return false;
  }
  auto arg = dyn_cast<BlockArgument>(v);
  auto func = arg ? dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp()) : nullptr;
  return func && func.getArgAttr(arg.getArgNumber(), attr::kWeights);
}

/// A weight layout of `shape` that `compute` writes into a destination
/// tensor it is given, built with `b`: without `repack`, into a fresh tensor
/// on every call; with it (a function's nin.repack flag), into a buffer the
/// memory plan keeps between calls (named after the layer at `user`), and
/// only when the flag is set. Returns the value the users read.
Value weightLayout(OpBuilder &b, Location loc, Location user, const std::vector<int64_t> &shape,
                   Type element, Value repack,
                   const std::function<Value(OpBuilder &, Location, Value)> &compute) {
  if (!repack)
    return compute(b, loc, b.create<tensor::EmptyOp>(loc, shape, element));
  auto buffer = b.create<memref::AllocOp>(user, MemRefType::get(shape, element));
  buffer->setAttr(attr::kPersistent, b.getUnitAttr());
  Value kept = b.create<bufferization::ToTensorOp>(loc, buffer, /*restrict=*/true,
                                                   /*writable=*/true);
  Value zero = b.create<arith::ConstantIntOp>(loc, 0, 32);
  Value changed = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, repack, zero);
  auto branch = b.create<scf::IfOp>(
      loc, changed,
      [&](OpBuilder &then, Location l) {
        then.create<scf::YieldOp>(l, compute(then, l, kept));
      },
      [&](OpBuilder &otherwise, Location l) { otherwise.create<scf::YieldOp>(l, kept); });
  return branch.getResult(0);
}

namespace {

/// [0, ...] [sizes] [1, ...]: the leading window of `type`'s shape.
struct Window {
  llvm::SmallVector<OpFoldResult> offsets, sizes, strides;
  Window(OpBuilder &b, RankedTensorType type) {
    for (int64_t size : type.getShape()) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(size));
      strides.push_back(b.getIndexAttr(1));
    }
  }
};

} // namespace

/// [..., F] -> [..., width]: `source` with zero columns F..width-1, right
/// after it (weightLayout says where and when).
Value padColumns(Value source, int64_t width, Value repack, Location user) {
  auto type = cast<RankedTensorType>(source.getType());
  std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
  shape.back() = width;
  OpBuilder b(source.getContext());
  b.setInsertionPointAfterValue(source);
  Location loc = source.getLoc();
  return weightLayout(
      b, loc, user, shape, type.getElementType(), repack,
      [&](OpBuilder &in, Location l, Value dest) -> Value {
        Value zero = in.create<arith::ConstantOp>(l, in.getZeroAttr(type.getElementType()));
        Value zeros = in.create<linalg::FillOp>(l, zero, dest)->getResult(0);
        Window w(in, type);
        Value window =
            in.create<tensor::ExtractSliceOp>(l, type, zeros, w.offsets, w.sizes, w.strides);
        Value copy = in.create<linalg::CopyOp>(l, source, window)->getResult(0);
        return in.create<tensor::InsertSliceOp>(l, copy, zeros, w.offsets, w.sizes, w.strides);
      });
}

namespace {

/// The epilogue `e` of `conv` can be computed `width` channels wide: all
/// parallel, no linalg.index, one output of the conv's shape (the conv's
/// result, accumulated in place, or a new tensor), and each input either the
/// conv's result or a [F] weight view read along the channels.
bool canWiden(linalg::GenericOp e, Operation *conv, int64_t channels) {
  if (e.getNumDpsInits() != 1 || e.getNumParallelLoops() != e.getNumLoops() ||
      !e.getBody()->getOps<linalg::IndexOp>().empty() ||
      e->getResult(0).getType() != conv->getResult(0).getType() ||
      !e.getIndexingMapsArray().back().isIdentity())
    return false;
  Value init = e.getDpsInitOperand(0)->get();
  if (init != conv->getResult(0) && !init.getDefiningOp<tensor::EmptyOp>())
    return false;
  for (OpOperand *in : e.getDpsInputOperands()) {
    if (in->get() == conv->getResult(0)) {
      if (!e.getMatchingIndexingMap(in).isIdentity())
        return false;
      continue;
    }
    auto type = dyn_cast<RankedTensorType>(in->get().getType());
    AffineMap map = e.getMatchingIndexingMap(in);
    if (!type || type.getRank() != 1 || type.getDimSize(0) != channels ||
        !isWeightView(in->get()) || map.getNumResults() != 1 ||
        map.getResult(0) != getAffineDimExpr(e.getNumLoops() - 1, e.getContext()))
      return false;
  }
  return true;
}

} // namespace

void widenNarrowConvs(ModuleOp module, int64_t lanes, bool keepPackedWeights) {
  llvm::SmallVector<linalg::Conv2DNhwcHwcfOp> convs;
  module.walk([&](linalg::Conv2DNhwcHwcfOp op) { convs.push_back(op); });
  llvm::DenseMap<Value, Value> padded; // weight view -> its padded layout
  for (linalg::Conv2DNhwcHwcfOp conv : convs) {
    if (conv.hasDynamicShape() || !conv.hasPureTensorSemantics() || conv->hasAttr(kBf16Tag) ||
        !conv->getResult(0).hasOneUse())
      continue;
    Value filter = conv->getOperand(1);
    auto filterType = cast<RankedTensorType>(filter.getType());
    int64_t channels = filterType.getShape().back();
    // Whole vectors, or a power-of-two part of one (8 lanes of a zmm: a
    // ymm), are legal vector types; 10 or 12 lanes are not.
    bool legal = channels % lanes == 0 || (llvm::isPowerOf2_64(channels) && channels >= 4);
    if (!filterType.getElementType().isF32() || legal || channels > 2 * lanes ||
        !isWeightView(filter))
      continue;
    auto fill = conv.getDpsInitOperand(0)->get().getDefiningOp<linalg::FillOp>();
    auto epilogue = dyn_cast<linalg::GenericOp>(*conv->getResult(0).getUsers().begin());
    if (!fill || !epilogue || !canWiden(epilogue, conv, channels))
      continue;
    const int64_t width = (channels + lanes - 1) / lanes * lanes;
    Value repack = keepPackedWeights ? repackFlagOf(conv) : nullptr;
    auto widened = [&](Value weight) {
      Value &p = padded[weight];
      if (!p)
        p = padColumns(weight, width, repack, conv.getLoc());
      return p;
    };
    auto outType = cast<RankedTensorType>(conv->getResult(0).getType());
    llvm::SmallVector<int64_t> shape(outType.getShape());
    shape.back() = width;
    auto wideType = RankedTensorType::get(shape, outType.getElementType());

    OpBuilder b(epilogue);
    Location loc = conv.getLoc();
    Value empty = b.create<tensor::EmptyOp>(loc, shape, outType.getElementType());
    Operation *wideFill = b.clone(*fill);
    wideFill->setOperand(1, empty);
    wideFill->getResult(0).setType(wideType);
    Operation *wideConv = b.clone(*conv);
    wideConv->setOperand(1, widened(filter));
    wideConv->setOperand(2, wideFill->getResult(0));
    wideConv->getResult(0).setType(wideType);
    Value wideInit = epilogue.getDpsInitOperand(0)->get() == conv->getResult(0)
                         ? Value(wideConv->getResult(0)) // accumulated in place
                         : Value(b.create<tensor::EmptyOp>(loc, shape, outType.getElementType()));
    Operation *wideEpilogue = b.clone(*epilogue);
    for (OpOperand *in : epilogue.getDpsInputOperands()) {
      Value v = in->get() == conv->getResult(0) ? wideConv->getResult(0) : widened(in->get());
      wideEpilogue->setOperand(in->getOperandNumber(), v);
    }
    OpOperand *init = epilogue.getDpsInitOperand(0);
    wideEpilogue->setOperand(init->getOperandNumber(), wideInit);
    wideEpilogue->getResult(0).setType(wideType);
    Window w(b, outType);
    Value result = b.create<tensor::ExtractSliceOp>(loc, outType, wideEpilogue->getResult(0),
                                                    w.offsets, w.sizes, w.strides);
    epilogue->getResult(0).replaceAllUsesWith(result);
    epilogue->erase();
    conv->erase();
    if (fill->use_empty())
      fill->erase();
  }
}

} // namespace ninc::cpu::detail
