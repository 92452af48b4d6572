//===- compiler/conversion/NinToLinalgForward.cpp - Forward ops -> linalg ---===//
//
// The forward nin ops on NHWC tensors, for both the inference function and
// the training step's forward pass (NhwcEmitter, NinToLinalgInternal.h).
// An emitter rather than a pattern set: the layout changes (NCHW -> NHWC),
// so each function is rebuilt op by op, mapping every nin value to its NHWC
// tensor.
//
//   conv2d         -> tensor.pad? + fill + linalg.conv_2d_nhwc_hwcf + generic(bias, relu)
//   pointwise_mlp  -> per layer: [N*H*W, C] x [C, F] linalg.matmul + generic(bias, relu)
//   max/avg pool   -> tensor.pad? + fill + linalg.pooling_nhwc_max/sum (+ scale)
//   global_avg_pool-> generic reduction over H, W + scale
//   flatten        -> collapse_shape (after a transpose to NCHW order if H*W > 1)
//
//===----------------------------------------------------------------------===//

#include "compiler/conversion/NinToLinalgInternal.h"
#include "compiler/dialect/NinOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;

namespace ninc::lowering {

using nin::Conv2DOp;

// --- Types and layouts -------------------------------------------------------

Value NhwcEmitter::paramView(Location loc, Value blob, int64_t offset, ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  Value flat = b_.create<tensor::ExtractSliceOp>(loc, tensor({n}), blob,
                                                 ArrayRef<OpFoldResult>{b_.getIndexAttr(offset)},
                                                 ArrayRef<OpFoldResult>{b_.getIndexAttr(n)},
                                                 ArrayRef<OpFoldResult>{b_.getIndexAttr(1)});
  if (shape.size() == 1)
    return flat;
  ReassociationIndices all;
  for (size_t d = 0; d < shape.size(); ++d)
    all.push_back(d);
  return b_.create<tensor::ExpandShapeOp>(loc, tensor(shape), flat,
                                          SmallVector<ReassociationIndices>{all});
}

RankedTensorType NhwcEmitter::tensor(ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, b_.getF32Type());
}

Value NhwcEmitter::inputToNhwc(Value nchw) {
  auto s = cast<RankedTensorType>(nchw.getType()).getShape();
  Location loc = nchw.getLoc();
  if (s[1] == 1) {
    Value nhw = b_.create<tensor::CollapseShapeOp>(
        loc, tensor({s[0], s[2], s[3]}), nchw, SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
    return b_.create<tensor::ExpandShapeOp>(loc, tensor({s[0], s[2], s[3], 1}), nhw,
                                            SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  }
  return transpose(loc, nchw, {0, 2, 3, 1});
}

Value NhwcEmitter::nhwcToNchw(Location loc, Value x) { return transpose(loc, x, {0, 3, 1, 2}); }

Value NhwcEmitter::transpose(Location loc, Value x, ArrayRef<int64_t> perm) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape;
  for (int64_t d : perm)
    shape.push_back(type.getDimSize(d));
  Value init = b_.create<tensor::EmptyOp>(loc, shape, type.getElementType());
  return b_.create<linalg::TransposeOp>(loc, x, init, perm)->getResult(0);
}

// --- Small builders ----------------------------------------------------------

Value NhwcEmitter::constant(Location loc, float v) {
  return b_.create<arith::ConstantOp>(loc, b_.getF32FloatAttr(v));
}

Value NhwcEmitter::filled(Location loc, ArrayRef<int64_t> shape, float v) {
  Value empty = b_.create<tensor::EmptyOp>(loc, shape, b_.getF32Type());
  return b_.create<linalg::FillOp>(loc, constant(loc, v), empty).getResult(0);
}

Value NhwcEmitter::padHW(Location loc, Value x, ArrayRef<int64_t> pad, float value) {
  if (pad[0] == 0 && pad[1] == 0)
    return x;
  auto s = cast<RankedTensorType>(x.getType()).getShape();
  SmallVector<OpFoldResult> lo{b_.getIndexAttr(0), b_.getIndexAttr(pad[0]),
                               b_.getIndexAttr(pad[1]), b_.getIndexAttr(0)};
  auto type = tensor({s[0], s[1] + 2 * pad[0], s[2] + 2 * pad[1], s[3]});
  return b_.create<tensor::PadOp>(loc, type, x, lo, lo, constant(loc, value));
}

Value NhwcEmitter::epilogue(Location loc, Value x, Value bias, bool relu) {
  if (!bias && !relu)
    return x;
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  MLIRContext *ctx = b_.getContext();
  SmallVector<AffineMap> maps;
  SmallVector<Value> ins;
  if (bias) {
    ins.push_back(bias);
    maps.push_back(AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, ctx)}, ctx));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return b_
      .create<linalg::GenericOp>(
          loc, TypeRange{type}, ins, ValueRange{x}, maps, iters,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value v = args.back();
            if (bias)
              v = nb.create<arith::AddFOp>(nl, v, args[0]);
            if (relu)
              v = nb.create<arith::MaximumFOp>(nl, v,
                                                nb.create<arith::ConstantOp>(nl, nb.getF32FloatAttr(0)));
            nb.create<linalg::YieldOp>(nl, v);
          })
      .getResult(0);
}

