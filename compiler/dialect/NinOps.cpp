//===- compiler/dialect/NinOps.cpp - nin dialect and op definitions -------===//
//
// Result shapes come from the same rules as compiler/model/Shapes.h
// (slidingOutput); unranked operands give unranked results, which
// `nin-infer-shapes` refines once the input shape is known.
//
//===----------------------------------------------------------------------===//

#include "compiler/dialect/NinOps.h"
#include "compiler/model/Shapes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"

using namespace mlir;
using namespace ninc::nin;

#include "compiler/dialect/NinDialect.cpp.inc"

void NinDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "compiler/dialect/NinOps.cpp.inc"
      >();
}

namespace {

/// The ranked shape of `v`, or nullopt while it is unranked.
std::optional<ArrayRef<int64_t>> rankedShape(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (!t)
    return std::nullopt;
  return t.getShape();
}

Type f32Tensor(MLIRContext *ctx, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, Float32Type::get(ctx));
}

Type unranked(MLIRContext *ctx) { return UnrankedTensorType::get(Float32Type::get(ctx)); }

LogicalResult emitShapeError(std::optional<Location> loc, const Twine &message) {
  if (loc)
    return emitError(*loc) << message;
  return failure();
}

LogicalResult expectRank(std::optional<Location> loc, ArrayRef<int64_t> shape, size_t rank,
                         StringRef what) {
  if (shape.size() == rank)
    return success();
  return emitShapeError(loc, "expected a rank-" + Twine(rank) + " " + what + ", found rank " +
                                 Twine(shape.size()));
}

/// [N, C, H, W] -> [N, channels, OH, OW] for a sliding window.
LogicalResult windowShape(std::optional<Location> loc, ArrayRef<int64_t> in, int64_t channels,
                          ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
                          ArrayRef<int64_t> padding, SmallVectorImpl<int64_t> &out) {
  if (failed(expectRank(loc, in, 4, "input [N, C, H, W]")))
    return failure();
  if (kernel.size() != 2 || stride.size() != 2 || padding.size() != 2)
    return emitShapeError(loc, "expected kernel, stride and padding of 2 values each");
  if (stride[0] < 1 || stride[1] < 1 || kernel[0] < 1 || kernel[1] < 1 || padding[0] < 0 ||
      padding[1] < 0)
    return emitShapeError(loc, "expected kernel and stride >= 1 and padding >= 0");
  int64_t oh = ninc::slidingOutput(in[2], kernel[0], stride[0], padding[0]);
  int64_t ow = ninc::slidingOutput(in[3], kernel[1], stride[1], padding[1]);
  if (oh < 1 || ow < 1)
    return emitShapeError(loc, "expected a window that fits the padded input " +
                                   Twine(in[2] + 2 * padding[0]) + "x" +
                                   Twine(in[3] + 2 * padding[1]) + ", found kernel " +
                                   Twine(kernel[0]) + "x" + Twine(kernel[1]));
  out.assign({in[0], channels, oh, ow});
  return success();
}

} // namespace

/// Shapes agree when equal, or when either side is unranked (before
/// `nin-infer-shapes`).
static bool compatibleTypes(TypeRange inferred, TypeRange actual) {
  if (inferred.size() != actual.size())
    return false;
  for (auto [a, b] : llvm::zip(inferred, actual))
    if (a != b && !isa<UnrankedTensorType>(a) && !isa<UnrankedTensorType>(b))
      return false;
  return true;
}

#define NIN_COMPATIBLE_RETURN_TYPES(Op)                                                          \
  bool Op::isCompatibleReturnTypes(TypeRange l, TypeRange r) { return compatibleTypes(l, r); }
NIN_COMPATIBLE_RETURN_TYPES(Conv2DOp)
NIN_COMPATIBLE_RETURN_TYPES(PointwiseMlpOp)
NIN_COMPATIBLE_RETURN_TYPES(ReluOp)
NIN_COMPATIBLE_RETURN_TYPES(MaxPool2DOp)
NIN_COMPATIBLE_RETURN_TYPES(AvgPool2DOp)
NIN_COMPATIBLE_RETURN_TYPES(GlobalAvgPoolOp)
NIN_COMPATIBLE_RETURN_TYPES(DropoutOp)
NIN_COMPATIBLE_RETURN_TYPES(FlattenOp)
#undef NIN_COMPATIBLE_RETURN_TYPES

