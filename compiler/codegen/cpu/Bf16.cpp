//===- compiler/codegen/cpu/Bf16.cpp - AVX512-BF16 register tiles --------===//
//
// --precision=bf16 on the CPU. Every conv_2d_nhwc_hwcf and matmul whose
// reduction channels come in pairs and whose register tile is whole zmm
// registers of output channels - except the weight gradients (tagged
// nin.weight_grad), kept fp32 for accuracy - multiplies in bf16 with vdpbf16ps (each fp32
// lane += x[2c] * w[2c] + x[2c+1] * w[2c+1]) and accumulates in fp32; the
// weights stay fp32 (the master copy training updates) and are rounded as
// they are packed.
//
//   markBf16Ops (before scheduling): the input (conv x, matmul A) is rounded
//     to bf16 - by its producer when that is used only here and is a
//     transpose, an elementwise generic or the in-place bias/ReLU epilogue
//     (also through a collapse_shape), else by a new elementwise op - and the op is
//     rebuilt on it, tagged ninc.bf16 (mixed bf16 x f32 -> f32 is plain
//     linalg: extf, multiply, add; so tiling and fusion are unchanged);
//   lowerBf16Tiles (after tiling): the filter / B, [L..., C, F] (L = KH, KW
//     for a conv, none for a matmul), is packed once into the VNNI layout
//     [F/TF][L...][C/2][TF x 2] - for each output lane the bf16 pair of two
//     consecutive channels - and every register tile of TW x TF outputs
//     becomes vdpbf16ps loops on tensors (buildBf16DotTile, MicroKernels.cpp).
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace ninc::cpu::detail {
namespace {

bool isF32(Value v) {
  return cast<ShapedType>(v.getType()).getElementType().isF32();
}

/// The output's (rows, channels) extents the register tile is chosen over.
std::pair<int64_t, int64_t> tiledExtents(linalg::LinalgOp op) {
  llvm::ArrayRef<int64_t> out =
      cast<ShapedType>(op.getDpsInitOperand(0)->get().getType()).getShape();
  if (isa<linalg::MatmulOp>(op))
    return {out[0], out[1]};
  return {out[2], out[3]};
}

bool eligible(linalg::LinalgOp op, const ScheduleParams &params) {
  if (!isa<linalg::Conv2DNhwcHwcfOp, linalg::MatmulOp>(op) ||
      op.hasDynamicShape() || !op.hasPureTensorSemantics())
    return false;
  if (!llvm::all_of(op->getOperands(), isF32))
    return false;
  // Weight gradients stay fp32: with them in bf16 the tuned experiment
  // trained half an epoch behind fp32 and ended 1.0 point lower; with them
  // in fp32 (6% slower a step) it tracks fp32 (docs/experiments.md).
  if (op->hasAttr(attr::kWeightGrad))
    return false;

  auto w = cast<ShapedType>(op->getOperand(1).getType());
  int64_t channels = w.getDimSize(w.getRank() - 2);
  auto [rows, cols] = tiledExtents(op);
  return channels % 2 == 0 &&
         chooseRegisterTile(rows, cols, params).cols % kBf16DotLanes == 0;
}

AffineMap identity(int64_t rank, MLIRContext *ctx) {
  return AffineMap::getMultiDimIdentityMap(rank, ctx);
}

/// `x` rounded to bf16 (round to nearest even: vcvtneps2bf16).
Value roundToBf16(Value x, llvm::DenseMap<Value, Value> &cache) {
  if (Value done = cache.lookup(x))
    return done;
  MLIRContext *ctx = x.getContext();
  Type bf16 = BFloat16Type::get(ctx);
  auto type = cast<RankedTensorType>(x.getType());
  auto rounded = RankedTensorType::get(type.getShape(), bf16);
  int64_t rank = type.getRank();
  SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
  Operation *def = x.getDefiningOp();
  OpBuilder b(ctx);
  Value result;
  // The producer writes bf16 itself when nothing else reads its output.
  if (def && x.hasOneUse()) {
    b.setInsertionPoint(def);
    if (auto t = dyn_cast<linalg::TransposeOp>(def)) {
      // init[d] = input[d permuted]: input dim perm[k] is loop k.
      SmallVector<AffineExpr> read(rank);
      for (auto [k, p] : llvm::enumerate(t.getPermutation()))
        read[p] = b.getAffineDimExpr(k);
      Value init = b.create<tensor::EmptyOp>(t.getLoc(), rounded.getShape(), bf16);
      result = b.create<linalg::GenericOp>(
                    t.getLoc(), TypeRange{rounded}, ValueRange{t.getInput()},
                    ValueRange{init},
                    ArrayRef<AffineMap>{AffineMap::get(rank, 0, read, ctx),
                                        identity(rank, ctx)},
                    parallel,
                    [&](OpBuilder &nb, Location nl, ValueRange a) {
                      nb.create<linalg::YieldOp>(
                          nl, nb.create<arith::TruncFOp>(nl, bf16, a[0])
                                  .getResult());
                    })
                   .getResult(0);
    } else if (auto g = dyn_cast<linalg::GenericOp>(def);
               g && g.getNumResults() == 1 &&
               g.getNumParallelLoops() == g.getNumLoops() &&
               g.getMatchingIndexingMap(g.getDpsInitOperand(0)).isIdentity()) {
      // An elementwise op into an empty tensor, or one updating its init in
      // place (the bias/ReLU epilogue: outs(%conv)), whose init is then read
      // as an input: either way it writes a new bf16 tensor.
      OpOperand *initOperand = g.getDpsInitOperand(0);
      bool readsInit = g.payloadUsesValueFromOperand(initOperand);
      SmallVector<Value> inputs(g.getDpsInputs());
      SmallVector<AffineMap> maps;
      for (OpOperand *in : g.getDpsInputOperands())
        maps.push_back(g.getMatchingIndexingMap(in));
      if (readsInit) {
        inputs.push_back(initOperand->get());
        maps.push_back(identity(rank, ctx));
      }
      maps.push_back(identity(rank, ctx));
      Value init = b.create<tensor::EmptyOp>(g.getLoc(), rounded.getShape(), bf16);
      auto clone = b.create<linalg::GenericOp>(
          g.getLoc(), TypeRange{rounded}, inputs, ValueRange{init}, maps,
          g.getIteratorTypesArray(),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            IRMapping map;
            Block &body = g.getRegion().front();
            int64_t numIns = g.getNumDpsInputs();
            for (int64_t i = 0; i < numIns; ++i)
              map.map(body.getArgument(i), args[i]);
            if (readsInit)
              map.map(body.getArgument(numIns), args[numIns]);
            for (Operation &op : body.without_terminator())
              nb.clone(op, map);
            Value y = map.lookup(body.getTerminator()->getOperand(0));
            nb.create<linalg::YieldOp>(
                nl, nb.create<arith::TruncFOp>(nl, bf16, y).getResult());
          });
      result = clone.getResult(0);
    } else if (auto c = dyn_cast<tensor::CollapseShapeOp>(def)) {
      // Through the reshape (a matmul's [N*H*W, C] view of an activation).
      Value source = roundToBf16(c.getSrc(), cache);
      b.setInsertionPoint(c);
      result = b.create<tensor::CollapseShapeOp>(c.getLoc(), rounded, source,
                                                 c.getReassociationIndices());
    }
    if (result) {
      copyTags(def, result.getDefiningOp());
      // Not cached: `x` had this one use, and its storage is freed here.
      x.replaceAllUsesWith(result);
      def->erase();
      return result;
    }
  }
  b.setInsertionPointAfterValue(x);
  Location loc = x.getLoc();
  Value init = b.create<tensor::EmptyOp>(loc, rounded.getShape(), bf16);
  result = b.create<linalg::GenericOp>(
                loc, TypeRange{rounded}, ValueRange{x}, ValueRange{init},
                ArrayRef<AffineMap>{identity(rank, ctx), identity(rank, ctx)},
                parallel,
                [&](OpBuilder &nb, Location nl, ValueRange a) {
                  nb.create<linalg::YieldOp>(
                      nl, nb.create<arith::TruncFOp>(nl, bf16, a[0]).getResult());
                })
               .getResult(0);
  return cache[x] = result;
}

/// [L..., C, F] f32 -> [F/tile][L...][C/2][tile x 2] bf16, right after
/// `source` (an elementwise generic over the split dims, scheduled as rows
/// of tile x 2 by planVnniPack).
linalg::GenericOp buildVnniPack(Value source, int64_t tile) {
  MLIRContext *ctx = source.getContext();
  Type bf16 = BFloat16Type::get(ctx);
  auto type = cast<RankedTensorType>(source.getType());
  llvm::ArrayRef<int64_t> shape = type.getShape();
  int64_t lead = type.getRank() - 2, c = shape[lead], f = shape[lead + 1];
  // expanded [L..., C/2, 2, F/tile, tile]
  SmallVector<int64_t> expanded(shape.begin(), shape.begin() + lead);
  expanded.append({c / 2, 2, f / tile, tile});
  SmallVector<ReassociationIndices> groups;
  for (int64_t d = 0; d < lead; ++d)
    groups.push_back({d});
  groups.push_back({lead, lead + 1});
  groups.push_back({lead + 2, lead + 3});
  // loops / output [F/tile, L..., C/2, tile, 2]
  SmallVector<int64_t> out = {f / tile};
  out.append(shape.begin(), shape.begin() + lead);
  out.append({c / 2, tile, 2});
  int64_t rank = out.size();
  SmallVector<AffineExpr> read;
  for (int64_t d = 0; d < lead; ++d)
    read.push_back(getAffineDimExpr(1 + d, ctx));
  read.append({getAffineDimExpr(lead + 1, ctx), getAffineDimExpr(lead + 3, ctx),
               getAffineDimExpr(0, ctx), getAffineDimExpr(lead + 2, ctx)});

  OpBuilder b(ctx);
  b.setInsertionPointAfterValue(source);
  Location loc = source.getLoc();
  Value split = b.create<tensor::ExpandShapeOp>(
      loc, RankedTensorType::get(expanded, type.getElementType()), source,
      groups);
  Value init = b.create<tensor::EmptyOp>(loc, out, bf16);
  SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
  return b.create<linalg::GenericOp>(
      loc, TypeRange{init.getType()}, ValueRange{split}, ValueRange{init},
      ArrayRef<AffineMap>{AffineMap::get(rank, 0, read, ctx),
                          identity(rank, ctx)},
      parallel, [&](OpBuilder &nb, Location nl, ValueRange a) {
        nb.create<linalg::YieldOp>(
            nl, nb.create<arith::TruncFOp>(nl, bf16, a[0]).getResult());
      });
}

/// The pack's output with the last two dims merged, [F/tile, L..., C/2,
/// tile * 2] (free after bufferization), right after the pack.
Value mergedPack(linalg::GenericOp pack) {
  auto type = cast<RankedTensorType>(pack.getResult(0).getType());
  int64_t rank = type.getRank();
  SmallVector<ReassociationIndices> groups;
  for (int64_t d = 0; d + 2 < rank; ++d)
    groups.push_back({d});
  groups.push_back({rank - 2, rank - 1});
  OpBuilder b(pack);
  b.setInsertionPointAfter(pack);
  return b.create<tensor::CollapseShapeOp>(pack.getLoc(), pack.getResult(0),
                                           groups);
}

} // namespace

