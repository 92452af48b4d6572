//===- compiler/codegen/cuda/GemmKernels.h - Tiled GEMM kernels -*- C++ -*-===//
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
// threads and the accumulators live in a per-thread array.
//
// What the files of these kernels share, and where each part lives:
//   GemmKernels.cpp    which ops become kernels (fill, epilogue and chain
//                      detection, tile sizes); the entry, emitGemmKernels
//   GemmKernel.cpp     the kernel skeleton: tile loads, double buffering,
//                      barriers, the epilogue, the gpu.launch
//   GemmFma.cpp        the FMA register-tile inner step
//   GemmMma.cpp        the mma.sync (TF32, BF16) inner step
//   GemmEmulation.cpp  the CPU emulation of blocks, threads and phases
//   GemmEmitter.cpp    index arithmetic, operand loads, the epilogue body,
//                      and the one-thread-per-element kernel
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_CUDA_GEMMKERNELS_H
#define NINC_COMPILER_CODEGEN_CUDA_GEMMKERNELS_H

#include "compiler/codegen/cuda/CudaInternal.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <cstdint>
#include <utility>

namespace ninc::cuda::detail::gemm {

using mlir::Value;

/// One GEMM, C = epilogue(A x B (+ C)), on buffers (after bufferization).
struct Gemm {
  /// Which op it came from: linalg.matmul or linalg.conv_2d_nhwc_hwcf.
  enum Kind { Matmul, Conv } kind = Matmul;
  /// The op's operands: A, B (the inputs) and C (the output).
  Value a, b, c;
  /// The GEMM's sizes: C is M x N, K the reduction.
  int64_t M = 0, N = 0, K = 0;
  /// Conv: output OH x OW, filter KH x KW x CI, strides and dilations.
  int64_t OH = 1, OW = 1, KW = 1, CI = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  bool accumulate = true;        ///< C's old value is added (no zero fill)
  Precision precision = Precision::FP32; ///< TF32/BF16: tensor cores (mma.sync)
  mlir::linalg::GenericOp epilogue; ///< in place over C, or null
};

/// Tile sizes of a kernel: T threads, each TM x TN of a BM x BN tile.
/// With tensor cores, warp w computes a WM x WN tile of the block tile as
/// (WM/16) x (WN/8) mma.sync m16n8k8 (the same 16 accumulators a thread).
/// Shared rows are padded (BM + 4, BN + 8 floats) so that a warp's fragment
/// loads hit 32 distinct banks; rows stay 16-byte aligned.
struct Tiles {
  /// The block tile (BM x BN, BK deep), a thread's tile (TM x TN), threads.
  int64_t BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, T = 256;
  /// A warp's tile with tensor cores.
  int64_t WM = 16, WN = 32;
  /// Floats per row of As (padded).
  int64_t aStride() const { return BM + 4; }
  /// Floats per row of Bs (padded).
  int64_t bStride() const { return BN + 8; }
};

/// The tiles of a one-GEMM kernel for `g` (GemmKernels.cpp).
Tiles tilesFor(const Gemm &g);

/// Tiles of a chain kernel: 16 rows a block (Ys of 384 channels is 30 KiB),
/// 64 columns at a time, 64 threads (two warps) (GemmKernels.cpp).
Tiles chainTiles();

/// One GEMM of a kernel. In a 1x1 chain the first stage writes its result
/// (after its epilogue) to the block's rows of Ys in shared memory, laid out
/// like the A tiles ([k][m], k = the chain's middle channel), and the second
/// stage reads its A from there: the intermediate never leaves the SM.
struct Stage {
  Gemm g;               ///< the GEMM this stage computes
  bool cShared = false; ///< result -> Ys (first stage of a chain)
  bool aShared = false; ///< A <- Ys (second stage of a chain)
};

/// Index arithmetic, guarded loads and the GEMM's operand accesses, emitted
/// at a builder's insertion point (GemmEmitter.cpp).
class Emitter {
public:
  /// Emits with `b` at `loc`.
  Emitter(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  /// The index constant v.
  Value idx(int64_t v) { return b.create<mlir::arith::ConstantIndexOp>(loc, v); }
  /// x + y.
  Value add(Value x, Value y) { return b.create<mlir::arith::AddIOp>(loc, x, y); }
  /// x + y, x itself when y is 0.
  Value add(Value x, int64_t y) { return y ? add(x, idx(y)) : x; }
  /// x * y, x itself when y is 1.
  Value mul(Value x, int64_t y) {
    return y == 1 ? x : b.create<mlir::arith::MulIOp>(loc, x, idx(y));
  }
  /// x / y (unsigned), x itself when y is 1.
  Value div(Value x, int64_t y) {
    return y == 1 ? x : b.create<mlir::arith::DivUIOp>(loc, x, idx(y));
  }
  /// x mod y (unsigned).
  Value rem(Value x, int64_t y) { return b.create<mlir::arith::RemUIOp>(loc, x, idx(y)); }
  /// x < y (unsigned).
  Value lt(Value x, int64_t y) {
    return b.create<mlir::arith::CmpIOp>(loc, mlir::arith::CmpIPredicate::ult, x, idx(y));
  }
  /// x && y, y itself when x is null.
  Value andI(Value x, Value y) { return x ? b.create<mlir::arith::AndIOp>(loc, x, y) : y; }
  /// The f32 constant 0.
  Value zeroF() {
    return b.create<mlir::arith::ConstantFloatOp>(loc, llvm::APFloat(0.0f), b.getF32Type());
  }

  /// (cond ? load() : 0), or load() when cond is null.
  Value guardedLoad(Value cond, llvm::function_ref<Value()> load);
  /// The memref indices of C for GEMM coordinates (m, n).
  llvm::SmallVector<Value> cIndices(const Gemm &g, Value m, Value n);
  /// A(m, k): a[m, k], or the conv input element that im2col would put there.
  Value loadA(const Gemm &g, Value m, Value k);
  /// B(k, n): b[k, n], or the filter element w[kh, kw, ci, n].
  Value loadB(const Gemm &g, Value k, Value n);
  /// The epilogue's body at C index `cIdx` applied to `v` (the accumulated
  /// value, standing for the epilogue's output operand).
  Value applyEpilogue(mlir::linalg::GenericOp e, llvm::ArrayRef<Value> cIdx, Value v);

  mlir::OpBuilder &b; ///< where the ops go
  mlir::Location loc; ///< the location they get
};

/// out[...] = body(out[...], ins...) for an all-parallel op with an identity
/// output map (a generic or a fill), one thread per element (GemmEmitter.cpp).
void emitElementwise(mlir::OpBuilder &b, mlir::Location loc, mlir::linalg::LinalgOp op,
                     bool emulate);

/// A k tile in shared memory as an inner step reads it: row kk of the
/// tile starts at off + kk * (the row stride) in mem (As, Ys or Bs).
struct TileRef {
  Value mem; ///< the shared buffer
  Value off; ///< where the tile's first row starts in it
};

/// One dimension of a k tile in global memory, as fetch walks it.
struct Span {
  Value start;  ///< the tile's first index along it
  int64_t size; ///< the GEMM's size along it
  bool guard;   ///< indices may pass `size`: loads are checked
};

/// The GEMM kernel of `stages` (one GEMM, or a 1x1 chain of two) at b's
/// insertion point: a gpu.launch, or CPU loops when `emulate`.
void emitKernel(mlir::OpBuilder &b, mlir::Location loc, llvm::ArrayRef<Stage> stages,
                bool emulate);

/// One kernel being built: its tiling, its shared tiles, and the per-thread
/// phases both realisations share (each emits one thread `tid`'s part at
/// the builder's insertion point). The realisation sets as, bs and ys.
struct Kernel {
  /// The kernel of `stages`, its tiles in workgroup memory unless `emulate`.
  Kernel(mlir::OpBuilder &b, mlir::Location loc, llvm::ArrayRef<Stage> stages, bool emulate);

