//===- compiler/codegen/cuda/GemmKernel.cpp - The GEMM kernel skeleton ----===//
//
// What every GEMM kernel does around its inner step (GemmKernels.h): the
// cooperative loads of the k tiles of A and B into shared memory, double
// buffered; the barriers; the epilogue from the accumulators into C (or into
// Ys, the first stage of a 1x1 chain); and the gpu.launch that strings these
// phases together. The inner step is the FMA register tile (GemmFma.cpp) or
// mma.sync on the tensor cores (GemmMma.cpp); GemmEmulation.cpp strings the
// same phases together as CPU loops.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/GemmKernels.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace ninc::cuda::detail::gemm {

Kernel::Kernel(OpBuilder &b, Location loc, ArrayRef<Stage> stages, bool emulate)
    : b(b), loc(loc), e(b, loc), stages(stages.begin(), stages.end()), emulate(emulate) {
  chain = stages.size() == 2;
  t = chain ? chainTiles() : tilesFor(stages[0].g);
  precision = stages[0].g.precision;
  tensorCores = precision != Precision::FP32, bf16 = precision == Precision::BF16;
  mmaK = bf16 ? 16 : 8, aVals = bf16 ? 8 : 4, bVals = bf16 ? 4 : 2;
  M = stages[0].g.M;
  colThreads = t.BN / t.TN, accCount = t.TM * t.TN;
  aPerThread = t.BM * t.BK / t.T, bPerThread = t.BK * t.BN / t.T;
  ctx = b.getContext();
  f32 = b.getF32Type();
  Attribute shared = emulate ? Attribute()
                             : gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  // Two stages of each tile (double buffering), flattened: stage s, row r
  // of As at (s * BK + r) * aStride.
  aStride = t.aStride(), bStride = t.bStride();
  aTileType = MemRefType::get({2 * t.BK * aStride}, f32, MemRefLayoutAttrInterface(), shared);
  bTileType = MemRefType::get({2 * t.BK * bStride}, f32, MemRefLayoutAttrInterface(), shared);
  ysType = MemRefType::get({chain ? stages[0].g.N * aStride : 1}, f32,
                           MemRefLayoutAttrInterface(), shared);
  gridX = (M + t.BM - 1) / t.BM;
  gridY = chain ? 1 : (stages[0].g.N + t.BN - 1) / t.BN;
  contract = arith::FastMathFlagsAttr::get(ctx, arith::FastMathFlags::contract);
  guardM = M % t.BM != 0;
  mTiles = t.WM / 16, nTiles = t.WN / 8, warpCols = t.BN / t.WN;
}

void emitKernel(OpBuilder &b, Location loc, ArrayRef<Stage> stages, bool emulate) {
  if (emulate)
    emitEmulatedKernel(b, loc, stages);
  else
    Kernel(b, loc, stages, /*emulate=*/false).emitLaunch();
}

// Thread `tid`'s phases of stage `st`, given the block offsets (bm, bn),
// the shared tiles and Ys.

SmallVector<Value> Kernel::fetch(const Stage &st, Value tid, Value bm, Value bn, Value k0) {
  const Gemm &g = st.g;
  const bool guardN = g.N % t.BN != 0, guardK = g.K % t.BK != 0;
  SmallVector<Value> v;
  // A: element tid + i*T of the BM x BK tile, k fastest.
  if (!st.aShared)
    fetchTile(v, aPerThread, tid, t.BK, {k0, g.K, guardK}, {bm, g.M, guardM},
              [&](Value k, Value m) { return e.loadA(g, m, k); });
  // B: element tid + i*T of the BK x BN tile, n fastest.
  fetchTile(v, bPerThread, tid, t.BN, {bn, g.N, guardN}, {k0, g.K, guardK},
            [&](Value n, Value k) { return e.loadB(g, k, n); });
  return v;
}

void Kernel::fetchTile(SmallVector<Value> &v, int64_t count, Value tid, int64_t width,
                       Span fast, Span slow, function_ref<Value(Value, Value)> load) {
  Value f = e.add(fast.start, e.rem(tid, width)), slowBase = e.div(tid, width);
  Value fOk = fast.guard ? e.lt(f, fast.size) : Value();
  for (int64_t i = 0; i < count; ++i) {
    Value s = e.add(slow.start, e.add(slowBase, i * (t.T / width)));
    Value ok = slow.guard ? e.andI(fOk, e.lt(s, slow.size)) : fOk;
    v.push_back(e.guardedLoad(ok, [&] { return load(f, s); }));
  }
}

void Kernel::stash(const Stage &st, Value tid, ArrayRef<Value> v, Value buf) {
  int64_t first = 0;
  if (!st.aShared) {
    // A is k fastest in registers, [k][m] in As.
    stashTile(v.take_front(aPerThread), as, aStride, tid, buf, t.BK, /*transpose=*/true);
    first = aPerThread;
  }
  stashTile(v.slice(first, bPerThread), bs, bStride, tid, buf, t.BN, /*transpose=*/false);
}

