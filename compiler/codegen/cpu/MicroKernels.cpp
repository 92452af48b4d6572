//===- compiler/codegen/cpu/MicroKernels.cpp - Hand-built register tiles -===//
//
// Register tiles the transform schedules cannot express, written directly as
// vector loops on tensors (after tiling, before vectorization and
// bufferization, which leave them as they are). Each keeps a rows x cols
// tile of fp32 outputs in rows * cols/lanes vector accumulators across its
// reduction loops (lanes: the Target's fp32 lanes for the FMA tiles, 16 for
// vdpbf16ps), read and written as one rows x cols vector (so the write
// covers the tile: written row by row, a transfer-folding pattern dropped
// all rows but the last).
//
//   buildBf16DotTile (Bf16.cpp's tiles): per reduction step (kh, kw, c2),
//     cols/16 loads of 32 bf16 of the VNNI-packed filter, one broadcast of
//     an input pair (two bf16 as one i32) a row, rows * cols/16 vdpbf16ps;
//   buildFmaConvTile (fp32 conv tiles spanning several output rows, which
//     the schedule's 2-D -> 1-D decomposition cannot take: the weight
//     gradients' 3 x 3 outputs): per (kh, kw, c), cols/lanes filter loads,
//     one broadcast a pixel, pixels * cols/lanes FMAs;
//   buildPaddedConvTile (fp32 conv tiles of one or more output rows whose
//     input is zeros around the image: a tensor.pad, or an input
//     gradient's canvas): the same FMAs, but only for the taps that read
//     the image. The filter rows (kh) run over the range valid for the
//     tile's rows; a tile that starts where the row's first or last tile
//     starts takes a copy of the loops with kw unrolled and each pixel's
//     padding taps left out. The zeros stay materialised: a tile at another
//     offset computes every tap, with the same result. 5x5 pad 2 on
//     26 x 26: 9% of the taps; 3x3 pad 1 on 12 x 12: 11%.
// A tile's rows are its output pixels (TH x TW of a conv) or matrix rows.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace ninc::cpu::detail {
namespace {

constexpr const char *kDpbf16 = "llvm.x86.avx512bf16.dpbf16ps.512";
/// fp32 lanes of vdpbf16ps.512's accumulator (an AVX-512 instruction).
constexpr int64_t kBf16Lanes = kBf16DotLanes;

Value index(OpBuilder &b, Location loc, int64_t v) {
  return b.create<arith::ConstantIndexOp>(loc, v);
}

Value affineIndex(OpBuilder &b, Location loc, AffineExpr e, ValueRange dims) {
  return b.createOrFold<affine::AffineApplyOp>(
      loc, AffineMap::get(dims.size(), 0, e, b.getContext()), dims);
}

/// Nested scf.for over `bounds` carrying `init`; `body` gets the induction
/// variables and the carried values and returns the next ones.
SmallVector<Value> loopNest(
    OpBuilder &b, Location loc, llvm::ArrayRef<int64_t> bounds,
    SmallVector<Value> &ivs, ValueRange init,
    llvm::function_ref<SmallVector<Value>(OpBuilder &, ValueRange, ValueRange)>
        body) {
  if (bounds.empty())
    return body(b, ivs, init);
  auto loop = b.create<scf::ForOp>(
      loc, index(b, loc, 0), index(b, loc, bounds.front()), index(b, loc, 1),
      init, [&](OpBuilder &nb, Location nl, Value iv, ValueRange args) {
        ivs.push_back(iv);
        SmallVector<Value> next =
            loopNest(nb, nl, bounds.drop_front(), ivs, args, body);
        ivs.pop_back();
        nb.create<scf::YieldOp>(nl, next);
      });
  return SmallVector<Value>(loop.getResults());
}

/// The tile's trailing dims (conv [TH, TW, TF], matmul [TM, TN]) as one
/// vector, and the rows of TF lanes it flattens to (pixels or matrix rows).
VectorType tileVectorType(OpBuilder &b, Value out, bool conv) {
  llvm::ArrayRef<int64_t> shape = cast<ShapedType>(out.getType()).getShape();
  return VectorType::get(shape.take_back(conv ? 3 : 2), b.getF32Type());
}

/// The tile's accumulators, row-major: [p * cols/lanes + j] = row p (pixel
/// (r, i) = p / TW, p % TW of a conv tile), lanes lanes*j : lanes*(j + 1).
SmallVector<Value> readAccumulators(OpBuilder &b, Location loc, Value out,
                                    bool conv, int64_t lanes) {
  VectorType tileType = tileVectorType(b, out, conv);
  int64_t cols = tileType.getShape().back();
  int64_t rows = tileType.getNumElements() / cols;
  int64_t rank = cast<ShapedType>(out.getType()).getRank();
  SmallVector<Value> origin(rank, index(b, loc, 0));
  SmallVector<bool> inBounds(tileType.getRank(), true);
  Value tile = b.create<vector::TransferReadOp>(loc, tileType, out, origin, inBounds);
  Value flat = b.create<vector::ShapeCastOp>(
      loc, VectorType::get({rows, cols}, b.getF32Type()), tile);
  SmallVector<Value> accs;
  for (int64_t i = 0; i < rows; ++i) {
    Value row = b.create<vector::ExtractOp>(loc, flat, i);
    for (int64_t j = 0; j < cols / lanes; ++j)
      accs.push_back(b.create<vector::ExtractStridedSliceOp>(
          loc, row, ArrayRef<int64_t>{j * lanes},
          ArrayRef<int64_t>{lanes}, ArrayRef<int64_t>{1}));
  }
  return accs;
}

/// `out` with the accumulators written back (one transfer_write of the tile).
Value writeAccumulators(OpBuilder &b, Location loc, Value out, bool conv,
                        ValueRange accs, int64_t lanes) {
  VectorType tileType = tileVectorType(b, out, conv);
  int64_t cols = tileType.getShape().back();
  int64_t rows = tileType.getNumElements() / cols;
  auto flatType = VectorType::get({rows, cols}, b.getF32Type());
  auto rowType = VectorType::get({cols}, b.getF32Type());
  Value flat = b.create<arith::ConstantOp>(
      loc, flatType, DenseElementsAttr::get(flatType, b.getF32FloatAttr(0)));
  int64_t regs = cols / lanes;
  for (int64_t i = 0; i < rows; ++i) {
    Value row = b.create<arith::ConstantOp>(
        loc, rowType, DenseElementsAttr::get(rowType, b.getF32FloatAttr(0)));
    for (int64_t j = 0; j < regs; ++j)
      row = b.create<vector::InsertStridedSliceOp>(
          loc, accs[i * regs + j], row, ArrayRef<int64_t>{j * lanes},
          ArrayRef<int64_t>{1});
    flat = b.create<vector::InsertOp>(loc, row, flat, i);
  }
  Value tile = b.create<vector::ShapeCastOp>(loc, tileType, flat);
  int64_t rank = cast<ShapedType>(out.getType()).getRank();
  SmallVector<Value> origin(rank, index(b, loc, 0));
  SmallVector<bool> inBounds(tileType.getRank(), true);
  return b.create<vector::TransferWriteOp>(loc, tile, out, origin, inBounds)
      .getResult();
}

/// A conv's strides and dilations (1 for a matmul).
struct ConvSteps {
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
};

ConvSteps stepsOf(linalg::Conv2DNhwcHwcfOp conv) {
  ConvSteps s;
  if (!conv)
    return s;
  auto strides = llvm::to_vector(conv.getStrides().getValues<int64_t>());
  auto dilations = llvm::to_vector(conv.getDilations().getValues<int64_t>());
  return {strides[0], strides[1], dilations[0], dilations[1]};
}

/// The input position the tile's pixel p reads at reduction step (kh, kw)
/// and channel `c`: [0, r*sh + kh*dh, i*sw + kw*dw, c] with (r, i) = p / TW,
/// p % TW (conv), or [p, c] (matmul).
SmallVector<Value> inputAt(OpBuilder &b, Location loc, bool conv, int64_t p,
                           int64_t tw, const ConvSteps &s, ValueRange iv, Value c) {
  if (!conv)
    return {index(b, loc, p), c};
  AffineExpr d0 = b.getAffineDimExpr(0);
  int64_t r = p / tw, i = p % tw;
  return {index(b, loc, 0), affineIndex(b, loc, d0 * s.dh + r * s.sh, iv[0]),
          affineIndex(b, loc, d0 * s.dw + i * s.sw, iv[1]), c};
}

/// The register tile `op` (x bf16 [1, IH, IW, C] / [TM, K]; out f32
/// [1, 1, TW, TF] / [TM, TF]) as vdpbf16ps over `packed`
/// ([1, L..., C/2, TF * 2] bf16). Returns the new output tensor.
Value buildBf16DotTileImpl(OpBuilder &b, linalg::LinalgOp op, Value packed) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  auto conv = dyn_cast<linalg::Conv2DNhwcHwcfOp>(op.getOperation());
  Value x = op->getOperand(0);
  Value out = op.getDpsInitOperand(0)->get();
  llvm::ArrayRef<int64_t> outShape = cast<ShapedType>(out.getType()).getShape();
  int64_t cols = outShape.back(), tw = conv ? outShape[2] : 1;
  int64_t rows = conv ? outShape[1] * outShape[2] : outShape[0];
  int64_t regs = cols / kBf16Lanes;
  llvm::ArrayRef<int64_t> packedShape =
      cast<ShapedType>(packed.getType()).getShape();
  // (kh, kw,) c2
  llvm::ArrayRef<int64_t> bounds = packedShape.drop_front().drop_back();
  ConvSteps steps = stepsOf(conv);
  auto f32x16 = VectorType::get({kBf16Lanes}, b.getF32Type());
  auto bf16x2 = VectorType::get({2}, BFloat16Type::get(ctx));
  auto bf16x32 = VectorType::get({2 * kBf16Lanes}, BFloat16Type::get(ctx));
  auto i32x1 = VectorType::get({1}, b.getI32Type());
  auto i32x16 = VectorType::get({kBf16Lanes}, b.getI32Type());
  SmallVector<bool> inBounds = {true};

