//===- compiler/conversion/NinToLinalgTrain.cpp - Training step -> linalg ---===//
//
// The training step's driver: @<model>_train_step's new signature (the C ABI
// of NinToLinalgTrain.h, the blobs in @<model>_infer's layout), the op
// dispatch, and the builders the op families share. The ops themselves are
// lowered by family, on NHWC activations and HWCF filters:
//
//   forward ops               NinToLinalgForward.cpp (the inference emitter)
//   loss, sgd_update          NinToLinalgLoss.cpp
//   dropout_train             NinToLinalgDropout.cpp
//   conv and bias gradients   NinToLinalgConvGrad.cpp
//   pooling, relu, unflatten  NinToLinalgPoolGrad.cpp
//   gradients
//
// Where a computation has several IR forms, LinalgForms (NinToLinalg.h)
// picks one.
//
//===----------------------------------------------------------------------===//

#include "compiler/conversion/NinToLinalgTrain.h"
#include "compiler/conversion/NinToLinalgTrainInternal.h"

#include "llvm/ADT/TypeSwitch.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace ninc {

namespace lowering {

using utils::IteratorType;

// --- Arith ---------------------------------------------------------------------

Value Arith::f32(float v) { return b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(v)); }
Value Arith::f64(double v) { return b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(v)); }
Value Arith::i64(uint64_t v) {
  return b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(static_cast<int64_t>(v)));
}
Value Arith::index(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
Value Arith::addf(Value x, Value y) { return b.create<arith::AddFOp>(loc, x, y); }
Value Arith::subf(Value x, Value y) { return b.create<arith::SubFOp>(loc, x, y); }
Value Arith::mulf(Value x, Value y) { return b.create<arith::MulFOp>(loc, x, y); }
Value Arith::divf(Value x, Value y) { return b.create<arith::DivFOp>(loc, x, y); }
Value Arith::addi(Value x, Value y) { return b.create<arith::AddIOp>(loc, x, y); }
Value Arith::muli(Value x, Value y) { return b.create<arith::MulIOp>(loc, x, y); }
Value Arith::xori(Value x, Value y) { return b.create<arith::XOrIOp>(loc, x, y); }
Value Arith::shrui(Value x, uint64_t s) { return b.create<arith::ShRUIOp>(loc, x, i64(s)); }
Value Arith::cmpf(arith::CmpFPredicate p, Value x, Value y) {
  return b.create<arith::CmpFOp>(loc, p, x, y);
}
Value Arith::select(Value c, Value x, Value y) { return b.create<arith::SelectOp>(loc, c, x, y); }
Value Arith::reluMask(Value dy, Value y) {
  return select(cmpf(arith::CmpFPredicate::OGT, y, f32(0)), dy, f32(0));
}
Value Arith::extf(Value x) { return b.create<arith::ExtFOp>(loc, b.getF64Type(), x); }
Value Arith::truncf(Value x) { return b.create<arith::TruncFOp>(loc, b.getF32Type(), x); }
Value Arith::exp(Value x) { return b.create<math::ExpOp>(loc, x); }
Value Arith::log(Value x) { return b.create<math::LogOp>(loc, x); }
Value Arith::loopIndex(int64_t dim) { return b.create<linalg::IndexOp>(loc, dim); }
Value Arith::isIndex(int64_t dim, Value label) {
  Value l = b.create<arith::IndexCastOp>(loc, b.getIndexType(), label);
  return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, loopIndex(dim), l);
}
Value Arith::counts(Value label) {
  Value zero = b.create<arith::ConstantOp>(loc, b.getI32IntegerAttr(0));
  return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sge, label, zero);
}
Value Arith::mix64(Value z) {
  z = addi(z, i64(0x9E3779B97F4A7C15ull));
  z = muli(xori(z, shrui(z, 30)), i64(0xBF58476D1CE4E5B9ull));
  z = muli(xori(z, shrui(z, 27)), i64(0x94D049BB133111EBull));
  return xori(z, shrui(z, 31));
}

// --- Shapes --------------------------------------------------------------------

SmallVector<int64_t> shapeOf(Value v) {
  return SmallVector<int64_t>(cast<RankedTensorType>(v.getType()).getShape());
}

SmallVector<int64_t> nhwcShape(Type nchw) {
  auto s = cast<RankedTensorType>(nchw).getShape();
  if (s.size() == 4)
    return {s[0], s[2], s[3], s[1]};
  return SmallVector<int64_t>(s);
}

