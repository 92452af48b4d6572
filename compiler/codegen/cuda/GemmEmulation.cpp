//===- compiler/codegen/cuda/GemmEmulation.cpp - GEMM kernels on the CPU --===//
//
// The --gpu-emulate realisation of a GEMM kernel (GemmKernels.h): blocks
// and threads as loops on the CPU, each barrier-separated phase a loop over
// the block's threads, the shared tiles as stack buffers and the
// accumulators in a per-thread array, accs[T][TM*TN]. The emulation runs
// the tiling, every index and bound computation and the epilogue; it
// cannot catch a missing barrier or a race.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/GemmKernels.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace ninc::cuda::detail::gemm {
namespace {

/// A kernel as CPU loops: the shared phases of Kernel, run thread by
/// thread, with the registers that live across a barrier (the accumulators,
/// the mma fragments) in arrays indexed by thread.
class Emulation : public Kernel {
public:
  /// The kernel of `stages` at b's insertion point.
  Emulation(OpBuilder &b, Location loc, ArrayRef<Stage> stages)
      : Kernel(b, loc, stages, /*emulate=*/true) {}

  /// Emits the buffers and the loops over blocks, chunks and k tiles.
  void emit();

private:
  /// for (iv = lo; iv < hi; iv += step) body(iv).
  void forEach(Value lo, Value hi, int64_t step, function_ref<void(Value)> body);
  /// One phase: body(tid) for every thread of the block.
  void forThreads(function_ref<void(Value)> body);
  /// Thread tid's accumulators from accs.
  SmallVector<Value> loadAcc(Value tid);
  /// Thread tid's accumulators into accs.
  void storeAcc(Value tid, ArrayRef<Value> acc);
  /// One stage's column chunk at (bm, bn): its k tiles and its epilogue.
  void emitChunk(const Stage &st, Value bm, Value bn);
  /// The compute phase of k tile k0 (after its loads' barrier).
  void computePhase(const Stage &st, Value k0);
  /// Thread tid's share of the warp-wide mma.sync, from fas and fbs.
  void emulatedMma(Value tid);

  Value zero;     ///< index 0
  Value accs;     ///< [T][TM*TN] accumulators
  Value fas, fbs; ///< [T][...] mma fragments (tensor cores)
  int64_t steps = 0, faCount = 0, fbCount = 0; ///< mma k steps, fragments a thread
};

void Emulation::emit() {
  // Emulation: blocks and threads as loops, each barrier-separated phase a
  // loop over the block's threads, accumulators in accs[T][TM*TN].
  zero = e.idx(0);
  as = b.create<memref::AllocaOp>(loc, aTileType);
  bs = b.create<memref::AllocaOp>(loc, bTileType);
  ys = chain ? b.create<memref::AllocaOp>(loc, ysType).getResult() : Value();
  accs = b.create<memref::AllocaOp>(loc, MemRefType::get({t.T, accCount}, f32));
  // Tensor cores: every thread's fragments first (what each lane holds in
  // registers), then each accumulator from the fragments of the lanes the
  // PTX layouts name (the warp-wide mma.sync), so the fragment addressing
  // runs here too; the tensor cores' own TF32 rounding does not.
  steps = t.BK / mmaK, faCount = steps * mTiles * aVals, fbCount = steps * nTiles * bVals;
  if (tensorCores) {
    fas = b.create<memref::AllocaOp>(loc, MemRefType::get({t.T, faCount}, f32));
    fbs = b.create<memref::AllocaOp>(loc, MemRefType::get({t.T, fbCount}, f32));
  }
  forEach(zero, e.idx(gridX), 1, [&](Value bx) {
    forEach(zero, e.idx(gridY), 1, [&](Value by) {
      Value bm = e.mul(bx, t.BM);
      for (const Stage &st : stages)
        forChunks(st, by, [&](Value bn) { emitChunk(st, bm, bn); });
    });
  });
}

void Emulation::forEach(Value lo, Value hi, int64_t step, function_ref<void(Value)> body) {
  auto loop = b.create<scf::ForOp>(loc, lo, hi, e.idx(step));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  body(loop.getInductionVar());
}

void Emulation::forThreads(function_ref<void(Value)> body) {
  forEach(zero, e.idx(t.T), 1, body);
}

SmallVector<Value> Emulation::loadAcc(Value tid) {
  SmallVector<Value> acc;
  for (int64_t i = 0; i < accCount; ++i)
    acc.push_back(b.create<memref::LoadOp>(loc, accs, ValueRange{tid, e.idx(i)}));
  return acc;
}

void Emulation::storeAcc(Value tid, ArrayRef<Value> acc) {
  for (int64_t i = 0; i < accCount; ++i)
    b.create<memref::StoreOp>(loc, acc[i], accs, ValueRange{tid, e.idx(i)});
}

void Emulation::emitChunk(const Stage &st, Value bm, Value bn) {
  Value lastK0 = lastK0Of(st);
  forThreads([&](Value tid) {
    for (int64_t i = 0; i < accCount; ++i)
      b.create<memref::StoreOp>(loc, e.zeroF(), accs, ValueRange{tid, e.idx(i)});
    stash(st, tid, fetch(st, tid, bm, bn, zero), zero);
  });
  forEach(zero, lastK0, t.BK, [&](Value k0) {
    forThreads([&](Value tid) {
      Value buf = other(bufferOf(k0));
      stash(st, tid, fetch(st, tid, bm, bn, e.add(k0, t.BK)), buf);
    });
    computePhase(st, k0);
  });
  computePhase(st, lastK0);
  forThreads([&](Value tid) { epilogue(st, tid, bm, bn, loadAcc(tid)); });
}

void Emulation::computePhase(const Stage &st, Value k0) {
  TileRef a = aTile(st, k0);
  TileRef bt = bTile(k0);
  if (tensorCores) {
    forThreads([&](Value tid) {
      auto [fa, fb] = fragments(tid, a, bt);
      for (int64_t i = 0; i < faCount; ++i)
        b.create<memref::StoreOp>(loc, fa[i], fas, ValueRange{tid, e.idx(i)});
      for (int64_t i = 0; i < fbCount; ++i)
        b.create<memref::StoreOp>(loc, fb[i], fbs, ValueRange{tid, e.idx(i)});
    });
    forThreads([&](Value tid) { emulatedMma(tid); });
    return;
  }
  forThreads([&](Value tid) { storeAcc(tid, fmaStep(tid, a, bt, loadAcc(tid))); });
}

void Emulation::emulatedMma(Value tid) {
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
            auto [aLane, aSlot] = aSource(warpBase, row, step, mt, k);
            auto [bLane, bSlot] = bSource(warpBase, col, step, nt, k);
            Value av = b.create<memref::LoadOp>(loc, fas, ValueRange{aLane, aSlot});
            Value bv = b.create<memref::LoadOp>(loc, fbs, ValueRange{bLane, e.idx(bSlot)});
            acc[slot] = b.create<arith::AddFOp>(loc, acc[slot],
                                                b.create<arith::MulFOp>(loc, av, bv));
          }
        }
  storeAcc(tid, acc);
}

} // namespace

void emitEmulatedKernel(OpBuilder &b, Location loc, ArrayRef<Stage> stages) {
  Emulation(b, loc, stages).emit();
}

} // namespace ninc::cuda::detail::gemm