  SmallVector<Value> accs = readAccumulators(b, loc, out, bool(conv), kBf16Lanes);
  SmallVector<Value> ivs;
  SmallVector<Value> result = loopNest(
      b, loc, bounds, ivs, accs,
      [&](OpBuilder &nb, ValueRange iv, ValueRange acc) -> SmallVector<Value> {
        Value c2 = iv.back();
        SmallVector<Value> w;
        for (int64_t j = 0; j < regs; ++j) {
          SmallVector<Value> at = {index(nb, loc, 0)};
          at.append(iv.begin(), iv.end());
          at.push_back(index(nb, loc, j * 2 * kBf16Lanes));
          w.push_back(nb.create<vector::TransferReadOp>(loc, bf16x32, packed, at,
                                                        inBounds));
        }
        AffineExpr d0 = nb.getAffineDimExpr(0);
        Value channel = affineIndex(nb, loc, d0 * 2, c2);
        SmallVector<Value> next(acc.begin(), acc.end());
        for (int64_t i = 0; i < rows; ++i) {
          SmallVector<Value> at =
              inputAt(nb, loc, bool(conv), i, tw, steps, iv, channel);
          Value pair =
              nb.create<vector::TransferReadOp>(loc, bf16x2, x, at, inBounds);
          Value bits = nb.create<vector::BitCastOp>(loc, i32x1, pair);
          Value scalar = nb.create<vector::ExtractOp>(loc, bits, 0);
          Value splat = nb.create<vector::BroadcastOp>(loc, i32x16, scalar);
          Value xs = nb.create<vector::BitCastOp>(loc, bf16x32, splat);
          for (int64_t j = 0; j < regs; ++j) {
            Value &a = next[i * regs + j];
            a = nb.create<LLVM::CallIntrinsicOp>(loc, TypeRange{f32x16}, kDpbf16,
                                                 ValueRange{a, xs, w[j]})
                    .getResult(0);
          }
        }
        return next;
      });
  Value tensor = writeAccumulators(b, loc, out, bool(conv), result, kBf16Lanes);
  return tensor;
}