SmallVector<OpFoldResult> indexAttrs(OpBuilder &b, ArrayRef<int64_t> values) {
  SmallVector<OpFoldResult> out;
  for (int64_t v : values)
    out.push_back(b.getIndexAttr(v));
  return out;
}

bool isPointwise(ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride, ArrayRef<int64_t> padding) {
  return kernel[0] == 1 && kernel[1] == 1 && stride[0] == 1 && stride[1] == 1 &&
         padding[0] == 0 && padding[1] == 0;
}

// --- Signature and op dispatch -------------------------------------------------

LogicalResult TrainStepLowering::run() {
  Location loc = src_.getLoc();
  FunctionType type = src_.getFunctionType();
  unsigned numArgs = type.getNumInputs();
  if (numArgs < 5 || (numArgs - 5) % 2 != 0 || type.getNumResults() != numArgs - 3)
    return src_.emitError("expected nin-autodiff's training step: (input, labels, params..., "
                          "velocities..., hyper, seed, step) -> (loss, logits, params..., "
                          "velocities...)");
  unsigned numParams = (numArgs - 5) / 2;
  auto inputType = dyn_cast<RankedTensorType>(type.getInput(0));
  auto labelsType = dyn_cast<RankedTensorType>(type.getInput(1));
  auto logitsType = dyn_cast<RankedTensorType>(type.getResult(1));
  if (!inputType || !labelsType || !logitsType || logitsType.getRank() != 2)
    return src_.emitError("expected static shapes: run nin-infer-shapes first");

  // (input, labels, weights, velocity, hyper, seed, step, first_image, loss,
  // logits); the blobs have @m_infer's layout.
  int64_t blobSize = 0;
  std::vector<rt::ParamSlot> slots = layoutParams(src_, 2, numParams, blobSize);
  Type f32 = b_.getF32Type();
  auto blobType = MemRefType::get({blobSize}, f32);
  SmallVector<Type> argTypes{MemRefType::get(inputType.getShape(), f32),
                             MemRefType::get(labelsType.getShape(), b_.getI32Type()),
                             blobType,
                             blobType,
                             MemRefType::get({3}, f32),
                             b_.getI64Type(),
                             b_.getI64Type(),
                             b_.getI64Type(),
                             MemRefType::get({1}, f32),
                             MemRefType::get(logitsType.getShape(), f32)};
  b_.setInsertionPoint(src_);
  auto dst = b_.create<func::FuncOp>(loc, src_.getName(), b_.getFunctionType(argTypes, {}));
  const char *argNames[] = {attr::kInput, attr::kLabels, attr::kWeights,
                            attr::kVelocity, attr::kHyper, attr::kSeed,
                            attr::kStep, attr::kFirstImage, attr::kLoss, attr::kOutput};
  for (auto [i, name] : llvm::enumerate(argNames))
    dst.setArgAttr(i, name, b_.getUnitAttr());
  dst->setAttr(attr::kParams, paramTable(b_.getContext(), slots));
  Block *entry = dst.addEntryBlock();
  b_.setInsertionPointToStart(entry);

  auto read = [&](unsigned i) -> Value {
    return b_.create<bufferization::ToTensorOp>(loc, entry->getArgument(i), /*restrict=*/true,
                                                /*writable=*/false);
  };
  Block &body = src_.getBody().front();
  map_[body.getArgument(0)] = inputToNhwc(read(0));
  map_[body.getArgument(1)] = read(1);
  Value weights = read(2), velocity = read(3);
  for (unsigned i = 0; i < numParams; ++i) {
    SmallVector<int64_t> shape = packedShape(slots[i].shape);
    map_[body.getArgument(2 + i)] = paramView(loc, weights, slots[i].offset, shape);
    map_[body.getArgument(2 + numParams + i)] = paramView(loc, velocity, slots[i].offset, shape);
  }
  map_[body.getArgument(2 + 2 * numParams)] = read(4);
  map_[body.getArgument(3 + 2 * numParams)] = entry->getArgument(5);
  map_[body.getArgument(4 + 2 * numParams)] = entry->getArgument(6);
  firstImage_ = entry->getArgument(7);

  bool synced = !forms_.gradSync;
  for (Operation &op : body.without_terminator()) {
    if (!synced && isa<nin::SgdUpdateOp>(op)) {
      syncGradients(loc, body, slots, blobSize);
      synced = true;
    }
    if (failed(lower(&op)))
      return failure();
  }

  // The loss and logits go to their own buffers; the new parameters and
  // velocities are copied into the blobs last, after every read of the old ones.
  Operation *ret = body.getTerminator();
  for (unsigned i = 0; i < 2; ++i)
    b_.create<bufferization::MaterializeInDestinationOp>(loc, TypeRange{},
                                                         map_.lookup(ret->getOperand(i)),
                                                         entry->getArgument(8 + i),
                                                         /*restrict=*/true, /*writable=*/true);
  for (unsigned i = 0; i < numParams; ++i) {
    copyIntoBlob(loc, map_.lookup(ret->getOperand(2 + i)), entry->getArgument(2),
                 slots[i].offset);
    copyIntoBlob(loc, map_.lookup(ret->getOperand(2 + numParams + i)), entry->getArgument(3),
                 slots[i].offset);
  }
  b_.create<func::ReturnOp>(loc);
  src_.erase();
  return success();
}