Value NhwcEmitter::scale(Location loc, Value x, float s) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  auto id = AffineMap::getMultiDimIdentityMap(rank, b_.getContext());
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return b_
      .create<linalg::GenericOp>(loc, TypeRange{type}, ValueRange{}, ValueRange{x},
                                 ArrayRef<AffineMap>{id}, iters,
                                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                                   Value c = nb.create<arith::ConstantOp>(nl, nb.getF32FloatAttr(s));
                                   nb.create<linalg::YieldOp>(
                                       nl, ValueRange{nb.create<arith::MulFOp>(nl, args[0], c)});
                                 })
      .getResult(0);
}

Value NhwcEmitter::copyOf(Location loc, Value x) {
  auto t = cast<RankedTensorType>(x.getType());
  Value init = b_.create<tensor::EmptyOp>(loc, t.getShape(), b_.getF32Type());
  return b_.create<linalg::CopyOp>(loc, x, init).getResult(0);
}

// --- Forward ops -------------------------------------------------------------

LogicalResult NhwcEmitter::lowerForward(Operation *op) {
  Location loc = op->getLoc();
  Value out;
  if (isa<Conv2DOp>(op)) {
    out = lowerConv(loc, op);
  } else if (isa<nin::PointwiseMlpOp>(op)) {
    out = lowerMlp(loc, op);
  } else if (auto relu = dyn_cast<nin::ReluOp>(op)) {
    out = epilogue(loc, copyOf(loc, map_.lookup(relu.getInput())), Value(), true);
  } else if (auto pool = dyn_cast<nin::MaxPool2DOp>(op)) {
    out = lowerPool(loc, pool.getInput(), pool.getKernel(), pool.getStride(), pool.getPadding(),
                    pool.getType(), /*isMax=*/true);
  } else if (auto pool = dyn_cast<nin::AvgPool2DOp>(op)) {
    out = lowerPool(loc, pool.getInput(), pool.getKernel(), pool.getStride(), pool.getPadding(),
                    pool.getType(), /*isMax=*/false);
  } else if (auto gap = dyn_cast<nin::GlobalAvgPoolOp>(op)) {
    out = lowerGlobalAvgPool(loc, map_.lookup(gap.getInput()));
  } else if (auto flat = dyn_cast<nin::FlattenOp>(op)) {
    out = lowerFlatten(loc, map_.lookup(flat.getInput()));
  } else if (auto drop = dyn_cast<nin::DropoutOp>(op)) {
    if (drop.getTraining())
      return op->emitError("expected an inference graph: training dropout is lowered by the "
                           "training pipeline");
    out = map_.lookup(drop.getInput());
  } else {
    return op->emitError("no lowering to linalg for this op");
  }
  map_[op->getResult(0)] = out;
  return success();
}

Value NhwcEmitter::lowerConv(Location loc, Operation *op) {
  auto conv = cast<Conv2DOp>(op);
  auto outNchw = cast<RankedTensorType>(conv.getType()).getShape();
  SmallVector<int64_t> out{outNchw[0], outNchw[2], outNchw[3], outNchw[1]};
  Value x = padHW(loc, map_.lookup(conv.getInput()), conv.getPadding(), 0.0f);
  Value acc = filled(loc, out, 0.0f);
  Value y = b_.create<linalg::Conv2DNhwcHwcfOp>(
                  loc, TypeRange{tensor(out)}, ValueRange{x, map_.lookup(conv.getWeight())},
                  ValueRange{acc}, b_.getI64TensorAttr(conv.getStride()),
                  b_.getI64TensorAttr({1, 1}))
                .getResult(0);
  Value bias = conv.getBias() ? map_.lookup(conv.getBias()) : Value();
  return epilogue(loc, y, bias, conv.getRelu());
}

