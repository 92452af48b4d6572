//===- compiler/conversion/NinToLinalg.cpp - nin -> linalg (NHWC) -----------===//
//
// The pass `nin-to-linalg`, the weights blob's layout and the inference
// function's new signature: @<model>_infer becomes (input, weights blob,
// logits), its forward ops lowered by NhwcEmitter (NinToLinalgForward.cpp).
// Training steps (from nin-autodiff) are lowered by NinToLinalgTrain.cpp
// with the same emitter and blob layout, in the forms LinalgForms selects.
//
//===----------------------------------------------------------------------===//

#include "compiler/conversion/NinToLinalg.h"
#include "compiler/conversion/NinToLinalgInternal.h"
#include "compiler/conversion/NinToLinalgTrain.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <string>
#include <utility>

using namespace mlir;

namespace ninc {
#define GEN_PASS_DECL_NINTOLINALG
#define GEN_PASS_DEF_NINTOLINALG
#define GEN_PASS_REGISTRATION
#include "compiler/conversion/Passes.h.inc"


LinalgForms LinalgForms::all() {
  LinalgForms forms;
  forms.weightGradGroupLoop = true;
  forms.weightGradMatmulTransposeA = true;
  forms.reluGradInPlace = true;
  forms.maxPoolArgmax = true;
  forms.poolGradGather = true;
  forms.gradSync = true;
  return forms;
}

namespace lowering {

// --- Blob layout -------------------------------------------------------------

SmallVector<int64_t> packedShape(ArrayRef<int64_t> shape) {
  if (shape.size() == 4)
    return {shape[2], shape[3], shape[1], shape[0]};
  return SmallVector<int64_t>(shape);
}

std::vector<rt::ParamSlot> layoutParams(func::FuncOp func, unsigned first, unsigned count,
                                        int64_t &blobSize) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> params;
  for (unsigned i = first; i < first + count; ++i) {
    auto shape = cast<RankedTensorType>(func.getArgumentTypes()[i]).getShape();
    auto name = func.getArgAttrOfType<StringAttr>(i, attr::kParam);
    params.emplace_back(name ? name.str() : ("arg" + Twine(i)).str(),
                        std::vector<int64_t>(shape.begin(), shape.end()));
  }
  return rt::layoutBlob(params, blobSize);
}

ArrayAttr paramTable(MLIRContext *ctx, ArrayRef<rt::ParamSlot> slots) {
  Builder b(ctx);
  SmallVector<Attribute> entries;
  for (const rt::ParamSlot &slot : slots)
    entries.push_back(b.getDictionaryAttr({
        b.getNamedAttr("name", b.getStringAttr(slot.name)),
        b.getNamedAttr("offset", b.getI64IntegerAttr(slot.offset)),
        b.getNamedAttr("shape", b.getDenseI64ArrayAttr(slot.shape)),
        b.getNamedAttr("layout", b.getStringAttr(slot.layout)),
    }));
  return b.getArrayAttr(entries);
}

} // namespace lowering

namespace {

/// Lowers @<model>_infer to (input, weights blob, logits, repack flag).
class FunctionLowering : public lowering::NhwcEmitter {
public:
  FunctionLowering(func::FuncOp func) : NhwcEmitter(func.getContext()), src_(func) {}