/// One reduction step (kh, kw, c) of an fp32 conv tile over filter `w`
/// ([KH, KW, C, TF]): TF/lanes filter loads, then for each of `pixels` one
/// broadcast of its input and TF/lanes FMAs into its accumulators in `acc`
/// (readAccumulators' order). Returns the accumulators after the step.
SmallVector<Value> fmaConvStep(OpBuilder &b, Location loc, linalg::Conv2DNhwcHwcfOp op,
                               int64_t lanes, ValueRange tap, Value c,
                               llvm::ArrayRef<int64_t> pixels, ValueRange acc) {
  Value x = op->getOperand(0), w = op->getOperand(1);
  llvm::ArrayRef<int64_t> outShape = cast<ShapedType>(op->getResult(0).getType()).getShape();
  const int64_t tw = outShape[2], regs = outShape[3] / lanes;
  auto f32xL = VectorType::get({lanes}, b.getF32Type());
  SmallVector<Value> row;
  for (int64_t j = 0; j < regs; ++j)
    row.push_back(b.create<vector::TransferReadOp>(
        loc, f32xL, w, ValueRange{tap[0], tap[1], c, index(b, loc, j * lanes)},
        ArrayRef<bool>{true}));
  SmallVector<Value> next(acc.begin(), acc.end());
  for (int64_t p : pixels) {
    Value v = b.create<tensor::ExtractOp>(loc, x, inputAt(b, loc, true, p, tw, stepsOf(op), tap, c));
    Value splat = b.create<vector::BroadcastOp>(loc, f32xL, v);
    for (int64_t j = 0; j < regs; ++j)
      next[p * regs + j] = b.create<vector::FMAOp>(loc, splat, row[j], next[p * regs + j]);
  }
  return next;
}