/// [N, H, W, C] -> [N*H*W, C] -> matmul chain -> [N, H, W, F].
Value NhwcEmitter::lowerMlp(Location loc, Operation *op) {
  auto mlp = cast<nin::PointwiseMlpOp>(op);
  Value x = map_.lookup(mlp.getInput());
  auto s = cast<RankedTensorType>(x.getType()).getShape();
  int64_t m = s[0] * s[1] * s[2];
  Value rows = b_.create<tensor::CollapseShapeOp>(
      loc, tensor({m, s[3]}), x, SmallVector<ReassociationIndices>{{0, 1, 2}, {3}});
  int64_t f = s[3];
  for (auto [w, bias] : llvm::zip(mlp.getWeights(), mlp.getBiases())) {
    // HWCF [1, 1, C, F] -> [C, F]
    Value hwcf = map_.lookup(w);
    auto ws = cast<RankedTensorType>(hwcf.getType()).getShape();
    f = ws[3];
    Value matrix = b_.create<tensor::CollapseShapeOp>(
        loc, tensor({ws[2], f}), hwcf, SmallVector<ReassociationIndices>{{0, 1, 2}, {3}});
    Value acc = filled(loc, {m, f}, 0.0f);
    rows = b_.create<linalg::MatmulOp>(loc, TypeRange{tensor({m, f})}, ValueRange{rows, matrix},
                                       ValueRange{acc})
               .getResult(0);
    rows = epilogue(loc, rows, map_.lookup(bias), /*relu=*/true);
  }
  return b_.create<tensor::ExpandShapeOp>(loc, tensor({s[0], s[1], s[2], f}), rows,
                                          SmallVector<ReassociationIndices>{{0, 1, 2}, {3}});
}

Value NhwcEmitter::lowerPool(Location loc, Value input, ArrayRef<int64_t> kernel,
                             ArrayRef<int64_t> stride, ArrayRef<int64_t> padding, Type resultNchw,
                             bool isMax) {
  auto o = cast<RankedTensorType>(resultNchw).getShape();
  SmallVector<int64_t> out{o[0], o[2], o[3], o[1]};
  float init = isMax ? -std::numeric_limits<float>::infinity() : 0.0f;
  Value x = padHW(loc, map_.lookup(input), padding, init);
  Value acc = filled(loc, out, init);
  Value window = b_.create<tensor::EmptyOp>(loc, kernel, b_.getF32Type());
  auto strides = b_.getI64TensorAttr(stride);
  auto dilations = b_.getI64TensorAttr({1, 1});
  if (isMax)
    return b_.create<linalg::PoolingNhwcMaxOp>(loc, TypeRange{tensor(out)}, ValueRange{x, window},
                                               ValueRange{acc}, strides, dilations)
        .getResult(0);
  Value sum = b_.create<linalg::PoolingNhwcSumOp>(loc, TypeRange{tensor(out)},
                                                  ValueRange{x, window}, ValueRange{acc},
                                                  strides, dilations)
                  .getResult(0);
  return scale(loc, sum, 1.0f / static_cast<float>(kernel[0] * kernel[1]));
}

/// [N, H, W, C] -> mean over H, W -> [N, 1, 1, C].
Value NhwcEmitter::lowerGlobalAvgPool(Location loc, Value x) {
  auto s = cast<RankedTensorType>(x.getType()).getShape();
  MLIRContext *ctx = b_.getContext();
  Value acc = filled(loc, {s[0], s[3]}, 0.0f);
  AffineExpr n = getAffineDimExpr(0, ctx), h = getAffineDimExpr(1, ctx),
             w = getAffineDimExpr(2, ctx), c = getAffineDimExpr(3, ctx);
  SmallVector<AffineMap> maps{AffineMap::get(4, 0, {n, h, w, c}, ctx),
                              AffineMap::get(4, 0, {n, c}, ctx)};
  SmallVector<utils::IteratorType> iters{utils::IteratorType::parallel,
                                         utils::IteratorType::reduction,
                                         utils::IteratorType::reduction,
                                         utils::IteratorType::parallel};
  Value sum = b_.create<linalg::GenericOp>(
                    loc, TypeRange{tensor({s[0], s[3]})}, ValueRange{x}, ValueRange{acc}, maps,
                    iters,
                    [](OpBuilder &nb, Location nl, ValueRange args) {
                      nb.create<linalg::YieldOp>(
                          nl, ValueRange{nb.create<arith::AddFOp>(nl, args[0], args[1])});
                    })
                  .getResult(0);
  Value mean = scale(loc, sum, 1.0f / static_cast<float>(s[1] * s[2]));
  return b_.create<tensor::ExpandShapeOp>(loc, tensor({s[0], 1, 1, s[3]}), mean,
                                          SmallVector<ReassociationIndices>{{0}, {1, 2, 3}});
}

/// NHWC [N, H, W, C] -> [N, C*H*W] in NCHW order.
Value NhwcEmitter::lowerFlatten(Location loc, Value x) {
  auto s = cast<RankedTensorType>(x.getType()).getShape();
  if (s[1] * s[2] != 1)
    x = nhwcToNchw(loc, x);
  return b_.create<tensor::CollapseShapeOp>(loc, tensor({s[0], s[1] * s[2] * s[3]}), x,
                                            SmallVector<ReassociationIndices>{{0}, {1, 2, 3}});
}

} // namespace ninc::lowering