  LogicalResult run() {
    Location loc = src_.getLoc();
    auto srcType = src_.getFunctionType();
    if (srcType.getNumResults() != 1)
      return src_.emitError("expected one result (the logits)");
    auto logitsType = dyn_cast<RankedTensorType>(srcType.getResult(0));
    if (!logitsType)
      return src_.emitError("expected static shapes: run nin-infer-shapes first");

    // New signature: (input, weights blob, logits, repack flag). Each
    // parameter, repacked (conv weights HWCF), lives at a static, 64-byte
    // aligned offset of the blob. The flag (StageContract.h: kRepack) lets a
    // backend keep weights it reorders between calls.
    int64_t blobSize = 0;
    std::vector<rt::ParamSlot> slots =
        lowering::layoutParams(src_, 1, srcType.getNumInputs() - 1, blobSize);
    auto inputType = cast<RankedTensorType>(srcType.getInput(0));
    SmallVector<Type> argTypes{MemRefType::get(inputType.getShape(), b_.getF32Type()),
                               MemRefType::get({blobSize}, b_.getF32Type()),
                               MemRefType::get(logitsType.getShape(), b_.getF32Type()),
                               b_.getI32Type()};
    b_.setInsertionPoint(src_);
    dst_ = b_.create<func::FuncOp>(loc, src_.getName(), b_.getFunctionType(argTypes, {}));
    dst_.setArgAttr(0, attr::kInput, b_.getUnitAttr());
    dst_.setArgAttr(1, attr::kWeights, b_.getUnitAttr());
    dst_.setArgAttr(2, attr::kOutput, b_.getUnitAttr());
    dst_.setArgAttr(3, attr::kRepack, b_.getUnitAttr());
    dst_->setAttr(attr::kParams, lowering::paramTable(b_.getContext(), slots));
    Block *entry = dst_.addEntryBlock();
    b_.setInsertionPointToStart(entry);

    Value input = b_.create<bufferization::ToTensorOp>(loc, entry->getArgument(0),
                                                       /*restrict=*/true, /*writable=*/false);
    map_[src_.getArgument(0)] = inputToNhwc(input);
    Value blob = b_.create<bufferization::ToTensorOp>(loc, entry->getArgument(1),
                                                      /*restrict=*/true, /*writable=*/false);
    for (unsigned i = 1; i < srcType.getNumInputs(); ++i)
      map_[src_.getArgument(i)] = paramView(loc, blob, slots[i - 1].offset,
                                            lowering::packedShape(slots[i - 1].shape));
    for (Operation &op : src_.getBody().front().without_terminator())
      if (failed(lowerForward(&op)))
        return failure();
    Value result = map_.lookup(src_.getBody().front().getTerminator()->getOperand(0));
    if (cast<RankedTensorType>(result.getType()).getRank() == 4)
      result = nhwcToNchw(loc, result); // a 4-D result leaves in the spec's NCHW
    b_.create<bufferization::MaterializeInDestinationOp>(loc, TypeRange{}, result,
                                                         entry->getArgument(2),
                                                         /*restrict=*/true, /*writable=*/true);
    b_.create<func::ReturnOp>(loc);
    src_.erase();
    return success();
  }

private:
  func::FuncOp src_, dst_;
};

/// `nin-to-linalg` (Passes.td): one option per LinalgForms field.
struct NinToLinalgPass : impl::NinToLinalgBase<NinToLinalgPass> {
  using NinToLinalgBase::NinToLinalgBase;
  explicit NinToLinalgPass(const LinalgForms &forms) {
    weightGradGroupLoop = forms.weightGradGroupLoop;
    weightGradMatmulTransposeA = forms.weightGradMatmulTransposeA;
    reluGradInPlace = forms.reluGradInPlace;
    maxPoolArgmax = forms.maxPoolArgmax;
    poolGradGather = forms.poolGradGather;
    gradSync = forms.gradSync;
  }

  void getDependentDialects(DialectRegistry &registry) const override {
    registerNinToLinalgDialects(registry);
  }

  void runOnOperation() override {
    LinalgForms forms{weightGradGroupLoop, weightGradMatmulTransposeA, reluGradInPlace,
                      maxPoolArgmax, poolGradGather, gradSync};
    SmallVector<func::FuncOp> funcs(getOperation().getOps<func::FuncOp>());
    for (func::FuncOp f : funcs) {
      LogicalResult lowered = roleOf(f.getName()) == FunctionRole::TrainStep
                                  ? lowerTrainStep(f, forms)
                                  : FunctionLowering(f).run();
      if (failed(lowered))
        return signalPassFailure();
    }
  }
};

} // namespace

std::unique_ptr<Pass> createNinToLinalgPass(const LinalgForms &forms) {
  return std::make_unique<NinToLinalgPass>(forms);
}


void registerNinToLinalgDialects(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, bufferization::BufferizationDialect, func::FuncDialect,
                  linalg::LinalgDialect, math::MathDialect, memref::MemRefDialect,
                  scf::SCFDialect, tensor::TensorDialect>();
}

void registerConversionPasses() { registerNinConversionPasses(); }

} // namespace ninc