/// The blob's slot [offset, offset + numel) = value. Not `restrict`: the blob
/// is also read through a restrict to_tensor, so this must stay a copy at
/// this point (empty-tensor elimination would move the write earlier).
void TrainStepLowering::copyIntoBlob(Location loc, Value value, Value blob, int64_t offset) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t n = type.getNumElements();
  if (type.getRank() != 1) {
    ReassociationIndices all;
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.push_back(d);
    value = reshape(loc, value, {n}, {all});
  }
  Value slot = b_.create<memref::SubViewOp>(loc, blob, ArrayRef<int64_t>{offset},
                                            ArrayRef<int64_t>{n}, ArrayRef<int64_t>{1});
  b_.create<bufferization::MaterializeInDestinationOp>(loc, TypeRange{}, value, slot,
                                                       /*restrict=*/false, /*writable=*/true);
}

void TrainStepLowering::syncGradients(Location loc, Block &body, ArrayRef<rt::ParamSlot> slots,
                                      int64_t blobSize) {
  // extern "C" void ninc_grad_sync(float *grads, int64_t count), by address.
  ModuleOp module = src_->getParentOfType<ModuleOp>();
  Type i64 = b_.getI64Type();
  if (!module.lookupSymbol(kGradSync)) {
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPointToEnd(module.getBody());
    b_.create<func::FuncOp>(loc, kGradSync, b_.getFunctionType({i64, i64}, {})).setPrivate();
  }
  Value buffer = b_.create<memref::AllocOp>(loc, MemRefType::get({blobSize}, b_.getF32Type()),
                                            b_.getI64IntegerAttr(64));
  // Parameter i is the body's argument 2 + i (run()'s signature check).
  auto slotOf = [&](nin::SgdUpdateOp sgd) -> const rt::ParamSlot & {
    return slots[cast<BlockArgument>(sgd.getParam()).getArgNumber() - 2];
  };
  for (auto sgd : body.getOps<nin::SgdUpdateOp>())
    copyIntoBlob(loc, map_.lookup(sgd.getGrad()), buffer, slotOf(sgd).offset);
  Value address = b_.create<arith::IndexCastOp>(
      loc, i64, b_.create<memref::ExtractAlignedPointerAsIndexOp>(loc, buffer));
  Value count = b_.create<arith::ConstantIntOp>(loc, blobSize, 64);
  b_.create<func::CallOp>(loc, kGradSync, TypeRange{}, ValueRange{address, count});
  // The updates read (and overwrite) the synced gradients in the buffer.
  Value grads = b_.create<bufferization::ToTensorOp>(loc, buffer, /*restrict=*/true,
                                                     /*writable=*/true);
  for (auto sgd : body.getOps<nin::SgdUpdateOp>())
    map_[sgd.getGrad()] =
        paramView(loc, grads, slotOf(sgd).offset, packedShape(slotOf(sgd).shape));
}

LogicalResult TrainStepLowering::lower(Operation *op) {
  Location loc = op->getLoc();
  Value out;
  if (auto loss = dyn_cast<nin::SoftmaxCrossEntropyOp>(op)) {
    lowerLoss(loc, loss);
    return success();
  }
  if (auto sgd = dyn_cast<nin::SgdUpdateOp>(op)) {
    lowerSgd(loc, sgd);
    return success();
  }
  if (auto g = dyn_cast<nin::ReluGradOp>(op)) {
    lowerReluGrad(loc, g);
    return success();
  }
  if (auto p = dyn_cast<nin::MaxPool2DOp>(op); p && forms_.maxPoolArgmax)
    out = lowerMaxPoolForward(loc, p);
  else
    out = llvm::TypeSwitch<Operation *, Value>(op)
              .Case([&](nin::DropoutTrainOp d) { return lowerDropout(loc, d); })
              .Case([&](nin::BiasGradOp g) { return lowerBiasGrad(loc, g.getGrad()); })
              .Case([&](nin::GlobalAvgPoolGradOp g) { return lowerGlobalAvgPoolGrad(loc, g); })
              .Case([&](nin::UnflattenOp g) { return lowerUnflatten(loc, g); })
              .Case([&](nin::Conv2DGradFilterOp g) { return lowerConvGradFilter(loc, g); })
              .Case([&](nin::Conv2DGradInputOp g) { return lowerConvGradInput(loc, g); })
              .Case([&](nin::MaxPool2DGradOp g) { return lowerMaxPoolGrad(loc, g); })
              .Case([&](nin::AvgPool2DGradOp g) { return lowerAvgPoolGrad(loc, g); })
              .Default([](Operation *) { return Value(); });
  if (!out) // a forward op, lowered as in inference
    return lowerForward(op);
  map_[op->getResult(0)] = out;
  return success();
}