/// An fp32 conv tile (x [1, IH, IW, C], filter [KH, KW, C, TF] - the packed
/// column slice or the whole filter - out [1, TH, TW, TF]) as FMAs: per
/// (kh, kw, c), TF/lanes filter loads, one broadcast a pixel of the tile.
Value buildFmaConvTileImpl(OpBuilder &b, linalg::Conv2DNhwcHwcfOp op, int64_t lanes) {
  Location loc = op.getLoc();
  Value out = op.getDpsInitOperand(0)->get();
  llvm::ArrayRef<int64_t> outShape = cast<ShapedType>(out.getType()).getShape();
  llvm::ArrayRef<int64_t> wShape = cast<ShapedType>(op->getOperand(1).getType()).getShape();
  SmallVector<int64_t> pixels = llvm::to_vector(llvm::seq<int64_t>(0, outShape[1] * outShape[2]));
  SmallVector<Value> accs = readAccumulators(b, loc, out, /*conv=*/true, lanes);
  SmallVector<Value> ivs;
  SmallVector<Value> result = loopNest(
      b, loc, wShape.drop_back(), ivs, accs,
      [&](OpBuilder &nb, ValueRange iv, ValueRange acc) -> SmallVector<Value> {
        return fmaConvStep(nb, loc, op, lanes, iv.take_front(2), iv[2], pixels, acc);
      });
  return writeAccumulators(b, loc, out, /*conv=*/true, result, lanes);
}

/// Where a conv tile's input window lies in a zero-padded tensor: its origin
/// in the padded tensor and that tensor's padding.
struct PaddedWindow : ZeroPadding {
  OpFoldResult row, col;
};

/// The origin of the window `x` in padding.source's result when `x` is a
/// chain of unit-stride slices of it; nullopt otherwise.
std::optional<PaddedWindow> paddedWindowOf(OpBuilder &b, Value x, const ZeroPadding &padding) {
  SmallVector<OpFoldResult> rows, cols;
  while (x != padding.source->getResult(0)) {
    auto slice = x.getDefiningOp<tensor::ExtractSliceOp>();
    if (!slice || !slice.hasUnitStride() || slice.getSourceType().getRank() != 4 ||
        slice.getResultType().getRank() != 4)
      return std::nullopt;
    rows.push_back(slice.getMixedOffsets()[1]);
    cols.push_back(slice.getMixedOffsets()[2]);
    x = slice.getSource();
  }
  auto sum = [&](ArrayRef<OpFoldResult> terms) {
    AffineExpr e = b.getAffineConstantExpr(0);
    for (size_t i = 0; i < terms.size(); ++i)
      e = e + b.getAffineSymbolExpr(i);
    return affine::makeComposedFoldedAffineApply(
        b, x.getLoc(), AffineMap::get(0, terms.size(), e, b.getContext()), terms);
  };
  PaddedWindow w;
  static_cast<ZeroPadding &>(w) = padding;
  w.row = sum(rows);
  w.col = sum(cols);
  return w;
}

