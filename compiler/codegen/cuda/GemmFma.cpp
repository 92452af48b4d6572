//===- compiler/codegen/cuda/GemmFma.cpp - FMA register-tile inner step ---===//
//
// The inner step of the FP32 GEMM kernels (GemmKernels.h): each thread
// owns a TM x TN tile of the block tile, in registers, and for every kk of
// the k tile loads TM values of As and TN of Bs and does TM * TN
// multiply-adds (contractable into FMAs):
//
//   acc[i][j] += As[kk][ty*TM+i] * Bs[kk][tx*TN+j]   (ty, tx = tid / and %
//                                                     BN/TN)
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/GemmKernels.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

namespace ninc::cuda::detail::gemm {

// (Every shared address is a per-iteration base plus a constant, so the
// backend folds the constants into the loads' offsets.)
SmallVector<Value> Kernel::fmaStep(Value tid, TileRef a, TileRef bt, SmallVector<Value> acc) {
  Value aBase = e.add(a.off, e.mul(e.div(tid, colThreads), t.TM));
  Value bBase = e.add(bt.off, e.mul(e.rem(tid, colThreads), t.TN));
  for (int64_t kk = 0; kk < t.BK; ++kk) {
    SmallVector<Value> av, bv;
    for (int64_t i = 0; i < t.TM; ++i)
      av.push_back(b.create<memref::LoadOp>(loc, a.mem, e.add(aBase, kk * aStride + i)));
    for (int64_t j = 0; j < t.TN; ++j)
      bv.push_back(b.create<memref::LoadOp>(loc, bt.mem, e.add(bBase, kk * bStride + j)));
    for (int64_t i = 0; i < t.TM; ++i)
      for (int64_t j = 0; j < t.TN; ++j)
        acc[i * t.TN + j] = b.create<arith::AddFOp>(
            loc, acc[i * t.TN + j],
            b.create<arith::MulFOp>(loc, av[i], bv[j], contract), contract);
  }
  return acc;
}

std::pair<Value, Value> Kernel::fmaAccPos(Value tid, int64_t i) {
  return {e.add(e.mul(e.div(tid, colThreads), t.TM), i / t.TN),
          e.add(e.mul(e.rem(tid, colThreads), t.TN), i % t.TN)};
}

} // namespace ninc::cuda::detail::gemm
