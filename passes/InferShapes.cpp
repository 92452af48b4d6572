//===- passes/InferShapes.cpp - nin-infer-shapes --------------------------===//

#include "compiler/dialect/NinOps.h"
#include "passes/Passes.h"

namespace ninc {
#define GEN_PASS_DEF_INFERSHAPES
#include "passes/Passes.h.inc"
} // namespace ninc

using namespace mlir;

namespace {

struct InferShapesPass : ninc::impl::InferShapesBase<InferShapesPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    // Ops are visited in order, so each sees its operands' refined types.
    WalkResult result = func.walk([](InferTypeOpInterface op) {
      SmallVector<Type> types;
      if (failed(op.inferReturnTypes(op->getContext(), op->getLoc(), op->getOperands(),
                                     op->getAttrDictionary(), op->getPropertiesStorage(),
                                     op->getRegions(), types)))
        return WalkResult::interrupt();
      for (auto [value, type] : llvm::zip(op->getResults(), types))
        value.setType(type);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();

    Operation *ret = func.getBody().back().getTerminator();
    for (Value v : ret->getOperands())
      if (!isa<RankedTensorType>(v.getType())) {
        ret->emitError("expected every shape to be known from the input shape, found ")
            << v.getType();
        return signalPassFailure();
      }
    func.setType(FunctionType::get(&getContext(), func.getArgumentTypes(),
                                   ret->getOperandTypes()));
  }
};

} // namespace