// --- Builders ------------------------------------------------------------------

Value TrainStepLowering::empty(Location loc, ArrayRef<int64_t> shape, Type elem) {
  return b_.create<tensor::EmptyOp>(loc, shape, elem ? elem : b_.getF32Type());
}

Value TrainStepLowering::full(Location loc, ArrayRef<int64_t> shape, TypedAttr value) {
  Value c = b_.create<arith::ConstantOp>(loc, value);
  return b_.create<linalg::FillOp>(loc, c, empty(loc, shape, value.getType())).getResult(0);
}

Value TrainStepLowering::reshape(Location loc, Value x, ArrayRef<int64_t> shape,
                                 ArrayRef<ReassociationIndices> groups) {
  auto type = RankedTensorType::get(shape, cast<RankedTensorType>(x.getType()).getElementType());
  if (type.getRank() < cast<RankedTensorType>(x.getType()).getRank())
    return b_.create<tensor::CollapseShapeOp>(loc, type, x, groups);
  return b_.create<tensor::ExpandShapeOp>(loc, type, x, groups);
}

/// [M, K] x [K, N] -> [M, N], accumulating into `init` (zeros when null).
Value TrainStepLowering::matmul(Location loc, Value a, Value b, Value init) {
  SmallVector<int64_t> out{shapeOf(a)[0], shapeOf(b)[1]};
  if (!init)
    init = filled(loc, out, 0.0f);
  return b_.create<linalg::MatmulOp>(loc, TypeRange{tensor(out)}, ValueRange{a, b},
                                     ValueRange{init})
      .getResult(0);
}

/// Stride-1 conv_2d_nhwc_hwcf with `dilation`, accumulating into `init`
/// (zeros when null).
Value TrainStepLowering::conv(Location loc, Value x, Value w, ArrayRef<int64_t> outShape,
                              ArrayRef<int64_t> dilation, Value init) {
  if (!init)
    init = filled(loc, outShape, 0.0f);
  return b_.create<linalg::Conv2DNhwcHwcfOp>(loc, TypeRange{tensor(outShape)}, ValueRange{x, w},
                                             ValueRange{init},
                                             b_.getI64TensorAttr({1, 1}),
                                             b_.getI64TensorAttr(dilation))
      .getResult(0);
}

SmallVector<Value> TrainStepLowering::generic(Location loc, ValueRange ins, ValueRange outs,
                                              ArrayRef<AffineMap> maps,
                                              ArrayRef<IteratorType> iters, BodyFn body) {
  SmallVector<Type> types;
  for (Value o : outs)
    types.push_back(o.getType());
  auto op = b_.create<linalg::GenericOp>(
      loc, types, ins, outs, maps, iters, [&](OpBuilder &nb, Location nl, ValueRange args) {
        nb.create<linalg::YieldOp>(nl, body(nb, nl, args));
      });
  return SmallVector<Value>(op.getResults());
}

SmallVector<Value> TrainStepLowering::elementwise(Location loc, ValueRange ins, ValueRange outs,
                                                  BodyFn body) {
  int64_t rank = cast<RankedTensorType>(outs[0].getType()).getRank();
  SmallVector<AffineMap> maps(ins.size() + outs.size(),
                              AffineMap::getMultiDimIdentityMap(rank, b_.getContext()));
  SmallVector<IteratorType> iters(rank, IteratorType::parallel);
  return generic(loc, ins, outs, maps, iters, body);
}

} // namespace lowering

LogicalResult lowerTrainStep(func::FuncOp trainStep, const LinalgForms &forms) {
  return lowering::TrainStepLowering(trainStep, forms).run();
}

} // namespace ninc
