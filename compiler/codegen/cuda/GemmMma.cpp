//===- compiler/codegen/cuda/GemmMma.cpp - mma.sync TF32/BF16 inner step --===//
//
// The inner step of the TF32 and BF16 GEMM kernels (GemmKernels.h): warp w
// computes a WM x WN tile of the block tile as (WM/16) x (WN/8) mma.sync
// tiles. Each lane loads its fragments of the k tile from shared memory in
// the layouts of the PTX ISA, the warp multiplies them on the tensor cores,
// and each lane keeps 4 accumulators per mma tile. TF32 is nvgpu.mma.sync
// m16n8k8; BF16 is m16n8k16 as inline PTX on bf16x2 registers, the values
// rounded to bf16 first. The inverse layouts (which lane holds what) are
// here too, for the CPU emulation of the warp-wide instruction.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/GemmKernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace ninc::cuda::detail::gemm {
namespace {

/// v rounded to bf16 (to nearest, ties to even), as an f32 (NaN aside).
Value roundToBf16(OpBuilder &b, Location loc, Value v) {
  Type i32 = b.getI32Type();
  auto c = [&](int64_t x) { return b.create<arith::ConstantIntOp>(loc, x, 32).getResult(); };
  Value bits = b.create<arith::BitcastOp>(loc, i32, v);
  Value lsb = b.create<arith::AndIOp>(loc, b.create<arith::ShRUIOp>(loc, bits, c(16)), c(1));
  Value rounded = b.create<arith::AddIOp>(loc, bits, b.create<arith::AddIOp>(loc, lsb, c(0x7fff)));
  rounded = b.create<arith::AndIOp>(loc, rounded, c(int64_t(0xffff0000u)));
  return b.create<arith::BitcastOp>(loc, b.getF32Type(), rounded);
}

/// Two bf16-valued f32s as one bf16x2 register: lo in bits 0-15.
Value packBf16x2(OpBuilder &b, Location loc, Value lo, Value hi) {
  Type i32 = b.getI32Type();
  auto c = [&](int64_t x) { return b.create<arith::ConstantIntOp>(loc, x, 32).getResult(); };
  Value l = b.create<arith::ShRUIOp>(loc, b.create<arith::BitcastOp>(loc, i32, lo), c(16));
  Value h = b.create<arith::AndIOp>(loc, b.create<arith::BitcastOp>(loc, i32, hi),
                                    c(int64_t(0xffff0000u)));
  return b.create<arith::OrIOp>(loc, l, h);
}

/// BF16: nvgpu.mma.sync cannot type bf16 operands in MLIR 19, so the
/// instruction is inline PTX on bf16x2 registers (element 0 in the low
/// half). D = A B + C for one m16n8k16 tile, from a lane's 8 A, 4 B and 4 C
/// values.
SmallVector<Value> bf16Mma(OpBuilder &b, Location loc, ArrayRef<Value> a, ArrayRef<Value> bv,
                           ArrayRef<Value> c) {
  Type f32 = b.getF32Type();
  auto f32x4 = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  SmallVector<Value> operands;
  for (size_t i = 0; i < a.size(); i += 2)
    operands.push_back(packBf16x2(b, loc, a[i], a[i + 1]));
  for (size_t i = 0; i < bv.size(); i += 2)
    operands.push_back(packBf16x2(b, loc, bv[i], bv[i + 1]));
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
}

/// A 2-D vector of f32 from its elements, row-major.
/// (vector.from_elements of 2-D vectors does not lower in MLIR 19.)
Value buildVector(OpBuilder &b, Location loc, VectorType type, ArrayRef<Value> elements) {
  Value v = b.create<arith::ConstantOp>(loc, type,
                                        DenseElementsAttr::get(type, b.getF32FloatAttr(0.0f)));
  int64_t cols = type.getDimSize(1);
  for (size_t i = 0; i < elements.size(); ++i)
    v = b.create<vector::InsertOp>(loc, elements[i], v,
                                   ArrayRef<int64_t>{int64_t(i) / cols, int64_t(i) % cols});
  return v;
}

/// Elements first .. first + n - 1 of `all`.
SmallVector<Value> slice(ArrayRef<Value> all, int64_t first, int64_t n) {
  return SmallVector<Value>(all.begin() + first, all.begin() + first + n);
}

} // namespace

// Tensor cores, per k step: this lane's fragments of the warp's A rows and
// B columns, per the PTX ISA's layouts (lane = 4 g + q), [step][mt][r] and
// [step][nt][r] flattened:
//   m16n8k8 TF32:   a[r] = A[g + 8 (r % 2)][q + 4 (r / 2)], b[r] = B[q + 4 r][g]
//   m16n8k16 BF16:  a[r] = A[g + 8 ((r / 2) % 2)][2 q + r % 2 + 8 (r / 4)],
//                   b[r] = B[2 q + r % 2 + 8 (r / 2)][g]
// (BF16: the values rounded to bf16, to nearest even, kept as f32.)
std::pair<int64_t, int64_t> Kernel::aPos(int64_t r) { // (row, k) past (g, q or 2q)
  if (!bf16)
    return {8 * (r % 2), 4 * (r / 2)};
  return {8 * ((r / 2) % 2), r % 2 + 8 * (r / 4)};
}

