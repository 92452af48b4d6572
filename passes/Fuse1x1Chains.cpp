//===- passes/Fuse1x1Chains.cpp - nin-fuse-1x1-chains ---------------------===//
//
// [N, C0, H, W] -conv1x1+b+relu-> [N, C1, H, W] -conv1x1+b+relu-> [N, C2, H, W]
//   ==> pointwise_mlp weights(W1, W2) biases(b1, b2): [N, C0, H, W] -> [N, C2, H, W]
//
//===----------------------------------------------------------------------===//

#include "compiler/dialect/NinOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ninc {
#define GEN_PASS_DEF_FUSE1X1CHAINS
#include "passes/Passes.h.inc"
} // namespace ninc

using namespace mlir;
using namespace ninc::nin;

namespace {

/// A 1x1, stride-1, unpadded convolution with bias and ReLU: one layer of a
/// per-pixel MLP.
bool isMlpLayer(Conv2DOp conv) {
  auto w = dyn_cast<RankedTensorType>(conv.getWeight().getType());
  return conv && conv.getRelu() && conv.getBias() && w && w.getRank() == 4 &&
         w.getDimSize(2) == 1 && w.getDimSize(3) == 1 &&
         llvm::all_of(conv.getStride(), [](int64_t s) { return s == 1; }) &&
         llvm::all_of(conv.getPadding(), [](int64_t p) { return p == 0; });
}

/// conv1x1(conv1x1(x)) or conv1x1(pointwise_mlp(x)) -> pointwise_mlp(x).
struct GrowMlpChain : OpRewritePattern<Conv2DOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(Conv2DOp conv, PatternRewriter &rewriter) const override {
    if (!isMlpLayer(conv))
      return rewriter.notifyMatchFailure(conv, "not a 1x1 conv + bias + relu");
    Operation *producer = conv.getInput().getDefiningOp();
    if (!producer || !producer->hasOneUse())
      return rewriter.notifyMatchFailure(conv, "input is not a single-use producer");

    Value input;
    SmallVector<Value> weights, biases;
    if (auto prev = dyn_cast<Conv2DOp>(producer); prev && isMlpLayer(prev)) {
      input = prev.getInput();
      weights.push_back(prev.getWeight());
      biases.push_back(prev.getBias());
    } else if (auto mlp = dyn_cast<PointwiseMlpOp>(producer)) {
      input = mlp.getInput();
      llvm::append_range(weights, mlp.getWeights());
      llvm::append_range(biases, mlp.getBiases());
    } else {
      return rewriter.notifyMatchFailure(conv, "input is not a 1x1 layer or an MLP");
    }
    weights.push_back(conv.getWeight());
    biases.push_back(conv.getBias());
    // The producer is left without uses; the greedy driver erases it.
    Location loc = rewriter.getFusedLoc({producer->getLoc(), conv.getLoc()});
    auto mlp = rewriter.create<PointwiseMlpOp>(loc, conv.getType(), input, weights, biases);
    rewriter.replaceOp(conv, mlp.getResult());
    return success();
  }
};

/// pointwise_mlp(conv1x1(x)) -> pointwise_mlp(x): grows a chain at its start
/// (the greedy driver may build the tail of a chain first).
struct PrependToMlpChain : OpRewritePattern<PointwiseMlpOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(PointwiseMlpOp mlp, PatternRewriter &rewriter) const override {
    auto prev = mlp.getInput().getDefiningOp<Conv2DOp>();
    if (!prev || !isMlpLayer(prev) || !prev->hasOneUse())
      return rewriter.notifyMatchFailure(mlp, "input is not a single-use 1x1 layer");
    SmallVector<Value> weights{prev.getWeight()}, biases{prev.getBias()};
    llvm::append_range(weights, mlp.getWeights());
    llvm::append_range(biases, mlp.getBiases());
    Location loc = rewriter.getFusedLoc({prev.getLoc(), mlp.getLoc()});
    auto grown = rewriter.create<PointwiseMlpOp>(loc, mlp.getType(), prev.getInput(), weights,
                                                 biases);
    rewriter.replaceOp(mlp, grown.getResult());
    return success();
  }
};

struct Fuse1x1ChainsPass : ninc::impl::Fuse1x1ChainsBase<Fuse1x1ChainsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<GrowMlpChain, PrependToMlpChain>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
