//===- passes/Autodiff.cpp - nin-autodiff: the training step --------------===//
//
// Reverse-mode differentiation of a chain-shaped nin graph, in the spirit of
// Glow's: the forward ops are cloned into @m_train_step, the loss is appended,
// then every op's gradient is emitted in reverse order. Each forward value
// has one user in a NiN (a chain), so no gradient accumulation is needed; a
// value with several users is refused with an error at its layer.
//
//   conv2d(x, w, b) [relu]  ->  dz = relu ? relu_grad(dy, y) : dy
//                               dw = conv2d_grad_filter(x, dz), db = bias_grad(dz)
//                               dx = conv2d_grad_input(dz, w)   (not for the image)
//   relu                    ->  relu_grad(dy, y)
//   max/avg pool, gap       ->  their *_grad ops;   flatten -> unflatten
//   dropout_train(x)        ->  dropout_train(dy) (same mask and scale)
//
//===----------------------------------------------------------------------===//

#include "compiler/dialect/NinOps.h"
#include "compiler/dialect/StageContract.h"
#include "passes/Passes.h"
#include "runtime/support/Random.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace ninc {
#define GEN_PASS_DEF_AUTODIFF
#include "passes/Passes.h.inc"
} // namespace ninc

using namespace mlir;
using namespace ninc::nin;

namespace {

class TrainStepBuilder {
public:
  explicit TrainStepBuilder(func::FuncOp infer) : infer_(infer), b_(infer.getContext()) {}

  LogicalResult run() {
    if (ninc::roleOf(infer_.getName().str()) != ninc::FunctionRole::Infer || infer_.getNumResults() != 1)
      return success(); // not a model function
    Location loc = infer_.getLoc();
    auto logitsType = dyn_cast<RankedTensorType>(infer_.getResultTypes()[0]);
    auto inputType = dyn_cast<RankedTensorType>(infer_.getArgumentTypes()[0]);
    if (!logitsType || !inputType)
      return infer_.emitError("expected static shapes: run nin-infer-shapes first");
    int64_t batch = inputType.getDimSize(0);
    for (Operation &op : infer_.getBody().front())
      for (Value v : op.getResults())
        if (!v.hasOneUse())
          return op.emitError("expected each value to have one user (a chain of layers)");
    unsigned numParams = infer_.getNumArguments() - 1;

    // (x, labels, params..., velocities..., hyper, seed, step)
    SmallVector<Type> args{inputType, RankedTensorType::get({batch}, b_.getI32Type())};
    SmallVector<Type> paramTypes(infer_.getArgumentTypes().drop_front());
    args.append(paramTypes.begin(), paramTypes.end());
    args.append(paramTypes.begin(), paramTypes.end());
    args.push_back(RankedTensorType::get({3}, b_.getF32Type()));
    args.push_back(b_.getI64Type());
    args.push_back(b_.getI64Type());
    SmallVector<Type> results{RankedTensorType::get({}, b_.getF32Type()), logitsType};
    results.append(paramTypes.begin(), paramTypes.end());
    results.append(paramTypes.begin(), paramTypes.end());

    b_.setInsertionPointAfter(infer_);
    std::string name = ninc::trainStepFunctionName(ninc::modelOf(infer_.getName().str()));
    train_ = b_.create<func::FuncOp>(loc, name, b_.getFunctionType(args, results));
    Block *entry = train_.addEntryBlock();
    b_.setInsertionPointToStart(entry);
    for (unsigned i = 0; i < numParams; ++i)
      if (auto paramName = infer_.getArgAttr(i + 1, ninc::attr::kParam))
        train_.setArgAttr(2 + i, ninc::attr::kParam, paramName);
    seed_ = entry->getArgument(2 + 2 * numParams + 1);
    step_ = entry->getArgument(2 + 2 * numParams + 2);

    // Forward.
    IRMapping map;
    map.map(infer_.getArgument(0), entry->getArgument(0));
    for (unsigned i = 0; i < numParams; ++i)
      map.map(infer_.getArgument(1 + i), entry->getArgument(2 + i));
    SmallVector<Operation *> forward;
    for (Operation &op : infer_.getBody().front().without_terminator()) {
      Operation *clone = cloneForward(&op, map);
      if (!clone)
        return failure();
      forward.push_back(clone);
    }
    Value logits = map.lookup(infer_.getBody().front().getTerminator()->getOperand(0));
    auto loss = b_.create<SoftmaxCrossEntropyOp>(
        loc, TypeRange{results[0], logitsType}, logits, entry->getArgument(1));

    // Backward.
    grads_[logits] = loss.getGrad();
    image_ = entry->getArgument(0);
    for (Operation *op : llvm::reverse(forward))
      if (failed(backward(op)))
        return failure();

    // SGD on every parameter.
    SmallVector<Value> ret{loss.getLoss(), logits}, velocities;
    Value hyper = entry->getArgument(2 + 2 * numParams);
    for (unsigned i = 0; i < numParams; ++i) {
      Value p = entry->getArgument(2 + i), v = entry->getArgument(2 + numParams + i);
      Value g = grads_.lookup(p);
      if (!g)
        return infer_.emitError("parameter ") << i << " has no gradient (it is unused)";
      auto upd = b_.create<SgdUpdateOp>(loc, TypeRange{p.getType(), p.getType()}, p, g, v, hyper);
      ret.push_back(upd.getNewParam());
      velocities.push_back(upd.getNewVelocity());
    }
    ret.append(velocities.begin(), velocities.end());
    b_.create<func::ReturnOp>(loc, ret);

    // Inference keeps dropout as the identity.
    infer_.walk([](DropoutOp d) { d.removeTrainingAttr(); });
    return success();
  }

private:
  /// Clones a forward op; training dropout becomes dropout_train.
  Operation *cloneForward(Operation *op, IRMapping &map) {
    if (auto d = dyn_cast<DropoutOp>(op); d && d.getTraining()) {
      auto stream = d->getAttrOfType<IntegerAttr>(ninc::attr::kStream);
      if (!stream) {
        d.emitError("expected a `nin.stream` attribute (the importer sets it) on training dropout");
        return nullptr;
      }
      auto t = b_.create<DropoutTrainOp>(d.getLoc(), d.getType(), map.lookup(d.getInput()), seed_,
                                         step_, d.getRateAttr(), stream);
      map.map(d.getResult(), t.getResult());
      return t;
    }
    if (isa<PointwiseMlpOp>(op)) {
      op->emitError("expected 1x1 chains to be fused after nin-autodiff, not before");
      return nullptr;
    }
    return b_.clone(*op, map);
  }