int64_t Kernel::bK(int64_t r) { return bf16 ? r % 2 + 8 * (r / 2) : 4 * r; }

std::pair<SmallVector<Value>, SmallVector<Value>> Kernel::fragments(Value tid, TileRef a,
                                                                    TileRef bt) {
  Value warp = e.div(tid, 32), lane = e.rem(tid, 32);
  Value gq = e.div(lane, 4), q = bf16 ? e.mul(e.rem(lane, 4), 2) : e.rem(lane, 4);
  Value aBase = e.add(e.add(a.off, e.mul(q, aStride)),
                      e.add(e.mul(e.div(warp, warpCols), t.WM), gq));
  Value bBase = e.add(e.add(bt.off, e.mul(q, bStride)),
                      e.add(e.mul(e.rem(warp, warpCols), t.WN), gq));
  auto round = [&](Value v) { return bf16 ? roundToBf16(b, loc, v) : v; };
  SmallVector<Value> fa, fb;
  for (int64_t step = 0; step < t.BK / mmaK; ++step) {
    for (int64_t mt = 0; mt < mTiles; ++mt)
      for (int64_t r = 0; r < aVals; ++r) {
        auto [row, k] = aPos(r);
        fa.push_back(round(b.create<memref::LoadOp>(
            loc, a.mem, e.add(aBase, (step * mmaK + k) * aStride + mt * 16 + row))));
      }
    for (int64_t nt = 0; nt < nTiles; ++nt)
      for (int64_t r = 0; r < bVals; ++r)
        fb.push_back(round(b.create<memref::LoadOp>(
            loc, bt.mem, e.add(bBase, (step * mmaK + bK(r)) * bStride + nt * 8))));
  }
  return std::make_pair(fa, fb);
}

SmallVector<Value> Kernel::mmaStep(Value tid, TileRef a, TileRef bt, SmallVector<Value> acc) {
  auto [fa, fb] = fragments(tid, a, bt);
  auto aType = VectorType::get({4, 1}, f32), bType = VectorType::get({2, 1}, f32),
       cType = VectorType::get({2, 2}, f32);
  auto build = [&](VectorType type, ArrayRef<Value> elements) {
    return buildVector(b, loc, type, elements);
  };
  for (int64_t step = 0; step < t.BK / mmaK; ++step)
    for (int64_t mt = 0; mt < mTiles; ++mt)
      for (int64_t nt = 0; nt < nTiles; ++nt) {
        SmallVector<Value> af = slice(fa, (step * mTiles + mt) * aVals, aVals);
        SmallVector<Value> bf = slice(fb, (step * nTiles + nt) * bVals, bVals);
        int64_t first = (mt * nTiles + nt) * 4;
        if (bf16) {
          SmallVector<Value> d = bf16Mma(b, loc, af, bf, slice(acc, first, 4));
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
}

// Tensor cores: warp (wr, wc) of the warp grid, lane = 4 g + q; slot
// (mt, nt, r) is D[g + 8 (r / 2)][2 q + r % 2] of mma tile (mt, nt).
std::pair<Value, Value> Kernel::mmaAccPos(Value tid, int64_t i) {
  Value warp = e.div(tid, 32), lane = e.rem(tid, 32);
  int64_t mt = i / (nTiles * 4), nt = (i / 4) % nTiles, r = i % 4;
  Value row = e.add(e.add(e.mul(e.div(warp, warpCols), t.WM), e.div(lane, 4)),
                    mt * 16 + 8 * (r / 2));
  Value col = e.add(e.add(e.mul(e.rem(warp, warpCols), t.WN), e.mul(e.rem(lane, 4), 2)),
                    nt * 8 + r % 2);
  return {row, col};
}

// The lane and slot holding A[row][k] and B[k][col] (the inverse of the
// layouts at `fragments`).
std::pair<Value, Value> Kernel::aSource(Value warpBase, Value row, int64_t step, int64_t mt,
                                        int64_t k) {
  if (!bf16) {
    Value aLane = e.add(warpBase, e.add(e.mul(e.rem(row, 8), 4), k % 4));
    Value aSlot = e.add(e.div(row, 8), (step * mTiles + mt) * 4 + 2 * (k / 4));
    return {aLane, aSlot};
  }
  Value aLane = e.add(warpBase, e.add(e.mul(e.rem(row, 8), 4), (k % 8) / 2));
  Value aSlot =
      e.add(e.mul(e.div(row, 8), 2), (step * mTiles + mt) * 8 + 4 * (k / 8) + k % 2);
  return {aLane, aSlot};
}

std::pair<Value, int64_t> Kernel::bSource(Value warpBase, Value col, int64_t step, int64_t nt,
                                          int64_t k) {
  if (!bf16)
    return {e.add(warpBase, e.add(e.mul(col, 4), k % 4)), (step * nTiles + nt) * 2 + k / 4};
  return {e.add(warpBase, e.add(e.mul(col, 4), (k % 8) / 2)),
          (step * nTiles + nt) * 4 + 2 * (k / 8) + k % 2};
}

} // namespace ninc::cuda::detail::gemm