void markBf16Ops(ModuleOp module, const ScheduleParams &params) {
  module.getContext()->getOrLoadDialect<LLVM::LLVMDialect>();
  SmallVector<linalg::LinalgOp> ops;
  module.walk([&](linalg::LinalgOp op) {
    if (eligible(op, params))
      ops.push_back(op);
  });
  llvm::DenseMap<Value, Value> rounded;
  for (linalg::LinalgOp op : ops) {
    Value x = roundToBf16(op->getOperand(0), rounded);
    Value w = op->getOperand(1), init = op.getDpsInitOperand(0)->get();
    OpBuilder b(op);
    Operation *rebuilt;
    if (auto conv = dyn_cast<linalg::Conv2DNhwcHwcfOp>(op.getOperation()))
      rebuilt = b.create<linalg::Conv2DNhwcHwcfOp>(
          op.getLoc(), op->getResultTypes(), ValueRange{x, w}, ValueRange{init},
          conv.getStrides(), conv.getDilations());
    else
      rebuilt = b.create<linalg::MatmulOp>(op.getLoc(), op->getResultTypes(),
                                           ValueRange{x, w}, ValueRange{init});
    copyTags(op, rebuilt);
    rebuilt->setAttr(kBf16Tag, UnitAttr::get(op.getContext()));
    op->replaceAllUsesWith(rebuilt);
    op->erase();
  }
}

