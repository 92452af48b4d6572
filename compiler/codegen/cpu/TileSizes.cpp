//===- compiler/codegen/cpu/TileSizes.cpp - Register tiles from the Target ===//
//
// Register tiles for the outer-product micro kernels: a tile of R output rows
// (conv: output pixels along W; matmul: rows of M) by C channels keeps
// R * ceil(C / lanes) vector accumulators live across the whole reduction,
// loads one filter row (C / lanes vectors) and broadcasts R inputs per step.
// The register file and the caches come from the Target:
//   AVX-512 (32 zmm, 16 lanes): 13 x 32 and 12 x 32 tiles (26 and 24
//     accumulators) reach 90-99 % of the FMA peak in Debian's MLIR 19;
//     widths that are not 16 or 32 lanes, or more than ~26 accumulators,
//     spill;
//   AVX2 (16 ymm, 8 lanes): 6 x 16 (12 accumulators, 2 filter vectors, one
//     broadcast: 15 of 16 registers), the classic AVX2 GEMM kernel; the
//     AVX-512 shapes split into ymm pairs and spilled 2,075 ymm stores
//     against 592 FMAs (ninc before this file followed the Target).
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"

#include <algorithm>

namespace ninc::cpu::detail {

ScheduleParams scheduleParamsFor(const CpuTarget &cpu, int threads) {
  ScheduleParams p;
  p.lanes = std::max<int64_t>(1, cpu.vectorLanes());
  // 13 of every 16 registers hold accumulators: 26 of 32 zmm, 13 of 16 ymm
  // (with two filter vectors and a broadcast: 15, nothing spills).
  p.accumulatorBudget = std::max<int64_t>(2, cpu.vectorRegisters * 13 / 16);
  p.minAccumulators = std::max<int64_t>(1, cpu.fmaUnits) * 4;
  // Weights swept in image order and filter strips: half and a quarter of
  // the L2, as measured with Zen 5's 1 MiB; larger L2s (Xeon's 2 MiB) keep
  // the 1 MiB figures, which were also measured there, until measured else.
  int64_t l2 = std::min<int64_t>(cpu.l2Bytes > 0 ? cpu.l2Bytes : 512 * 1024, 1024 * 1024);
  p.imageOrderWeightBytes = l2 / 2;
  p.filterStripBytes = l2 / 4;
  // The A and B panels of a reduction block (block x (M + N) floats, M and N
  // up to 384 in NiN) in about half the L2: 256 with a 1 MiB L2 (measured on
  // Zen 5's 1x1 weight gradients, K = 23328 and 5408: blocks of 243 and 208
  // ~5% faster than 486 and 416; 54 and 104 20-30% slower), 128 with 512 KiB.
  p.reductionBlock = std::clamp<int64_t>(l2 / 4096, 64, 256);
  p.threads = std::max(1, threads);
  p.l2Bytes = cpu.l2Bytes > 0 ? cpu.l2Bytes : 512 * 1024;
  p.l3Bytes = (cpu.l3BytesPerCore > 0 ? cpu.l3BytesPerCore : 2 * 1024 * 1024) * p.threads;
  p.cpu = cpu.cpu;
  return p;
}

std::string ScheduleParams::describe() const {
  return "cpu '" + cpu + "' (" + std::to_string(lanes) + " fp32 lanes a vector, " + std::to_string(accumulatorBudget) +
         " accumulator registers (at least " + std::to_string(minAccumulators) +
         "), weights <= " + std::to_string(imageOrderWeightBytes / 1024) +
         " KiB swept in image order, reduction blocks of " + std::to_string(reductionBlock) +
         ", filter strips of " + std::to_string(filterStripBytes / 1024) + " KiB, " +
         std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
}

int64_t largestDivisorAtMost(int64_t extent, int64_t limit) {
  for (int64_t d = std::min(extent, limit); d > 1; --d)
    if (extent % d == 0)
      return d;
  return 1;
}

static int64_t chooseColumns(int64_t colExtent, int64_t lanes) {
  for (int64_t cols : {2 * lanes, lanes})
    if (colExtent % cols == 0)
      return cols;
  // Odd channel counts (e.g. 10 classes): one partial vector per row when
  // small, otherwise the widest divisor up to two vectors.
  return largestDivisorAtMost(colExtent, 2 * lanes);
}

RegisterTile chooseRegisterTile(int64_t rowExtent, int64_t colExtent, const ScheduleParams &p) {
  RegisterTile tile;
  tile.cols = chooseColumns(colExtent, p.lanes);
  int64_t vectorsPerRow = (tile.cols + p.lanes - 1) / p.lanes;
  int64_t maxRows = std::max<int64_t>(1, p.accumulatorBudget / vectorsPerRow);
  tile.rows = largestDivisorAtMost(rowExtent, maxRows);
  // Too few accumulators cannot hide the FMA latency; a peeled tile (full
  // tiles plus one static remainder) is better than a tiny divisor.
  bool starved = tile.rows * vectorsPerRow < std::min(p.minAccumulators, p.accumulatorBudget);
  if (starved && rowExtent > tile.rows) {
    tile.rows = std::min(rowExtent, maxRows);
    tile.peel = rowExtent % tile.rows != 0;
  }
  // Short rows (the weight gradients' KW = 3 or 5 "pixels"): the whole row
  // in the tile and wider columns, 8 or 4 vectors, so twice the minimum of
  // accumulators hide the FMA latency and each broadcast feeds more FMAs.
  if (tile.rows == rowExtent && !tile.peel && tile.cols == 2 * p.lanes &&
      tile.rows * vectorsPerRow < 2 * p.minAccumulators)
    for (int64_t cols : {8 * p.lanes, 4 * p.lanes})
      if (colExtent % cols == 0 && tile.rows * (cols / p.lanes) <= p.accumulatorBudget) {
        tile.cols = cols;
        break;
      }
  return tile;
}

// A max / sum pool has no FMA latency to hide, but each of its
// accumulators takes KW window loads a step (kw unrolled): the conv tiles'
// 13 x 2 vectors spilled. Measured on Zen 4 (bench --profile, NiN's pools at
// batch 128, 2 rounds): AVX-512 13 x 32 -> 2 x 32 on 26 pixels 9.5-10.1 ->
// 5.9-6.3 ms, 12 x 32 -> 6 x 32 on 12 pixels 5.9-6.9 -> 4.5-4.8 ms; AVX2
// 6 x 16 peeled -> 2 x 16 on 26 pixels 10.2 -> 6.8-7.9 ms.
RegisterTile choosePoolTile(int64_t rowExtent, int64_t colExtent, const ScheduleParams &p) {
  RegisterTile tile = chooseRegisterTile(rowExtent, colExtent, p);
  if (tile.cols % (2 * p.lanes) == 0)
    tile.cols = 2 * p.lanes;
  tile.rows = largestDivisorAtMost(rowExtent, 6);
  tile.peel = false;
  return tile;
}

} // namespace ninc::cpu::detail