//===----------------------------------------------------------------------===//
// conv2d
//===----------------------------------------------------------------------===//

LogicalResult Conv2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                    Conv2DOp::Adaptor op, SmallVectorImpl<Type> &types) {
  auto in = rankedShape(op.getInput());
  auto w = rankedShape(op.getWeight());
  if (!in || !w) {
    types.push_back(unranked(ctx));
    return success();
  }
  if (failed(expectRank(loc, *w, 4, "weight [F, C, KH, KW]")))
    return failure();
  if (in->size() == 4 && (*in)[1] != (*w)[1])
    return emitShapeError(loc, "expected weight input channels " + Twine((*in)[1]) +
                                   " (the input's C), found " + Twine((*w)[1]));
  if (op.getBias()) {
    auto b = rankedShape(op.getBias());
    if (b && (b->size() != 1 || (*b)[0] != (*w)[0]))
      return emitShapeError(loc, "expected bias of shape [" + Twine((*w)[0]) + "]");
  }
  SmallVector<int64_t> out;
  if (failed(windowShape(loc, *in, (*w)[0], {(*w)[2], (*w)[3]}, op.getStride(),
                         op.getPadding(), out)))
    return failure();
  types.push_back(f32Tensor(ctx, out));
  return success();
}

//===----------------------------------------------------------------------===//
// pointwise_mlp
//===----------------------------------------------------------------------===//

LogicalResult PointwiseMlpOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                    PointwiseMlpOp::Adaptor op, SmallVectorImpl<Type> &types) {
  auto in = rankedShape(op.getInput());
  if (!in || op.getWeights().empty()) {
    types.push_back(unranked(ctx));
    return success();
  }
  if (failed(expectRank(loc, *in, 4, "input [N, C, H, W]")))
    return failure();
  int64_t channels = (*in)[1];
  for (Value weight : op.getWeights()) {
    auto w = rankedShape(weight);
    if (!w) {
      types.push_back(unranked(ctx));
      return success();
    }
    if (w->size() != 4 || (*w)[1] != channels || (*w)[2] != 1 || (*w)[3] != 1)
      return emitShapeError(loc, "expected 1x1 weights [F, " + Twine(channels) +
                                     ", 1, 1] in the chain");
    channels = (*w)[0];
  }
  types.push_back(f32Tensor(ctx, {(*in)[0], channels, (*in)[2], (*in)[3]}));
  return success();
}

LogicalResult PointwiseMlpOp::verify() {
  if (getWeights().size() != getBiases().size() || getWeights().empty())
    return emitOpError("expected one bias per weight and at least one layer, found ")
           << getWeights().size() << " weights and " << getBiases().size() << " biases";
  for (auto [w, b] : llvm::zip(getWeights(), getBiases())) {
    auto ws = rankedShape(w);
    auto bs = rankedShape(b);
    if (ws && bs && (bs->size() != 1 || ws->empty() || (*bs)[0] != (*ws)[0]))
      return emitOpError("expected each bias to have the shape [F] of its weight's F");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Shape-preserving and reducing ops
//===----------------------------------------------------------------------===//

/// Ops whose result has the operand's type.
static LogicalResult sameAsInput(Value input, SmallVectorImpl<Type> &types) {
  types.push_back(input.getType());
  return success();
}

LogicalResult ReluOp::inferReturnTypes(MLIRContext *, std::optional<Location>, Adaptor op,
                                       SmallVectorImpl<Type> &types) {
  return sameAsInput(op.getInput(), types);
}

LogicalResult DropoutOp::inferReturnTypes(MLIRContext *, std::optional<Location>, Adaptor op,
                                          SmallVectorImpl<Type> &types) {
  return sameAsInput(op.getInput(), types);
}

OpFoldResult DropoutOp::fold(FoldAdaptor) {
  // Inference: the identity.
  if (!getTraining() && getInput().getType() == getType())
    return getInput();
  return {};
}

template <typename Adaptor>
static LogicalResult poolReturnTypes(MLIRContext *ctx, std::optional<Location> loc, Adaptor op,
                                     SmallVectorImpl<Type> &types) {
  auto in = rankedShape(op.getInput());
  if (!in) {
    types.push_back(unranked(ctx));
    return success();
  }
  SmallVector<int64_t> out;
  if (in->size() == 4 && failed(windowShape(loc, *in, (*in)[1], op.getKernel(), op.getStride(),
                                            op.getPadding(), out)))
    return failure();
  if (failed(expectRank(loc, *in, 4, "input [N, C, H, W]")))
    return failure();
  types.push_back(f32Tensor(ctx, out));
  return success();
}

LogicalResult MaxPool2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                    MaxPool2DOp::Adaptor op, SmallVectorImpl<Type> &types) {
  return poolReturnTypes(ctx, loc, op, types);
}

LogicalResult AvgPool2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                    AvgPool2DOp::Adaptor op, SmallVectorImpl<Type> &types) {
  return poolReturnTypes(ctx, loc, op, types);
}

