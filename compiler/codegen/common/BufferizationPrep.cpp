//===- compiler/codegen/common/BufferizationPrep.cpp - Before bufferization ----===//
#include "compiler/codegen/common/BufferizationPrep.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/SmallVector.h"

using namespace mlir;

namespace ninc::codegen {

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

// CSE merges the identical `linalg.fill(0) outs(tensor.empty)` of ops with
// the same result shape (every conv of a block, and the gradients of the
// same shapes in the training step). One-shot bufferization then keeps the
// filled buffer alive across all of them and copies it before each in-place
// write: a full-size buffer and a copy per op, and the buffer lives from the
// first op to the last. Each use gets its own fill (and empty) right before
// it instead, as before CSE.
void unshareFillInits(ModuleOp module) {
  llvm::SmallVector<linalg::FillOp> fills;
  module.walk([&](linalg::FillOp fill) {
    if (fill.hasPureTensorSemantics() && !fill->use_empty())
      fills.push_back(fill);
  });
  for (linalg::FillOp fill : fills) {
    llvm::SmallVector<OpOperand *> uses;
    for (OpOperand &use : fill->getResult(0).getUses())
      uses.push_back(&use);
    for (OpOperand *use : uses) {
      OpBuilder b(use->getOwner());
      Value init = fill.getOutputs()[0];
      if (auto empty = init.getDefiningOp<tensor::EmptyOp>())
        init = b.clone(*empty)->getResult(0);
      auto copy = b.create<linalg::FillOp>(fill.getLoc(), fill.getInputs()[0], init);
      use->set(copy.getResult(0));
    }
    Value init = fill.getOutputs()[0];
    fill.erase();
    if (Operation *def = init.getDefiningOp(); def && isa<tensor::EmptyOp>(def) && def->use_empty())
      def->erase();
  }
}

} // namespace ninc::codegen