/// The padded conv tile (x [1, IH, IW, C] a window of a zero pad, filter
/// [KH, KW, C, TF], out [1, TH, TW, TF], dilation 1): see the file comment.
Value buildPaddedConvTileImpl(OpBuilder &b, linalg::Conv2DNhwcHwcfOp op, int64_t lanes,
                              const PaddedWindow &pw) {
  Location loc = op.getLoc();
  Value out = op.getDpsInitOperand(0)->get();
  llvm::ArrayRef<int64_t> outShape = cast<ShapedType>(out.getType()).getShape();
  llvm::ArrayRef<int64_t> wShape = cast<ShapedType>(op->getOperand(1).getType()).getShape();
  const int64_t th = outShape[1], tw = outShape[2];
  const int64_t kh = wShape[0], kw = wShape[1], channels = wShape[2];
  const ConvSteps steps = stepsOf(op);
  SmallVector<Value> accs = readAccumulators(b, loc, out, /*conv=*/true, lanes);

  // The filter rows kh whose input row lies in the source for one of the
  // tile's rows at least: top <= row + t * sh + kh < top + height, t < TH.
  Value row = getValueOrCreateConstantIndexOp(b, loc, pw.row);
  Value col = getValueOrCreateConstantIndexOp(b, loc, pw.col);
  AffineExpr d0 = b.getAffineDimExpr(0);
  MLIRContext *ctx = b.getContext();
  Value lo = b.create<affine::AffineMaxOp>(
      loc, AffineMap::get(1, 0, {b.getAffineConstantExpr(0), pw.top - (th - 1) * steps.sh - d0}, ctx),
      row);
  Value hi = b.create<affine::AffineMinOp>(
      loc, AffineMap::get(1, 0, {b.getAffineConstantExpr(kh), pw.top + pw.height - d0}, ctx),
      row);

  // Steps over channels for the pixels `pixels` at filter tap (r, s).
  auto channelLoop = [&](OpBuilder &lb, Value r, Value s, llvm::ArrayRef<int64_t> pixels,
                         ValueRange acc) {
    auto loop = lb.create<scf::ForOp>(
        loc, index(lb, loc, 0), index(lb, loc, channels), index(lb, loc, 1), acc,
        [&](OpBuilder &nb, Location, Value c, ValueRange args) {
          nb.create<scf::YieldOp>(loc, fmaConvStep(nb, loc, op, lanes, {r, s}, c, pixels, args));
        });
    return SmallVector<Value>(loop.getResults());
  };
  // The tile's loops; `origin`: the window's padded column when it is known
  // here (kw unrolled, each pixel's padding taps left out), else every tap.
  auto kernel = [&](OpBuilder &kb, std::optional<int64_t> origin) {
    auto rows = kb.create<scf::ForOp>(
        loc, lo, hi, index(kb, loc, 1), accs,
        [&](OpBuilder &rb, Location, Value r, ValueRange args) {
          SmallVector<Value> acc(args.begin(), args.end());
          SmallVector<int64_t> all = llvm::to_vector(llvm::seq<int64_t>(0, th * tw));
          if (!origin) {
            auto taps = rb.create<scf::ForOp>(
                loc, index(rb, loc, 0), index(rb, loc, kw), index(rb, loc, 1), acc,
                [&](OpBuilder &sb, Location, Value s, ValueRange a) {
                  sb.create<scf::YieldOp>(loc, channelLoop(sb, r, s, all, a));
                });
            acc = SmallVector<Value>(taps.getResults());
          } else {
            for (int64_t s = 0; s < kw; ++s) {
              SmallVector<int64_t> pixels;
              for (int64_t p : all) {
                int64_t c = *origin + (p % tw) * steps.sw + s;
                if (c >= pw.left && c < pw.left + pw.width)
                  pixels.push_back(p);
              }
              if (!pixels.empty())
                acc = channelLoop(rb, r, index(rb, loc, s), pixels, acc);
            }
          }
          rb.create<scf::YieldOp>(loc, acc);
        });
    return SmallVector<Value>(rows.getResults());
  };
  // The row's first tile reads from padded column 0, its last from
  // (OW - TW) * sw: the tiles that can touch the left / right padding.
  const int64_t outWidth = (pw.left + pw.width + pw.right - kw) / steps.sw + 1;
  auto touches = [&](int64_t origin) {
    return origin < pw.left || origin + (tw - 1) * steps.sw + kw > pw.left + pw.width;
  };
  SmallVector<int64_t> origins;
  for (int64_t origin : {int64_t(0), (outWidth - tw) * steps.sw})
    if (origin >= 0 && touches(origin) && !llvm::is_contained(origins, origin))
      origins.push_back(origin);
  std::function<SmallVector<Value>(OpBuilder &, llvm::ArrayRef<int64_t>)> dispatch =
      [&](OpBuilder &db, llvm::ArrayRef<int64_t> origins) -> SmallVector<Value> {
    if (origins.empty())
      return kernel(db, std::nullopt);
    Value same = db.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, col,
                                          index(db, loc, origins.front()));
    auto branch = db.create<scf::IfOp>(
        loc, same,
        [&](OpBuilder &tb, Location) {
          tb.create<scf::YieldOp>(loc, kernel(tb, origins.front()));
        },
        [&](OpBuilder &eb, Location) {
          eb.create<scf::YieldOp>(loc, dispatch(eb, origins.drop_front()));
        });
    return SmallVector<Value>(branch.getResults());
  };
  return writeAccumulators(b, loc, out, /*conv=*/true, dispatch(b, origins), lanes);
}

} // namespace

