//===- compiler/conversion/NinToLinalgConvGrad.cpp - Conv gradients -> linalg ---===//
//
// The convolution gradients of the training step on NHWC activations and
// HWCF filters:
//
//   bias_grad             -> f64 reduction over N, H, W
//   conv2d_grad_filter    -> conv_2d_nhwc_hwcf with dilation = stride on
//                            operands transposed per group of images g:
//       out[c, kh, kw, f] += sum_{oh, ow, n in g} xpad_g^T[c, kh + oh*s, kw + ow*s, n]
//                                                 * dz_g^T[oh, ow, n, f]
//                            (1x1, stride 1, no padding: sum_g x_g^T [C, gHW] x
//                            dz_g [gHW, F])
//   conv2d_grad_input     -> dz dilated by the stride on a zero canvas padded by
//                            K-1-p, then conv_2d_nhwc_hwcf with the flipped,
//                            C/F-swapped filter (1x1: dz [NHW, F] x w^T [F, C])
//
// A ReLU gradient folded into these (NinToLinalgPoolGrad.cpp) is applied as
// they read dz: in the weight gradient's per-group transposes, the bias
// gradient's reduction and the input gradient's canvas.
//
//===----------------------------------------------------------------------===//

#include "compiler/conversion/NinToLinalgTrainInternal.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

using namespace mlir;

namespace ninc::lowering {

using utils::IteratorType;

namespace {

/// The weight gradient's convolution streams OH*OW*B*TF floats of dz per
/// register tile column (TF = 32 channels); B images per group keep that
/// within kGradSliceBytes, in at most kMaxGradGroups convolutions.
constexpr int64_t kGradSliceBytes = 256 * 1024;
constexpr int64_t kMaxGradGroups = 16;

/// Images per group of the weight gradient: the largest divisor of `batch`
/// that fits the slice budget, but at least batch / kMaxGradGroups.
int64_t imagesPerGroup(int64_t batch, int64_t plane) {
  int64_t best = batch;
  for (int64_t b = batch; b >= 1; --b) {
    if (batch % b != 0)
      continue;
    if (batch / b > kMaxGradGroups)
      break;
    best = b;
    if (plane * b * 32 * 4 <= kGradSliceBytes)
      break;
  }
  return best;
}

} // namespace

// --- Bias gradient -----------------------------------------------------------

/// [N, H, W, F] -> [F], summed in f64.
Value TrainStepLowering::lowerBiasGrad(Location loc, Value grad) {
  Masked masked = maskedGrad(grad);
  SmallVector<Value> ins{masked ? masked.dy : map_.lookup(grad)};
  if (masked)
    ins.push_back(masked.y);
  SmallVector<int64_t> s = shapeOf(ins[0]);
  int64_t rank = s.size();
  MLIRContext *ctx = b_.getContext();
  SmallVector<AffineMap> maps(ins.size(), AffineMap::getMultiDimIdentityMap(rank, ctx));
  maps.push_back(AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, ctx)}, ctx));
  SmallVector<IteratorType> iters(rank, IteratorType::reduction);
  iters.back() = IteratorType::parallel;
  Value sum = generic(loc, ins, {full(loc, {s.back()}, b_.getF64FloatAttr(0))}, maps, iters,
                      [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                        Arith m{nb, nl};
                        Value dz = masked ? m.reluMask(a[0], a[1]) : a[0];
                        return {m.addf(a.back(), m.extf(dz))};
                      })[0];
  return elementwise(loc, {sum}, {empty(loc, {s.back()})},
                     [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                       return {Arith{nb, nl}.truncf(a[0])};
                     })[0];
}

// --- Convolution gradients ---------------------------------------------------

