//===- compiler/codegen/cuda/GemmKernels.cpp - Tiled GEMM kernels ---------===//
//
// The convolutions and matmuls of the network (linalg.conv_2d_nhwc_hwcf and
// linalg.matmul: NiN's k x k and 1 x 1 convolutions, forward and backward)
// as one shared-memory-tiled, register-blocked GEMM kernel each, with the
// zero fill of the accumulator and the in-place elementwise epilogue (bias,
// ReLU, the ReLU gradient mask...) folded in:
//
//   C[m, n] = epilogue(sum_k A(m, k) * B(k, n) (+ C[m, n] if not zero-filled))
//   matmul: A = a[m, k], B = b[k, n], C = c[m, n]
//   conv:   m = (image, oh, ow), k = (kh, kw, ci), n = co: A = x[image,
//           oh*s + kh*d, ow*s + kw*d, ci] (implicit GEMM: the im2col matrix
//           is never built), B = w[kh, kw, ci, co] (HWCF is K x N row-major),
//           C = y[image, oh, ow, co] (NHWC is M x N row-major).
//
// A block computes a BM x BN tile of C with T threads, each a TM x TN tile
// held in registers; K advances BK at a time through two shared-memory
// tiles, As[BK][BM] and Bs[BK][BN], loaded cooperatively (consecutive
// threads read consecutive k of A, consecutive n of B: coalesced), with a
// barrier after the loads and after the compute:
//
//   for k0 in 0..K step BK (accumulators in registers):
//     As, Bs <- tiles (zero outside M, N, K)   ; barrier
//     acc[i][j] += As[kk][ty*TM+i] * Bs[kk][tx*TN+j]  for kk < BK   ; barrier
//   C[bm + ty*TM + i, bn + tx*TN + j] = epilogue(acc[i][j])
//
// The same body is emitted in two realisations: as a gpu.launch (workgroup
// memory for the tiles, gpu.barrier), or, for --gpu-emulate, as loops on
// the CPU in which each barrier-separated phase is a loop over the block's
// threads and the accumulators live in a per-thread array. The emulation
// runs the tiling, every index and bound computation and the epilogue; it
// cannot catch a missing barrier or a race.
//
// Ops the schedule planned as GEMM kernels (kGemmTag) are found here after
// bufferization; an epilogue or fill that bufferization separated from its
// GEMM becomes an elementwise kernel (one thread per element) instead.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/CudaInternal.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/DenseMap.h"

using namespace mlir;

namespace ninc::cuda::detail {

bool isGemmCandidate(linalg::LinalgOp op) {
  if (!op.hasPureTensorSemantics() || op->getNumResults() != 1)
    return false;
  auto f32Static = [](Value v) {
    auto t = dyn_cast<ShapedType>(v.getType());
    return t && t.hasStaticShape() && t.getElementType().isF32();
  };
  if (!llvm::all_of(op->getOperands(), f32Static))
    return false;
  return isa<linalg::MatmulOp, linalg::Conv2DNhwcHwcfOp>(op.getOperation());
}

namespace {

struct Gemm {
  enum Kind { Matmul, Conv } kind = Matmul;
  Value a, b, c;
  int64_t M = 0, N = 0, K = 0;
  // Conv: output OH x OW, filter KH x KW x CI, strides and dilations.
  int64_t OH = 1, OW = 1, KW = 1, CI = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  bool accumulate = true;        ///< C's old value is added (no zero fill)
  Precision precision = Precision::FP32; ///< TF32/BF16: tensor cores (mma.sync)
  linalg::GenericOp epilogue;    ///< in place over C, or null
};

/// Tile sizes of a kernel: T threads, each TM x TN of a BM x BN tile.
/// With tensor cores, warp w computes a WM x WN tile of the block tile as
/// (WM/16) x (WN/8) mma.sync m16n8k8 (the same 16 accumulators a thread).
/// Shared rows are padded (BM + 4, BN + 8 floats) so that a warp's fragment
/// loads hit 32 distinct banks; rows stay 16-byte aligned.
struct Tiles {
  int64_t BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, T = 256;
  int64_t WM = 16, WN = 32;
  int64_t aStride() const { return BM + 4; }
  int64_t bStride() const { return BN + 8; }
};

Tiles tilesFor(const Gemm &g) {
  Tiles t;
  t.BN = g.N >= 64 ? 64 : g.N > 16 ? 32 : 16;
  t.T = (t.BM / t.TM) * (t.BN / t.TN);
  t.WN = std::min<int64_t>(32, t.BN);
  t.WM = t.BM / ((t.T / 32) / (t.BN / t.WN));
  return t;
}

class Emitter {
public:
  Emitter(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value add(Value x, Value y) { return b.create<arith::AddIOp>(loc, x, y); }
  Value add(Value x, int64_t y) { return y ? add(x, idx(y)) : x; }
  Value mul(Value x, int64_t y) { return y == 1 ? x : b.create<arith::MulIOp>(loc, x, idx(y)); }
  Value div(Value x, int64_t y) { return y == 1 ? x : b.create<arith::DivUIOp>(loc, x, idx(y)); }
  Value rem(Value x, int64_t y) {
    return b.create<arith::RemUIOp>(loc, x, idx(y));
  }
  Value lt(Value x, int64_t y) {
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, x, idx(y));
  }
  Value andI(Value x, Value y) { return x ? b.create<arith::AndIOp>(loc, x, y) : y; }
  Value zeroF() { return b.create<arith::ConstantFloatOp>(loc, APFloat(0.0f), b.getF32Type()); }