int64_t lowerBf16Tiles(ModuleOp module, const std::vector<int64_t> &anchorTags,
                       const std::function<void(Operation *)> &schedulePack) {
  llvm::DenseSet<int64_t> anchors(anchorTags.begin(), anchorTags.end());
  SmallVector<linalg::LinalgOp> tiles;
  module.walk([&](linalg::LinalgOp op) {
    auto id = op->getAttrOfType<IntegerAttr>(kScheduleTag);
    if (id && anchors.contains(id.getInt()) && !op.hasDynamicShape())
      tiles.push_back(op);
  });
  llvm::DenseMap<std::pair<Value, int64_t>, Value> packs;
  int64_t lowered = 0;
  for (linalg::LinalgOp op : tiles) {
    Value filter = op->getOperand(1);
    auto filterType = cast<RankedTensorType>(filter.getType());
    int64_t cols = filterType.getShape().back();
    if (cols % kBf16DotLanes)
      continue;
    // The tile's filter: a column window of the whole one, or all of it.
    Value source = filter;
    OpFoldResult column = OpBuilder(op).getIndexAttr(0);
    if (auto slice = filter.getDefiningOp<tensor::ExtractSliceOp>()) {
      if (!isColumnTile(slice, cols))
        continue;
      source = slice.getSource();
      column = slice.getMixedOffsets().back();
    }
    Value &merged = packs[{source, cols}];
    if (!merged) {
      linalg::GenericOp pack = buildVnniPack(source, cols);
      schedulePack(pack);
      merged = mergedPack(pack);
    }
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto mergedType = cast<RankedTensorType>(merged.getType());
    int64_t rank = mergedType.getRank();
    AffineExpr d0 = b.getAffineDimExpr(0);
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    offsets[0] = affine::makeComposedFoldedAffineApply(b, loc, d0.floorDiv(cols),
                                                       {column});
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1)};
    for (int64_t d = 1; d < rank; ++d)
      sizes.push_back(b.getIndexAttr(mergedType.getDimSize(d)));
    SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
    Value packed = b.create<tensor::ExtractSliceOp>(loc, merged, offsets, sizes,
                                                    strides);
    Value result = buildBf16DotTile(b, op, packed);
    op->getResult(0).replaceAllUsesWith(result);
    auto slice = filter.getDefiningOp<tensor::ExtractSliceOp>();
    op->erase();
    if (slice && slice->use_empty())
      slice->erase();
    ++lowered;
  }
  return lowered;
}

} // namespace ninc::cpu::detail