  void addGrad(Value v, Value g) { grads_[v] = g; }

  /// Emits the gradient of `op`'s operands from the gradient of its result.
  LogicalResult backward(Operation *op) {
    Value y = op->getResult(0);
    Value dy = grads_.lookup(y);
    if (!dy)
      return success(); // does not reach the loss
    Location loc = op->getLoc();
    if (auto conv = dyn_cast<Conv2DOp>(op)) {
      Value dz = conv.getRelu() ? b_.create<ReluGradOp>(loc, y.getType(), dy, y).getResult() : dy;
      addGrad(conv.getWeight(),
              b_.create<Conv2DGradFilterOp>(loc, conv.getWeight().getType(), conv.getInput(), dz,
                                            conv.getStrideAttr(), conv.getPaddingAttr()));
      if (conv.getBias())
        addGrad(conv.getBias(), b_.create<BiasGradOp>(loc, conv.getBias().getType(), dz));
      if (conv.getInput() != image_)
        addGrad(conv.getInput(),
                b_.create<Conv2DGradInputOp>(loc, conv.getInput().getType(), dz, conv.getWeight(),
                                             conv.getStrideAttr(), conv.getPaddingAttr()));
      return success();
    }
    Value x = op->getOperand(0);
    if (x == image_)
      return success();
    Value dx;
    if (auto r = dyn_cast<ReluOp>(op))
      dx = b_.create<ReluGradOp>(loc, y.getType(), dy, y);
    else if (auto p = dyn_cast<MaxPool2DOp>(op))
      dx = b_.create<MaxPool2DGradOp>(loc, x.getType(), x, dy, p.getKernelAttr(),
                                      p.getStrideAttr(), p.getPaddingAttr());
    else if (auto p = dyn_cast<AvgPool2DOp>(op))
      dx = b_.create<AvgPool2DGradOp>(loc, x.getType(), dy, p.getKernelAttr(), p.getStrideAttr(),
                                      p.getPaddingAttr());
    else if (isa<GlobalAvgPoolOp>(op))
      dx = b_.create<GlobalAvgPoolGradOp>(loc, x.getType(), dy);
    else if (isa<FlattenOp>(op))
      dx = b_.create<UnflattenOp>(loc, x.getType(), dy);
    else if (auto d = dyn_cast<DropoutTrainOp>(op))
      dx = b_.create<DropoutTrainOp>(loc, x.getType(), dy, seed_, step_, d.getRateAttr(),
                                     d.getStreamAttr());
    else if (auto d = dyn_cast<DropoutOp>(op))
      dx = dy; // inference-mode dropout: the identity
    else
      return op->emitError("no gradient for this op");
    addGrad(x, dx);
    return success();
  }

  func::FuncOp infer_, train_;
  OpBuilder b_;
  Value seed_, step_, image_;
  DenseMap<Value, Value> grads_;
};

struct AutodiffPass : ninc::impl::AutodiffBase<AutodiffPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> funcs(getOperation().getOps<func::FuncOp>());
    for (func::FuncOp f : funcs)
      if (failed(TrainStepBuilder(f).run()))
        return signalPassFailure();
  }
};

} // namespace