  /// v rounded to bf16 (to nearest, ties to even), as an f32 (NaN aside).
  Value roundToBf16(Value v) {
    Type i32 = b.getI32Type();
    auto c = [&](int64_t x) { return b.create<arith::ConstantIntOp>(loc, x, 32).getResult(); };
    Value bits = b.create<arith::BitcastOp>(loc, i32, v);
    Value lsb = b.create<arith::AndIOp>(loc, b.create<arith::ShRUIOp>(loc, bits, c(16)), c(1));
    Value rounded = b.create<arith::AddIOp>(loc, bits, b.create<arith::AddIOp>(loc, lsb, c(0x7fff)));
    rounded = b.create<arith::AndIOp>(loc, rounded, c(int64_t(0xffff0000u)));
    return b.create<arith::BitcastOp>(loc, b.getF32Type(), rounded);
  }
  /// Two bf16-valued f32s as one bf16x2 register: lo in bits 0-15.
  Value packBf16x2(Value lo, Value hi) {
    Type i32 = b.getI32Type();
    auto c = [&](int64_t x) { return b.create<arith::ConstantIntOp>(loc, x, 32).getResult(); };
    Value l = b.create<arith::ShRUIOp>(loc, b.create<arith::BitcastOp>(loc, i32, lo), c(16));
    Value h = b.create<arith::AndIOp>(loc, b.create<arith::BitcastOp>(loc, i32, hi),
                                      c(int64_t(0xffff0000u)));
    return b.create<arith::OrIOp>(loc, l, h);
  }

  /// (cond ? load() : 0), or load() when cond is null.
  Value guardedLoad(Value cond, llvm::function_ref<Value()> load) {
    if (!cond)
      return load();
    auto ifOp = b.create<scf::IfOp>(
        loc, cond,
        [&](OpBuilder &, Location) { b.create<scf::YieldOp>(loc, load()); },
        [&](OpBuilder &, Location) { b.create<scf::YieldOp>(loc, zeroF()); });
    return ifOp.getResult(0);
  }

  /// The memref indices of C for GEMM coordinates (m, n).
  SmallVector<Value> cIndices(const Gemm &g, Value m, Value n) {
    if (g.kind == Gemm::Matmul)
      return {m, n};
    Value r = rem(m, g.OH * g.OW);
    return {div(m, g.OH * g.OW), div(r, g.OW), rem(r, g.OW), n};
  }

  Value loadA(const Gemm &g, Value m, Value k) {
    if (g.kind == Gemm::Matmul)
      return b.create<memref::LoadOp>(loc, g.a, ValueRange{m, k});
    Value r = rem(m, g.OH * g.OW), rk = rem(k, g.KW * g.CI);
    Value image = div(m, g.OH * g.OW), oh = div(r, g.OW), ow = rem(r, g.OW);
    Value kh = div(k, g.KW * g.CI), kw = div(rk, g.CI), ci = rem(rk, g.CI);
    Value h = add(mul(oh, g.sh), mul(kh, g.dh)), w = add(mul(ow, g.sw), mul(kw, g.dw));
    return b.create<memref::LoadOp>(loc, g.a, ValueRange{image, h, w, ci});
  }

  Value loadB(const Gemm &g, Value k, Value n) {
    if (g.kind == Gemm::Matmul)
      return b.create<memref::LoadOp>(loc, g.b, ValueRange{k, n});
    Value rk = rem(k, g.KW * g.CI);
    return b.create<memref::LoadOp>(
        loc, g.b, ValueRange{div(k, g.KW * g.CI), div(rk, g.CI), rem(rk, g.CI), n});
  }

  /// The epilogue's body at C index `cIdx` applied to `v` (the accumulated
  /// value, standing for the epilogue's output operand).
  Value applyEpilogue(linalg::GenericOp e, ArrayRef<Value> cIdx, Value v) {
    if (!e)
      return v;
    IRMapping map;
    Block &body = e.getRegion().front();
    for (OpOperand *in : e.getDpsInputOperands()) {
      Value arg = body.getArgument(in->getOperandNumber());
      if (!isa<ShapedType>(in->get().getType())) {
        map.map(arg, in->get());
        continue;
      }
      AffineMap m = e.getMatchingIndexingMap(in);
      SmallVector<Value> indices;
      for (AffineExpr expr : m.getResults())
        indices.push_back(b.create<affine::AffineApplyOp>(
            loc, AffineMap::get(m.getNumDims(), 0, expr), cIdx));
      map.map(arg, b.create<memref::LoadOp>(loc, in->get(), indices));
    }
    map.map(body.getArgument(e.getNumDpsInputs()), v);
    for (Operation &op : body.without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(op)) {
        map.map(index.getResult(), cIdx[index.getDim()]);
        continue;
      }
      b.clone(op, map);
    }
    return map.lookup(cast<linalg::YieldOp>(body.getTerminator()).getOperand(0));
  }