void Kernel::stashTile(ArrayRef<Value> v, Value mem, int64_t stride, Value tid, Value buf,
                       int64_t width, bool transpose) {
  // Element tid + i*T is at (tid / width + i*T/width, tid % width): the
  // slices are T/width rows apart, or columns when transposed.
  Value base = e.add(e.mul(buf, t.BK * stride),
                     e.add(e.mul(transpose ? e.rem(tid, width) : e.div(tid, width), stride),
                           transpose ? e.div(tid, width) : e.rem(tid, width)));
  const int64_t step = transpose ? t.T / width : (t.T / width) * stride;
  for (size_t i = 0; i < v.size(); ++i)
    b.create<memref::StoreOp>(loc, v[i], mem, e.add(base, int64_t(i) * step));
}

Value Kernel::bufferOf(Value k0) { return e.rem(e.div(k0, t.BK), 2); }

Value Kernel::other(Value buf) {
  return b.create<arith::SubIOp>(loc, e.idx(1), buf).getResult();
}

TileRef Kernel::aTile(const Stage &st, Value k0) {
  if (st.aShared)
    return {ys, e.mul(k0, aStride)};
  return {as, e.mul(bufferOf(k0), t.BK * aStride)};
}

TileRef Kernel::bTile(Value k0) { return {bs, e.mul(bufferOf(k0), t.BK * bStride)}; }

SmallVector<Value> Kernel::computeTile(const Stage &st, Value tid, Value k0,
                                       SmallVector<Value> acc) {
  TileRef a = aTile(st, k0);
  TileRef bt = bTile(k0);
  return tensorCores ? mmaStep(tid, a, bt, acc) : fmaStep(tid, a, bt, acc);
}

std::pair<Value, Value> Kernel::accPos(Value tid, int64_t i) {
  return tensorCores ? mmaAccPos(tid, i) : fmaAccPos(tid, i);
}

void Kernel::epilogue(const Stage &st, Value tid, Value bm, Value bn, ArrayRef<Value> acc) {
  const Gemm &g = st.g;
  const bool guardN = g.N % t.BN != 0;
  for (int64_t i = 0; i < accCount; ++i) {
    auto [row, col] = accPos(tid, i);
    Value m = e.add(bm, row), n = e.add(bn, col);
    Value ok = guardM && !st.cShared ? e.lt(m, g.M) : Value();
    if (guardN)
      ok = e.andI(ok, e.lt(n, g.N));
    auto store = [&, row = row] {
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
}

Value Kernel::lastK0Of(const Stage &st) {
  return e.idx(((st.g.K + t.BK - 1) / t.BK - 1) * t.BK);
}

void Kernel::forChunks(const Stage &st, Value blockY, function_ref<void(Value bn)> body) {
  if (!chain) {
    body(e.mul(blockY, t.BN));
    return;
  }
  auto loop = b.create<scf::ForOp>(loc, e.idx(0), e.idx((st.g.N + t.BN - 1) / t.BN * t.BN),
                                   e.idx(t.BN));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  body(loop.getInductionVar());
}

void Kernel::emitLaunch() {
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
  as = wg[0], bs = wg[1], ys = chain ? Value(wg[2]) : Value();
  Value tid = launch.getThreadIds().x;
  // (Constants the kernel uses are created inside it, or outlining makes
  // them kernel parameters the backend cannot fold.)
  Value bm = e.mul(launch.getBlockIds().x, t.BM);
  for (const Stage &st : stages)
    forChunks(st, launch.getBlockIds().y, [&](Value bn) { launchChunk(st, tid, bm, bn); });
  b.create<gpu::TerminatorOp>(loc);
}

void Kernel::launchChunk(const Stage &st, Value tid, Value bm, Value bn) {
  Value zero = e.idx(0), lastK0 = lastK0Of(st);
  if (chain)
    b.create<gpu::BarrierOp>(loc);
  stash(st, tid, fetch(st, tid, bm, bn, zero), zero);
  b.create<gpu::BarrierOp>(loc);
  SmallVector<Value> init(accCount, e.zeroF());
  auto loop = b.create<scf::ForOp>(
      loc, zero, lastK0, e.idx(t.BK), init,
      [&](OpBuilder &, Location, Value k0, ValueRange iter) {
        SmallVector<Value> next = fetch(st, tid, bm, bn, e.add(k0, t.BK));
        SmallVector<Value> acc = computeTile(st, tid, k0, SmallVector<Value>(iter));
        stash(st, tid, next, other(bufferOf(k0)));
        b.create<gpu::BarrierOp>(loc);
        b.create<scf::YieldOp>(loc, acc);
      });
  SmallVector<Value> acc = computeTile(st, tid, lastK0, SmallVector<Value>(loop.getResults()));
  epilogue(st, tid, bm, bn, acc);
}

} // namespace ninc::cuda::detail::gemm
