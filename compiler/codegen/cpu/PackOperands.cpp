//===- compiler/codegen/cpu/PackOperands.cpp - Contiguous operand tiles --===//
//
// Between the tiling and the finishing script: every tiled conv reads
//   %ws = tensor.extract_slice %w[0, 0, 0, %f] [KH, KW, C, TF] [1, 1, 1, 1]
// out of the HWCF filter, i.e. TF floats out of every F. This rewrite packs
// the filter once per call into [F/TF][KH][KW][C][TF],
//   %x = tensor.expand_shape %w [[0], [1], [2], [3, 4]]  (F -> F/TF x TF)
//   %p = linalg.transpose ins(%x) permutation = [3, 0, 1, 2, 4]
// and lets the tile read the contiguous slice
//   %ws = tensor.extract_slice %p[%f floordiv TF, 0, 0, 0, 0]
//           [1, KH, KW, C, TF] [1, 1, 1, 1, 1]
// The same for matmul's B (K x N -> [N/TN][K][TN]). The transpose is
// scheduled like any other op by the finishing script.
//
// In a function with the nin.repack flag (inference), a filter read from
// the weights blob is packed once, not per call: into a buffer the memory
// plan keeps between calls (memref.alloc {nin.persistent}), and only when
// the flag says the weights changed:
//   %keep = bufferization.to_tensor %buf restrict writable
//   %p = scf.if %repack -> tensor { transpose ins(%x) outs(%keep) } else { %keep }
// The training step's filters change every step; they are packed per call.
// (WeightLayouts.cpp has the kept buffer, weightLayout.)
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/DenseMap.h"

using namespace mlir;

namespace ninc::cpu::detail {
namespace {

/// [d0, ..., dn-2, N] -> [N/tile, d0, ..., dn-2, tile], right after `source`
/// (weightLayout says where and when). Returns the transpose and the packed
/// value its users read.
std::pair<linalg::TransposeOp, Value> buildPacked(Value source, int64_t tile, Value repack,
                                                  Location user) {
  auto type = cast<RankedTensorType>(source.getType());
  llvm::ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = type.getRank();
  llvm::SmallVector<int64_t> expanded(shape.drop_back());
  expanded.append({shape.back() / tile, tile});
  std::vector<int64_t> packed = {shape.back() / tile};
  packed.insert(packed.end(), shape.begin(), shape.end() - 1);
  packed.push_back(tile);
  llvm::SmallVector<ReassociationIndices> groups;
  for (int64_t d = 0; d + 1 < rank; ++d)
    groups.push_back({d});
  groups.push_back({rank - 1, rank});
  llvm::SmallVector<int64_t> permutation = {rank - 1};
  for (int64_t d = 0; d + 1 < rank; ++d)
    permutation.push_back(d);
  permutation.push_back(rank);

  OpBuilder b(source.getContext());
  b.setInsertionPointAfterValue(source);
  Location loc = source.getLoc();
  Value split = b.create<tensor::ExpandShapeOp>(
      loc, RankedTensorType::get(expanded, type.getElementType()), source,
      groups);
  linalg::TransposeOp pack;
  Value result = weightLayout(b, loc, user, packed, type.getElementType(), repack,
                              [&](OpBuilder &in, Location l, Value dest) {
                                pack = in.create<linalg::TransposeOp>(l, split, dest,
                                                                      permutation);
                                return pack->getResult(0);
                              });
  return {pack, result};
}

/// The slice of `packed` that replaces the column tile `slice`.
Value packedSlice(OpBuilder &b, tensor::ExtractSliceOp slice, Value packed,
                  int64_t tile) {
  Location loc = slice.getLoc();
  AffineExpr d0 = b.getAffineDimExpr(0);
  OpFoldResult column = affine::makeComposedFoldedAffineApply(
      b, loc, d0.floorDiv(tile), {slice.getMixedOffsets().back()});
  int64_t rank = slice.getSourceType().getRank();
  llvm::SmallVector<OpFoldResult> offsets(rank + 1, b.getIndexAttr(0));
  offsets[0] = column;
  llvm::SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1)};
  for (int64_t size : slice.getResultType().getShape())
    sizes.push_back(b.getIndexAttr(size));
  llvm::SmallVector<OpFoldResult> strides(rank + 1, b.getIndexAttr(1));
  return b.create<tensor::ExtractSliceOp>(loc, slice.getResultType(), packed,
                                          offsets, sizes, strides);
}

} // namespace