std::optional<ZeroPadding> zeroPaddingOf(Operation *op) {
  auto conv = dyn_cast<linalg::Conv2DNhwcHwcfOp>(op);
  if (!conv || !llvm::all_of(conv.getDilations().getValues<int64_t>(),
                             [](int64_t d) { return d == 1; }))
    return std::nullopt;
  Value x = conv->getOperand(0);
  auto type = cast<RankedTensorType>(x.getType());
  if (!type.hasStaticShape() || type.getRank() != 4)
    return std::nullopt;
  ZeroPadding z;
  if (auto pad = x.getDefiningOp<tensor::PadOp>()) {
    Value value = pad.getConstantPaddingValue();
    llvm::ArrayRef<int64_t> low = pad.getStaticLow(), high = pad.getStaticHigh();
    if (!value || !matchPattern(value, m_AnyZeroFloat()) || ShapedType::isDynamicShape(low) ||
        ShapedType::isDynamicShape(high) || low[0] || high[0] || low[3] || high[3])
      return std::nullopt;
    z = {pad, low[1], low[2], high[2], pad.getSourceType().getDimSize(1),
         pad.getSourceType().getDimSize(2)};
  } else if (auto insert = x.getDefiningOp<tensor::InsertSliceOp>()) {
    // An input gradient's canvas: dz (ReLU-masked) inserted into zeros.
    auto fill = insert.getDest().getDefiningOp<linalg::FillOp>();
    if (!fill || !matchPattern(fill.getInputs()[0], m_AnyZeroFloat()) || !insert.hasUnitStride() ||
        ShapedType::isDynamicShape(insert.getStaticOffsets()) ||
        insert.getSourceType().getRank() != 4 || !insert.getSourceType().hasStaticShape())
      return std::nullopt;
    llvm::ArrayRef<int64_t> at = insert.getStaticOffsets();
    llvm::ArrayRef<int64_t> size = insert.getSourceType().getShape();
    if (at[0] || at[3] || size[0] != type.getDimSize(0) || size[3] != type.getDimSize(3))
      return std::nullopt;
    z = {insert, at[1], at[2], type.getDimSize(2) - at[2] - size[2], size[1], size[2]};
  } else {
    return std::nullopt;
  }
  if (z.top == 0 && z.left == 0 && z.right == 0 && z.height == type.getDimSize(1))
    return std::nullopt; // no padding
  return z;
}

Value buildPaddedConvTile(OpBuilder &b, Operation *tile, int64_t lanes,
                          const ZeroPadding &padding) {
  auto conv = cast<linalg::Conv2DNhwcHwcfOp>(tile);
  std::optional<PaddedWindow> pw = paddedWindowOf(b, conv->getOperand(0), padding);
  if (!pw)
    return nullptr;
  return buildPaddedConvTileImpl(b, conv, lanes, *pw);
}

Value buildFmaConvTile(OpBuilder &b, Operation *tile, int64_t lanes) {
  return buildFmaConvTileImpl(b, cast<linalg::Conv2DNhwcHwcfOp>(tile), lanes);
}

Value buildBf16DotTile(OpBuilder &b, Operation *tile, Value packed) {
  return buildBf16DotTileImpl(b, cast<linalg::LinalgOp>(tile), packed);
}

} // namespace ninc::cpu::detail
