//===- compiler/codegen/cpu/TileSizes.cpp - Register tile heuristics -----===//
//
// Register tiles for the outer-product micro kernels: a tile of R output rows
// (conv: output pixels along W; matmul: rows of M) by C channels keeps
// R * ceil(C / 16) zmm accumulators live across the whole reduction, loads
// one filter row (C / 16 vectors) and broadcasts R inputs per step. Measured
// in Debian's MLIR 19: 13 x 32 and 12 x 32 reach 90-99 % of FMA peak; widths
// that are not 16 or 32 lanes, or more than ~26 accumulators, spill.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"

#include <algorithm>

namespace ninc::cpu::detail {

int64_t largestDivisorAtMost(int64_t extent, int64_t limit) {
  for (int64_t d = std::min(extent, limit); d > 1; --d)
    if (extent % d == 0)
      return d;
  return 1;
}

static int64_t chooseColumns(int64_t colExtent) {
  for (int64_t lanes : {2 * kVectorLanes, kVectorLanes})
    if (colExtent % lanes == 0)
      return lanes;
  // Odd channel counts (e.g. 10 classes): one partial vector per row when
  // small, otherwise the widest divisor up to two vectors.
  return largestDivisorAtMost(colExtent, 2 * kVectorLanes);
}

RegisterTile chooseRegisterTile(int64_t rowExtent, int64_t colExtent) {
  RegisterTile tile;
  tile.cols = chooseColumns(colExtent);
  int64_t vectorsPerRow = (tile.cols + kVectorLanes - 1) / kVectorLanes;
  int64_t maxRows = std::max<int64_t>(1, kAccumulatorBudget / vectorsPerRow);
  tile.rows = largestDivisorAtMost(rowExtent, maxRows);
  // Fewer than 8 accumulators cannot hide the FMA latency; a peeled tile
  // (full tiles plus one static remainder) is better than a tiny divisor.
  bool starved = tile.rows * vectorsPerRow < 8;
  if (starved && rowExtent > tile.rows) {
    tile.rows = std::min(rowExtent, maxRows);
    tile.peel = rowExtent % tile.rows != 0;
  }
  // Short rows (the weight gradients' KW = 3 or 5 "pixels"): the whole row
  // in the tile and wider columns, 64 or 128 lanes, so at least 16
  // accumulators hide the FMA latency and each broadcast feeds more FMAs.
  if (tile.rows == rowExtent && !tile.peel && tile.cols == 2 * kVectorLanes &&
      tile.rows * vectorsPerRow < 16)
    for (int64_t lanes : {8 * kVectorLanes, 4 * kVectorLanes})
      if (colExtent % lanes == 0 &&
          tile.rows * (lanes / kVectorLanes) <= kAccumulatorBudget) {
        tile.cols = lanes;
        break;
      }
  return tile;
}

} // namespace ninc::cpu::detail
