//===- passes/FuseConvRelu.cpp - nin-fuse-conv-relu -----------------------===//

#include "compiler/dialect/NinOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ninc {
#define GEN_PASS_DEF_FUSECONVRELU
#include "passes/Passes.h.inc"
} // namespace ninc

using namespace mlir;
using namespace ninc::nin;

namespace {

/// relu(conv2d(x, w, b)) -> conv2d(x, w, b) relu, when the conv has one use.
struct FoldReluIntoConv : OpRewritePattern<ReluOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ReluOp relu, PatternRewriter &rewriter) const override {
    auto conv = relu.getInput().getDefiningOp<Conv2DOp>();
    if (!conv || !conv->hasOneUse())
      return rewriter.notifyMatchFailure(relu, "input is not a single-use conv2d");
    if (conv.getRelu()) { // relu(relu(x)) == relu(x)
      rewriter.replaceOp(relu, conv.getResult());
      return success();
    }
    rewriter.modifyOpInPlace(conv, [&] {
      conv.setRelu(true);
      conv->setLoc(rewriter.getFusedLoc({conv.getLoc(), relu.getLoc()}));
    });
    rewriter.replaceOp(relu, conv.getResult());
    return success();
  }
};

struct FuseConvReluPass : ninc::impl::FuseConvReluBase<FuseConvReluPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldReluIntoConv>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