/// The result type of an op whose result shape is `shapeOf` its [N, C, H, W]
/// input's (unranked while the input is).
template <typename ShapeFn>
static LogicalResult fromNchwInput(MLIRContext *ctx, std::optional<Location> loc, Value input,
                                   SmallVectorImpl<Type> &types, ShapeFn shapeOf) {
  auto in = rankedShape(input);
  if (!in) {
    types.push_back(unranked(ctx));
    return success();
  }
  if (failed(expectRank(loc, *in, 4, "input [N, C, H, W]")))
    return failure();
  types.push_back(f32Tensor(ctx, shapeOf(*in)));
  return success();
}

LogicalResult GlobalAvgPoolOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                    GlobalAvgPoolOp::Adaptor op, SmallVectorImpl<Type> &types) {
  return fromNchwInput(ctx, loc, op.getInput(), types, [](auto in) {
    return SmallVector<int64_t>{in[0], in[1], 1, 1};
  });
}

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                          Adaptor op, SmallVectorImpl<Type> &types) {
  return fromNchwInput(ctx, loc, op.getInput(), types, [](auto in) {
    return SmallVector<int64_t>{in[0], in[1] * in[2] * in[3]};
  });
}

//===----------------------------------------------------------------------===//
// Training ops
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxCrossEntropyOp::verify() {
  auto logits = rankedShape(getLogits());
  auto labels = dyn_cast<RankedTensorType>(getLabels().getType());
  if (logits && (logits->size() != 2 || !labels || labels.getRank() != 1 ||
                 labels.getDimSize(0) != (*logits)[0]))
    return emitOpError("expected logits [N, K] and labels [N]");
  if (getGrad().getType() != getLogits().getType())
    return emitOpError("expected the gradient to have the logits' type");
  return success();
}

/// The forward conv's output shape from an input and a weight shape.
static std::optional<SmallVector<int64_t>> convOutput(ArrayRef<int64_t> in,
                                                      ArrayRef<int64_t> w,
                                                      ArrayRef<int64_t> stride,
                                                      ArrayRef<int64_t> padding) {
  if (in.size() != 4 || w.size() != 4 || stride.size() != 2 || padding.size() != 2)
    return std::nullopt;
  return SmallVector<int64_t>{in[0], w[0], ninc::slidingOutput(in[2], w[2], stride[0], padding[0]),
                              ninc::slidingOutput(in[3], w[3], stride[1], padding[1])};
}

/// A conv2d gradient is consistent when the forward conv from `input` with
/// `weight` would produce the gradient's shape (checked once shapes are known).
static LogicalResult verifyConvGrad(Operation *op, Value input, Value weight, Value grad,
                                    ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                                    StringRef expected) {
  auto x = rankedShape(input);
  auto w = rankedShape(weight);
  auto dy = rankedShape(grad);
  if (!x || !w || !dy)
    return success();
  auto out = convOutput(*x, *w, stride, padding);
  if (!out || ArrayRef<int64_t>(*out) != *dy || (*x)[1] != (*w)[1])
    return op->emitOpError(expected);
  return success();
}

LogicalResult Conv2DGradInputOp::verify() {
  return verifyConvGrad(*this, getResult(), getWeight(), getGrad(), getStride(), getPadding(),
                        "expected the result to be the input of a conv2d whose output has the "
                        "gradient's shape");
}

LogicalResult Conv2DGradFilterOp::verify() {
  return verifyConvGrad(*this, getInput(), getResult(), getGrad(), getStride(), getPadding(),
                        "expected the result to be the weight of a conv2d from the input to the "
                        "gradient's shape");
}

#define GET_OP_CLASSES
#include "compiler/dialect/NinOps.cpp.inc"
