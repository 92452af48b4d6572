//===- compiler/lowering/cpu/TransposedA.cpp - X^T dZ without the copy ----===//
//
// The 1x1 weight gradients are dW[C, F] = sum over pixels m of X[m, C]^T
// dZ[m, F], which the training lowering writes as
//   matmul(transpose(X_g), dZ_g, dW)        (per group of images)
// Transposing X_g is a strided copy of the largest activations (64 ms of a
// batch-128 step). With fp32 operands:
//   foldTransposedA (before scheduling): matmul(transpose(X), B) ->
//     matmul_transpose_a(X, B), scheduled like a matmul (register tiles over
//     C x F, B packed in column tiles);
//   lowerTransposedATiles (after tiling and packing): each tile becomes
//     buildTransposedATile's loop: per pixel, one broadcast of X[m, c] for
//     each of the tile's rows (contiguous in X's row m) and FMAs with dZ[m].
// (matmul_transpose_a through the transform schedule's vectorizer ran at
// 40-54% of peak: its contraction lowering transposes the tile.)
//
//===----------------------------------------------------------------------===//
#include "compiler/lowering/cpu/CpuInternal.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace ninc::cpu::detail {

void foldTransposedA(ModuleOp module) {
  SmallVector<linalg::MatmulOp> matmuls;
  module.walk([&](linalg::MatmulOp op) {
    auto t = op.getDpsInputOperand(0)->get().getDefiningOp<linalg::TransposeOp>();
    if (!t || !t->getResult(0).hasOneUse() || !op.hasPureTensorSemantics() ||
        op.hasDynamicShape() || op->hasAttr(kBf16Tag) ||
        t.getPermutation() != ArrayRef<int64_t>{1, 0})
      return;
    auto out = cast<ShapedType>(op.getDpsInitOperand(0)->get().getType());
    if (!out.getElementType().isF32() ||
        chooseRegisterTile(out.getDimSize(0), out.getDimSize(1)).cols % kVectorLanes)
      return;
    matmuls.push_back(op);
  });
  for (linalg::MatmulOp op : matmuls) {
    auto t = op.getDpsInputOperand(0)->get().getDefiningOp<linalg::TransposeOp>();
    OpBuilder b(op);
    auto folded = b.create<linalg::MatmulTransposeAOp>(
        op.getLoc(), op->getResultTypes(),
        ValueRange{t.getInput(), op.getDpsInputOperand(1)->get()},
        ValueRange{op.getDpsInitOperand(0)->get()});
    copyTags(op, folded);
    op->replaceAllUsesWith(folded);
    op->erase();
    t->erase();
  }
}

void lowerTransposedATiles(ModuleOp module, const std::vector<int64_t> &anchorTags) {
  llvm::DenseSet<int64_t> anchors(anchorTags.begin(), anchorTags.end());
  SmallVector<linalg::LinalgOp> tiles;
  module.walk([&](linalg::MatmulTransposeAOp op) {
    auto id = op->getAttrOfType<IntegerAttr>(kScheduleTag);
    if (id && anchors.contains(id.getInt()) && !op.hasDynamicShape())
      tiles.push_back(op);
  });
  for (linalg::LinalgOp op : tiles) {
    auto out = cast<ShapedType>(op.getDpsInitOperand(0)->get().getType());
    if (out.getDimSize(1) % kVectorLanes)
      continue; // left to the finishing script's vectorization
    OpBuilder b(op);
    Value result = buildTransposedATile(b, op);
    op->getResult(0).replaceAllUsesWith(result);
    op->erase();
  }
}

} // namespace ninc::cpu::detail