  // The skeleton (GemmKernel.cpp).
  /// The gpu.launch realisation of the whole kernel.
  void emitLaunch();
  /// In the launch: one stage's column chunk, from its first k tile to
  /// its epilogue.
  void launchChunk(const Stage &st, Value tid, Value bm, Value bn);
  /// fetch: this thread's share of the k0 tiles of A (unless from Ys) and B.
  llvm::SmallVector<Value> fetch(const Stage &st, Value tid, Value bm, Value bn, Value k0);
  /// Appends this thread's elements tid + i*T (i < count) of a tile
  /// `width` wide: load(fast, slow) at fast = fast.start + tid % width,
  /// slow = slow.start + tid / width + i*T/width, 0 outside the sizes.
  void fetchTile(llvm::SmallVector<Value> &v, int64_t count, Value tid, int64_t width,
                 Span fast, Span slow, llvm::function_ref<Value(Value, Value)> load);
  /// stash: what fetch returned into stage `buf` (As transposed: [k][m]).
  void stash(const Stage &st, Value tid, llvm::ArrayRef<Value> v, Value buf);
  /// Stores `v`, this thread's elements tid + i*T of a tile `width` wide in
  /// registers, into stage `buf` of `mem` (rows of `stride` floats), as
  /// [column][row] when `transpose`.
  void stashTile(llvm::ArrayRef<Value> v, Value mem, int64_t stride, Value tid, Value buf,
                 int64_t width, bool transpose);
  /// The buffer of k tile `k0`: (k0 / BK) mod 2.
  Value bufferOf(Value k0);
  /// The buffer that is not `buf`: 1 - buf.
  Value other(Value buf);
  /// Where the k0 tile of A starts: its buffer of As, or row k0 of Ys.
  TileRef aTile(const Stage &st, Value k0);
  /// Where the k0 tile of B starts: its buffer of Bs.
  TileRef bTile(Value k0);
  /// acc += the k0 tiles' product for thread tid's outputs (the inner step
  /// of the kernel's precision).
  llvm::SmallVector<Value> computeTile(const Stage &st, Value tid, Value k0,
                                       llvm::SmallVector<Value> acc);
  /// Where accumulator i of thread tid lands in the block tile (row, col).
  std::pair<Value, Value> accPos(Value tid, int64_t i);
  /// epilogue: C (or Ys) = epilogue(acc (+ C)) for this thread's outputs.
  void epilogue(const Stage &st, Value tid, Value bm, Value bn, llvm::ArrayRef<Value> acc);
  /// The k offset of the last k tile of `st`.
  Value lastK0Of(const Stage &st);
  /// One stage's loop over the column chunks of its output: the block's
  /// column offsets bn, one at a time (chain), or this block's (grid y).
  void forChunks(const Stage &st, Value blockY, llvm::function_ref<void(Value bn)> body);