Value TrainStepLowering::lowerConvGradFilter(Location loc, nin::Conv2DGradFilterOp op) {
  Masked masked = maskedGrad(op.getGrad());
  Value x = map_.lookup(op.getInput()), dz = masked ? masked.dy : map_.lookup(op.getGrad());
  SmallVector<int64_t> xs = shapeOf(x), ds = shapeOf(dz); // [N, H, W, C], [N, OH, OW, F]
  auto ws = cast<RankedTensorType>(op.getType()).getShape(); // [F, C, KH, KW]
  ArrayRef<int64_t> stride = op.getStride(), padding = op.getPadding();
  // The batch in G groups of B images, one convolution (matmul for 1x1)
  // each accumulating into dw: the operands are transposed per group, so the
  // transposed copies are small and short-lived (the memory plan reuses one
  // slot for all groups), and the dz slice a register tile streams over
  // stays in cache.
  int64_t n = xs[0];
  if (isPointwise(ws.drop_front(2), stride, padding)) {
    // dw [C, F] = sum_g x_g^T [C, B*HW] x dz_g [B*HW, F]
    int64_t b = imagesPerGroup(n, xs[1] * xs[2]), g = n / b, m = b * xs[1] * xs[2];
    Value dw = overGroups(loc, g, b, filled(loc, {xs[3], ds[3]}, 0.0f),
                          [&](OpFoldResult first, Value acc) {
      Value xi = reshape(loc, imageSlice(loc, x, first, {b, xs[1], xs[2], xs[3]}), {m, xs[3]},
                         {{0, 1, 2}, {3}});
      Value dzi = reshape(loc, imageSlice(loc, dz, first, {b, ds[1], ds[2], ds[3]}), {m, ds[3]},
                          {{0, 1, 2}, {3}});
      if (forms_.weightGradMatmulTransposeA) // A read transposed in place
        return markWeightGradient(b_.create<linalg::MatmulTransposeAOp>(
                                        loc, TypeRange{acc.getType()}, ValueRange{xi, dzi},
                                        ValueRange{acc})
                                      .getResult(0));
      return markWeightGradient(matmul(loc, transpose(loc, xi, {1, 0}), dzi, acc));
    });
    return reshape(loc, dw, {1, 1, xs[3], ds[3]}, {{0, 1, 2}, {3}});
  }
  Value xp = padHW(loc, x, padding, 0.0f);
  // Only rows kh + oh*s < KH + (OH-1)*s are read (fewer than Hp when the
  // forward conv dropped the last rows).
  int64_t hu = ws[2] + (ds[1] - 1) * stride[0], wu = ws[3] + (ds[2] - 1) * stride[1];
  int64_t b = imagesPerGroup(n, ds[1] * ds[2]), g = n / b;
  SmallVector<int64_t> out{xs[3], ws[2], ws[3], ds[3]};
  Value dw = overGroups(loc, g, b, filled(loc, out, 0.0f), [&](OpFoldResult first, Value acc) {
    Value xt = transpose(loc, imageSlice(loc, xp, first, {b, hu, wu, xs[3]}),
                         {3, 1, 2, 0}); // [C, hu, wu, B]
    SmallVector<int64_t> group{b, ds[1], ds[2], ds[3]};
    Value dzt = maskPermuted(loc, imageSlice(loc, dz, first, group),
                             masked ? imageSlice(loc, masked.y, first, group) : Value{},
                             {1, 2, 0, 3}); // [OH, OW, B, F], the ReLU mask applied
    return markWeightGradient(conv(loc, xt, dzt, out, stride, acc));
  });
  return transpose(loc, dw, {1, 2, 0, 3}); // [C, KH, KW, F] -> HWCF
}

/// Tags the op computing `dw` attr::kWeightGrad (the CPU backend keeps
/// weight gradients in fp32 under --precision=bf16).
Value TrainStepLowering::markWeightGradient(Value dw) {
  dw.getDefiningOp()->setAttr(attr::kWeightGrad, UnitAttr::get(dw.getContext()));
  return dw;
}

Value TrainStepLowering::maskPermuted(Location loc, Value x, Value y, ArrayRef<int64_t> perm) {
  if (!y)
    return transpose(loc, x, perm);
  SmallVector<int64_t> in = shapeOf(x), out;
  SmallVector<AffineExpr> read(in.size());
  for (auto [i, p] : llvm::enumerate(perm)) {
    out.push_back(in[p]);
    read[p] = getAffineDimExpr(i, b_.getContext());
  }
  int64_t rank = in.size();
  AffineMap readMap = AffineMap::get(rank, 0, read, b_.getContext());
  SmallVector<AffineMap> maps{readMap, readMap,
                              AffineMap::getMultiDimIdentityMap(rank, b_.getContext())};
  SmallVector<IteratorType> iters(rank, IteratorType::parallel);
  return generic(loc, {x, y}, {empty(loc, out)}, maps, iters,
                 [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                   return {Arith{nb, nl}.reluMask(a[0], a[1])};
                 })[0];
}

/// x[first : first + sizes[0], :sizes[1], :sizes[2], :sizes[3]] of an NHWC
/// tensor (the whole tensor when that is all of it).
Value TrainStepLowering::imageSlice(Location loc, Value x, OpFoldResult first,
                                    ArrayRef<int64_t> sizes) {
  if (isConstantIntValue(first, 0) && ArrayRef<int64_t>(shapeOf(x)) == sizes)
    return x;
  SmallVector<OpFoldResult> offsets = indexAttrs(b_, {0, 0, 0, 0});
  offsets[0] = first;
  return b_.create<tensor::ExtractSliceOp>(loc, x, offsets, indexAttrs(b_, sizes),
                                           indexAttrs(b_, {1, 1, 1, 1}));
}

