//===- compiler/lowering/cpu/Rewrites.cpp - IR fixups around bufferization ===//
//
// Two small rewrites that keep the generated code free of avoidable copies
// and of MLIR runtime-library calls.
//
//===----------------------------------------------------------------------===//
#include "compiler/lowering/cpu/CpuInternal.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/SmallVector.h"

using namespace mlir;

namespace ninc::cpu::detail {

// materialize_in_destination(tensor.expand_shape %x [[0, 1, 2], [3]]) in %out
//   : memref<8x26x26x256xf32>
// ->
// %flat = memref.collapse_shape %out [[0, 1, 2], [3]] : memref<5408x256xf32>
// materialize_in_destination(%x) in %flat
void sinkOutputReshapes(ModuleOp module) {
  llvm::SmallVector<bufferization::MaterializeInDestinationOp> ops;
  module.walk([&](bufferization::MaterializeInDestinationOp op) {
    auto dest = dyn_cast<TypedValue<MemRefType>>(op.getDest());
    if (dest && dest.getType().getLayout().isIdentity())
      ops.push_back(op);
  });
  for (bufferization::MaterializeInDestinationOp op : ops) {
    // Right after %out's definition: empty tensor elimination can only use
    // the reshaped memref where it dominates the producer's tensor.empty.
    Value dest = op.getDest();
    OpBuilder b(op);
    b.setInsertionPointAfterValue(dest);
    if (auto expand = op.getSource().getDefiningOp<tensor::ExpandShapeOp>()) {
      Value flat = b.create<memref::CollapseShapeOp>(
          op.getLoc(), dest, expand.getReassociationIndices());
      op.getSourceMutable().assign(expand.getSrc());
      op.getDestMutable().assign(flat);
    } else if (auto collapse =
                   op.getSource().getDefiningOp<tensor::CollapseShapeOp>()) {
      Value full = b.create<memref::ExpandShapeOp>(
          op.getLoc(), collapse.getSrcType().getShape(), dest,
          collapse.getReassociationIndices());
      op.getSourceMutable().assign(collapse.getSrc());
      op.getDestMutable().assign(full);
    }
  }
}

void rewriteStridedCopies(ModuleOp module) {
  llvm::SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp copy) {
    auto source = cast<MemRefType>(copy.getSource().getType());
    auto target = cast<MemRefType>(copy.getTarget().getType());
    if (!memref::isStaticShapeAndContiguousRowMajor(source) ||
        !memref::isStaticShapeAndContiguousRowMajor(target))
      copies.push_back(copy);
  });
  for (memref::CopyOp copy : copies) {
    OpBuilder b(copy);
    b.create<linalg::CopyOp>(copy.getLoc(), copy.getSource(), copy.getTarget());
    copy.erase();
  }
}

} // namespace ninc::cpu::detail