  // The FMA inner step (GemmFma.cpp).
  /// compute: acc += the tiles' product for this thread's TM x TN outputs.
  llvm::SmallVector<Value> fmaStep(Value tid, TileRef a, TileRef bt,
                                   llvm::SmallVector<Value> acc);
  /// accPos of the FMA kernel: the thread's TM x TN tile, row-major.
  std::pair<Value, Value> fmaAccPos(Value tid, int64_t i);

  // The mma.sync inner step (GemmMma.cpp).
  /// A fragment's (row, k) past (g, q or 2q) for register r.
  std::pair<int64_t, int64_t> aPos(int64_t r);
  /// A B fragment's k past q (or 2q) for register r.
  int64_t bK(int64_t r);
  /// This lane's A and B fragments of the tiles, [step][mt][r], [step][nt][r].
  std::pair<llvm::SmallVector<Value>, llvm::SmallVector<Value>> fragments(Value tid, TileRef a,
                                                                          TileRef bt);
  /// acc += the tiles' product, one warp-wide mma.sync per mma tile.
  llvm::SmallVector<Value> mmaStep(Value tid, TileRef a, TileRef bt,
                                   llvm::SmallVector<Value> acc);
  /// accPos with tensor cores: slot (mt, nt, r) of the mma accumulators.
  std::pair<Value, Value> mmaAccPos(Value tid, int64_t i);
  /// The lane (warpBase + ...) and slot of the A fragments that hold
  /// A[row][k] of mma tile (step, mt): the inverse of the layout.
  std::pair<Value, Value> aSource(Value warpBase, Value row, int64_t step, int64_t mt,
                                  int64_t k);
  /// The lane and slot of the B fragments that hold B[k][col] of mma tile
  /// (step, nt).
  std::pair<Value, int64_t> bSource(Value warpBase, Value col, int64_t step, int64_t nt,
                                    int64_t k);

  mlir::OpBuilder &b; ///< where the kernel goes
  mlir::Location loc; ///< the location of its ops
  Emitter e;          ///< index arithmetic and loads with b at loc
  llvm::SmallVector<Stage, 2> stages; ///< one GEMM, or a chain of two
  bool emulate;       ///< CPU loops instead of a gpu.launch
  bool chain;         ///< two stages, the intermediate in Ys
  Tiles t;            ///< the tiling
  Precision precision; ///< the GEMMs' precision
  bool tensorCores;   ///< TF32 or BF16: mma.sync
  bool bf16;          ///< BF16: m16n8k16 on bf16x2 registers
  /// k per mma.sync: m16n8k8 (TF32), m16n8k16 (BF16); A, B values a lane
  /// holds per mma tile.
  int64_t mmaK, aVals, bVals;
  int64_t M;          ///< rows of C (every stage's)
  int64_t colThreads; ///< FMA: threads along a row of the block tile
  int64_t accCount;   ///< accumulators a thread
  int64_t aPerThread, bPerThread; ///< tile elements a thread loads per k tile
  mlir::MLIRContext *ctx; ///< the builder's context
  mlir::Type f32;     ///< f32
  /// Floats per row of the (padded) shared tiles.
  int64_t aStride, bStride;
  /// The shared tiles (two stages each) and Ys (a chain's intermediate).
  mlir::MemRefType aTileType, bTileType, ysType;
  int64_t gridX, gridY; ///< blocks along M and N
  mlir::arith::FastMathFlagsAttr contract; ///< FMA: multiply-adds may fuse
  bool guardM;        ///< M is not a multiple of BM: rows are checked
  /// Tensor cores: mma tiles of a warp along M and N, warps along N.
  int64_t mTiles, nTiles, warpCols;
  Value as, bs, ys;   ///< the shared tiles and Ys (null if no chain)
};

/// The kernel of `stages` as CPU loops (GemmEmulation.cpp).
void emitEmulatedKernel(mlir::OpBuilder &b, mlir::Location loc, llvm::ArrayRef<Stage> stages);

} // namespace ninc::cuda::detail::gemm

#endif // NINC_COMPILER_CODEGEN_CUDA_GEMMKERNELS_H