  OpBuilder &b;
  Location loc;
};

/// One GEMM of a kernel. In a 1x1 chain the first stage writes its result
/// (after its epilogue) to the block's rows of Ys in shared memory, laid out
/// like the A tiles ([k][m], k = the chain's middle channel), and the second
/// stage reads its A from there: the intermediate never leaves the SM.
struct Stage {
  Gemm g;
  bool cShared = false; ///< result -> Ys (first stage of a chain)
  bool aShared = false; ///< A <- Ys (second stage of a chain)
};

/// Tiles of a chain kernel: 16 rows a block (Ys of 384 channels is 30 KiB),
/// 64 columns at a time, 64 threads (two warps).
Tiles chainTiles() {
  Tiles t;
  t.BM = 16;
  t.BN = 64;
  t.T = (t.BM / t.TM) * (t.BN / t.TN);
  t.WN = 32;
  t.WM = t.BM / ((t.T / 32) / (t.BN / t.WN));
  return t;
}

void emitKernel(OpBuilder &b, Location loc, ArrayRef<Stage> stages, bool emulate) {
  Emitter e(b, loc);
  const bool chain = stages.size() == 2;
  const Tiles t = chain ? chainTiles() : tilesFor(stages[0].g);
  const Precision precision = stages[0].g.precision;
  const bool tensorCores = precision != Precision::FP32, bf16 = precision == Precision::BF16;
  // k per mma.sync: m16n8k8 (TF32), m16n8k16 (BF16); A, B values a lane
  // holds per mma tile.
  const int64_t mmaK = bf16 ? 16 : 8, aVals = bf16 ? 8 : 4, bVals = bf16 ? 4 : 2;
  const int64_t M = stages[0].g.M;
  const int64_t colThreads = t.BN / t.TN, accCount = t.TM * t.TN;
  const int64_t aPerThread = t.BM * t.BK / t.T, bPerThread = t.BK * t.BN / t.T;
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Attribute shared = emulate ? Attribute()
                             : gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  // Two stages of each tile (double buffering), flattened: stage s, row r
  // of As at (s * BK + r) * aStride.
  const int64_t aStride = t.aStride(), bStride = t.bStride();
  auto aTileType = MemRefType::get({2 * t.BK * aStride}, f32, MemRefLayoutAttrInterface(), shared);
  auto bTileType = MemRefType::get({2 * t.BK * bStride}, f32, MemRefLayoutAttrInterface(), shared);
  auto ysType = MemRefType::get({chain ? stages[0].g.N * aStride : 1}, f32,
                                MemRefLayoutAttrInterface(), shared);
  const int64_t gridX = (M + t.BM - 1) / t.BM;
  const int64_t gridY = chain ? 1 : (stages[0].g.N + t.BN - 1) / t.BN;
  auto contract = arith::FastMathFlagsAttr::get(ctx, arith::FastMathFlags::contract);
  const bool guardM = M % t.BM != 0;

  // Thread `tid`'s phases of stage `st`, given the block offsets (bm, bn),
  // the shared tiles and Ys.
  // fetch: this thread's share of the k0 tiles of A (unless from Ys) and B.
  auto fetch = [&](const Stage &st, Value tid, Value bm, Value bn, Value k0) {
    const Gemm &g = st.g;
    const bool guardN = g.N % t.BN != 0, guardK = g.K % t.BK != 0;
    SmallVector<Value> v;
    // A: element tid + i*T of the BM x BK tile, k fastest.
    if (!st.aShared) {
      Value k = e.add(k0, e.rem(tid, t.BK)), rowBase = e.div(tid, t.BK);
      Value kOk = guardK ? e.lt(k, g.K) : Value();
      for (int64_t i = 0; i < aPerThread; ++i) {
        Value m = e.add(bm, e.add(rowBase, i * (t.T / t.BK)));
        Value ok = guardM ? e.andI(kOk, e.lt(m, g.M)) : kOk;
        v.push_back(e.guardedLoad(ok, [&] { return e.loadA(g, m, k); }));
      }
    }
    // B: element tid + i*T of the BK x BN tile, n fastest.
    Value n = e.add(bn, e.rem(tid, t.BN)), kRowBase = e.div(tid, t.BN);
    Value nOk = guardN ? e.lt(n, g.N) : Value();
    for (int64_t i = 0; i < bPerThread; ++i) {
      Value kb = e.add(k0, e.add(kRowBase, i * (t.T / t.BN)));
      Value ok = guardK ? e.andI(nOk, e.lt(kb, g.K)) : nOk;
      v.push_back(e.guardedLoad(ok, [&] { return e.loadB(g, kb, n); }));
    }
    return v;
  };
  // stash: what fetch returned into stage `buf` (As transposed: [k][m]).
  auto stash = [&](const Stage &st, Value tid, ArrayRef<Value> v, Value buf, Value as,
                   Value bs) {
    int64_t first = 0;
    if (!st.aShared) {
      Value aBase = e.add(e.mul(buf, t.BK * aStride),
                          e.add(e.mul(e.rem(tid, t.BK), aStride), e.div(tid, t.BK)));
      for (int64_t i = 0; i < aPerThread; ++i)
        b.create<memref::StoreOp>(loc, v[i], as, e.add(aBase, i * (t.T / t.BK)));
      first = aPerThread;
    }
    Value bBase = e.add(e.mul(buf, t.BK * bStride),
                        e.add(e.mul(e.div(tid, t.BN), bStride), e.rem(tid, t.BN)));
    for (int64_t i = 0; i < bPerThread; ++i)
      b.create<memref::StoreOp>(loc, v[first + i], bs,
                                e.add(bBase, i * (t.T / t.BN) * bStride));
  };
  // The buffer of k tile `k0`: (k0 / BK) mod 2.
  auto bufferOf = [&](Value k0) { return e.rem(e.div(k0, t.BK), 2); };
  auto other = [&](Value buf) { return b.create<arith::SubIOp>(loc, e.idx(1), buf).getResult(); };
  // Where the k0 tile of A starts: its buffer of As, or row k0 of Ys.
  auto aTile = [&](const Stage &st, Value k0, Value as, Value ys) -> std::pair<Value, Value> {
    if (st.aShared)
      return {ys, e.mul(k0, aStride)};
    return {as, e.mul(bufferOf(k0), t.BK * aStride)};
  };
  // compute: acc += the k0 tiles' product for this thread's TM x TN outputs.
  // (Every shared address is a per-iteration base plus a constant, so the
  // backend folds the constants into the loads' offsets.)
  auto compute = [&](Value tid, Value aMem, Value aOff, Value bs, Value bOff,
                     SmallVector<Value> acc) {
    Value aBase = e.add(aOff, e.mul(e.div(tid, colThreads), t.TM));
    Value bBase = e.add(bOff, e.mul(e.rem(tid, colThreads), t.TN));
    for (int64_t kk = 0; kk < t.BK; ++kk) {
      SmallVector<Value> av, bv;
      for (int64_t i = 0; i < t.TM; ++i)
        av.push_back(b.create<memref::LoadOp>(loc, aMem, e.add(aBase, kk * aStride + i)));
      for (int64_t j = 0; j < t.TN; ++j)
        bv.push_back(b.create<memref::LoadOp>(loc, bs, e.add(bBase, kk * bStride + j)));
      for (int64_t i = 0; i < t.TM; ++i)
        for (int64_t j = 0; j < t.TN; ++j)
          acc[i * t.TN + j] = b.create<arith::AddFOp>(
              loc, acc[i * t.TN + j],
              b.create<arith::MulFOp>(loc, av[i], bv[j], contract), contract);
    }
    return acc;
  };
  // Where accumulator i of thread tid lands in the block tile (row, col).
  // Tensor cores: warp (wr, wc) of the warp grid, lane = 4 g + q; slot
  // (mt, nt, r) is D[g + 8 (r / 2)][2 q + r % 2] of mma tile (mt, nt).
  const int64_t mTiles = t.WM / 16, nTiles = t.WN / 8, warpCols = t.BN / t.WN;
  auto accPos = [&](Value tid, int64_t i) -> std::pair<Value, Value> {
    if (!tensorCores)
      return {e.add(e.mul(e.div(tid, colThreads), t.TM), i / t.TN),
              e.add(e.mul(e.rem(tid, colThreads), t.TN), i % t.TN)};
    Value warp = e.div(tid, 32), lane = e.rem(tid, 32);
    int64_t mt = i / (nTiles * 4), nt = (i / 4) % nTiles, r = i % 4;
    Value row = e.add(e.add(e.mul(e.div(warp, warpCols), t.WM), e.div(lane, 4)),
                      mt * 16 + 8 * (r / 2));
    Value col = e.add(e.add(e.mul(e.rem(warp, warpCols), t.WN), e.mul(e.rem(lane, 4), 2)),
                      nt * 8 + r % 2);
    return {row, col};
  };
  // epilogue: C (or Ys) = epilogue(acc (+ C)) for this thread's outputs.
  auto epilogue = [&](const Stage &st, Value tid, Value bm, Value bn, ArrayRef<Value> acc,
                      Value ys) {
    const Gemm &g = st.g;
    const bool guardN = g.N % t.BN != 0;
    for (int64_t i = 0; i < accCount; ++i) {
      auto [row, col] = accPos(tid, i);
      Value m = e.add(bm, row), n = e.add(bn, col);
      Value ok = guardM && !st.cShared ? e.lt(m, g.M) : Value();
      if (guardN)
        ok = e.andI(ok, e.lt(n, g.N));
      auto store = [&] {
        SmallVector<Value> cIdx = e.cIndices(g, m, n);
        Value v = acc[i];
        if (g.accumulate)
          v = b.create<arith::AddFOp>(loc, b.create<memref::LoadOp>(loc, g.c, cIdx), v);
        v = e.applyEpilogue(g.epilogue, cIdx, v);
        if (st.cShared)
          b.create<memref::StoreOp>(loc, v, ys, e.add(e.mul(n, aStride), row));
        else
          b.create<memref::StoreOp>(loc, v, g.c, cIdx);
      };
      if (!ok) {
        store();
        continue;
      }
      auto ifOp = b.create<scf::IfOp>(loc, ok, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      store();
    }
  };
  // Tensor cores, per k step: this lane's fragments of the warp's A rows and
  // B columns, per the PTX ISA's layouts (lane = 4 g + q), [step][mt][r] and
  // [step][nt][r] flattened:
  //   m16n8k8 TF32:   a[r] = A[g + 8 (r % 2)][q + 4 (r / 2)], b[r] = B[q + 4 r][g]
  //   m16n8k16 BF16:  a[r] = A[g + 8 ((r / 2) % 2)][2 q + r % 2 + 8 (r / 4)],
  //                   b[r] = B[2 q + r % 2 + 8 (r / 2)][g]
  // (BF16: the values rounded to bf16, to nearest even, kept as f32.)
  auto aPos = [&](int64_t r) -> std::pair<int64_t, int64_t> { // (row, k) past (g, q or 2q)
    if (!bf16)
      return {8 * (r % 2), 4 * (r / 2)};
    return {8 * ((r / 2) % 2), r % 2 + 8 * (r / 4)};
  };
  auto bK = [&](int64_t r) -> int64_t { return bf16 ? r % 2 + 8 * (r / 2) : 4 * r; };
  auto fragments = [&](Value tid, Value aMem, Value aOff, Value bs, Value bOff) {
    Value warp = e.div(tid, 32), lane = e.rem(tid, 32);
    Value gq = e.div(lane, 4), q = bf16 ? e.mul(e.rem(lane, 4), 2) : e.rem(lane, 4);
    Value aBase = e.add(e.add(aOff, e.mul(q, aStride)),
                        e.add(e.mul(e.div(warp, warpCols), t.WM), gq));
    Value bBase = e.add(e.add(bOff, e.mul(q, bStride)),
                        e.add(e.mul(e.rem(warp, warpCols), t.WN), gq));
    auto round = [&](Value v) { return bf16 ? e.roundToBf16(v) : v; };
    SmallVector<Value> fa, fb;
    for (int64_t step = 0; step < t.BK / mmaK; ++step) {
      for (int64_t mt = 0; mt < mTiles; ++mt)
        for (int64_t r = 0; r < aVals; ++r) {
          auto [row, k] = aPos(r);
          fa.push_back(round(b.create<memref::LoadOp>(
              loc, aMem, e.add(aBase, (step * mmaK + k) * aStride + mt * 16 + row))));
        }
      for (int64_t nt = 0; nt < nTiles; ++nt)
        for (int64_t r = 0; r < bVals; ++r)
          fb.push_back(round(b.create<memref::LoadOp>(
              loc, bs, e.add(bBase, (step * mmaK + bK(r)) * bStride + nt * 8))));
    }
    return std::make_pair(fa, fb);
  };
  auto mmaCompute = [&](Value tid, Value aMem, Value aOff, Value bs, Value bOff,
                        SmallVector<Value> acc) {
    auto [fa, fb] = fragments(tid, aMem, aOff, bs, bOff);
    auto aType = VectorType::get({4, 1}, f32), bType = VectorType::get({2, 1}, f32),
         cType = VectorType::get({2, 2}, f32);
    auto slice = [&](ArrayRef<Value> all, int64_t first, int64_t n) {
      return SmallVector<Value>(all.begin() + first, all.begin() + first + n);
    };
    // (vector.from_elements of 2-D vectors does not lower in MLIR 19.)
    auto build = [&](VectorType type, ArrayRef<Value> elements) {
      Value v = b.create<arith::ConstantOp>(
          loc, type, DenseElementsAttr::get(type, b.getF32FloatAttr(0.0f)));
      int64_t cols = type.getDimSize(1);
      for (size_t i = 0; i < elements.size(); ++i)
        v = b.create<vector::InsertOp>(loc, elements[i], v,
                                       ArrayRef<int64_t>{int64_t(i) / cols, int64_t(i) % cols});
      return v;
    };
    // BF16: nvgpu.mma.sync cannot type bf16 operands in MLIR 19, so the
    // instruction is inline PTX on bf16x2 registers (element 0 in the low
    // half).
    auto f32x4 = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
    auto bf16Mma = [&](ArrayRef<Value> a, ArrayRef<Value> bv, ArrayRef<Value> c) {
      SmallVector<Value> operands;
      for (int64_t i = 0; i < aVals; i += 2)
        operands.push_back(e.packBf16x2(a[i], a[i + 1]));
      for (int64_t i = 0; i < bVals; i += 2)
        operands.push_back(e.packBf16x2(bv[i], bv[i + 1]));
      operands.append(c.begin(), c.end());
      auto mma = b.create<LLVM::InlineAsmOp>(
          loc, f32x4, operands,
          "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {$0,$1,$2,$3}, "
          "{$4,$5,$6,$7}, {$8,$9}, {$10,$11,$12,$13};",
          "=f,=f,=f,=f,r,r,r,r,r,r,f,f,f,f", /*has_side_effects=*/false,
          /*is_align_stack=*/false, LLVM::AsmDialectAttr(), ArrayAttr());
      SmallVector<Value> d;
      for (int64_t r = 0; r < 4; ++r)
        d.push_back(b.create<LLVM::ExtractValueOp>(loc, mma.getResult(0), r));
      return d;
    };
    for (int64_t step = 0; step < t.BK / mmaK; ++step)
      for (int64_t mt = 0; mt < mTiles; ++mt)
        for (int64_t nt = 0; nt < nTiles; ++nt) {
          SmallVector<Value> af = slice(fa, (step * mTiles + mt) * aVals, aVals);
          SmallVector<Value> bf = slice(fb, (step * nTiles + nt) * bVals, bVals);
          int64_t first = (mt * nTiles + nt) * 4;
          if (bf16) {
            SmallVector<Value> d = bf16Mma(af, bf, slice(acc, first, 4));
            for (int64_t r = 0; r < 4; ++r)
              acc[first + r] = d[r];
            continue;
          }
          Value d = b.create<nvgpu::MmaSyncOp>(loc, build(aType, af), build(bType, bf),
                                               build(cType, slice(acc, first, 4)),
                                               ArrayRef<int64_t>{16, 8, 8},
                                               /*tf32Enabled=*/true);
          for (int64_t r = 0; r < 4; ++r)
            acc[first + r] = b.create<vector::ExtractOp>(loc, d, ArrayRef<int64_t>{r / 2, r % 2});
        }
    return acc;
  };
  auto lastK0Of = [&](const Stage &st) {
    return e.idx(((st.g.K + t.BK - 1) / t.BK - 1) * t.BK);
  };
  // One stage's loop over the column chunks of its output: the block's
  // column offsets bn, one at a time (chain), or this block's (grid y).
  auto forChunks = [&](const Stage &st, Value blockY, llvm::function_ref<void(Value bn)> body) {
    if (!chain) {
      body(e.mul(blockY, t.BN));
      return;
    }
    auto loop = b.create<scf::ForOp>(loc, e.idx(0), e.idx((st.g.N + t.BN - 1) / t.BN * t.BN),
                                     e.idx(t.BN));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  };

  if (!emulate) {
    // Per stage and column chunk: tile 0 -> buffer 0; for each later tile:
    // fetch it into registers, compute the current buffer, stash the
    // registers into the other buffer, barrier (one per tile); compute the
    // last buffer; the epilogue. A chunk starts with a barrier (the last
    // chunk's threads may still read buffer 0), as does the second stage
    // (Ys complete).
    SmallVector<Type> attributions{aTileType, bTileType};
    if (chain)
      attributions.push_back(ysType);
    auto launch = b.create<gpu::LaunchOp>(loc, e.idx(gridX), e.idx(gridY), e.idx(1), e.idx(t.T),
                                          e.idx(1), e.idx(1), Value(), Type(), ValueRange(),
                                          attributions);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    auto wg = launch.getWorkgroupAttributions();
    Value as = wg[0], bs = wg[1], ys = chain ? Value(wg[2]) : Value();
    Value tid = launch.getThreadIds().x;
    // (Constants the kernel uses are created inside it, or outlining makes
    // them kernel parameters the backend cannot fold.)
    Value bm = e.mul(launch.getBlockIds().x, t.BM);
    for (const Stage &st : stages)
      forChunks(st, launch.getBlockIds().y, [&](Value bn) {
        Value zero = e.idx(0), lastK0 = lastK0Of(st);
        auto computeTile = [&](Value k0, SmallVector<Value> acc) {
          auto [aMem, aOff] = aTile(st, k0, as, ys);
          Value bOff = e.mul(bufferOf(k0), t.BK * bStride);
          return tensorCores ? mmaCompute(tid, aMem, aOff, bs, bOff, acc)
                             : compute(tid, aMem, aOff, bs, bOff, acc);
        };
        if (chain)
          b.create<gpu::BarrierOp>(loc);
        stash(st, tid, fetch(st, tid, bm, bn, zero), zero, as, bs);
        b.create<gpu::BarrierOp>(loc);
        SmallVector<Value> init(accCount, e.zeroF());
        auto loop = b.create<scf::ForOp>(
            loc, zero, lastK0, e.idx(t.BK), init,
            [&](OpBuilder &, Location, Value k0, ValueRange iter) {
              SmallVector<Value> next = fetch(st, tid, bm, bn, e.add(k0, t.BK));
              SmallVector<Value> acc = computeTile(k0, SmallVector<Value>(iter));
              stash(st, tid, next, other(bufferOf(k0)), as, bs);
              b.create<gpu::BarrierOp>(loc);
              b.create<scf::YieldOp>(loc, acc);
            });
        SmallVector<Value> acc = computeTile(lastK0, SmallVector<Value>(loop.getResults()));
        epilogue(st, tid, bm, bn, acc, ys);
      });
    b.create<gpu::TerminatorOp>(loc);
    return;
  }

  // Emulation: blocks and threads as loops, each barrier-separated phase a
  // loop over the block's threads, accumulators in accs[T][TM*TN].
  Value zero = e.idx(0);
  Value as = b.create<memref::AllocaOp>(loc, aTileType);
  Value bs = b.create<memref::AllocaOp>(loc, bTileType);
  Value ys = chain ? b.create<memref::AllocaOp>(loc, ysType).getResult() : Value();
  Value accs = b.create<memref::AllocaOp>(loc, MemRefType::get({t.T, accCount}, f32));
  auto forEach = [&](Value lo, Value hi, int64_t step, llvm::function_ref<void(Value)> body) {
    auto loop = b.create<scf::ForOp>(loc, lo, hi, e.idx(step));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  };
  auto forThreads = [&](llvm::function_ref<void(Value)> body) {
    forEach(zero, e.idx(t.T), 1, body);
  };
  auto loadAcc = [&](Value tid) {
    SmallVector<Value> acc;
    for (int64_t i = 0; i < accCount; ++i)
      acc.push_back(b.create<memref::LoadOp>(loc, accs, ValueRange{tid, e.idx(i)}));
    return acc;
  };
  auto storeAcc = [&](Value tid, ArrayRef<Value> acc) {
    for (int64_t i = 0; i < accCount; ++i)
      b.create<memref::StoreOp>(loc, acc[i], accs, ValueRange{tid, e.idx(i)});
  };
  // Tensor cores: every thread's fragments first (what each lane holds in
  // registers), then each accumulator from the fragments of the lanes the
  // PTX layouts name (the warp-wide mma.sync), so the fragment addressing
  // runs here too; the tensor cores' own TF32 rounding does not.
  const int64_t steps = t.BK / mmaK, faCount = steps * mTiles * aVals,
                fbCount = steps * nTiles * bVals;
  Value fas, fbs;
  if (tensorCores) {
    fas = b.create<memref::AllocaOp>(loc, MemRefType::get({t.T, faCount}, f32));
    fbs = b.create<memref::AllocaOp>(loc, MemRefType::get({t.T, fbCount}, f32));
  }
  auto emulatedMma = [&](Value tid) {
    Value warpBase = e.mul(e.div(tid, 32), 32), lane = e.rem(tid, 32);
    Value gq = e.div(lane, 4), q = e.rem(lane, 4);
    SmallVector<Value> acc = loadAcc(tid);
    for (int64_t step = 0; step < steps; ++step)
      for (int64_t mt = 0; mt < mTiles; ++mt)
        for (int64_t nt = 0; nt < nTiles; ++nt)
          for (int64_t r = 0; r < 4; ++r) {
            // D[row][col] += sum_k A[row][k] B[k][col] of this mma tile.
            Value row = e.add(gq, 8 * (r / 2)), col = e.add(e.mul(q, 2), r % 2);
            int64_t slot = (mt * nTiles + nt) * 4 + r;
            for (int64_t k = 0; k < mmaK; ++k) {
              // The lane and slot holding A[row][k] and B[k][col] (the
              // inverse of the layouts at `fragments`).
              Value aLane, aSlot, bLane;
              int64_t bSlot;
              if (!bf16) {
                aLane = e.add(warpBase, e.add(e.mul(e.rem(row, 8), 4), k % 4));
                aSlot = e.add(e.div(row, 8), (step * mTiles + mt) * 4 + 2 * (k / 4));
                bLane = e.add(warpBase, e.add(e.mul(col, 4), k % 4));
                bSlot = (step * nTiles + nt) * 2 + k / 4;
              } else {
                aLane = e.add(warpBase, e.add(e.mul(e.rem(row, 8), 4), (k % 8) / 2));
                aSlot = e.add(e.mul(e.div(row, 8), 2),
                              (step * mTiles + mt) * 8 + 4 * (k / 8) + k % 2);
                bLane = e.add(warpBase, e.add(e.mul(col, 4), (k % 8) / 2));
                bSlot = (step * nTiles + nt) * 4 + 2 * (k / 8) + k % 2;
              }
              Value av = b.create<memref::LoadOp>(loc, fas, ValueRange{aLane, aSlot});
              Value bv = b.create<memref::LoadOp>(loc, fbs, ValueRange{bLane, e.idx(bSlot)});
              acc[slot] = b.create<arith::AddFOp>(loc, acc[slot],
                                                  b.create<arith::MulFOp>(loc, av, bv));
            }
          }
    storeAcc(tid, acc);
  };
  auto computePhase = [&](const Stage &st, Value k0) {
    auto [aMem, aOff] = aTile(st, k0, as, ys);
    Value bOff = e.mul(bufferOf(k0), t.BK * bStride);
    if (tensorCores) {
      forThreads([&](Value tid) {
        auto [fa, fb] = fragments(tid, aMem, aOff, bs, bOff);
        for (int64_t i = 0; i < faCount; ++i)
          b.create<memref::StoreOp>(loc, fa[i], fas, ValueRange{tid, e.idx(i)});
        for (int64_t i = 0; i < fbCount; ++i)
          b.create<memref::StoreOp>(loc, fb[i], fbs, ValueRange{tid, e.idx(i)});
      });
      forThreads(emulatedMma);
      return;
    }
    forThreads([&](Value tid) { storeAcc(tid, compute(tid, aMem, aOff, bs, bOff, loadAcc(tid))); });
  };
  forEach(zero, e.idx(gridX), 1, [&](Value bx) {
    forEach(zero, e.idx(gridY), 1, [&](Value by) {
      Value bm = e.mul(bx, t.BM);
      for (const Stage &st : stages)
        forChunks(st, by, [&](Value bn) {
          Value lastK0 = lastK0Of(st);
          forThreads([&](Value tid) {
            for (int64_t i = 0; i < accCount; ++i)
              b.create<memref::StoreOp>(loc, e.zeroF(), accs, ValueRange{tid, e.idx(i)});
            stash(st, tid, fetch(st, tid, bm, bn, zero), zero, as, bs);
          });
          forEach(zero, lastK0, t.BK, [&](Value k0) {
            forThreads([&](Value tid) {
              stash(st, tid, fetch(st, tid, bm, bn, e.add(k0, t.BK)), other(bufferOf(k0)), as,
                    bs);
            });
            computePhase(st, k0);
          });
          computePhase(st, lastK0);
          forThreads([&](Value tid) { epilogue(st, tid, bm, bn, loadAcc(tid), ys); });
        });
    });
  });
}

void emitGemm(OpBuilder &b, Location loc, const Gemm &g, bool emulate) {
  emitKernel(b, loc, {Stage{g}}, emulate);
}

/// out[...] = body(out[...], ins...) for an all-parallel op with an identity
/// output map (a generic or a fill), one thread per element.
void emitElementwise(OpBuilder &b, Location loc, linalg::LinalgOp op, bool emulate) {
  Emitter e(b, loc);
  Value out = op.getDpsInitOperand(0)->get();
  auto type = cast<MemRefType>(out.getType());
  const int64_t n = type.getNumElements(), threads = 256, blocks = (n + threads - 1) / threads;
  auto element = [&](Value linear) {
    SmallVector<Value> coords(type.getRank());
    Value rest = linear;
    for (int64_t d = type.getRank() - 1; d >= 0; --d) {
      coords[d] = e.rem(rest, type.getDimSize(d));
      rest = e.div(rest, type.getDimSize(d));
    }
    Value v;
    if (auto fill = dyn_cast<linalg::FillOp>(op.getOperation()))
      v = fill.getInputs()[0];
    else
      v = e.applyEpilogue(cast<linalg::GenericOp>(op.getOperation()), coords,
                          b.create<memref::LoadOp>(loc, out, coords));
    b.create<memref::StoreOp>(loc, v, out, coords);
  };
  if (emulate) {
    auto loop = b.create<scf::ForOp>(loc, e.idx(0), e.idx(n), e.idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    element(loop.getInductionVar());
    return;
  }
  auto launch = b.create<gpu::LaunchOp>(loc, e.idx(blocks), e.idx(1), e.idx(1), e.idx(threads),
                                        e.idx(1), e.idx(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value linear = e.add(e.mul(launch.getBlockIds().x, threads), launch.getThreadIds().x);
  auto ifOp = b.create<scf::IfOp>(loc, e.lt(linear, n), /*withElseRegion=*/false);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  element(linear);
  b.setInsertionPointToEnd(&launch.getBody().front());
  b.create<gpu::TerminatorOp>(loc);
}

bool isZeroFill(linalg::FillOp fill) {
  auto c = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
  auto f = c ? dyn_cast<FloatAttr>(c.getValue()) : FloatAttr();
  return f && f.getValue().isZero();
}

/// Whether `first` comes before `second` in one block with nothing but
/// side-effect-free ops (views, constants) in between.
bool onlyViewsBetween(Operation *first, Operation *second) {
  if (first->getBlock() != second->getBlock() || !first->isBeforeInBlock(second))
    return false;
  for (Operation *op = first->getNextNode(); op != second; op = op->getNextNode())
    if (!isMemoryEffectFree(op))
      return false;
  return true;
}

int64_t tagOf(Operation *op, const char *name) {
  auto a = op->getAttrOfType<IntegerAttr>(name);
  return a ? a.getInt() : -1;
}

} // namespace

namespace {

/// The GEMM of a tagged op after bufferization, with the zero fill that
/// precedes it on C (returned, not yet erased) and its in-place epilogue.
Gemm describe(linalg::LinalgOp op, const llvm::DenseMap<int64_t, linalg::LinalgOp> &fills,
              const llvm::DenseMap<int64_t, linalg::LinalgOp> &epilogues, Precision precision,
              linalg::FillOp &zeroFill) {
  int64_t id = tagOf(op, kGemmTag);
  Gemm g;
  g.precision = precision;
  g.a = op.getDpsInputOperand(0)->get();
  g.b = op.getDpsInputOperand(1)->get();
  g.c = op.getDpsInitOperand(0)->get();
  auto cType = cast<MemRefType>(g.c.getType());
  if (auto conv = dyn_cast<linalg::Conv2DNhwcHwcfOp>(op.getOperation())) {
    g.kind = Gemm::Conv;
    auto wType = cast<MemRefType>(g.b.getType());
    g.OH = cType.getDimSize(1);
    g.OW = cType.getDimSize(2);
    g.KW = wType.getDimSize(1);
    g.CI = wType.getDimSize(2);
    g.M = cType.getDimSize(0) * g.OH * g.OW;
    g.N = cType.getDimSize(3);
    g.K = wType.getDimSize(0) * g.KW * g.CI;
    auto strides = conv.getStrides().getValues<int64_t>();
    auto dilations = conv.getDilations().getValues<int64_t>();
    g.sh = strides[0], g.sw = strides[1], g.dh = dilations[0], g.dw = dilations[1];
  } else {
    g.M = cType.getDimSize(0);
    g.N = cType.getDimSize(1);
    g.K = cast<MemRefType>(g.a.getType()).getDimSize(1);
  }
  // The zero fill right before the GEMM on the same buffer starts the
  // accumulators at zero instead; the in-place epilogue on C runs on them.
  zeroFill = {};
  if (auto fill = dyn_cast_or_null<linalg::FillOp>(fills.lookup(id).getOperation());
      fill && isZeroFill(fill) && sameView(fill.getOutputs()[0], g.c) &&
      onlyViewsBetween(fill, op)) {
    g.accumulate = false;
    zeroFill = fill;
  }
  if (auto epi = dyn_cast_or_null<linalg::GenericOp>(epilogues.lookup(id).getOperation());
      epi && sameView(epi.getDpsInitOperand(0)->get(), g.c) && onlyViewsBetween(op, epi))
    g.epilogue = epi; // else: not in place, or something in between: its own kernel
  return g;
}

/// Erases the views and the allocation behind `v` that nothing uses.
void eraseDeadBuffer(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (!def->use_empty() ||
        !isa<memref::AllocOp, memref::SubViewOp, memref::CollapseShapeOp, memref::ExpandShapeOp,
             memref::CastOp>(def))
      return;
    Value source = def->getNumOperands() ? def->getOperand(0) : Value();
    def->erase();
    if (!source)
      return;
    v = source;
  }
}

} // namespace

Status emitGemmKernels(ModuleOp module, bool emulate, Precision precision) {
  // Everything the schedule handed to this file, by GEMM id.
  llvm::DenseMap<int64_t, linalg::LinalgOp> gemms, fills, epilogues;
  SmallVector<Operation *> order;
  module.walk([&](linalg::LinalgOp op) {
    if (int64_t id = tagOf(op, kGemmTag); id >= 0)
      gemms[id] = op, order.push_back(op);
    else if (int64_t id = tagOf(op, kGemmFillTag); id >= 0)
      fills[id] = op;
    else if (int64_t id = tagOf(op, kGemmEpilogueTag); id >= 0)
      epilogues[id] = op;
  });
  for (Operation *op : order)
    if (!cast<linalg::LinalgOp>(op).hasPureBufferSemantics())
      return Error{"cuda backend: internal error: a GEMM kernel's op was not bufferized"};
  // The 1x1 chains (kGemmChainTag) that still hold after bufferization: the
  // first matmul zero-filled with its epilogue in place, writing exactly the
  // second's A, with nothing but views and the second's fill in between.
  llvm::DenseMap<int64_t, int64_t> chainOf;
  llvm::DenseSet<int64_t> producers;
  for (Operation *op2 : order) {
    int64_t id1 = tagOf(op2, kGemmChainTag), id2 = tagOf(op2, kGemmTag);
    linalg::LinalgOp op1 = gemms.lookup(id1);
    if (id1 < 0 || !op1)
      continue;
    linalg::FillOp fill1, fill2;
    Gemm g1 = describe(op1, fills, epilogues, precision, fill1);
    Gemm g2 = describe(cast<linalg::LinalgOp>(op2), fills, epilogues, precision, fill2);
    bool ok = g1.kind == Gemm::Matmul && g2.kind == Gemm::Matmul && !g1.accumulate &&
              !g2.accumulate && g1.epilogue && sameView(g2.a, g1.c) && g1.N % 16 == 0 &&
              g1.N <= kMaxChainChannels && g1.M == g2.M && g1.N == g2.K &&
              g1.epilogue->getBlock() == op2->getBlock() && g1.epilogue->isBeforeInBlock(op2);
    for (Operation *o = ok ? g1.epilogue->getNextNode() : nullptr; o && o != op2;
         o = o->getNextNode())
      ok &= isMemoryEffectFree(o) || o == fill2.getOperation();
    if (ok) {
      chainOf[id2] = id1;
      producers.insert(id1);
    }
  }
  auto consume = [&](int64_t id, const Gemm &g, linalg::FillOp fill) {
    if (fill) {
      fill->erase();
      fills.erase(id);
    }
    if (g.epilogue) {
      g.epilogue->erase();
      epilogues.erase(id);
    }
  };
  for (Operation *raw : order) {
    auto op = cast<linalg::LinalgOp>(raw);
    int64_t id = tagOf(op, kGemmTag);
    if (producers.contains(id))
      continue; // emitted with the second matmul of its chain
    linalg::FillOp fill;
    Gemm g = describe(op, fills, epilogues, precision, fill);
    OpBuilder b(op);
    if (auto it = chainOf.find(id); it != chainOf.end()) {
      linalg::LinalgOp op1 = gemms.lookup(it->second);
      linalg::FillOp fill1;
      Gemm g1 = describe(op1, fills, epilogues, precision, fill1);
      emitKernel(b, op.getLoc(), {Stage{g1, /*cShared=*/true}, Stage{g, false, /*aShared=*/true}},
                 emulate);
      consume(it->second, g1, fill1);
      op1->erase();
      consume(id, g, fill);
      op->erase();
      eraseDeadBuffer(g1.c);
      continue;
    }
    emitGemm(b, op.getLoc(), g, emulate);
    consume(id, g, fill);
    op->erase();
  }
  // Fills and epilogues bufferization separated from their GEMM.
  for (auto *table : {&fills, &epilogues})
    for (auto &[id, op] : *table) {
      if (op.getNumDpsInits() != 1 || op.getNumParallelLoops() != op.getNumLoops() ||
          !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
        return Error{"cuda backend: internal error: a GEMM epilogue could not be emitted"};
      OpBuilder b(op);
      emitElementwise(b, op.getLoc(), op, emulate);
      op->erase();
    }
  return Status::ok();
}

} // namespace ninc::cuda::detail