Value TrainStepLowering::overGroups(Location loc, int64_t groups, int64_t images, Value init,
                                    llvm::function_ref<Value(OpFoldResult, Value)> body) {
  if (!forms_.weightGradGroupLoop || groups == 1) {
    Value acc = init;
    for (int64_t i = 0; i < groups; ++i)
      acc = body(b_.getIndexAttr(i * images), acc);
    return acc;
  }
  Value lb = b_.create<arith::ConstantIndexOp>(loc, 0);
  Value ub = b_.create<arith::ConstantIndexOp>(loc, groups * images);
  Value step = b_.create<arith::ConstantIndexOp>(loc, images);
  auto loop = b_.create<scf::ForOp>(
      loc, lb, ub, step, ValueRange{init},
      [&](OpBuilder &nb, Location nl, Value first, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b_);
        b_.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value next = body(first, acc[0]);
        b_.create<scf::YieldOp>(nl, next);
      });
  return loop.getResult(0);
}

Value TrainStepLowering::lowerConvGradInput(Location loc, nin::Conv2DGradInputOp op) {
  Masked masked = maskedGrad(op.getGrad());
  Value dz = masked ? masked.dy : map_.lookup(op.getGrad()), w = map_.lookup(op.getWeight());
  SmallVector<int64_t> ds = shapeOf(dz), ws = shapeOf(w); // [N, OH, OW, F], [KH, KW, C, F]
  SmallVector<int64_t> out = nhwcShape(op.getType());   // [N, H, W, C]
  ArrayRef<int64_t> stride = op.getStride(), padding = op.getPadding();
  int64_t kh = ws[0], kw = ws[1], c = ws[2], f = ws[3];
  if (isPointwise({kh, kw}, stride, padding)) {
    // dx [NHW, C] = dz [NHW, F] x w^T [F, C]
    int64_t m = ds[0] * ds[1] * ds[2];
    Value wt = transpose(loc, reshape(loc, w, {c, f}, {{0, 1, 2}, {3}}), {1, 0});
    Value dx = matmul(loc, reshape(loc, dz, {m, f}, {{0, 1, 2}, {3}}), wt);
    return reshape(loc, dx, out, {{0, 1, 2}, {3}});
  }
  // dz row oh goes to canvas row (KH-1-p) + oh*s of a zero canvas of
  // H + KH - 1 rows (the extra bottom rows cover what the forward conv
  // dropped); rows that would land outside contribute nothing to dx.
  SmallVector<int64_t> canvas{out[0], out[1] + kh - 1, out[2] + kw - 1, f};
  int64_t first[2], count[2], lo[2];
  for (int d = 0; d < 2; ++d) {
    lo[d] = ws[d] - 1 - padding[d];
    first[d] = lo[d] < 0 ? llvm::divideCeilSigned(-lo[d], stride[d]) : 0;
    int64_t last = std::min(ds[1 + d] - 1, llvm::divideFloorSigned(canvas[1 + d] - 1 - lo[d], stride[d]));
    count[d] = std::max<int64_t>(0, last - first[d] + 1);
  }
  Value dilated = filled(loc, canvas, 0.0f);
  if (count[0] > 0 && count[1] > 0) {
    SmallVector<int64_t> sizes{ds[0], count[0], count[1], f};
    auto crop = [&](Value v) -> Value {
      if (sizes == ds)
        return v;
      return b_.create<tensor::ExtractSliceOp>(loc, v, indexAttrs(b_, {0, first[0], first[1], 0}),
                                               indexAttrs(b_, sizes), indexAttrs(b_, {1, 1, 1, 1}));
    };
    SmallVector<OpFoldResult> at =
        indexAttrs(b_, {0, lo[0] + first[0] * stride[0], lo[1] + first[1] * stride[1], 0});
    SmallVector<OpFoldResult> steps = indexAttrs(b_, {1, stride[0], stride[1], 1});
    Value src = crop(dz);
    if (masked) {
      // The ReLU mask applied on the way into the canvas.
      Value window = b_.create<tensor::ExtractSliceOp>(loc, dilated, at, indexAttrs(b_, sizes),
                                                       steps);
      src = elementwise(loc, {src, crop(masked.y)}, {window},
                        [](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                          return {Arith{nb, nl}.reluMask(a[0], a[1])};
                        })[0];
    }
    dilated = b_.create<tensor::InsertSliceOp>(loc, src, dilated, at, indexAttrs(b_, sizes),
                                               steps);
  }
  // flipped[a, b, f, c] = w[KH-1-a, KW-1-b, c, f], as a gather: tiling
  // cannot shift a decreasing indexing map (KH-1-a) to a tile.
  Value flipped = elementwise(
      loc, {}, {empty(loc, {kh, kw, f, c})},
      [&](OpBuilder &nb, Location nl, ValueRange) -> SmallVector<Value> {
        Arith m{nb, nl};
        auto flip = [&](int64_t dim, int64_t size) -> Value {
          return nb.create<arith::SubIOp>(nl, m.index(size - 1), m.loopIndex(dim));
        };
        Value at[] = {flip(0, kh), flip(1, kw), m.loopIndex(3), m.loopIndex(2)};
        return {nb.create<tensor::ExtractOp>(nl, w, ValueRange(at))};
      })[0];
  return conv(loc, dilated, flipped, out, {1, 1});
}

} // namespace ninc::lowering