bool isColumnTile(tensor::ExtractSliceOp slice, int64_t tile) {
  RankedTensorType source = slice.getSourceType();
  RankedTensorType result = slice.getResultType();
  if (!source.hasStaticShape() || result.getRank() != source.getRank() ||
      !slice.hasUnitStride() || source.getShape().back() % tile != 0)
    return false;
  for (int64_t d = 0, e = source.getRank(); d < e; ++d) {
    int64_t want = d + 1 == e ? tile : source.getDimSize(d);
    if (result.getDimSize(d) != want)
      return false;
    if (d + 1 < e && !isConstantIntValue(slice.getMixedOffsets()[d], 0))
      return false;
  }
  return true;
}

void Scheduler::packOperands(ModuleOp module, bool keepPackedWeights) {
  llvm::DenseMap<std::pair<Value, int64_t>, Value> packs;
  auto scheduleVnni = [&](Operation *pack) {
    tagForSchedule(pack, nextTag_);
    auto ranges = cast<linalg::LinalgOp>(pack).getStaticLoopRanges();
    packGroups_.push_back(
        planVnniPack(nextTag_++, {ranges.begin(), ranges.end()}, params_.threads));
  };
  std::vector<int64_t> bf16Anchors;
  for (const Group &g : groups_)
    if (g.bf16)
      bf16Anchors.push_back(g.anchorTag);
  if (!bf16Anchors.empty())
    lowerBf16Tiles(module, bf16Anchors, scheduleVnni);
  for (const Group &g : groups_) {
    if (g.bf16 || g.packTile == 0)
      continue;
    llvm::SmallVector<linalg::LinalgOp> tiles;
    module.walk([&](linalg::LinalgOp op) {
      auto id = op->getAttrOfType<IntegerAttr>(kScheduleTag);
      if (id && id.getInt() == g.anchorTag)
        tiles.push_back(op);
    });
    for (linalg::LinalgOp op : tiles) {
      OpOperand &operand = op->getOpOperand(1); // filter / B
      auto slice = operand.get().getDefiningOp<tensor::ExtractSliceOp>();
      if (!slice || !isColumnTile(slice, g.packTile))
        continue;
      Value &packed = packs[{slice.getSource(), g.packTile}];
      if (!packed) {
        Value repack = keepPackedWeights && isWeightView(slice.getSource())
                           ? repackFlagOf(op)
                           : nullptr;
        auto [pack, result] = buildPacked(slice.getSource(), g.packTile, repack, op.getLoc());
        packed = result;
        tagForSchedule(pack, nextTag_);
        llvm::ArrayRef<int64_t> shape =
            cast<RankedTensorType>(pack.getInit().getType()).getShape();
        packGroups_.push_back(planRows(nextTag_++, {shape.begin(), shape.end()},
                                       /*innerParallel=*/true,
                                       /*parallelPrefix=*/1, params_));
      }
      OpBuilder b(op);
      operand.set(packedSlice(b, slice, packed, g.packTile));
      if (slice->use_empty())
        slice->erase();
    }
  }
  // Multi-row fp32 conv tiles and those that skip the padding's taps, now
  // on their packed filter slices.
  for (const Group &g : groups_) {
    if (g.bf16 || (g.outputRows <= 1 && !g.padding))
      continue;
    llvm::SmallVector<linalg::Conv2DNhwcHwcfOp> tiles;
    module.walk([&](linalg::Conv2DNhwcHwcfOp op) {
      auto id = op->getAttrOfType<IntegerAttr>(kScheduleTag);
      if (id && id.getInt() == g.anchorTag && !op.hasDynamicShape())
        tiles.push_back(op);
    });
    for (linalg::Conv2DNhwcHwcfOp op : tiles) {
      OpBuilder b(op);
      Value result;
      if (g.padding)
        result = buildPaddedConvTile(b, op, params_.lanes, *g.padding);
      if (!result && g.outputRows > 1)
        result = buildFmaConvTile(b, op, params_.lanes);
      if (!result)
        continue; // one row, not a padded window after all: the schedule's tile
      op->getResult(0).replaceAllUsesWith(result);
      op->erase();
    }
  }

}

} // namespace ninc::cpu::detail
